//! Routing incoming messages to the streams that want them: each
//! subscription's filters in a topic trie, plus the catch-all streams of
//! `Client::messages`.

use mqtide_proto::{FilterTrie, SubscriptionId, TopicFilter};
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use crate::message::Message;

/// Identifies one stream's registration.
pub(crate) type RouteId = u64;

#[derive(Debug, Default)]
pub(crate) struct Router {
    trie: FilterTrie<RouteId>,
    routes: FxHashMap<RouteId, Route>,
    catch_all: Vec<(RouteId, mpsc::Sender<Message>)>,
    /// 5.0: the subscription identifier each route subscribed with.
    by_subscription_id: FxHashMap<u32, RouteId>,
    next_id: RouteId,
    /// Reused by [`targets`](Self::targets) to collect route ids.
    scratch: Vec<RouteId>,
}

#[derive(Debug)]
struct Route {
    sender: mpsc::Sender<Message>,
    filters: Vec<TopicFilter>,
    subscription_id: Option<SubscriptionId>,
}

impl Router {
    /// Registers a subscription stream for `filters`, subscribed with
    /// `subscription_id` if any.
    pub(crate) fn add(
        &mut self,
        filters: Vec<TopicFilter>,
        sender: mpsc::Sender<Message>,
        subscription_id: Option<SubscriptionId>,
    ) -> RouteId {
        self.next_id += 1;
        let id = self.next_id;
        for filter in &filters {
            self.trie.insert(filter, id);
        }
        if let Some(sid) = subscription_id {
            self.by_subscription_id.insert(sid.get(), id);
        }
        self.routes.insert(
            id,
            Route {
                sender,
                filters,
                subscription_id,
            },
        );
        id
    }

    fn drop_route(&mut self, id: RouteId) -> Option<Route> {
        let route = self.routes.remove(&id)?;
        if let Some(sid) = route.subscription_id {
            self.by_subscription_id.remove(&sid.get());
        }
        Some(route)
    }

    /// Registers a stream of every message.
    pub(crate) fn add_catch_all(&mut self, sender: mpsc::Sender<Message>) {
        self.next_id += 1;
        self.catch_all.push((self.next_id, sender));
    }

    /// Removes one registration; its stream ends once drained.
    pub(crate) fn remove(&mut self, id: RouteId) {
        if let Some(route) = self.drop_route(id) {
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
                        self.drop_route(id);
                    }
                }
            }
        }
    }

    /// Fills `targets` (emptied first) with the streams a message goes
    /// to, each once. A 5.0 message that names the subscriptions it
    /// matched (subscription identifiers) goes to those only: a broker
    /// sending one copy per overlapping subscription then gives each
    /// stream exactly one. Otherwise the topic decides. Routing allocates
    /// nothing once `targets` and the router's scratch have grown to the
    /// number of matching streams.
    pub(crate) fn targets(
        &mut self,
        topic: &str,
        subscription_ids: &[SubscriptionId],
        targets: &mut Vec<(RouteId, mpsc::Sender<Message>)>,
    ) {
        targets.clear();
        let ids = &mut self.scratch;
        ids.clear();
        let named = !subscription_ids.is_empty()
            && subscription_ids
                .iter()
                .all(|sid| self.by_subscription_id.contains_key(&sid.get()));
        if named {
            // A second SUBSCRIBE to the same filter replaces the broker's
            // subscription, identifier included: every stream subscribed
            // to a filter of a named subscription gets the copy.
            for sid in subscription_ids {
                let Some(route) = self.by_subscription_id.get(&sid.get()) else {
                    continue;
                };
                let Some(route) = self.routes.get(route) else {
                    continue;
                };
                for (other, candidate) in &self.routes {
                    if candidate.filters.iter().any(|f| route.filters.contains(f)) {
                        ids.push(*other);
                    }
                }
            }
        } else {
            self.trie.for_each_match(topic, |id| ids.push(*id));
        }
        ids.sort_unstable();
        ids.dedup();
        targets.extend(
            ids.iter()
                .filter_map(|id| self.routes.get(id).map(|r| (*id, r.sender.clone()))),
        );
        targets.extend(self.catch_all.iter().cloned());
    }

    /// Drops every registration: every stream ends.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}
