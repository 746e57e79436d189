//! The same client without `async` (feature `blocking`), for programs that
//! do not run an async runtime: command-line tools, daemons on small
//! gateways, test harnesses, FFI layers.
//!
//! It mirrors the async API name for name, as reqwest's `blocking` module
//! does: [`Client::builder`] takes every option of
//! [`crate::ClientBuilder`], `publish(..).wait()` blocks until the broker
//! acknowledged, `send()` queues and returns a [`PendingAck`] so that many
//! publishes can be in flight, and a [`Subscription`] is an `Iterator` of
//! messages. The protocol work stays in the one event loop, which runs on a
//! tokio runtime of the client's own, on a thread of its own: reconnects,
//! resubscribes, session stores, TLS, WebSocket and every other option
//! behave as they do in the async client. A program using only this module
//! needs no tokio dependency of its own.
//!
//! Every handle is `Send + Sync` and may be used from any thread. A method
//! called from inside an async runtime fails with
//! [`crate::Error::BlockingInRuntime`] instead of
//! blocking it. When the last handle (the client's clones, its
//! subscriptions and message streams) is dropped, the client disconnects
//! cleanly and its thread ends.
//!
//! ```no_run
//! # fn main() -> Result<(), mqtide::Error> {
//! use mqtide::QoS;
//! use mqtide::blocking::Client;
//!
//! let client = Client::builder("mqtt://localhost:1883").client_id("sensor-1").connect()?;
//! let temps = client.subscribe("home/+/temperature", QoS::AtLeastOnce)?;
//! client.publish("home/kitchen/temperature", "22.5").qos(QoS::ExactlyOnce).wait()?; // PUBCOMP
//! for msg in temps {
//!     println!("{}: {:?}", msg.topic(), msg.payload());
//! }
//! # Ok(())
//! # }
//! ```

mod builder;
pub mod oneshot;
mod publish;
mod runtime;
mod streams;

use std::sync::Arc;

use mqtide_proto::{
    QoS, ReasonCode, SubscribeProperties, SubscriptionOptions, UnsubscribeProperties,
};

pub use builder::ClientBuilder;
pub use publish::{PendingAck, PublishBuilder};
pub use streams::{ConnectionEvents, MessageStream, Subscription};

use crate::error::Error;
use crate::message::Message;
use crate::state::ConnectionState;
use runtime::RuntimeThread;

/// A blocking MQTT client: cheap to clone, `Send + Sync`. From
/// [`Client::builder`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Client {
    // Declared first, so dropped first: the event loop ends once every
    // async handle is gone, then the last `Shared` waits for its thread.
    inner: crate::Client,
    shared: Arc<Shared>,
}

/// What every handle of one blocking client shares: its runtime thread.
#[derive(Debug)]
struct Shared {
    runtime: RuntimeThread,
}

impl Client {
    /// Starts building a client for `url` (`mqtt://`, `mqtts://`, `ws://`,
    /// `wss://`, `unix://`), with the async builder's defaults.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), mqtide::Error> {
    /// let client = mqtide::blocking::Client::builder("mqtt://localhost:1883")
    ///     .client_id("sensor-1")
    ///     .credentials("sensor-1", "secret")
    ///     .connect()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    fn new(inner: crate::Client, runtime: RuntimeThread) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared { runtime }),
        }
    }

    fn runtime(&self) -> &RuntimeThread {
        &self.shared.runtime
    }

    /// Starts a publish: set its options, then [`wait`](PublishBuilder::wait)
    /// for the acknowledgement or [`send`](PublishBuilder::send) to queue it.
    ///
    /// ```no_run
    /// # fn demo(client: mqtide::blocking::Client) -> Result<(), mqtide::Error> {
    /// use mqtide::QoS;
    ///
    /// client.publish("a/b", "hello").qos(QoS::AtLeastOnce).wait()?; // PUBACK
    /// let pending: Vec<_> = (0..100)
    ///     .map(|n| client.publish("a/b", n.to_string()).qos(QoS::AtLeastOnce).send())
    ///     .collect::<Result<_, _>>()?;
    /// for ack in pending {
    ///     ack.wait()?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn publish(
        &self,
        topic: impl AsRef<str>,
        payload: impl Into<crate::Payload>,
    ) -> PublishBuilder {
        PublishBuilder::new(self.inner.publish(topic, payload), Arc::clone(&self.shared))
    }

    /// Subscribes to `filter` and returns its messages as an iterator, once
    /// the broker granted it.
    ///
    /// ```no_run
    /// # fn demo(client: mqtide::blocking::Client) -> Result<(), mqtide::Error> {
    /// let readings = client.subscribe("sensors/+/temperature", mqtide::QoS::AtLeastOnce)?;
    /// for message in readings.take(10) {
    ///     println!("{}: {:?}", message.topic(), message.payload_str());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe(&self, filter: impl AsRef<str>, qos: QoS) -> Result<Subscription, Error> {
        let subscription = self
            .runtime()
            .block_on(self.inner.subscribe(filter, qos))??;
        Ok(Subscription::new(subscription, Arc::clone(&self.shared)))
    }

    /// Subscribes to several filters at once, each with its QoS or
    /// options: one stream for all of them. See
    /// [`crate::Client::subscribe_many`].
    pub fn subscribe_many<F, O>(
        &self,
        filters: impl IntoIterator<Item = (F, O)>,
    ) -> Result<Subscription, Error>
    where
        F: AsRef<str>,
        O: Into<SubscriptionOptions>,
    {
        self.subscribe_with(filters, SubscribeProperties::default())
    }

    /// Subscribes to several filters with 5.0 properties. See
    /// [`crate::Client::subscribe_with`].
    pub fn subscribe_with<F, O>(
        &self,
        filters: impl IntoIterator<Item = (F, O)>,
        properties: SubscribeProperties,
    ) -> Result<Subscription, Error>
    where
        F: AsRef<str>,
        O: Into<SubscriptionOptions>,
    {
        let subscribing = self.inner.subscribe_with(filters, properties);
        let subscription = self.runtime().block_on(subscribing)??;
        Ok(Subscription::new(subscription, Arc::clone(&self.shared)))
    }

    /// Unsubscribes from `filter`. See [`crate::Client::unsubscribe`].
    pub fn unsubscribe(&self, filter: impl AsRef<str>) -> Result<(), Error> {
        self.runtime().block_on(self.inner.unsubscribe(filter))?
    }

    /// Unsubscribes from several filters. See
    /// [`crate::Client::unsubscribe_many`].
    pub fn unsubscribe_many(
        &self,
        filters: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(), Error> {
        self.runtime()
            .block_on(self.inner.unsubscribe_many(filters))?
    }

    /// Unsubscribes with 5.0 properties. See
    /// [`crate::Client::unsubscribe_with`].
    pub fn unsubscribe_with(
        &self,
        filters: impl IntoIterator<Item = impl AsRef<str>>,
        properties: UnsubscribeProperties,
    ) -> Result<(), Error> {
        let unsubscribing = self.inner.unsubscribe_with(filters, properties);
        self.runtime().block_on(unsubscribing)?
    }

    /// Every incoming message, as an iterator. See
    /// [`crate::Client::messages`].
    pub fn messages(&self) -> Result<MessageStream, Error> {
        let stream = self.runtime().block_on(self.inner.messages())??;
        Ok(MessageStream::new(stream, Arc::clone(&self.shared)))
    }

    /// Acknowledges a message (with
    /// [`manual_acks`](ClientBuilder::manual_acks)). See
    /// [`crate::Client::ack`].
    pub fn ack(&self, message: &Message) -> Result<(), Error> {
        self.runtime().block_on(self.inner.ack(message))?
    }

    /// Acknowledges with a 5.0 reason code. See [`crate::Client::ack_with`].
    pub fn ack_with(&self, message: &Message, reason_code: ReasonCode) -> Result<(), Error> {
        self.runtime()
            .block_on(self.inner.ack_with(message, reason_code))?
    }

    /// Waits for in-flight publishes, sends DISCONNECT and closes the
    /// client. See [`crate::Client::disconnect`].
    pub fn disconnect(&self) -> Result<(), Error> {
        self.runtime().block_on(self.inner.disconnect())?
    }

    /// Disconnects and asks a 5.0 broker to publish the will anyway. See
    /// [`crate::Client::disconnect_with_will`].
    pub fn disconnect_with_will(&self) -> Result<(), Error> {
        self.runtime().block_on(self.inner.disconnect_with_will())?
    }

    /// Re-authenticates (5.0 enhanced authentication). See
    /// [`crate::Client::reauthenticate`].
    pub fn reauthenticate(&self) -> Result<(), Error> {
        self.runtime().block_on(self.inner.reauthenticate())?
    }

    /// Blocks until the client is connected, or fails if it closes first.
    /// See [`crate::Client::wait_connected`].
    pub fn wait_connected(&self) -> Result<(), Error> {
        self.runtime().block_on(self.inner.wait_connected())?
    }

    /// The connection's state now.
    pub fn state(&self) -> ConnectionState {
        self.inner.state()
    }

    /// Connection events from now on, as an iterator. See
    /// [`crate::Client::events`].
    pub fn events(&self) -> ConnectionEvents {
        ConnectionEvents::new(self.inner.events(), Arc::clone(&self.shared))
    }

    /// What the broker said in its last CONNACK. See
    /// [`crate::Client::server_info`].
    pub fn server_info(&self) -> Option<Arc<mqtide_proto::Connected>> {
        self.inner.server_info()
    }

    /// What a session store gave back when the client was built. See
    /// [`crate::Client::restored`].
    pub fn restored(&self) -> Option<crate::store::Restored> {
        self.inner.restored()
    }
}
