//! The session store's part of the loop: committing what the session
//! recorded before it reaches the network or the application. Commands
//! are taken in batches (`commands.rs`), so one commit (one fsync) covers
//! many.
//!
//! Commits run on a blocking thread while the loop awaits them. With a
//! commit interval (group commit) the loop does not wait for the commit
//! to be due: it goes on reading and taking commands, holding back every
//! write and every delivery until the commit has made them safe.

use mqtide_proto::StoreChange;
use tokio::time::Instant;
use tracing::error;

use super::{End, EventLoop};
use crate::command::Reply;
use crate::store::{SessionStore, StoreBatch, StoreError, StoredSubscription};
use crate::take_once::TakeOnce;

/// The session store's state in the loop.
#[derive(Debug)]
pub(super) struct Persistence {
    store: Option<Box<dyn SessionStore>>,
    /// The builder's slot the store came from.
    slot: Option<TakeOnce<Box<dyn SessionStore>>>,
    /// Publishes and acknowledgements waiting for the commit that stores
    /// them.
    waiting: Vec<Reply<()>>,
    /// Whether the subscription list changed since the last commit.
    subscriptions_dirty: bool,
    /// Why the store failed, once it has: nothing more is written.
    failed: Option<StoreError>,
    /// When the last commit was made, and when the next is due (group
    /// commit holds changes until then).
    last_commit: Option<Instant>,
    commit_due: Option<Instant>,
}

impl Persistence {
    pub(super) fn new(
        store: Option<Box<dyn SessionStore>>,
        slot: Option<TakeOnce<Box<dyn SessionStore>>>,
    ) -> Self {
        Self {
            store,
            slot,
            waiting: Vec::new(),
            subscriptions_dirty: false,
            failed: None,
            last_commit: None,
            commit_due: None,
        }
    }

    /// Whether a store backs the session.
    pub(super) fn is_durable(&self) -> bool {
        self.store.is_some()
    }

    /// Why the store failed, once it has.
    pub(super) fn failed(&self) -> Option<&StoreError> {
        self.failed.as_ref()
    }

    /// When a group commit is due, if one waits.
    pub(super) fn commit_due(&self) -> Option<Instant> {
        self.commit_due
    }

    /// `reply` is answered by the next commit (or at once, when none is
    /// needed).
    pub(super) fn answer_after_commit(&mut self, reply: Reply<()>) {
        self.waiting.push(reply);
    }

    /// The subscription list changed: the next commit stores it.
    pub(super) fn subscriptions_changed(&mut self) {
        self.subscriptions_dirty = true;
    }

    /// Puts the store back into the builder's slot: the client never
    /// served (its first connection failed), and another may use it.
    pub(super) fn give_back(&mut self) {
        if let (Some(slot), Some(store)) = (&self.slot, self.store.take()) {
            slot.put_back(store);
        }
    }

    /// The replies still waiting for a commit, when the client closes.
    pub(super) fn take_waiting(&mut self) -> Vec<Reply<()>> {
        std::mem::take(&mut self.waiting)
    }
}

impl EventLoop {
    /// Whether changes wait for a commit: until they are committed nothing
    /// is written to the socket and no message reaches a stream.
    pub(super) fn store_pending(&self) -> bool {
        self.persist.store.is_some()
            && (self.session.has_store_changes() || self.persist.subscriptions_dirty)
    }

    /// Whether a commit should be made now. With changes pending and a
    /// group commit not yet due, sets `commit_due` for the loop's timer.
    /// With nothing pending, answers the publishes and acknowledgements
    /// waiting for a commit (they needed none).
    pub(super) fn commit_ready(&mut self, now: Instant) -> bool {
        if self.persist.failed.is_some() {
            return false;
        }
        let Some(store) = self.persist.store.as_ref() else {
            return false;
        };
        if !self.store_pending() {
            self.answer_stored();
            return false;
        }
        let due = self
            .persist
            .last_commit
            .map_or(now, |last| last + store.commit_interval());
        if due > now {
            self.persist.commit_due = Some(due);
            return false;
        }
        true
    }

    /// Commits what the session recorded (and the subscription list, if
    /// it changed) on a blocking thread, then answers what waited for it.
    /// A failed store closes the client: nothing more is written.
    pub(super) async fn commit(&mut self) {
        self.persist.commit_due = None;
        if self.persist.failed.is_some() || !self.store_pending() {
            return;
        }
        let Some(mut store) = self.persist.store.take() else {
            return;
        };
        let changes: Vec<StoreChange> = self.session.drain_store_changes().collect();
        let subscriptions: Option<Vec<StoredSubscription>> =
            self.persist.subscriptions_dirty.then(|| {
                self.subscriptions
                    .iter()
                    .flat_map(|(filters, _)| filters.iter().cloned())
                    .collect()
            });
        self.persist.subscriptions_dirty = false;
        // Off the runtime's workers: a commit may wait for an fsync.
        let committed = tokio::task::spawn_blocking(move || {
            let batch = StoreBatch {
                changes: &changes,
                subscriptions: subscriptions.as_deref(),
            };
            let result = store.commit(batch);
            (store, result)
        })
        .await;
        let result = match committed {
            Ok((store, result)) => {
                self.persist.store = Some(store);
                result
            }
            Err(e) => Err(StoreError::Io {
                path: Default::default(),
                detail: format!("the commit did not finish: {e}").into(),
            }),
        };
        match result {
            Ok(()) => {
                self.persist.last_commit = Some(Instant::now());
                self.answer_stored();
            }
            Err(e) => {
                error!(%e, "the session store failed; closing the client");
                self.persist.failed = Some(e);
                self.ended = Some(End::Shutdown);
            }
        }
    }

    fn answer_stored(&mut self) {
        for reply in self.persist.waiting.drain(..) {
            let _ = reply.send(Ok(()));
        }
    }
}
