//! The [`Client`] handle, and what it hands out: publish builders
//! (`publish.rs`), subscriptions (`subscribe.rs`), message streams
//! (`streams.rs`) and the shared state of its requests (`inbox.rs`).
//!
//! A handle only sends [`Command`]s and waits for their answers: it knows
//! nothing of the event loop on the other side of the channel, and the
//! loop nothing of it. Building a client and starting its loop is
//! `connect.rs`'s part.

mod inbox;
mod publish;
mod streams;
mod subscribe;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mqtide_proto::{
    DisconnectProperties, Publish, ReasonCode, TopicAliasUse, UsageError, check_topic_name,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub(crate) use inbox::Requests;
pub use publish::{PendingAck, PublishBuilder};
pub use streams::{MessageStream, Subscription};

use crate::command::Command;
use crate::error::Error;
use crate::message::Message;
use crate::options::ClientBuilder;
use crate::state::{ConnectionEvent, ConnectionState, Events};
use crate::stats::{Stats, StatsCells};

/// How long [`Client::disconnect`] waits for in-flight publishes.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle to an MQTT client: cheap to clone, `Send + Sync`. The
/// connection itself lives in one task (see [`ClientBuilder::connect`]);
/// the last handle dropped (subscriptions and message streams hold one)
/// disconnects it cleanly.
///
/// # Cancel safety
///
/// Every request (publish, subscribe, unsubscribe, ack, reauthenticate,
/// disconnect, a request/response round trip, registering
/// [`messages`](Self::messages)) is a command the handle hands to the
/// event loop through a bounded queue, then waits for its answer.
/// Dropping the future while it still waits for room in the queue cancels
/// the request: nothing was sent. Dropping it after that (in a `select!`,
/// a `timeout`) does not: the request is carried out and only its answer
/// is lost (a publish is delivered, a SUBSCRIBE subscribes, a DISCONNECT
/// goes out). Reading a stream ([`Subscription::recv`],
/// [`MessageStream::recv`], `StreamExt::next`), waiting with
/// [`wait_connected`](Self::wait_connected) and awaiting a
/// [`PendingAck`] are cancel safe: dropping them loses nothing, and a
/// dropped `PendingAck` does not withdraw its publish.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<ConnectionState>,
    /// What the broker said in the last CONNACK.
    server: watch::Receiver<Option<Arc<mqtide_proto::Connected>>>,
    events: Events,
    stream_capacity: usize,
    /// Whether a session store backs the client.
    durable: bool,
    /// Why the client closed (set by the event loop).
    why_closed: Arc<std::sync::OnceLock<Error>>,
    restored: Option<crate::store::Restored>,
    /// Request/response state: the response topic subscription, shared by
    /// every clone (see [`Client::request`]).
    requests: Requests,
    /// The figures behind [`Client::stats`].
    stats: Arc<StatsCells>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

/// A [`Client`] that does not keep the connection open: for tasks of
/// the client's own that must not outlive its last user handle.
#[derive(Debug, Clone)]
pub(crate) struct WeakClient(std::sync::Weak<Inner>);

impl WeakClient {
    /// The client, unless every handle is gone.
    pub(crate) fn upgrade(&self) -> Option<Client> {
        self.0.upgrade().map(|inner| Client { inner })
    }
}

/// What a client handle is made of (see `ClientBuilder::build_parts`).
pub(crate) struct ClientParts {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) state: watch::Receiver<ConnectionState>,
    pub(crate) server: watch::Receiver<Option<Arc<mqtide_proto::Connected>>>,
    pub(crate) events: Events,
    pub(crate) why_closed: Arc<std::sync::OnceLock<Error>>,
    pub(crate) stream_capacity: usize,
    pub(crate) restored: Option<crate::store::Restored>,
    pub(crate) requests: Requests,
    pub(crate) stats: Arc<StatsCells>,
}

impl Client {
    /// Starts configuring a client for the broker at `url`:
    /// `mqtt://[user[:password]@]host[:port]`. A bad URL is reported by
    /// [`ClientBuilder::connect`].
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) fn new(parts: ClientParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                commands: parts.commands,
                state: parts.state,
                server: parts.server,
                events: parts.events,
                stream_capacity: parts.stream_capacity,
                durable: parts.restored.is_some(),
                why_closed: parts.why_closed,
                restored: parts.restored,
                requests: parts.requests,
                stats: parts.stats,
            }),
        }
    }

    /// The request/response state of this client.
    pub(crate) fn requests(&self) -> &Requests {
        &self.inner.requests
    }

    /// A handle that does not keep the client open.
    pub(crate) fn downgrade(&self) -> WeakClient {
        WeakClient(Arc::downgrade(&self.inner))
    }

    async fn send(&self, command: Command) -> Result<(), Error> {
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| self.closed_error())
    }

    /// Sends a command and waits for its answer.
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply)).await?;
        answer.await.unwrap_or_else(|_| Err(self.closed_error()))
    }

    /// Why the client closed: the one error every call returns once it
    /// has (set by the event loop before it lets go of its channels).
    pub(crate) fn closed_error(&self) -> Error {
        self.why_closed().unwrap_or(Error::EventLoopGone)
    }

    /// Why the client closed, if it has.
    pub(crate) fn why_closed(&self) -> Option<Error> {
        self.inner.why_closed.get().cloned()
    }

    /// Publishes `payload` to `topic`. Configure the returned builder, then
    /// `.await` it to wait for the acknowledgement (QoS 0: written to the
    /// socket; QoS 1: PUBACK; QoS 2: PUBCOMP), or call
    /// [`send`](PublishBuilder::send) to wait only until it is queued.
    ///
    /// Cancel safety: once the publish is queued (the first poll of the
    /// `.await` finds room in the command queue), dropping the future does
    /// not withdraw it: it is still delivered, only nobody learns the
    /// outcome. Dropped before it was queued, nothing is sent.
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// use mqtide::QoS;
    ///
    /// // Waits for the broker's PUBACK.
    /// client.publish("sensors/1/temperature", "21.5").qos(QoS::AtLeastOnce).await?;
    /// // Retained, with 5.0 properties.
    /// client
    ///     .publish("sensors/1/status", "online")
    ///     .qos(QoS::AtLeastOnce)
    ///     .retain(true)
    ///     .content_type("text/plain")
    ///     .await?;
    /// // Many in flight at once: queue them, then await the acknowledgements.
    /// let mut pending = Vec::new();
    /// for n in 0..100 {
    ///     pending.push(client.publish("sensors/1/seq", n.to_string()).qos(QoS::AtLeastOnce).send().await?);
    /// }
    /// for ack in pending {
    ///     ack.await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn publish(
        &self,
        topic: impl AsRef<str>,
        payload: impl Into<crate::Payload>,
    ) -> PublishBuilder {
        let topic = topic.as_ref();
        let error = check_topic_name(topic)
            .err()
            .map(|e| Error::Usage(UsageError::InvalidTopic(e)));
        PublishBuilder {
            client: self.clone(),
            publish: Box::new(Publish::new(topic, payload.into().into_bytes())),
            alias: TopicAliasUse::Auto,
            error,
        }
    }

    /// What the broker said when it accepted the current (or last)
    /// connection: the client id in use (the assigned one if it chose),
    /// keep-alive, receive maximum, maximum QoS, and the CONNACK's 5.0
    /// properties (response information, server reference, user
    /// properties, …). `None` before the first connection.
    pub fn server_info(&self) -> Option<Arc<mqtide_proto::Connected>> {
        self.inner.server.borrow().clone()
    }

    /// Runs the [authenticator](ClientBuilder::authenticator)'s exchange
    /// again on the live connection (5.0 re-authentication, e.g. before a
    /// token expires); resolves once the broker accepted it and the
    /// authenticator checked the broker's final data. A failure ends the
    /// connection (the broker's rule) and is returned.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Self#cancel-safety)).
    pub async fn reauthenticate(&self) -> Result<(), Error> {
        self.call(|reply| Command::Reauthenticate { reply }).await
    }

    /// What the [session store](ClientBuilder::session_store) resumed when
    /// the client was built; `None` without a store.
    pub fn restored(&self) -> Option<crate::store::Restored> {
        self.inner.restored
    }

    /// Acknowledges a message received with
    /// [`manual_acks`](ClientBuilder::manual_acks) on. Acknowledgements go
    /// out in arrival order. A no-op for QoS 0 messages and in automatic
    /// mode. Acknowledge each message once (any copy of it).
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Self#cancel-safety)).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), mqtide::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let client = mqtide::Client::builder("mqtt://localhost").manual_acks(true).connect().await?;
    /// let mut jobs = client.subscribe("jobs/#", mqtide::QoS::AtLeastOnce).await?;
    /// while let Some(job) = jobs.next().await {
    ///     // ... store the job durably, then:
    ///     client.ack(&job).await?; // the broker may forget it now
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ack(&self, message: &Message) -> Result<(), Error> {
        self.ack_with(message, ReasonCode::Success).await
    }

    /// [`ack`](Self::ack) with a 5.0 reason code: a failure code tells the
    /// broker the message was not accepted.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Self#cancel-safety)).
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client, message: mqtide::Message) -> Result<(), mqtide::Error> {
    /// // The payload did not parse: tell the broker (and the publisher).
    /// client.ack_with(&message, mqtide::ReasonCode::PayloadFormatInvalid).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ack_with(&self, message: &Message, reason_code: ReasonCode) -> Result<(), Error> {
        let Some(token) = message.token else {
            return Ok(());
        };
        self.call(|reply| Command::Ack {
            token,
            reason_code,
            reply,
        })
        .await
    }

    /// Waits (up to 10 s) for in-flight publishes, sends DISCONNECT and
    /// closes the client. Every stream ends.
    ///
    /// It returns once the DISCONNECT, and every packet before it (QoS 0
    /// publishes included, which are complete once encoded), has been
    /// written to the connection and the client is closed: a program may
    /// exit then and lose nothing it sent. When no DISCONNECT went out
    /// (so the broker will publish the will) it fails: with
    /// [`Error::ConnectionLost`] if the connection ended first or those
    /// last bytes could not be written within 2 s, with [`Error::Store`]
    /// if the session store failed. With publishes still in flight after
    /// 10 s it fails with [`Error::DisconnectTimeout`] at once, and sends
    /// the DISCONNECT all the same. On a client already closed it returns
    /// `Ok` if the application closed it, and otherwise the reason it
    /// closed (no DISCONNECT went out then either).
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Self#cancel-safety)).
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// client.publish("status", "bye").qos(mqtide::QoS::AtLeastOnce).await?;
    /// client.disconnect().await?; // the will is not published
    /// # Ok(())
    /// # }
    /// ```
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.disconnect_with(
            ReasonCode::Success,
            DisconnectProperties::default(),
            DISCONNECT_TIMEOUT,
        )
        .await
    }

    /// [`disconnect`](Self::disconnect) that asks a 5.0 broker to publish
    /// the will anyway.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Self#cancel-safety)).
    pub async fn disconnect_with_will(&self) -> Result<(), Error> {
        self.disconnect_with(
            ReasonCode::DisconnectWithWill,
            DisconnectProperties::default(),
            DISCONNECT_TIMEOUT,
        )
        .await
    }

    /// [`disconnect`](Self::disconnect) with a reason code, properties
    /// (5.0) and the time to wait for in-flight publishes.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Self#cancel-safety)).
    pub async fn disconnect_with(
        &self,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
        timeout: Duration,
    ) -> Result<(), Error> {
        match self
            .call(|reply| Command::Disconnect {
                reason_code,
                properties: Box::new(properties),
                timeout,
                reply,
            })
            .await
        {
            Err(Error::Closed) => Ok(()),
            other => other,
        }
    }

    /// The connection state now.
    ///
    /// ```no_run
    /// # fn demo(client: mqtide::Client) {
    /// if !client.state().is_connected() {
    ///     eprintln!("offline: publishes wait in the offline queue");
    /// }
    /// # }
    /// ```
    pub fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    /// What the client has done so far, as numbers: connections, publishes
    /// by QoS and how they ended, resends, messages received, duplicates
    /// suppressed, bytes, what is in flight and waiting (see [`Stats`],
    /// field by field). Cheap: a read of relaxed atomics the event loop
    /// stores as it goes (its own figures as they change, before the reply
    /// that reports them; the protocol's once per turn of its loop), so
    /// call it as often as a dashboard needs.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), mqtide::Error> {
    /// use mqtide::{Client, QoS};
    ///
    /// let client = Client::builder("mqtt://localhost").connect().await?;
    /// client.publish("sensors/1", "21.5").qos(QoS::AtLeastOnce).await?;
    /// let stats = client.stats();
    /// assert_eq!(stats.publishes_acknowledged.get(QoS::AtLeastOnce), 1);
    /// println!("resent {} publishes, {} bytes out", stats.publishes_resent, stats.bytes_sent);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.stats.snapshot()
    }

    /// A `watch` of the connection state, to await changes.
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) {
    /// let mut state = client.watch_state();
    /// while state.changed().await.is_ok() {
    ///     println!("now {:?}", *state.borrow());
    /// }
    /// // The client closed.
    /// # }
    /// ```
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// Connection events from now on. A receiver that falls more than 16
    /// events behind skips the oldest (`RecvError::Lagged`).
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) {
    /// use mqtide::ConnectionEvent;
    ///
    /// let mut events = client.events();
    /// while let Ok(event) = events.recv().await {
    ///     match event {
    ///         ConnectionEvent::Connected { session_present } => println!("up (session kept: {session_present})"),
    ///         ConnectionEvent::Disconnected { reason } => println!("lost: {reason}"),
    ///         ConnectionEvent::ConnectFailed { server, reason } => println!("{server}: {reason}"),
    ///         other => println!("{other:?}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> broadcast::Receiver<ConnectionEvent> {
        self.inner.events.subscribe()
    }

    /// Waits until the client is connected, or fails with the reason the
    /// client closed if it closes first. At once when it is connected
    /// now. After [`ClientBuilder::start`] (or [`ClientBuilder::build`]),
    /// this is how to learn that the first connection is up; bound the wait
    /// with a timeout, for a broker that never comes.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let client = mqtide::Client::builder("mqtt://broker:1883").start()?;
    /// tokio::time::timeout(Duration::from_secs(30), client.wait_connected()).await??;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_connected(&self) -> Result<(), Error> {
        let mut state = self.inner.state.clone();
        let result = state
            .wait_for(|s| s.is_connected() || matches!(s, ConnectionState::Closed))
            .await;
        match result {
            Ok(s) if s.is_connected() => Ok(()),
            _ => Err(self.closed_error()),
        }
    }
}
