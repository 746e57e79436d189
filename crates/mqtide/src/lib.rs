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
//! One task per connection owns the socket and the protocol state
//! ([`mqtide_proto::Session`]); [`Client`] handles talk to it through
//! bounded channels. Messages reach [`Subscription`] streams (routed by
//! topic filter, each overlapping subscription getting its copy) and
//! [`MessageStream`]s; QoS 1/2 messages are acknowledged to the broker only
//! once they are in a stream the application holds, or when it calls
//! [`Client::ack`] in manual mode. Lost connections are re-established with
//! backoff, in-flight messages resent on a resumed session, and
//! subscriptions restored when the broker lost it.
//!
//! URLs pick the transport: `mqtt://` (TCP, with TCP_NODELAY), `mqtts://`
//! (TLS through rustls; see `TlsOptions`, default feature `tls`),
//! `ws://` and `wss://` (MQTT over WebSocket, default feature `websocket`)
//! and `unix:///path` (a Unix domain socket).
//!
//! With a [`store`] (`DiskStore`, feature `durable`), the session survives
//! the process: unacknowledged publishes, QoS 2 exactly-once state and
//! subscriptions are committed before they reach the network, and resumed
//! on restart.
//!
//! The protocol core is re-exported as [`proto`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
mod backoff;
mod client;
mod command;
mod error;
mod event_loop;
mod message;
pub mod oneshot;
mod options;
pub mod request;
mod router;
mod state;
pub mod store;
mod take_once;
mod transport;

pub use backoff::Backoff;
pub use client::{Client, PendingAck, PublishBuilder, PublishOutcome};
pub use error::{ConnectError, Error};
pub use event_loop::Connection;
pub use message::{Message, MessageStream, Subscription};
pub use mqtide_proto as proto;
pub use mqtide_proto::{
    DisconnectProperties, ProtocolVersion, PublishProperties, QoS, QoSPolicy, ReasonCode,
    RetainHandling, SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName,
    topic_matches_sub,
};
pub use options::{ClientBuilder, QueueFull, Will};
pub use request::{Reply, RequestBuilder, Responder, ServeBuilder};
pub use state::{ConnectionEvent, ConnectionState, DisconnectReason};
pub use transport::Transport;
#[cfg(feature = "proxy")]
pub use transport::proxy::Proxy;
#[cfg(feature = "tls")]
pub use transport::tls::TlsOptions;
