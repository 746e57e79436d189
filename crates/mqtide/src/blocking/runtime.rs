//! The runtime a blocking client runs its event loop on: a current-thread
//! tokio runtime on a thread of its own, as reqwest's blocking client does.
//! Callers' threads wait on it with `Handle::block_on`; the runtime's own
//! thread drives the sockets and timers meanwhile.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};

use crate::error::Error;

/// The runtime thread of one blocking client. Dropping it waits for the
/// thread, which ends when the event loop does.
#[derive(Debug)]
pub(crate) struct RuntimeThread {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl RuntimeThread {
    /// Starts a runtime, calls `make` inside it (building a client may
    /// need the runtime's context), and runs the event loop `make` returns
    /// on a new thread until it ends.
    pub(crate) fn start<T, F>(
        make: impl FnOnce() -> Result<(T, F), Error>,
    ) -> Result<(T, Self), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::InvalidOption(format!("cannot start the client's runtime: {e}")))?;
        let (made, event_loop) = {
            let _context = runtime.enter();
            make()?
        };
        let handle = runtime.handle().clone();
        let thread = std::thread::Builder::new()
            .name("mqtide-blocking".into())
            .spawn(move || runtime.block_on(event_loop))
            .map_err(|e| Error::InvalidOption(format!("cannot start the client's thread: {e}")))?;
        let this = Self {
            handle,
            thread: Some(thread),
        };
        Ok((made, this))
    }

    /// Runs `future` to completion on the calling thread, with the client's
    /// runtime for its timers and sockets.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        not_in_runtime()?;
        Ok(self.handle.block_on(future))
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        // The event loop ends once every client handle is gone (it sends
        // DISCONNECT first); its thread ends with it. Never join from the
        // runtime's own thread (a handle dropped inside a task there).
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// A blocking call made from inside an async runtime would block one of
/// its workers (or deadlock a current-thread runtime): refuse it.
pub(crate) fn not_in_runtime() -> Result<(), Error> {
    if Handle::try_current().is_ok() {
        return Err(Error::BlockingInRuntime);
    }
    Ok(())
}
