//! Session stores: where a client keeps the state that must outlive the
//! process — outgoing QoS 1/2 publishes not yet acknowledged (and the
//! offline queue of them), QoS 2 flows past PUBREC, the exactly-once state
//! of incoming QoS 2 messages, the subscriptions, and the client
//! identifier the broker assigned.
//!
//! Without a store ([`ClientBuilder::session_store`](crate::ClientBuilder::session_store)
//! not called) that state lives in memory and dies with the process, as in
//! paho-mqtt and rumqttc. With one, every step of every flow is committed
//! *before* its bytes reach the socket and before its messages reach the
//! application, so a process killed at any point resumes on restart:
//!
//! - every publish whose [`send`](crate::PublishBuilder::send) resolved is
//!   on disk and is delivered at least once (QoS 1) or exactly once (QoS 2);
//! - an incoming QoS 2 message the application acknowledged
//!   ([`Client::ack`](crate::Client::ack)) is never delivered again; one it
//!   had not acknowledged when the process died is delivered again (with
//!   DUP set), because nothing says the application finished with it.
//!
//! Two stores ship: [`MemoryStore`], which survives a client but not the
//! process (for tests, and for handing a session from one client to the
//! next), and `DiskStore` (feature `durable`), a crash-safe
//! [redb](https://www.redb.org) database.

#[cfg(feature = "durable")]
mod disk;
mod memory;
#[cfg(feature = "durable")]
mod record;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use mqtide_proto::{
    ProtocolVersion, RestoreError, StoreChange, StoredSession, SubscriptionOptions, TopicFilter,
};

#[cfg(feature = "durable")]
pub use disk::{CommitPolicy, DiskStore, DiskStoreBuilder};
pub use memory::MemoryStore;

/// What a client resumed from its store when it was built (see
/// [`Client::restored`](crate::Client::restored)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// The acceptance number of the last QoS 1/2 publish the store kept
    /// (publishes are numbered 1, 2, … in the order they were accepted,
    /// whatever their QoS). A producer that replays a deterministic stream
    /// after a crash resumes after it: everything up to it is stored, and
    /// will be delivered, so publishing it again would duplicate it.
    pub last_accepted: u64,
    /// How many publishes were resumed (in flight or queued).
    pub publishes: usize,
    /// How many subscriptions were kept.
    pub subscriptions: usize,
}

/// Which session a store holds: a store opened for another client
/// identifier or protocol version is refused, never mixed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreIdentity {
    /// The configured client identifier (empty when the broker assigns
    /// one; the assigned one is stored with the session).
    pub client_id: String,
    /// The protocol version.
    pub protocol: ProtocolVersion,
}

/// A subscription kept to be restored when the broker lost the session.
pub type StoredSubscription = (TopicFilter, SubscriptionOptions);

/// What a store gives back when a client starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredState {
    /// The protocol state: flows in progress and the assigned client id.
    pub session: StoredSession,
    /// The subscriptions the client held.
    pub subscriptions: Vec<StoredSubscription>,
}

impl StoredState {
    /// Applies one batch, as a store commits it.
    pub fn apply(&mut self, batch: &StoreBatch<'_>) {
        for change in batch.changes {
            self.session.apply(change);
        }
        if let Some(subscriptions) = batch.subscriptions {
            self.subscriptions = subscriptions.to_vec();
        }
    }
}

/// One atomic commit: the session's changes in order, and the whole
/// subscription list when it changed.
#[derive(Debug, Clone, Copy)]
pub struct StoreBatch<'a> {
    /// The protocol changes, oldest first.
    pub changes: &'a [StoreChange],
    /// The subscriptions now held, if they changed.
    pub subscriptions: Option<&'a [StoredSubscription]>,
}

/// Where a client keeps its durable session state. The event loop calls
/// [`load`](Self::load) once when the client is built and
/// [`commit`](Self::commit) before every write to the socket that depends
/// on a change. `load` runs in `build`; each commit runs on a blocking
/// thread (`spawn_blocking`) while the loop waits for it, so a commit's
/// latency is the latency of every step of the protocol. A commit the
/// loop stopped waiting for (its task aborted) still runs to its end.
pub trait SessionStore: Send + fmt::Debug + 'static {
    /// The state stored for `identity`, empty for a new store (which from
    /// now on belongs to `identity`).
    fn load(&mut self, identity: &StoreIdentity) -> Result<StoredState, StoreError>;

    /// Applies `batch` atomically: after a crash, either all of it or none
    /// of it is there. Returns once it is as durable as the store promises.
    fn commit(&mut self, batch: StoreBatch<'_>) -> Result<(), StoreError>;

    /// The least time between two commits (group commit); zero commits
    /// as soon as there is something to commit. Meanwhile the event loop
    /// goes on reading and taking commands, and holds back what depends
    /// on the uncommitted changes.
    fn commit_interval(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// Why a session store cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or client) has the store open.
    #[error(
        "the session store {path} is in use by another process; one store serves one client at a time"
    )]
    Locked {
        /// The store's file.
        path: PathBuf,
    },
    /// The store holds another client's session.
    #[error(
        "the session store {path} belongs to {stored}, not to {wanted}; use one store per client id and protocol version"
    )]
    WrongSession {
        /// The store's file (empty for a memory store).
        path: PathBuf,
        /// Whose session it holds.
        stored: String,
        /// Who asked.
        wanted: String,
    },
    /// The file cannot be read as a store at all.
    #[error(
        "the session store {path} is damaged beyond repair ({detail}); nothing in it can be recovered. Move it aside to start afresh: a broker that kept the session still resends what it holds"
    )]
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// What the database reported.
        detail: String,
    },
    /// Some records cannot be decoded; the rest can.
    #[error("the session store {path} has {} damaged record(s) ({}); {intact} record(s) are intact. Open it with `salvage(true)` to resume from the intact ones and drop the damaged", damaged.len(), damaged.join("; "))]
    Damaged {
        /// The store's file.
        path: PathBuf,
        /// What is wrong with each damaged record.
        damaged: Vec<String>,
        /// How many records are intact.
        intact: usize,
    },
    /// The records decode but contradict one another.
    #[error("the session store is inconsistent: {0}")]
    Inconsistent(#[source] RestoreError),
    /// A builder's store serves one client; this builder's was taken by a
    /// client built earlier from it (or a clone of it).
    #[error("this builder's session store already serves another client; give each client its own")]
    InUse,
    /// A client built later on the same store took its session over; this
    /// client may commit nothing more, so it stops.
    #[error(
        "the session store was taken over by a client built on it later; a store serves one client at a time, so this one stops"
    )]
    TakenOver,
    /// Reading or writing the store failed.
    #[error("session store {path}: {detail}")]
    Io {
        /// The store's file.
        path: PathBuf,
        /// The error.
        detail: Arc<str>,
    },
}

/// Loads what `store` holds for the session `config` describes and
/// resumes it: the session, and the subscriptions to restore.
pub(crate) fn resume(
    store: &mut dyn SessionStore,
    config: mqtide_proto::SessionConfig,
) -> Result<(mqtide_proto::Session, Vec<StoredSubscription>), StoreError> {
    let identity = StoreIdentity {
        client_id: config.client_id.to_string(),
        protocol: config.protocol,
    };
    let stored = store.load(&identity)?;
    let session =
        mqtide_proto::Session::restore(config, stored.session).map_err(StoreError::Inconsistent)?;
    Ok((session, stored.subscriptions))
}
