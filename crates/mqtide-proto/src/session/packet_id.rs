//! Packet identifiers: 1 to 65535, never two in flight at once, handed out
//! in rising order and wrapping past 65535 back to 1.

use alloc::boxed::Box;

use crate::PacketId;

/// Which packet identifiers are in use, as a 65,536-bit set (8 KiB),
/// allocated on first use: an idle session (or one that never receives
/// QoS 2) pays nothing for it.
#[derive(Clone)]
pub(crate) struct PacketIdPool {
    used: Option<Box<[u64; 1024]>>,
    in_use: usize,
    /// The identifier after the one handed out last.
    next: u16,
}

impl core::fmt::Debug for PacketIdPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketIdPool")
            .field("in_use", &self.in_use)
            .field("next", &self.next)
            .finish()
    }
}

impl Default for PacketIdPool {
    fn default() -> Self {
        Self {
            used: None,
            in_use: 0,
            next: 1,
        }
    }
}

impl PacketIdPool {
    fn slot(id: u16) -> (usize, u64) {
        (usize::from(id / 64), 1 << (id % 64))
    }

    pub(crate) fn is_used(&self, id: PacketId) -> bool {
        let (word, bit) = Self::slot(id.get());
        self.used.as_ref().is_some_and(|used| used[word] & bit != 0)
    }

    /// How many identifiers are in use.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }

    /// The next free identifier, marked used; `None` when all 65,535 are
    /// in flight.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use == usize::from(u16::MAX) {
            return None;
        }
        loop {
            let candidate = PacketId::new(self.next);
            self.next = self.next.checked_add(1).unwrap_or(1);
            if let Some(id) = candidate.filter(|id| !self.is_used(*id)) {
                self.mark(id);
                return Some(id);
            }
        }
    }

    /// Marks `id` used (restoring a resumed session); false if it already was.
    pub(crate) fn mark(&mut self, id: PacketId) -> bool {
        let (word, bit) = Self::slot(id.get());
        let used = self.used.get_or_insert_with(|| Box::new([0; 1024]));
        if used[word] & bit != 0 {
            return false;
        }
        used[word] |= bit;
        self.in_use += 1;
        true
    }

    /// Frees `id`; false if it was not in use.
    pub(crate) fn release(&mut self, id: PacketId) -> bool {
        let (word, bit) = Self::slot(id.get());
        let Some(used) = self.used.as_mut().filter(|used| used[word] & bit != 0) else {
            return false;
        };
        used[word] &= !bit;
        self.in_use -= 1;
        true
    }

    /// Frees every identifier (the session state was discarded).
    pub(crate) fn clear(&mut self) {
        if let Some(used) = &mut self.used {
            used.fill(0);
        }
        self.in_use = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_rise_wrap_past_65535_and_skip_those_in_flight() {
        let mut pool = PacketIdPool::default();
        assert_eq!(pool.allocate().map(PacketId::get), Some(1));
        assert_eq!(pool.allocate().map(PacketId::get), Some(2));
        pool.next = u16::MAX;
        assert_eq!(pool.allocate().map(PacketId::get), Some(65535));
        // 0 is skipped, 1 and 2 are still in flight.
        assert_eq!(pool.allocate().map(PacketId::get), Some(3));
        assert!(pool.release(PacketId::new(1).unwrap()));
        assert!(!pool.release(PacketId::new(1).unwrap()));
        pool.next = 1;
        assert_eq!(pool.allocate().map(PacketId::get), Some(1));
        assert_eq!(pool.in_use(), 4);
    }

    #[test]
    fn exhaustion_is_none_not_a_hang() {
        let mut pool = PacketIdPool::default();
        for _ in 0..65535 {
            assert!(pool.allocate().is_some());
        }
        assert_eq!(pool.allocate(), None);
        assert!(pool.release(PacketId::new(40_000).unwrap()));
        assert_eq!(pool.allocate().map(PacketId::get), Some(40_000));
        pool.clear();
        assert_eq!(pool.in_use(), 0);
    }
}
