//! [`Will`]: the message the broker publishes when the client dies.

use std::time::Duration;

use bytes::Bytes;
use mqtide_proto::{QoS, WillProperties};

use crate::properties::secs;

/// The message the broker publishes for the client when its connection
/// dies without a DISCONNECT (paho's `will_set`).
///
/// ```
/// use std::time::Duration;
/// use mqtide::{Client, QoS, Will};
///
/// // "offline", retained, once the broker has not heard from us for the
/// // keep-alive (5.0: and 30 s more, in case we come back).
/// let builder = Client::builder("mqtt://localhost")
///     .client_id("sensor-1")
///     .will(
///         Will::new("sensors/1/status", "offline")
///             .qos(QoS::AtLeastOnce)
///             .retain(true)
///             .delay(Duration::from_secs(30)),
///     );
/// # drop(builder);
/// ```
#[derive(Debug, Clone)]
pub struct Will {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) properties: WillProperties,
}

impl Will {
    /// A QoS 0, non-retained will.
    pub fn new(topic: impl Into<String>, payload: impl Into<crate::Payload>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into().into_bytes(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }
    }

    /// Its QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Whether it is retained.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// 5.0: seconds the broker waits before publishing it.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.properties.will_delay_interval = Some(secs(delay));
        self
    }

    /// 5.0 will properties (content type, expiry, user properties, …).
    pub fn properties(mut self, properties: WillProperties) -> Self {
        self.properties = properties;
        self
    }
}
