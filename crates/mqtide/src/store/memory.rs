//! [`MemoryStore`]: a session store in memory, shared by its clones.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::{SessionStore, StoreBatch, StoreError, StoreIdentity, StoredState};

/// A session store in memory. Its clones share one state, so a client
/// built with a clone resumes the session of a client that is gone — but
/// nothing survives the process. The default without a store is the same
/// state held by the client itself.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    identity: Option<StoreIdentity>,
    state: StoredState,
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
                Ok(inner.state.clone())
            }
        }
    }

    fn commit(&mut self, batch: StoreBatch<'_>) -> Result<(), StoreError> {
        self.lock().state.apply(&batch);
        Ok(())
    }
}
