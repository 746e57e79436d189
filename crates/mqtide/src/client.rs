//! The [`Client`] handle and its request builders.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqtide_proto::{
    AckProperties, DisconnectProperties, PayloadFormat, Publish, PublishProperties, QoS,
    ReasonCode, SubscribeProperties, SubscriptionOptions, TopicAliasUse, TopicFilter,
    UnsubscribeProperties, UsageError, check_topic_name,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::command::Command;
use crate::error::Error;
use crate::event_loop::{Connection, EventLoop};
use crate::message::{Message, MessageStream, Subscription};
use crate::options::ClientBuilder;
use crate::state::{ConnectionEvent, ConnectionState, Events};

/// Reports how the first connection attempt went.
type FirstConnect = oneshot::Receiver<Result<(), crate::ConnectError>>;

/// How long [`Client::disconnect`] waits for in-flight publishes.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle to an MQTT client: cheap to clone, `Send + Sync`. The
/// connection itself lives in one task (see [`ClientBuilder::connect`]);
/// the last handle dropped (subscriptions and message streams hold one)
/// disconnects it cleanly.
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
    requests: crate::request::Requests,
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

/// How a publish ended: the reason code of its final acknowledgement (5.0;
/// `Success` for QoS 0 and 3.1.1) and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// `Success`, or `NoMatchingSubscribers` (5.0).
    pub reason_code: ReasonCode,
    /// The acknowledgement's properties (reason string, user properties).
    pub properties: AckProperties,
}

/// The broker's answer to a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubscribeOutcome {
    pub(crate) reason_codes: Vec<ReasonCode>,
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
    pub(crate) requests: crate::request::Requests,
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
            }),
        }
    }

    /// The request/response state of this client.
    pub(crate) fn requests(&self) -> &crate::request::Requests {
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
            .map_err(|_| Error::Closed)
    }

    /// Sends a command and waits for its answer.
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply)).await?;
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Publishes `payload` to `topic`. Configure the returned builder, then
    /// `.await` it to wait for the acknowledgement (QoS 0: written to the
    /// socket; QoS 1: PUBACK; QoS 2: PUBCOMP), or call
    /// [`send`](PublishBuilder::send) to wait only until it is queued.
    pub fn publish(&self, topic: impl Into<String>, payload: impl Into<Bytes>) -> PublishBuilder {
        let topic = topic.into();
        let error = check_topic_name(&topic)
            .err()
            .map(|e| Error::Usage(UsageError::InvalidTopic(e)));
        PublishBuilder {
            client: self.clone(),
            publish: Box::new(Publish::new(topic, payload)),
            alias: TopicAliasUse::Auto,
            error,
        }
    }

    /// Subscribes to `filter` at `qos` and returns the stream of matching
    /// messages.
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<Subscription, Error> {
        self.subscribe_many(
            [(filter, SubscriptionOptions::new(qos))],
            SubscribeProperties::default(),
        )
        .await
    }

    /// Subscribes to several filters at once, with 5.0 options (no local,
    /// retain as published, retain handling) and properties. The stream
    /// carries messages matching any of them. Fails if the broker refused
    /// every filter; see [`Subscription::reason_codes`] for partial
    /// refusals.
    pub async fn subscribe_many<'a>(
        &self,
        filters: impl IntoIterator<Item = (&'a str, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<Subscription, Error> {
        let filters = filters
            .into_iter()
            .map(|(f, o)| {
                Ok((
                    TopicFilter::new(f).map_err(|e| Error::Usage(UsageError::InvalidTopic(e)))?,
                    o,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let topic_filters: Vec<TopicFilter> = filters.iter().map(|(f, _)| f.clone()).collect();
        let (sender, receiver) = mpsc::channel(self.inner.stream_capacity);
        let outcome = self
            .call(|reply| Command::Subscribe {
                filters,
                properties: Box::new(properties),
                sender,
                reply,
            })
            .await?;
        Ok(Subscription {
            receiver,
            client: self.clone(),
            filters: topic_filters,
            reason_codes: outcome.reason_codes,
        })
    }

    /// Unsubscribes from `filter`; the streams subscribed to it alone end.
    pub async fn unsubscribe(&self, filter: &str) -> Result<(), Error> {
        let filter =
            TopicFilter::new(filter).map_err(|e| Error::Usage(UsageError::InvalidTopic(e)))?;
        self.unsubscribe_many(vec![filter]).await
    }

    /// Unsubscribes from several filters at once.
    pub async fn unsubscribe_many(&self, filters: Vec<TopicFilter>) -> Result<(), Error> {
        self.unsubscribe_with(filters, UnsubscribeProperties::default())
            .await
    }

    /// Unsubscribes with 5.0 properties (user properties).
    pub async fn unsubscribe_with(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<(), Error> {
        self.call(|reply| Command::Unsubscribe {
            filters,
            properties: Box::new(properties),
            reply,
        })
        .await
    }

    /// A stream of every incoming message, whatever subscription it
    /// matched (and messages that match none, such as a persistent
    /// session's queued ones). Ask for it before subscribing so that
    /// retained messages are not missed.
    pub async fn messages(&self) -> Result<MessageStream, Error> {
        let (sender, receiver) = mpsc::channel(self.inner.stream_capacity);
        self.send(Command::Messages { sender }).await?;
        Ok(MessageStream {
            receiver,
            _client: self.clone(),
        })
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
    pub async fn ack(&self, message: &Message) -> Result<(), Error> {
        self.ack_with(message, ReasonCode::Success).await
    }

    /// [`ack`](Self::ack) with a 5.0 reason code: a failure code tells the
    /// broker the message was not accepted.
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
    /// the DISCONNECT all the same.
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
    pub fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    /// A `watch` of the connection state, to await changes.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// Connection events from now on. A receiver that falls more than 16
    /// events behind skips the oldest (`RecvError::Lagged`).
    pub fn events(&self) -> broadcast::Receiver<ConnectionEvent> {
        self.inner.events.subscribe()
    }

    /// Waits until the client is connected, or fails if it closes first.
    pub async fn wait_connected(&self) -> Result<(), Error> {
        let mut state = self.inner.state.clone();
        let result = state
            .wait_for(|s| s.is_connected() || matches!(s, ConnectionState::Closed))
            .await;
        match result {
            Ok(s) if s.is_connected() => Ok(()),
            _ => Err(self
                .inner
                .why_closed
                .get()
                .cloned()
                .unwrap_or(Error::Closed)),
        }
    }
}

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
        let (client, connection, mut first) = self.build_parts()?;
        let mut run = Box::pin(connection.run());
        // The answer is looked for after each poll of the loop, never
        // waited for: the loop sends it from within this task, and a task
        // woken while it runs is, to tokio's multi-threaded scheduler, a
        // task yielding (sent to the back of the queue, with an idle
        // worker woken to steal it: a thread wake-up per connect).
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
        // The loop's wakers (socket, command channel, timers) still name
        // this task, so the first command sent from it (a `disconnect`
        // right away, say) would wake it while it runs, the same yield as
        // above. One poll with a waker that does nothing replaces them; the
        // spawned task's first poll then registers its own, and finds
        // whatever happened in between (readiness, queued commands and
        // expired timers are kept, not lost with a wake-up). A refused
        // connection's loop is spawned too: it still commits what the
        // session recorded and closes. A loop that already ended (the
        // connection lost at once, with reconnecting off) has nothing left
        // to run: the client reports it closed.
        let mut quiet = Context::from_waker(std::task::Waker::noop());
        if !ended && run.as_mut().poll(&mut quiet).is_pending() {
            tokio::spawn(run);
        }
        match answer {
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
        let requests = crate::request::Requests::new(&config, self.manual_acks);
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
        let event_loop = EventLoop::new(crate::event_loop::Setup {
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

/// A publish being configured; `.await` it to publish and wait for the
/// acknowledgement, or [`send`](Self::send) it.
#[must_use = "a publish does nothing until it is awaited or sent"]
#[derive(Debug)]
pub struct PublishBuilder {
    client: Client,
    /// Boxed from the start (the command carries it boxed): the builder
    /// is moved by every call on it, and an inline PUBLISH made each move
    /// a copy of a few hundred bytes.
    publish: Box<Publish>,
    alias: TopicAliasUse,
    error: Option<Error>,
}

impl PublishBuilder {
    /// The QoS (default 0).
    pub fn qos(mut self, qos: QoS) -> Self {
        self.publish.qos = qos;
        self
    }

    /// Whether the broker retains the message (default false).
    pub fn retain(mut self, retain: bool) -> Self {
        self.publish.retain = retain;
        self
    }

    /// 5.0 properties, all at once. This replaces what earlier calls set
    /// (user properties, content type, expiry, …): call it first, then the
    /// single-property methods.
    pub fn properties(mut self, properties: PublishProperties) -> Self {
        self.publish.properties = properties;
        self
    }

    /// 5.0: a user property (may repeat).
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        add_user_property(&mut self.publish.properties, name.into(), value.into());
        self
    }

    /// 5.0: how long the broker keeps the message for subscribers.
    pub fn message_expiry(mut self, expiry: Duration) -> Self {
        self.publish.properties.message_expiry_interval = Some(crate::options::secs(expiry));
        self
    }

    /// 5.0: the payload's content type (and, for `text/*`, that it is UTF-8).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        set_content_type(&mut self.publish.properties, content_type.into());
        self
    }

    /// 5.0: declare the payload UTF-8 text (Payload Format Indicator 1);
    /// the broker may check it, and subscribers see
    /// [`Message::is_utf8`](crate::Message::is_utf8).
    pub fn utf8_payload(mut self) -> Self {
        self.publish.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
        self
    }

    /// Never send this message under a topic alias.
    pub fn no_topic_alias(mut self) -> Self {
        self.alias = TopicAliasUse::Never;
        self
    }

    /// Queues the publish and returns once the event loop has taken it
    /// (waiting for room if the queue is full, unless configured to fail).
    /// With a [session store](ClientBuilder::session_store) it returns once
    /// the publish is committed to the store: from then on it survives a
    /// crash. Await the returned [`PendingAck`] for the acknowledgement;
    /// dropping it does not cancel the publish.
    pub async fn send(self) -> Result<PendingAck, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let (reply, answer) = oneshot::channel();
        let (stored, committed) = if self.client.inner.durable {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.client
            .send(Command::Publish {
                publish: self.publish,
                alias: self.alias,
                reply,
                stored,
            })
            .await?;
        let mut pending = PendingAck { answer };
        if let Some(committed) = committed {
            match committed.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                // Refused before it was stored: the answer says why.
                Err(_) => return Err((&mut pending).await.err().unwrap_or(Error::Closed)),
            }
        }
        Ok(pending)
    }
}

impl IntoFuture for PublishBuilder {
    type Output = Result<PublishOutcome, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.send().await?.await })
    }
}

/// The acknowledgement of a queued publish (see [`PublishBuilder::send`]).
#[derive(Debug)]
#[must_use = "await it to learn whether the broker acknowledged the publish"]
pub struct PendingAck {
    answer: oneshot::Receiver<Result<PublishOutcome, Error>>,
}

impl Future for PendingAck {
    type Output = Result<PublishOutcome, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// Adds a 5.0 user property (shared by the publish, request and reply
/// builders).
pub(crate) fn add_user_property(properties: &mut PublishProperties, name: String, value: String) {
    properties
        .user_properties
        .push((ByteString::from(name), ByteString::from(value)));
}

/// Sets the content type; `text/*` also marks the payload as UTF-8.
pub(crate) fn set_content_type(properties: &mut PublishProperties, content_type: String) {
    if content_type.starts_with("text/") {
        properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    }
    properties.content_type = Some(ByteString::from(content_type));
}
