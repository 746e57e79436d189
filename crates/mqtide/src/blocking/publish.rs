//! Publishing from the blocking client: [`PublishBuilder`] and
//! [`PendingAck`].

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use mqtide_proto::{PublishProperties, QoS};

use super::Shared;
use crate::command::PublishOutcome;
use crate::error::Error;

/// A publish being set up, from [`Client::publish`](super::Client::publish):
/// the async [`crate::PublishBuilder`]'s options, then
/// [`wait`](Self::wait) or [`send`](Self::send).
#[derive(Debug)]
#[must_use = "a publish does nothing until wait() or send() is called"]
pub struct PublishBuilder {
    inner: crate::PublishBuilder,
    shared: Arc<Shared>,
}

impl PublishBuilder {
    pub(super) fn new(inner: crate::PublishBuilder, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    fn map(self, edit: impl FnOnce(crate::PublishBuilder) -> crate::PublishBuilder) -> Self {
        Self {
            inner: edit(self.inner),
            shared: self.shared,
        }
    }

    /// The quality of service (default: at most once).
    pub fn qos(self, qos: QoS) -> Self {
        self.map(|p| p.qos(qos))
    }

    /// Whether the broker keeps the message for later subscribers.
    pub fn retain(self, retain: bool) -> Self {
        self.map(|p| p.retain(retain))
    }

    /// 5.0 properties. See [`crate::PublishBuilder::properties`].
    pub fn properties(self, properties: PublishProperties) -> Self {
        self.map(|p| p.properties(properties))
    }

    /// Adds a 5.0 user property.
    pub fn user_property(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.map(|p| p.user_property(name, value))
    }

    /// 5.0: how long the broker keeps the message for absent subscribers.
    pub fn message_expiry(self, expiry: Duration) -> Self {
        self.map(|p| p.message_expiry(expiry))
    }

    /// 5.0: the payload's content type.
    pub fn content_type(self, content_type: impl Into<String>) -> Self {
        self.map(|p| p.content_type(content_type))
    }

    /// 5.0: marks the payload as UTF-8 text.
    pub fn utf8_payload(self) -> Self {
        self.map(crate::PublishBuilder::utf8_payload)
    }

    /// Never uses a topic alias for this message.
    pub fn no_topic_alias(self) -> Self {
        self.map(crate::PublishBuilder::no_topic_alias)
    }

    /// Publishes and blocks until it is acknowledged: PUBACK at QoS 1,
    /// PUBCOMP at QoS 2, written at QoS 0.
    ///
    /// ```no_run
    /// # fn demo(client: mqtide::blocking::Client) -> Result<(), mqtide::Error> {
    /// let outcome = client.publish("a/b", "hi").qos(mqtide::QoS::ExactlyOnce).wait()?;
    /// println!("{:?}", outcome.reason_code);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait(self) -> Result<PublishOutcome, Error> {
        let runtime = &self.shared.runtime;
        runtime.block_on(self.inner.into_future())?
    }

    /// Queues the publish and returns once the client took it (committed
    /// to the session store, if there is one); the returned
    /// [`PendingAck`] waits for the acknowledgement. Many can be in flight.
    pub fn send(self) -> Result<PendingAck, Error> {
        let runtime = &self.shared.runtime;
        let inner = runtime.block_on(self.inner.send())??;
        Ok(PendingAck {
            inner,
            shared: self.shared,
        })
    }
}

/// The acknowledgement of a publish queued with
/// [`PublishBuilder::send`]. Dropping it does not cancel the publish.
#[derive(Debug)]
#[must_use = "wait() for the acknowledgement, or drop it to not care"]
pub struct PendingAck {
    inner: crate::PendingAck,
    shared: Arc<Shared>,
}

impl PendingAck {
    /// Blocks until the broker acknowledged the publish (or it failed).
    pub fn wait(self) -> Result<PublishOutcome, Error> {
        self.shared.runtime.block_on(self.inner)?
    }

    /// Blocks for at most `timeout`: `Ok(None)` if the acknowledgement has
    /// not come by then (it may still come: wait again).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<PublishOutcome>, Error> {
        // Made inside `block_on`: a timer needs the runtime's context.
        let waiting = async { tokio::time::timeout(timeout, &mut self.inner).await };
        match self.shared.runtime.block_on(waiting)? {
            Ok(outcome) => outcome.map(Some),
            Err(_) => Ok(None),
        }
    }
}
