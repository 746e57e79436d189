//! mqtide: an async, tokio-native MQTT client.
//!
//! ```no_run
//! use mqtide::{Client, QoS};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), mqtide::Error> {
//! let client = Client::builder("mqtt://localhost:1883")
//!     .client_id("sensor-1")
//!     .connect()
//!     .await?;
//!
//! let mut temperatures = client.subscribe("home/+/temperature", QoS::AtLeastOnce).await?;
//! // Resolves when the broker has acknowledged it (PUBCOMP for QoS 2).
//! client.publish("home/kitchen/temperature", "22.5").qos(QoS::ExactlyOnce).await?;
//! // Or queue it and collect the acknowledgement later.
//! let pending = client.publish("home/hall/temperature", "19.0").qos(QoS::AtLeastOnce).send().await?;
//! pending.await?;
//!
//! while let Some(message) = temperatures.next().await {
//!     println!("{}: {:?}", message.topic(), message.payload());
//! #   break;
//! }
//! client.disconnect().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The mental model
//!
//! **One task owns the connection.** [`ClientBuilder::connect`] spawns a
//! task (the event loop) that owns the transport and the protocol state, a
//! sans-IO [`proto::Session`] from `mqtide-proto` that decodes, encodes and
//! keeps every QoS flow but never touches a socket or a clock. The task
//! feeds it bytes and deadlines and writes what it asks to send. Nothing
//! else touches the socket. To drive that task yourself instead of
//! spawning it, use [`ClientBuilder::build`], which hands you the
//! [`Connection`] future.
//!
//! **[`Client`] handles are cheap.** A `Client` is an `Arc` holding the
//! sending end of a bounded command channel: clone it into every task that
//! publishes or subscribes (it is `Send + Sync`). [`Subscription`]s and
//! [`MessageStream`]s hold a handle too. When the last handle is dropped
//! the task sends DISCONNECT and ends; [`Client::disconnect`] does the
//! same on purpose, after waiting up to 10 s for publishes in flight.
//!
//! **Every request is awaited until the broker answers it.**
//! `client.publish(..).await` resolves when the publish is acknowledged:
//! written to the socket at QoS 0, PUBACK at QoS 1, PUBCOMP at QoS 2. Its
//! [`PublishOutcome`] carries the 5.0 reason code. To keep many publishes
//! in flight at once, call [`PublishBuilder::send`]: it returns a
//! [`PendingAck`] as soon as the task has queued the publish, and you
//! await the acknowledgement later. Subscribing resolves on SUBACK.
//!
//! **Messages arrive on streams.** [`Client::subscribe`] returns a
//! [`Subscription`]: a `Stream` of the messages that match its filters.
//! Each overlapping subscription gets its own copy. Shared subscriptions
//! (`$share/group/filter`) are matched by their filter, and under 5.0 the
//! broker's subscription identifiers route each copy when it supports
//! them. [`Client::messages`] is a stream of every message, whatever
//! filter it matched. Dropping a `Subscription` stops delivery to it but
//! does not unsubscribe at the broker; [`Subscription::unsubscribe`] does.
//! Incoming QoS 1/2 messages are acknowledged to the broker once they are
//! in a stream the application holds, or, with
//! [`ClientBuilder::manual_acks`], only when the application calls
//! [`Client::ack`] (or [`Client::ack_with`], to reject with a 5.0 reason
//! code). A 5.0 broker that sends more unacknowledged messages than the
//! [`receive_maximum`](ClientBuilder::receive_maximum) allows (Mosquitto
//! does, at QoS 2) is tolerated within bounds and logged at warn level
//! ([`ClientBuilder::receive_overrun`]).
//!
//! **Memory is bounded, and a slow side slows the other.** Every queue
//! has a limit. Each stream buffers 256 messages by default
//! ([`ClientBuilder::stream_capacity`]). When a stream is full, up to
//! 1024 messages wait in the task, and then it stops reading the socket.
//! Unacknowledged QoS 1/2 messages also hold back the broker through its
//! in-flight window. Going out, publishes wait for the window (5.0: the
//! broker's Receive Maximum; 3.1.1: [`ClientBuilder::inflight`], default
//! 20). The offline queue holds 1024 publishes by default
//! ([`ClientBuilder::offline_queue`]); when it is full, `send()` waits or
//! fails, as [`QueueFull`] says. The task takes no new commands while
//! 256 KiB are waiting to be written.
//!
//! **Connections come back.** A lost connection is re-established with
//! [`Backoff`] (1 s doubling to 60 s, with jitter, by default;
//! [`ClientBuilder::no_reconnect`] turns it off). The first connection is
//! not retried by [`ClientBuilder::connect`], which fails once every
//! broker failed; [`ClientBuilder::start`] returns the client at once and
//! retries it with the same backoff, for a service that starts before its
//! broker ([`Client::wait_connected`] tells when it is up). When the
//! broker resumes the session
//! ([`clean_start(false)`](ClientBuilder::clean_start), which under 5.0
//! asks for a session that never expires unless a
//! [`session_expiry`](ClientBuilder::session_expiry) says otherwise),
//! publishes in flight are resent: QoS 2 flows that got past PUBREC
//! resume with PUBREL, never with a second PUBLISH. When the broker has
//! no session for the client (with the default clean start, after every
//! reconnect), QoS 1 publishes in flight are sent again as new messages
//! and resolve with the new acknowledgement: at least once, so a
//! subscriber may get one twice
//! ([`ClientBuilder::resend_qos1_on_session_loss`] turns it off). QoS 2
//! publishes in flight fail with
//! [`RequestError::SessionLost`]: their
//! outcome is indeterminate (delivered once, or not at all), and a second
//! copy could break exactly once. The subscriptions are restored. A
//! publish that was the oldest in flight when five connections in a row
//! were lost (a broker that closes the connection on it) fails with
//! [`RequestError::Poisoned`], naming it,
//! inside [`Error::Interrupted`] with why the last of those connections
//! ended, and the others go on ([`ClientBuilder::poison_threshold`]).
//! [`Client::state`], [`Client::watch_state`] and
//! [`Client::events`] show what the connection is doing.
//!
//! **Errors say why.** A request a lost connection failed carries why it
//! was lost ([`Error::Interrupted`]); once the client has closed, every
//! call returns the one reason it closed. [`Error::reason_code`],
//! [`Error::is_retryable`], [`Error::disconnect_reason`],
//! [`Error::is_protocol_violation`] and [`Error::is_transport`] answer
//! what a service decides on.
//!
//! # Where the rest fits
//!
//! - [`store`]: a session store ([`ClientBuilder::session_store`]) keeps
//!   the session on disk (`DiskStore`, feature `durable`) or in memory
//!   ([`store::MemoryStore`]). The task commits each step to it before the
//!   bytes reach the socket, so the session survives a crash of the
//!   process, not only a lost connection.
//! - [`request`]: MQTT 5.0 request/response on top of ordinary publishes.
//!   [`Client::request`] publishes with a response topic and correlation
//!   data and resolves with the reply; [`Client::serve`] answers requests.
//! - [`auth`]: MQTT 5.0 enhanced authentication. An [`auth::Authenticator`]
//!   answers the broker's AUTH challenges at every CONNECT and on
//!   [`Client::reauthenticate`]. SCRAM-SHA-256 is shipped as
//!   `auth::ScramSha256` (feature `scram`).
//! - Several brokers: [`ClientBuilder::failover`] lists more brokers to try
//!   in turn, [`ClientBuilder::shuffle_brokers`] spreads a fleet of
//!   clients over them, and [`ClientBuilder::follow_redirects`] follows a
//!   5.0 broker's "use another server" or "server moved".
//! - [`oneshot`]: helpers in the style of paho-mqtt's `publish.single` and
//!   `subscribe.simple`: connect, do one thing, disconnect.
//! - [`proto`]: the sans-IO core, re-exported for those who drive the
//!   protocol themselves.
//!
//! # Transports
//!
//! URLs pick the transport: `mqtt://` (TCP, with TCP_NODELAY), `mqtts://`
//! (TLS through rustls; see `TlsOptions`, default feature `tls`),
//! `ws://` and `wss://` (MQTT over WebSocket, default feature `websocket`)
//! and `unix:///path` (a Unix domain socket). With the feature `proxy`,
//! `Proxy` connects through a SOCKS5 or HTTP CONNECT proxy.

#![forbid(unsafe_code)]
// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod command;
mod connect;
mod error;
mod event_loop;
mod message;
#[cfg(test)]
mod module_graph_tests;
pub mod oneshot;
mod options;
#[cfg(feature = "opentelemetry")]
mod otel;
mod payload;
mod properties;
pub mod request;
mod router;
mod state;
mod stats;
pub mod store;
mod take_once;
mod transport;
mod will;

pub use backoff::Backoff;
pub use client::{Client, MessageStream, PendingAck, PublishBuilder, Subscription};
pub use command::{PublishOutcome, QueueFull};
pub use error::{ConnectError, Error, TlsFailure};
pub use event_loop::Connection;
pub use message::Message;
pub use mqtide_proto as proto;
pub use mqtide_proto::{
    ConnectionError, DisconnectProperties, ProtocolVersion, PublishProperties, QoS, QoSPolicy,
    ReasonCode, ReceiveOverrun, RequestError, RetainHandling, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName, UsageError, topic_matches_sub,
};
pub use options::ClientBuilder;
pub use payload::Payload;
pub use request::{Reply, RequestBuilder, Responder, ServeBuilder};
pub use state::{ConnectionEvent, ConnectionState, DisconnectReason};
pub use stats::{PerQoS, Stats};
pub use transport::Transport;
#[cfg(feature = "proxy")]
pub use transport::proxy::Proxy;
#[cfg(feature = "tls")]
pub use transport::tls::TlsOptions;
pub use will::Will;
