//! [`TakeOnce`]: something a builder hands to the one client it builds.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// A value shared by a builder's clones and taken by the first client
/// built from any of them (a session store, an authenticator: neither can
/// serve two connections). A client that never served (its first
/// connection failed) puts it back, for the next try.
pub(crate) struct TakeOnce<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for TakeOnce<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> TakeOnce<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Arc::new(Mutex::new(Some(value))))
    }

    /// The value, or `None` if a client already took it.
    pub(crate) fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Gives back a value taken by a client that never served, so that
    /// another client may be built from the same builder (or a clone).
    pub(crate) fn put_back(&self, value: T) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }
}

impl<T> fmt::Debug for TakeOnce<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TakeOnce")
    }
}
