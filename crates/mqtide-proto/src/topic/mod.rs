//! Topic names and topic filters (spec §4.7, §4.8.2): validation,
//! [`topic_matches_sub`] with paho's semantics, and a [`FilterTrie`] that
//! finds every subscription matching a topic.

use alloc::string::String;

mod matching;
mod trie;

use core::fmt;
use core::ops::Deref;
use core::str::FromStr;

use bytestring::ByteString;

pub use matching::topic_matches_sub;
pub use trie::FilterTrie;

/// The prefix of a shared subscription's filter: `$share/{group}/{filter}`.
pub const SHARE_PREFIX: &str = "$share/";

/// A topic name or filter that breaks the rules of spec §4.7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Topic names and filters are at least one character long.
    #[error("topic is empty [MQTT-4.7.3-1]")]
    Empty,
    /// Topic names and filters fit a two-byte length.
    #[error("topic is {0} bytes long; at most 65535 are allowed [MQTT-4.7.3-3]")]
    TooLong(usize),
    /// U+0000 is never allowed.
    #[error("topic contains the null character U+0000 [MQTT-4.7.3-2]")]
    NullCharacter,
    /// `+` and `#` belong in filters, never in names.
    #[error("topic name contains a wildcard character [MQTT-3.3.2-2] [MQTT-4.7.1-1]")]
    WildcardInTopicName,
    /// `#` must be the whole last level.
    #[error("`#` must be the last character and fill its whole level [MQTT-4.7.1-2]")]
    MisplacedMultiLevelWildcard,
    /// `+` must fill its whole level.
    #[error("`+` must fill its whole level [MQTT-4.7.1-3]")]
    MisplacedSingleLevelWildcard,
    /// `$share/{group}/{filter}` with an empty or wildcard group, or no filter.
    #[error(
        "shared subscription must be `$share/{{group}}/{{filter}}` with a group free of `/+#` [MQTT-4.8.2-1] [MQTT-4.8.2-2]"
    )]
    InvalidSharedSubscription,
}

fn check_common(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong(topic.len()));
    }
    if crate::codec::has_null(topic.as_bytes()) {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Checks a topic name: non-empty, at most 65,535 bytes, no U+0000, no
/// wildcards.
pub fn check_topic_name(topic: &str) -> Result<(), TopicError> {
    // One word-at-a-time scan finds all three bytes a name may not hold,
    // on every publish; which one it was is worked out only on failure.
    if topic.is_empty() || topic.len() > usize::from(u16::MAX) {
        return check_common(topic);
    }
    if crate::codec::has_null_or_wildcard(topic.as_bytes()) {
        check_common(topic)?;
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

/// Checks a topic filter: the name rules, wildcards only as whole levels,
/// `#` only last, and a well-formed `$share/{group}/` prefix if present.
pub fn check_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    check_filter_structure(filter)
}

/// [`check_topic_filter`] for a filter the codec has just read: its two-byte
/// length prefix bounds its size and the string read has already refused
/// U+0000, so only emptiness and the filter structure are left to check.
pub(crate) fn check_decoded_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    check_filter_structure(filter)
}

/// The `$share/` prefix and wildcard placement of a non-empty filter.
fn check_filter_structure(filter: &str) -> Result<(), TopicError> {
    let levels = if filter.as_bytes().first() != Some(&b'$') {
        filter
    } else {
        match split_share(filter) {
            Some((group, rest)) => {
                if group.is_empty() || group.contains(['+', '#']) || rest.is_empty() {
                    return Err(TopicError::InvalidSharedSubscription);
                }
                rest
            }
            None if filter.starts_with(SHARE_PREFIX) => {
                return Err(TopicError::InvalidSharedSubscription);
            }
            None => filter,
        }
    };
    check_levels(levels.as_bytes())
}

/// Wildcards fill whole levels and `#` is the last one. The wildcards and
/// `/` are ASCII, so never inside a multi-byte character: the check works
/// on bytes, finding the wildcards eight at a time, and looks around each
/// one in order. The level holding the first misplaced wildcard decides the
/// error, `#` before `+`, as a level-by-level check would.
fn check_levels(levels: &[u8]) -> Result<(), TopicError> {
    let mut chunks = levels.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut bits = wildcard_bits(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        while bits != 0 {
            check_wildcard(levels, base + (bits.trailing_zeros() / 8) as usize)?;
            bits &= bits - 1;
        }
        base += 8;
    }
    for (k, &b) in chunks.remainder().iter().enumerate() {
        if b == b'+' || b == b'#' {
            check_wildcard(levels, base + k)?;
        }
    }
    Ok(())
}

/// The high bit of every byte of `word` that is `+` or `#`, and no other
/// bit: an exact per-byte test (no borrow runs from one byte to the next).
fn wildcard_bits(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero = |v: u64| !(((v & LOW7) + LOW7) | v | LOW7);
    zero(word ^ (ONES * u64::from(b'+'))) | zero(word ^ (ONES * u64::from(b'#')))
}

/// Checks the wildcard at `levels[i]`: a whole level, and for `#` the last.
fn check_wildcard(levels: &[u8], i: usize) -> Result<(), TopicError> {
    let n = levels.len();
    let b = levels[i];
    let whole = (i == 0 || levels[i - 1] == b'/') && (i + 1 == n || levels[i + 1] == b'/');
    if whole && (b == b'+' || i + 1 == n) {
        return Ok(());
    }
    let start = levels[..i]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(0, |p| p + 1);
    let end = levels[i..]
        .iter()
        .position(|&c| c == b'/')
        .map_or(n, |p| i + p);
    let level = &levels[start..end];
    Err(if level.contains(&b'#') && (level != b"#" || end != n) {
        TopicError::MisplacedMultiLevelWildcard
    } else {
        TopicError::MisplacedSingleLevelWildcard
    })
}

/// Splits `$share/{group}/{filter}` into group and filter.
fn split_share(filter: &str) -> Option<(&str, &str)> {
    filter.strip_prefix(SHARE_PREFIX)?.split_once('/')
}

macro_rules! topic_type {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(ByteString);

        impl $name {
            /// Validates `topic`.
            pub fn new(topic: impl Into<ByteString>) -> Result<Self, TopicError> {
                let topic = topic.into();
                $check(&topic)?;
                Ok(Self(topic))
            }

            /// The topic as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The topic as the zero-copy string the codec uses.
            pub fn into_inner(self) -> ByteString {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl FromStr for $name {
            type Err = TopicError;
            fn from_str(s: &str) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = TopicError;
            fn try_from(s: &str) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TopicError;
            fn try_from(s: String) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl From<$name> for ByteString {
            fn from(topic: $name) -> ByteString {
                topic.0
            }
        }
    };
}

topic_type! {
    /// A validated topic name: what a message is published to.
    TopicName, check_topic_name
}

topic_type! {
    /// A validated topic filter: what a subscription matches, possibly
    /// with wildcards or a `$share/{group}/` prefix.
    TopicFilter, check_topic_filter
}

impl TopicFilter {
    /// The share group of a `$share/{group}/{filter}` subscription.
    pub fn share_group(&self) -> Option<&str> {
        split_share(&self.0).map(|(group, _)| group)
    }

    /// The part that matches topics: the filter without any `$share/{group}/`
    /// prefix.
    pub fn match_part(&self) -> &str {
        split_share(&self.0).map_or(&self.0, |(_, rest)| rest)
    }

    /// Whether the filter has a wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.match_part().contains(['+', '#'])
    }

    /// Whether `topic` matches this filter (ignoring any share prefix).
    pub fn matches(&self, topic: &str) -> bool {
        topic_matches_sub(self.match_part(), topic)
    }
}

#[cfg(test)]
mod tests;
