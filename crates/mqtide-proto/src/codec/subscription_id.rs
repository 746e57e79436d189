//! Subscription identifiers (spec §3.8.2.1.2) and the list of them a
//! PUBLISH from the server carries (§3.3.2.3.8).

use alloc::vec::Vec;
use core::num::NonZeroU32;
use core::ops::Deref;

use bytes::BytesMut;
use smallvec::SmallVec;

use super::error::{DecodeError, EncodeError};
use super::properties::{PropValue, PropertyId, invalid};
use super::wire::{Reader, VAR_INT_MAX, put_var_int, var_int_len};

/// A subscription identifier: 1 to 268,435,455, sent as a variable byte
/// integer (spec §3.8.2.1.2; 0 is a protocol error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The largest subscription identifier.
    pub const MAX: u32 = VAR_INT_MAX;

    /// A subscription identifier, if `value` is in 1..=268,435,455.
    pub const fn new(value: u32) -> Option<Self> {
        match NonZeroU32::new(value) {
            Some(v) if value <= Self::MAX => Some(Self(v)),
            _ => None,
        }
    }

    /// The identifier's value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl PropValue for SubscriptionId {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        let value = r.var_int()?;
        Self::new(value).ok_or_else(|| invalid(id, value))
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(var_int_len(self.get() as usize))
    }
    fn write(&self, buf: &mut BytesMut) {
        put_var_int(buf, self.get() as usize);
    }
}

/// How many identifiers [`SubscriptionIds`] holds without allocating: as
/// many as fit in the space a `Vec` takes.
const INLINE: usize = 4;

/// The subscription identifiers of a PUBLISH, in the order they were sent.
///
/// A server sends one for each matching subscription that has one, so a
/// message usually carries one or two; up to four are held inline and a
/// decoded PUBLISH allocates nothing for them. (mqtide's client gives each
/// 5.0 subscription an identifier to route messages, so this is on every
/// message it receives.) It reads as a slice of [`SubscriptionId`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionIds(SmallVec<[SubscriptionId; INLINE]>);

impl SubscriptionIds {
    /// An empty list.
    pub const fn new() -> Self {
        Self(SmallVec::new_const())
    }

    /// Appends an identifier.
    pub fn push(&mut self, id: SubscriptionId) {
        self.0.push(id);
    }

    /// Removes every identifier.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl Deref for SubscriptionIds {
    type Target = [SubscriptionId];

    fn deref(&self) -> &[SubscriptionId] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a SubscriptionIds {
    type Item = &'a SubscriptionId;
    type IntoIter = core::slice::Iter<'a, SubscriptionId>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<SubscriptionId> for SubscriptionIds {
    fn from_iter<I: IntoIterator<Item = SubscriptionId>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<SubscriptionId> for SubscriptionIds {
    fn extend<I: IntoIterator<Item = SubscriptionId>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl From<Vec<SubscriptionId>> for SubscriptionIds {
    fn from(ids: Vec<SubscriptionId>) -> Self {
        Self(SmallVec::from_vec(ids))
    }
}

impl<const N: usize> From<[SubscriptionId; N]> for SubscriptionIds {
    fn from(ids: [SubscriptionId; N]) -> Self {
        ids.into_iter().collect()
    }
}

impl PartialEq<[SubscriptionId]> for SubscriptionIds {
    fn eq(&self, other: &[SubscriptionId]) -> bool {
        **self == *other
    }
}

impl<const N: usize> PartialEq<[SubscriptionId; N]> for SubscriptionIds {
    fn eq(&self, other: &[SubscriptionId; N]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<SubscriptionId>> for SubscriptionIds {
    fn eq(&self, other: &Vec<SubscriptionId>) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: u32) -> SubscriptionId {
        SubscriptionId::new(value).expect("in range")
    }

    /// The list takes no more room in a PUBLISH than the `Vec` it
    /// replaced, and holds `INLINE` identifiers without a heap buffer.
    #[test]
    fn holds_four_inline_in_the_size_of_a_vec() {
        assert_eq!(
            size_of::<SubscriptionIds>(),
            size_of::<Vec<SubscriptionId>>()
        );
        let mut ids = SubscriptionIds::new();
        for value in 1..=INLINE as u32 {
            ids.push(id(value));
        }
        assert!(!ids.0.spilled());
        ids.push(id(99));
        assert!(ids.0.spilled());
        assert_eq!(ids, [id(1), id(2), id(3), id(4), id(99)]);
    }

    #[test]
    fn reads_as_a_slice_in_order() {
        let ids: SubscriptionIds = vec![id(7), id(3), id(7)].into();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids.first(), Some(&id(7)));
        assert_eq!(ids.iter().map(|i| i.get()).collect::<Vec<_>>(), [7, 3, 7]);
        assert_eq!(ids, vec![id(7), id(3), id(7)]);
        assert!(SubscriptionIds::default().is_empty());
    }
}
