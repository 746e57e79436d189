//! Routing incoming messages to the streams that want them: each
//! subscription's filters in a topic trie, plus the catch-all streams of
//! `Client::messages`.

use std::collections::HashMap;

use mqtide_proto::{FilterTrie, TopicFilter};
use tokio::sync::mpsc;

use crate::message::Message;

/// Identifies one stream's registration.
pub(crate) type RouteId = u64;

#[derive(Debug, Default)]
pub(crate) struct Router {
    trie: FilterTrie<RouteId>,
    routes: HashMap<RouteId, Route>,
    catch_all: Vec<(RouteId, mpsc::Sender<Message>)>,
    next_id: RouteId,
}

#[derive(Debug)]
struct Route {
    sender: mpsc::Sender<Message>,
    filters: Vec<TopicFilter>,
}

impl Router {
    /// Registers a subscription stream for `filters`.
    pub(crate) fn add(
        &mut self,
        filters: Vec<TopicFilter>,
        sender: mpsc::Sender<Message>,
    ) -> RouteId {
        self.next_id += 1;
        let id = self.next_id;
        for filter in &filters {
            self.trie.insert(filter, id);
        }
        self.routes.insert(id, Route { sender, filters });
        id
    }

    /// Registers a stream of every message.
    pub(crate) fn add_catch_all(&mut self, sender: mpsc::Sender<Message>) {
        self.next_id += 1;
        self.catch_all.push((self.next_id, sender));
    }

    /// Removes one registration; its stream ends once drained.
    pub(crate) fn remove(&mut self, id: RouteId) {
        if let Some(route) = self.routes.remove(&id) {
            for filter in &route.filters {
                self.trie.remove(filter, |r| *r == id);
            }
        }
        self.catch_all.retain(|(r, _)| *r != id);
    }

    /// Unsubscribed filters: every stream subscribed to exactly these
    /// filters (all of its filters gone) ends; others stop receiving them.
    pub(crate) fn remove_filters(&mut self, filters: &[TopicFilter]) {
        for filter in filters {
            for id in self.trie.remove(filter, |_| true) {
                if let Some(route) = self.routes.get_mut(&id) {
                    route.filters.retain(|f| f != filter);
                    if route.filters.is_empty() {
                        self.routes.remove(&id);
                    }
                }
            }
        }
    }

    /// The streams a message on `topic` goes to, each once.
    pub(crate) fn targets(&self, topic: &str) -> Vec<(RouteId, mpsc::Sender<Message>)> {
        let mut ids = Vec::new();
        self.trie.for_each_match(topic, |id| ids.push(*id));
        ids.sort_unstable();
        ids.dedup();
        let mut targets: Vec<_> = ids
            .into_iter()
            .filter_map(|id| self.routes.get(&id).map(|r| (id, r.sender.clone())))
            .collect();
        targets.extend(self.catch_all.iter().cloned());
        targets
    }

    /// Drops every registration: every stream ends.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}
