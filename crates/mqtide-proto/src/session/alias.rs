//! Outgoing topic aliases (5.0 §3.3.2.3.4): the session gives frequently
//! used topics a two-byte alias within the server's Topic Alias Maximum
//! ([MQTT-3.3.2-9]),
//! replacing the least recently used one when all are taken.

use alloc::collections::BTreeMap;
use core::num::NonZeroU16;

use crate::collections::FxHashMap;
use bytestring::ByteString;

use crate::Publish;

/// Whether a publish may travel under a topic alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopicAliasUse {
    /// Use or assign an alias when the server allows aliases.
    #[default]
    Auto,
    /// Always send the full topic name, and leave the alias table alone.
    Never,
}

/// The aliases of one connection (they do not outlive it).
#[derive(Debug, Default)]
pub(crate) struct OutboundAliases {
    /// The server's Topic Alias Maximum; 0 means no aliases.
    maximum: u16,
    by_topic: FxHashMap<ByteString, (NonZeroU16, u64)>,
    /// Topics by last use, oldest first.
    by_use: BTreeMap<u64, ByteString>,
    clock: u64,
}

impl OutboundAliases {
    /// A fresh table for a connection whose server allows `maximum` aliases.
    pub(crate) fn new(maximum: u16) -> Self {
        Self {
            maximum,
            ..Self::default()
        }
    }

    /// Rewrites `publish` to use an alias: the empty topic with a known
    /// alias, or the full topic with a newly assigned one.
    pub(crate) fn apply(&mut self, publish: &mut Publish) {
        if let Some((alias, known)) = self.assign(&publish.topic) {
            publish.properties.topic_alias = Some(alias);
            if known {
                publish.topic = ByteString::new();
            }
        }
    }

    /// The alias `topic` travels under, and whether the server already
    /// knows it (the topic may then be left out); `None` when it must go
    /// without one.
    pub(crate) fn assign(&mut self, topic: &ByteString) -> Option<(NonZeroU16, bool)> {
        if self.maximum == 0 || topic.is_empty() {
            return None;
        }
        self.clock += 1;
        if let Some((alias, last_use)) = self.by_topic.get_mut(topic) {
            self.by_use.remove(last_use);
            *last_use = self.clock;
            self.by_use.insert(self.clock, topic.clone());
            return Some((*alias, true));
        }
        let alias = if self.by_topic.len() < usize::from(self.maximum) {
            NonZeroU16::new(self.by_topic.len() as u16 + 1)
        } else {
            self.evict_oldest()
        }?;
        self.by_topic.insert(topic.clone(), (alias, self.clock));
        self.by_use.insert(self.clock, topic.clone());
        Some((alias, false))
    }

    fn evict_oldest(&mut self) -> Option<NonZeroU16> {
        let (_, topic) = self.by_use.pop_first()?;
        self.by_topic.remove(&topic).map(|(alias, _)| alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(aliases: &mut OutboundAliases, topic: &str) -> (String, Option<u16>) {
        let mut p = Publish::new(topic, "x");
        aliases.apply(&mut p);
        (
            p.topic.to_string(),
            p.properties.topic_alias.map(NonZeroU16::get),
        )
    }

    #[test]
    fn first_use_assigns_later_uses_omit_the_topic() {
        let mut a = OutboundAliases::new(2);
        assert_eq!(send(&mut a, "a"), ("a".into(), Some(1)));
        assert_eq!(send(&mut a, "a"), (String::new(), Some(1)));
        assert_eq!(send(&mut a, "b"), ("b".into(), Some(2)));
        assert_eq!(send(&mut a, "b"), (String::new(), Some(2)));
    }

    #[test]
    fn the_least_recently_used_alias_is_replaced() {
        let mut a = OutboundAliases::new(2);
        send(&mut a, "a");
        send(&mut a, "b");
        send(&mut a, "a"); // b is now the oldest
        assert_eq!(send(&mut a, "c"), ("c".into(), Some(2)));
        assert_eq!(send(&mut a, "a"), (String::new(), Some(1)));
        assert_eq!(send(&mut a, "b"), ("b".into(), Some(2)));
    }

    #[test]
    fn no_aliases_when_the_server_allows_none() {
        let mut a = OutboundAliases::new(0);
        assert_eq!(send(&mut a, "a"), ("a".into(), None));
        assert_eq!(send(&mut a, "a"), ("a".into(), None));
    }
}
