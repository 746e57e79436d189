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

/// Trace context (feature `opentelemetry`): the publisher's span, as the
/// W3C `traceparent` and `tracestate` user properties carry it (see
/// [`PublishBuilder`](crate::PublishBuilder#trace-context-feature-opentelemetry)
/// for the sending side). Only MQTT 5.0 messages carry them.
#[cfg(feature = "opentelemetry")]
impl Message {
    /// 5.0: the publisher's span context, as an OpenTelemetry `Context`
    /// holding it as a remote span: pass it to
    /// `tracing_opentelemetry::OpenTelemetrySpanExt::set_parent`, or to an
    /// OpenTelemetry tracer as a parent or a link. The context is empty
    /// (`has_active_span()` is false) when the message carries no
    /// `traceparent`, or one that does not parse, as under 3.1.1.
    pub fn trace_context(&self) -> opentelemetry::Context {
        crate::otel::extract(&self.publish.properties)
    }

    /// 5.0: makes `span` continue the publisher's trace: its parent
    /// becomes the publisher's span, so it shares the publisher's trace id.
    /// Call it on a span just created, before it is first entered
    /// (`tracing-opentelemetry` starts the OpenTelemetry span then, and a
    /// started span's parent cannot change: that is
    /// `SetParentError::AlreadyStarted`). A message without trace context
    /// leaves `span` as it is, with its usual parent, and returns `Ok`.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use tracing::Instrument;
    ///
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// // The publisher: inside a span, with an `OpenTelemetryLayer`
    /// // installed, a 5.0 publish carries that span's trace context.
    /// async {
    ///     client
    ///         .publish("home/kitchen/temperature", "22.5")
    ///         .qos(mqtide::QoS::AtLeastOnce)
    ///         .await
    /// }
    /// .instrument(tracing::info_span!("report"))
    /// .await?;
    ///
    /// // The subscriber (in another service, say): each message's span
    /// // continues the publisher's trace.
    /// let mut readings = client.subscribe("home/+/temperature", mqtide::QoS::AtLeastOnce).await?;
    /// while let Some(message) = readings.next().await {
    ///     let span = tracing::info_span!("reading", topic = message.topic());
    ///     // Err when no OpenTelemetry layer is installed, or the span is
    ///     // filtered out: the reading is handled all the same.
    ///     let _ = message.continue_trace(&span);
    ///     async {
    ///         tracing::info!(value = message.payload_str(), "stored");
    ///     }
    ///     .instrument(span)
    ///     .await;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn continue_trace(
        &self,
        span: &tracing::Span,
    ) -> Result<(), tracing_opentelemetry::SetParentError> {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;

        let context = self.trace_context();
        // An empty context would make `span` a root, cut from its parent.
        if !context.has_active_span() {
            return Ok(());
        }
        span.set_parent(context)
    }
}
