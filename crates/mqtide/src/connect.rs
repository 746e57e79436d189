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
use crate::event_loop::{Connection, EventLoop, Setup, Slots};
use crate::options::ClientBuilder;
use crate::state::{ConnectionState, Events};

/// Reports how the first connection attempt went.
type FirstConnect = oneshot::Receiver<Result<(), ConnectError>>;

impl ClientBuilder {
    /// Connects: resolves once the broker accepted the first connection
    /// (CONNACK), with the event loop running in a spawned task. Must be
    /// called within a tokio runtime.
    ///
    /// It fails as soon as every broker failed once (a broker that is
    /// down fails at once), unless
    /// [`retry_first_connect`](Self::retry_first_connect) is on. A failed
    /// `connect` leaves the builder as it was: call it again on a clone
    /// (a [session store](Self::session_store) and an
    /// [authenticator](Self::authenticator) are back in it). To get a
    /// client at once whatever the broker does, see [`start`](Self::start).
    ///
    /// The event loop makes the first connection in the caller's task and
    /// moves to a task of its own once it has an answer: the handshake
    /// needs no hop between runtime threads (each a futex wake-up). If
    /// this future is dropped before the answer, the connection attempt
    /// ends with it.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), mqtide::Error> {
    /// let client = mqtide::Client::builder("mqtt://localhost:1883")
    ///     .client_id("sensor-1")
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(self) -> Result<Client, Error> {
        let (client, connection, first) = self.build_parts()?;
        match first_connection(connection, first).await {
            Some(Ok(())) => Ok(client),
            Some(Err(e)) => Err(Error::Connect(e)),
            // The loop closed without an answer (disconnected at once, or
            // lost the connection with reconnecting off): it says why.
            None => Err(client.closed_error()),
        }
    }

    /// Starts the client and returns it at once, its event loop running
    /// in a spawned task: the first connection is retried with the
    /// [reconnect backoff](Self::reconnect) until a broker accepts it, as
    /// a lost connection is (paho's `connect_async` and `loop_start`).
    /// For services that may start before their broker.
    ///
    /// Meanwhile the client is usable: publishes wait in the offline
    /// queue ([`offline_queue`](Self::offline_queue), 1024 by default,
    /// [`QueueFull`](crate::QueueFull) says what happens when it is full)
    /// and subscribes wait too; each resolves once the broker answered
    /// it. [`Client::wait_connected`] tells when the connection is up,
    /// [`Client::events`] reports each failed attempt
    /// ([`ConnectionEvent::ConnectFailed`](crate::ConnectionEvent::ConnectFailed)).
    ///
    /// A failure that retrying cannot fix (bad credentials, a certificate
    /// that does not verify: an error whose
    /// [`is_retryable`](Error::is_retryable) is false) closes the client
    /// instead; `wait_connected` and every call then return it. With
    /// [`no_reconnect`](Self::no_reconnect) there is no backoff to retry
    /// with: the client closes once every broker failed once.
    ///
    /// It fails at once only for what `build` refuses (a bad URL or
    /// option, a store in use).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use mqtide::{Backoff, Client, QoS};
    ///
    /// let client = Client::builder("mqtt://broker:1883")
    ///     .reconnect(Backoff::exponential(Duration::from_millis(500), Duration::from_secs(10)))
    ///     .start()?;
    /// // Queued until the broker is there; awaiting it waits for the PUBACK.
    /// let pending = client.publish("service/status", "up").qos(QoS::AtLeastOnce).send().await?;
    /// tokio::time::timeout(Duration::from_secs(60), client.wait_connected()).await??;
    /// pending.await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(self) -> Result<Client, Error> {
        let (client, connection) = self.retry_first_connect(true).build()?;
        tokio::spawn(connection.run());
        Ok(client)
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
        // What was taken goes back if the client cannot be built.
        let give_back = |authenticator: Option<_>| {
            if let (Some(slot), Some(authenticator)) = (&self.authenticator, authenticator) {
                slot.put_back(authenticator);
            }
        };
        let (session, store) = match &self.store {
            Some(slot) => {
                let Some(mut store) = slot.take() else {
                    give_back(authenticator);
                    return Err(crate::store::StoreError::InUse.into());
                };
                match crate::store::resume(store.as_mut(), config) {
                    Ok((session, subscriptions)) => (session, Some((store, subscriptions))),
                    Err(e) => {
                        slot.put_back(store);
                        give_back(authenticator);
                        return Err(e.into());
                    }
                }
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
        let stats = Arc::new(crate::stats::StatsCells::default());
        let client = Client::new(ClientParts {
            stats: Arc::clone(&stats),
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
            retry_first: self.retry_first_connect,
            connect_timeout: self.connect_timeout,
            queue_full: self.queue_full,
            manual_acks: self.manual_acks,
            first_connect: first_tx,
            store,
            authenticator,
            why_closed,
            slots: Slots {
                store: self.store.clone(),
                authenticator: self.authenticator.clone(),
            },
            stats,
            #[cfg(feature = "metrics")]
            metrics_client_id_label: self.metrics_client_id_label,
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
