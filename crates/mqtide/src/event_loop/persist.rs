//! The session store's part of the loop: committing what the session
//! recorded before it reaches the network or the application, and taking
//! commands in batches so that one commit (one fsync) covers many.
//!
//! With a commit interval (group commit) the loop does not wait for the
//! commit: it goes on reading and taking commands, holding back every
//! write and every delivery until the due commit has made them safe.

use mqtide_proto::StoreChange;
use tokio::time::Instant;
use tracing::error;

use super::{End, EventLoop};
use crate::store::{StoreBatch, StoredSubscription};

/// The most commands taken in one turn of the loop after the first: enough
/// for a burst of publishes to share one commit and one write, few enough
/// that reading the socket is not starved.
const COMMAND_BATCH: usize = 256;

impl EventLoop {
    /// Takes commands that are already waiting, up to a batch.
    pub(super) fn more_commands(&mut self) {
        for _ in 0..COMMAND_BATCH {
            if !self.accepting() {
                break;
            }
            match self.commands.try_recv() {
                Ok(command) => self.command(Some(command)),
                Err(_) => break,
            }
        }
    }

    /// Whether changes wait for a commit: until they are committed nothing
    /// is written to the socket and no message reaches a stream.
    pub(super) fn store_pending(&self) -> bool {
        self.store.is_some() && (self.session.has_store_changes() || self.subscriptions_dirty)
    }

    /// Commits what the session recorded (and the subscription list, if it
    /// changed) when the store's commit interval allows, then answers the
    /// publishes and acknowledgements it stored. True when nothing waits
    /// for a commit; false while a group commit is due later (see
    /// `commit_due`) or once the store has failed (the client closes).
    pub(super) fn persist(&mut self) -> bool {
        if self.store_failed.is_some() {
            return false;
        }
        let Some(store) = self.store.as_ref() else {
            return true;
        };
        if self.store_pending() {
            let interval = store.commit_interval();
            let now = Instant::now();
            let due = self.last_commit.map_or(now, |last| last + interval);
            if due > now {
                self.commit_due = Some(due);
                return false;
            }
            return self.commit_now();
        }
        self.answer_stored();
        true
    }

    /// Commits at once, whatever the interval (a due group commit, or the
    /// last commit before the client closes).
    pub(super) fn commit_now(&mut self) -> bool {
        let Some(store) = self.store.as_mut() else {
            return true;
        };
        if self.store_failed.is_some() {
            return false;
        }
        self.commit_due = None;
        let changes: Vec<StoreChange> = self.session.drain_store_changes().collect();
        let subscriptions: Option<Vec<StoredSubscription>> = self.subscriptions_dirty.then(|| {
            self.subscriptions
                .iter()
                .flat_map(|(filters, _)| filters.iter().cloned())
                .collect()
        });
        self.subscriptions_dirty = false;
        if !changes.is_empty() || subscriptions.is_some() {
            let batch = StoreBatch {
                changes: &changes,
                subscriptions: subscriptions.as_deref(),
            };
            if let Err(e) = blocking(|| store.commit(batch)) {
                error!(%e, "the session store failed; closing the client");
                self.store_failed = Some(e);
                self.ended = Some(End::Shutdown);
                return false;
            }
            self.last_commit = Some(Instant::now());
        }
        self.answer_stored();
        true
    }

    fn answer_stored(&mut self) {
        for reply in self.stored_replies.drain(..) {
            let _ = reply.send(Ok(()));
        }
    }
}

/// Runs a blocking store operation: on a multi-threaded runtime through
/// `block_in_place`, so other tasks move to other workers meanwhile; on a
/// current-thread runtime in place (it has no other worker).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(feature = "durable")]
    if let Ok(handle) = tokio::runtime::Handle::try_current()
        && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    {
        return tokio::task::block_in_place(f);
    }
    f()
}
