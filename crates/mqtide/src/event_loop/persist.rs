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
use crate::store::{StoreBatch, StoreError, StoredSubscription};

impl EventLoop {
    /// Whether changes wait for a commit: until they are committed nothing
    /// is written to the socket and no message reaches a stream.
    pub(super) fn store_pending(&self) -> bool {
        self.store.is_some() && (self.session.has_store_changes() || self.subscriptions_dirty)
    }

    /// Whether a commit should be made now. With changes pending and a
    /// group commit not yet due, sets `commit_due` for the loop's timer.
    /// With nothing pending, answers the publishes and acknowledgements
    /// waiting for a commit (they needed none).
    pub(super) fn commit_ready(&mut self, now: Instant) -> bool {
        if self.store_failed.is_some() {
            return false;
        }
        let Some(store) = self.store.as_ref() else {
            return false;
        };
        if !self.store_pending() {
            self.answer_stored();
            return false;
        }
        let due = self
            .last_commit
            .map_or(now, |last| last + store.commit_interval());
        if due > now {
            self.commit_due = Some(due);
            return false;
        }
        true
    }

    /// Commits what the session recorded (and the subscription list, if
    /// it changed) on a blocking thread, then answers what waited for it.
    /// A failed store closes the client: nothing more is written.
    pub(super) async fn commit(&mut self) {
        self.commit_due = None;
        if self.store_failed.is_some() || !self.store_pending() {
            return;
        }
        let Some(mut store) = self.store.take() else {
            return;
        };
        let changes: Vec<StoreChange> = self.session.drain_store_changes().collect();
        let subscriptions: Option<Vec<StoredSubscription>> = self.subscriptions_dirty.then(|| {
            self.subscriptions
                .iter()
                .flat_map(|(filters, _)| filters.iter().cloned())
                .collect()
        });
        self.subscriptions_dirty = false;
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
                self.store = Some(store);
                result
            }
            Err(e) => Err(StoreError::Io {
                path: Default::default(),
                detail: format!("the commit did not finish: {e}").into(),
            }),
        };
        match result {
            Ok(()) => {
                self.last_commit = Some(Instant::now());
                self.answer_stored();
            }
            Err(e) => {
                error!(%e, "the session store failed; closing the client");
                self.store_failed = Some(e);
                self.ended = Some(End::Shutdown);
            }
        }
    }

    fn answer_stored(&mut self) {
        for reply in self.stored_replies.drain(..) {
            let _ = reply.send(Ok(()));
        }
    }
}
