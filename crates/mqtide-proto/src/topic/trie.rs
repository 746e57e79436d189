//! A trie of topic filters, for routing one incoming message to every
//! subscription that matches it in time proportional to the topic's depth,
//! not to the number of subscriptions.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::collections::FxHashMap;

use super::TopicFilter;

/// Topic filters mapped to values (subscription handles, say). Several
/// values may share one filter; [`for_each_match`](Self::for_each_match)
/// visits every value whose filter matches a topic, with the same rules as
/// [`topic_matches_sub`](super::topic_matches_sub). Shared subscriptions
/// are filed under the filter without their `$share/{group}/` prefix.
#[derive(Debug, Clone)]
pub struct FilterTrie<T> {
    root: Node<T>,
    len: usize,
}

#[derive(Debug, Clone)]
struct Node<T> {
    /// Children by literal level.
    children: FxHashMap<Box<str>, Self>,
    /// The child for a `+` level.
    plus: Option<Box<Self>>,
    /// Values of filters that end here with `/#` (or are `#`).
    hash: Vec<T>,
    /// Values of filters that end exactly here.
    exact: Vec<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            children: FxHashMap::default(),
            plus: None,
            hash: Vec::new(),
            exact: Vec::new(),
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.exact.is_empty()
    }
}

impl<T> Default for FilterTrie<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FilterTrie<T> {
    /// An empty trie.
    pub fn new() -> Self {
        Self {
            root: Node::default(),
            len: 0,
        }
    }

    /// How many values the trie holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trie holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Files `value` under `filter`.
    pub fn insert(&mut self, filter: &TopicFilter, value: T) {
        let mut node = &mut self.root;
        for level in filter.match_part().split('/') {
            node = match level {
                "#" => {
                    node.hash.push(value);
                    self.len += 1;
                    return;
                }
                "+" => node.plus.get_or_insert_with(Box::default),
                literal => node.children.entry(literal.into()).or_default(),
            };
        }
        node.exact.push(value);
        self.len += 1;
    }

    /// Removes the values under `filter` for which `remove` returns true,
    /// and returns them. Nodes left empty are pruned.
    pub fn remove(&mut self, filter: &TopicFilter, mut remove: impl FnMut(&T) -> bool) -> Vec<T> {
        let levels: Vec<&str> = filter.match_part().split('/').collect();
        let removed = remove_at(&mut self.root, &levels, &mut remove);
        self.len -= removed.len();
        removed
    }

    /// Calls `visit` once for every value whose filter matches `topic`.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut visit: impl FnMut(&'a T)) {
        let dollar = topic.starts_with('$');
        visit_matches(&self.root, Some(topic), !dollar, &mut visit);
    }

    /// Every value whose filter matches `topic`.
    pub fn matches(&self, topic: &str) -> Vec<&T> {
        let mut found = Vec::new();
        self.for_each_match(topic, |value| found.push(value));
        found
    }
}

/// Visits the values under `node` that match `levels`, the topic's levels
/// not yet walked (`None` once every level is: a topic has at least one
/// level, `""` included). Walking the topic in place, rather than splitting
/// it into a vector first, keeps routing free of allocations.
fn visit_matches<'a, T>(
    node: &'a Node<T>,
    levels: Option<&str>,
    wildcards_allowed: bool,
    visit: &mut impl FnMut(&'a T),
) {
    if wildcards_allowed {
        node.hash.iter().for_each(&mut *visit);
    }
    let Some(levels) = levels else {
        node.exact.iter().for_each(visit);
        return;
    };
    // A byte loop: levels are short, and `split_once('/')` goes through a
    // general searcher that costs more than the level's bytes.
    let (level, rest) = match levels.bytes().position(|b| b == b'/') {
        Some(i) => (&levels[..i], Some(&levels[i + 1..])),
        None => (levels, None),
    };
    if let Some(child) = node.children.get(level) {
        visit_matches(child, rest, true, visit);
    }
    if let Some(plus) = node.plus.as_deref().filter(|_| wildcards_allowed) {
        visit_matches(plus, rest, true, visit);
    }
}

fn remove_at<T>(
    node: &mut Node<T>,
    levels: &[&str],
    remove: &mut impl FnMut(&T) -> bool,
) -> Vec<T> {
    let (level, rest) = match levels.split_first() {
        None => return drain_where(&mut node.exact, remove),
        Some((&"#", _)) => return drain_where(&mut node.hash, remove),
        Some(split) => split,
    };
    if *level == "+" {
        let Some(child) = node.plus.as_deref_mut() else {
            return Vec::new();
        };
        let removed = remove_at(child, rest, remove);
        if child.is_empty() {
            node.plus = None;
        }
        removed
    } else {
        let Some(child) = node.children.get_mut(*level) else {
            return Vec::new();
        };
        let removed = remove_at(child, rest, remove);
        if child.is_empty() {
            node.children.remove(*level);
        }
        removed
    }
}

fn drain_where<T>(values: &mut Vec<T>, remove: &mut impl FnMut(&T) -> bool) -> Vec<T> {
    let mut removed = Vec::new();
    let mut kept = Vec::with_capacity(values.len());
    for value in values.drain(..) {
        if remove(&value) {
            removed.push(value);
        } else {
            kept.push(value);
        }
    }
    *values = kept;
    removed
}
