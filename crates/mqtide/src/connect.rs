//! Turning a [`ClientBuilder`] into a running client: the [`Client`]
//! handle and its event loop, joined by their channels
//! ([`build`](ClientBuilder::build)), and the loop started for the caller
//! ([`connect`](ClientBuilder::connect)).
//!
//! The one module that knows both sides: the handles (`client`) and the
//! loop (`event_loop`) only know the commands between them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::sync::{mpsc, oneshot, watch};

use crate::client::{Client, ClientParts, Requests};
use crate::error::{ConnectError, Error};
use crate::event_loop::{Connection, EventLoop, Setup};
use crate::options::ClientBuilder;
use crate::state::{ConnectionState, Events};

/// Reports how the first connection attempt went.
type FirstConnect = oneshot::Receiver<Result<(), ConnectError>>;

impl ClientBuilder {
    /// Connects: resolves once the broker accepted the first connection
    /// (CONNACK), with the event loop running in a spawned task. Must be
    /// called within a tokio runtime.
    ///
    /// The event loop makes the first connection in the caller's task and
    /// moves to a task of its own once it has an answer: the handshake
    /// needs no hop between runtime threads (each a futex wake-up). If
    /// this future is dropped before the answer, the connection attempt
    /// ends with it.
    pub async fn connect(self) -> Result<Client, Error> {
        let (client, connection, first) = self.build_parts()?;
        match first_connection(connection, first).await {
            Some(Ok(())) => Ok(client),
            Some(Err(e)) => Err(Error::Connect(e)),
            None => Err(Error::Closed),
        }
    }

    /// The client and its event loop, for those who drive the loop
    /// themselves instead of spawning it: `connection.run()` is a future
    /// that ends when the client closes. [`Client::wait_connected`] waits
    /// for the first connection.
    ///
    /// Driving `connection.run()` in the same task as code that publishes
    /// or subscribes (in one `select!` or `join!`) makes a command sent
    /// while the loop waits for one wake the task that is running. On
    /// tokio's multi-threaded runtime that counts as a yield: the task goes
    /// to the back of the queue and an idle worker is woken to steal it, a
    /// thread wake-up per such command.
    /// That is no cost in `block_on` (the benchmark's requester does it);
    /// inside a spawned task, give the loop a task of its own
    /// (`tokio::spawn(connection.run())`, which is what
    /// [`connect`](Self::connect) does).
    pub fn build(self) -> Result<(Client, Connection), Error> {
        let (client, connection, _) = self.build_parts()?;
        Ok((client, connection))
    }

    fn build_parts(self) -> Result<(Client, Connection, FirstConnect), Error> {
        let (servers, config) = self.finish()?;
        let requests = Requests::new(&config, self.manual_acks);
        // Before the store: loading a store takes its session over from
        // any client still running on it, so little may fail after it
        // (only a stored session that contradicts itself still can).
        let authenticator = match &self.authenticator {
            Some(slot) => Some(slot.take().ok_or_else(|| {
                Error::InvalidOption(
                    "this builder's authenticator already serves another client; give each client its own".into(),
                )
            })?),
            None => None,
        };
        let (session, store) = match &self.store {
            Some(slot) => {
                let mut store = slot.take().ok_or(crate::store::StoreError::InUse)?;
                let (session, subscriptions) = crate::store::resume(store.as_mut(), config)?;
                (session, Some((store, subscriptions)))
            }
            None => (mqtide_proto::Session::new(config), None),
        };
        let restored = store
            .as_ref()
            .map(|(_, subscriptions)| crate::store::Restored {
                last_accepted: session.last_accepted(),
                publishes: session.inflight() + session.queued(),
                subscriptions: subscriptions.len(),
            });
        let (commands_tx, commands_rx) = mpsc::channel(self.command_capacity);
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting);
        let (server_tx, server_rx) = watch::channel(None);
        let events = Events::default();
        let (first_tx, first_rx) = oneshot::channel();
        let why_closed = Arc::new(std::sync::OnceLock::new());
        let client = Client::new(ClientParts {
            commands: commands_tx,
            state: state_rx,
            server: server_rx,
            events: events.clone(),
            why_closed: Arc::clone(&why_closed),
            stream_capacity: self.stream_capacity,
            restored,
            requests,
        });
        let event_loop = EventLoop::new(Setup {
            servers,
            session,
            commands: commands_rx,
            state: state_tx,
            server: server_tx,
            events,
            reconnect: self.reconnect,
            connect_timeout: self.connect_timeout,
            queue_full: self.queue_full,
            manual_acks: self.manual_acks,
            first_connect: first_tx,
            store,
            authenticator,
            why_closed,
        });
        Ok((client, Connection::new(event_loop), first_rx))
    }
}

/// Runs the event loop in this task until the first connection is
/// answered (accepted, or refused with why; `None` if the loop ended
/// without an answer), then hands the loop to a task of its own.
async fn first_connection(
    connection: Connection,
    mut first: FirstConnect,
) -> Option<Result<(), ConnectError>> {
    let mut run = Box::pin(connection.run());
    // The answer is looked for after each poll of the loop, never waited
    // for: the loop sends it from within this task, and a task woken while
    // it runs is, to tokio's multi-threaded scheduler, a task yielding
    // (sent to the back of the queue, with an idle worker woken to steal
    // it: a thread wake-up per connect).
    let (answer, ended) = std::future::poll_fn(|cx| {
        let ended = run.as_mut().poll(cx).is_ready();
        match first.try_recv() {
            Ok(answer) => Poll::Ready((Some(answer), ended)),
            Err(oneshot::error::TryRecvError::Empty) if !ended => Poll::Pending,
            // The loop ended (or dropped its sender) without an answer.
            Err(_) => Poll::Ready((None, ended)),
        }
    })
    .await;
    // A refused connection's loop is spawned too: it still commits what
    // the session recorded and closes. A loop that already ended (the
    // connection lost at once, with reconnecting off) has nothing left to
    // run: the client reports it closed.
    if !ended {
        spawn_quietly(run);
    }
    answer
}

/// Spawns a future that this task has been polling, without the wake-ups
/// its wakers would still cause.
///
/// The loop's wakers (socket, command channel, timers) still name this
/// task, so the first command sent from it (a `disconnect` right away,
/// say) would wake it while it runs, the same yield as in
/// [`first_connection`]. One poll with a waker that does nothing replaces
/// them; the spawned task's first poll then registers its own, and finds
/// whatever happened in between (readiness, queued commands and expired
/// timers are kept, not lost with a wake-up).
fn spawn_quietly<F>(mut run: Pin<Box<F>>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut quiet = Context::from_waker(Waker::noop());
    if run.as_mut().poll(&mut quiet).is_pending() {
        tokio::spawn(run);
    }
}
