//! What the application receives: a [`Message`] (it arrives through the
//! client's streams, `Subscription` and `MessageStream`).

use bytes::Bytes;
use mqtide_proto::{AckToken, PayloadFormat, Publish, PublishProperties, QoS};

/// An incoming application message.
///
/// Cloning is cheap: the topic and payload are shared, not copied.
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) publish: Publish,
    pub(crate) token: Option<AckToken>,
}

impl Message {
    /// The topic it was published to.
    pub fn topic(&self) -> &str {
        &self.publish.topic
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.publish.payload
    }

    /// The QoS it was delivered at.
    pub fn qos(&self) -> QoS {
        self.publish.qos
    }

    /// Whether it is a retained message (sent because of a new
    /// subscription).
    pub fn retain(&self) -> bool {
        self.publish.retain
    }

    /// Whether the broker marked it as a possible redelivery.
    pub fn dup(&self) -> bool {
        self.publish.dup
    }

    /// 5.0 properties (user properties, content type, response topic, …).
    pub fn properties(&self) -> &PublishProperties {
        &self.publish.properties
    }

    /// 5.0: the user properties, in order (a name may repeat).
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.publish
            .properties
            .user_properties
            .iter()
            .map(|(name, value)| (&**name, &**value))
    }

    /// 5.0: the first user property called `name`.
    pub fn user_property(&self, name: &str) -> Option<&str> {
        self.user_properties()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// 5.0: the content type the publisher gave.
    pub fn content_type(&self) -> Option<&str> {
        self.publish.properties.content_type.as_deref()
    }

    /// 5.0: whether the publisher declared the payload UTF-8 text
    /// (Payload Format Indicator 1).
    pub fn is_utf8(&self) -> bool {
        self.publish.properties.payload_format_indicator == Some(PayloadFormat::Utf8)
    }

    /// The payload as text: `None` when it is not valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.publish.payload).ok()
    }

    /// 5.0: how much longer the message lives (the broker lowers the
    /// Message Expiry Interval by the time it held the message).
    pub fn message_expiry(&self) -> Option<std::time::Duration> {
        self.publish
            .properties
            .message_expiry_interval
            .map(|s| std::time::Duration::from_secs(s.into()))
    }

    /// 5.0: where a request wants its reply.
    pub fn response_topic(&self) -> Option<&str> {
        self.publish.properties.response_topic.as_deref()
    }

    /// 5.0: the correlation data a reply must carry.
    pub fn correlation_data(&self) -> Option<&Bytes> {
        self.publish.properties.correlation_data.as_ref()
    }

    /// The whole PUBLISH as decoded.
    pub fn into_publish(self) -> Publish {
        self.publish
    }
}
