//! [`MemoryStore`]: a session store in memory, shared by its clones.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::{SessionStore, StoreBatch, StoreError, StoreIdentity, StoredState};

/// A session store in memory. Its clones share one state, so a client
/// built with a clone resumes the session of a client that is gone — but
/// nothing survives the process. The default without a store is the same
/// state held by the client itself.
///
/// It serves one client at a time, as a broker serves a session to one
/// connection: the client built last takes the session over, and the one
/// it was taken from can commit nothing more (its next commit fails with
/// [`StoreError::TakenOver`] and it closes, writing nothing that commit
/// would have covered). An event loop whose task was aborted, or a commit
/// still running on a blocking thread, cannot then change what the new
/// client resumed from, nor send what the new client sends again.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    /// The lease this handle took when a client loaded through it.
    lease: Option<u64>,
}

impl Clone for MemoryStore {
    /// Another handle on the same state, holding no lease: a client built
    /// with it takes the session over when it loads.
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            lease: None,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    identity: Option<StoreIdentity>,
    state: StoredState,
    /// The lease of the client that loaded last: only it may commit.
    lease: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of what the store holds now.
    pub fn snapshot(&self) -> StoredState {
        self.lock().state.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a state that
        // was fully applied or not at all: each batch is applied under
        // one lock.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SessionStore for MemoryStore {
    fn load(&mut self, identity: &StoreIdentity) -> Result<StoredState, StoreError> {
        let mut inner = self.lock();
        match &inner.identity {
            Some(stored) if stored != identity => Err(StoreError::WrongSession {
                path: PathBuf::new(),
                stored: format!("{:?} ({:?})", stored.client_id, stored.protocol),
                wanted: format!("{:?} ({:?})", identity.client_id, identity.protocol),
            }),
            _ => {
                inner.identity = Some(identity.clone());
                inner.lease += 1;
                let (lease, state) = (inner.lease, inner.state.clone());
                drop(inner);
                self.lease = Some(lease);
                Ok(state)
            }
        }
    }

    fn commit(&mut self, batch: StoreBatch<'_>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if self.lease != Some(inner.lease) {
            return Err(StoreError::TakenOver);
        }
        inner.state.apply(&batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mqtide_proto::{PacketId, ProtocolVersion, StoreChange};

    use super::*;

    fn identity() -> StoreIdentity {
        StoreIdentity {
            client_id: "c".into(),
            protocol: ProtocolVersion::V5,
        }
    }

    fn received(id: u16) -> [StoreChange; 1] {
        [StoreChange::IncomingReceived {
            packet_id: PacketId::new(id).unwrap(),
        }]
    }

    fn commit(store: &mut MemoryStore, changes: &[StoreChange]) -> Result<(), StoreError> {
        store.commit(StoreBatch {
            changes,
            subscriptions: None,
        })
    }

    #[test]
    fn the_client_that_loaded_last_takes_the_session_over() {
        let shared = MemoryStore::new();
        let mut first = shared.clone();
        first.load(&identity()).unwrap();
        commit(&mut first, &received(1)).unwrap();

        let mut second = shared.clone();
        let resumed = second.load(&identity()).unwrap();
        assert!(resumed.session.incoming.contains_key(&1));
        // What the first client commits from now on would change a
        // session the second one already resumed: refused.
        assert!(matches!(
            commit(&mut first, &received(2)),
            Err(StoreError::TakenOver)
        ));
        commit(&mut second, &received(3)).unwrap();
        let held: Vec<u16> = shared.snapshot().session.incoming.into_keys().collect();
        assert_eq!(held, [1, 3]);
    }

    #[test]
    fn a_clone_holds_no_lease() {
        let mut first = MemoryStore::new();
        first.load(&identity()).unwrap();
        let mut copy = first.clone();
        assert!(matches!(
            commit(&mut copy, &received(1)),
            Err(StoreError::TakenOver)
        ));
        commit(&mut first, &received(2)).unwrap();
        assert_eq!(first.snapshot().session.incoming.len(), 1);
    }
}
