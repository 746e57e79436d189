//! What the blocking client hands out to read from: [`Subscription`] and
//! [`MessageStream`] (iterators of messages), and [`ConnectionEvents`].

use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::time::Duration;

use mqtide_proto::ReasonCode;
use tokio::sync::{broadcast, mpsc};

use super::Shared;
use super::runtime::not_in_runtime;
use crate::error::Error;
use crate::message::Message;
use crate::state::ConnectionEvent;

/// The messages matching one subscription, from
/// [`Client::subscribe`](super::Client::subscribe): an `Iterator` that ends
/// when the client closes (or after [`unsubscribe`](Self::unsubscribe)),
/// with [`recv_timeout`](Self::recv_timeout) and
/// [`try_recv`](Self::try_recv) as on a `std::sync::mpsc::Receiver`. The
/// async [`crate::Subscription`] says how unread messages slow the socket.
///
/// Called from inside an async runtime, `next` ends the iteration at once
/// (an iterator cannot fail): use the async client there.
#[derive(Debug)]
pub struct Subscription {
    // Before `shared`, so dropped before it (see `Client`).
    inner: crate::Subscription,
    shared: Arc<Shared>,
}

impl Subscription {
    pub(super) fn new(inner: crate::Subscription, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The next message, waiting at most `timeout`.
    ///
    /// ```no_run
    /// # fn demo(client: mqtide::blocking::Client) -> Result<(), mqtide::Error> {
    /// use std::sync::mpsc::RecvTimeoutError;
    /// use std::time::Duration;
    ///
    /// let mut status = client.subscribe("devices/+/status", mqtide::QoS::AtLeastOnce)?;
    /// match status.recv_timeout(Duration::from_secs(5)) {
    ///     Ok(message) => println!("{}", message.topic()),
    ///     Err(RecvTimeoutError::Timeout) => println!("quiet"),
    ///     Err(RecvTimeoutError::Disconnected) => println!("the client closed"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Message, RecvTimeoutError> {
        recv_timeout(&mut self.inner.receiver, &self.shared, timeout)
    }

    /// A message that is already there, if any.
    pub fn try_recv(&mut self) -> Result<Message, TryRecvError> {
        try_recv(&mut self.inner.receiver)
    }

    /// The broker's answer per filter. See
    /// [`crate::Subscription::reason_codes`].
    pub fn reason_codes(&self) -> &[ReasonCode] {
        self.inner.reason_codes()
    }

    /// Unsubscribes this subscription's filters at the broker; the
    /// iterator ends. See [`crate::Subscription::unsubscribe`].
    pub fn unsubscribe(self) -> Result<(), Error> {
        let shared = Arc::clone(&self.shared);
        shared.runtime.block_on(self.inner.unsubscribe())?
    }
}

impl Iterator for Subscription {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        not_in_runtime().ok()?;
        self.inner.receiver.blocking_recv()
    }
}

/// Every incoming message, from [`Client::messages`](super::Client::messages):
/// an `Iterator` that ends when the client closes, with
/// [`recv_timeout`](Self::recv_timeout) and [`try_recv`](Self::try_recv).
#[derive(Debug)]
pub struct MessageStream {
    inner: crate::MessageStream,
    shared: Arc<Shared>,
}

impl MessageStream {
    pub(super) fn new(inner: crate::MessageStream, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The next message, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Message, RecvTimeoutError> {
        recv_timeout(&mut self.inner.receiver, &self.shared, timeout)
    }

    /// A message that is already there, if any.
    pub fn try_recv(&mut self) -> Result<Message, TryRecvError> {
        try_recv(&mut self.inner.receiver)
    }
}

impl Iterator for MessageStream {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        not_in_runtime().ok()?;
        self.inner.receiver.blocking_recv()
    }
}

fn recv_timeout(
    receiver: &mut mpsc::Receiver<Message>,
    shared: &Shared,
    timeout: Duration,
) -> Result<Message, RecvTimeoutError> {
    // A message already there is taken without a timer or the runtime.
    match receiver.try_recv() {
        Ok(message) => return Ok(message),
        Err(mpsc::error::TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
        Err(mpsc::error::TryRecvError::Empty) => {}
    }
    // Made inside `block_on`: a timer needs the runtime's context.
    let waiting = async { tokio::time::timeout(timeout, receiver.recv()).await };
    match shared.runtime.block_on(waiting) {
        Ok(Ok(Some(message))) => Ok(message),
        Ok(Ok(None)) | Err(_) => Err(RecvTimeoutError::Disconnected),
        Ok(Err(_)) => Err(RecvTimeoutError::Timeout),
    }
}

fn try_recv(receiver: &mut mpsc::Receiver<Message>) -> Result<Message, TryRecvError> {
    receiver.try_recv().map_err(|e| match e {
        mpsc::error::TryRecvError::Empty => TryRecvError::Empty,
        mpsc::error::TryRecvError::Disconnected => TryRecvError::Disconnected,
    })
}

/// Connection events (connected, disconnected with the reason,
/// reconnecting, …), from [`Client::events`](super::Client::events): an
/// `Iterator` that ends when the client closes. A reader that falls
/// behind skips the oldest events (see [`crate::Client::events`]).
#[derive(Debug)]
pub struct ConnectionEvents {
    inner: broadcast::Receiver<ConnectionEvent>,
    shared: Arc<Shared>,
}

impl ConnectionEvents {
    pub(super) fn new(inner: broadcast::Receiver<ConnectionEvent>, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<ConnectionEvent, RecvTimeoutError> {
        loop {
            let waiting = async { tokio::time::timeout(timeout, self.inner.recv()).await };
            return match self.shared.runtime.block_on(waiting) {
                Ok(Ok(Ok(event))) => Ok(event),
                Ok(Ok(Err(broadcast::error::RecvError::Lagged(_)))) => continue,
                Ok(Ok(Err(broadcast::error::RecvError::Closed))) | Err(_) => {
                    Err(RecvTimeoutError::Disconnected)
                }
                Ok(Err(_)) => Err(RecvTimeoutError::Timeout),
            };
        }
    }
}

impl Iterator for ConnectionEvents {
    type Item = ConnectionEvent;

    fn next(&mut self) -> Option<ConnectionEvent> {
        not_in_runtime().ok()?;
        loop {
            match self.inner.blocking_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
