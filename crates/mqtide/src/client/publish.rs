//! Publishing: [`PublishBuilder`] configures one publish, and awaiting it
//! (or its [`PendingAck`]) waits for the broker's acknowledgement.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use mqtide_proto::{PayloadFormat, Publish, PublishProperties, QoS, TopicAliasUse};
use tokio::sync::oneshot;

use super::Client;
use crate::command::{Command, PublishOutcome};
use crate::error::Error;
use crate::properties::{add_user_property, secs, set_content_type};

/// A publish being configured; `.await` it to publish and wait for the
/// acknowledgement, or [`send`](Self::send) it.
///
/// # Trace context (feature `opentelemetry`)
///
/// With the feature `opentelemetry`, a client built for MQTT 5.0 adds the
/// W3C trace context of the current `tracing` span to each publish, as the
/// user properties `traceparent` and `tracestate` (the latter only when
/// the span has trace state), so that a subscriber's span can continue the
/// trace (`continue_trace` on the received [`Message`](crate::Message)).
/// The span is the one current where the publish is first polled (the
/// task that awaits it, or awaits [`send`](Self::send)). A
/// [`Client::request`](crate::Client::request) is a publish too and
/// carries it the same way; the replies of
/// [`Client::serve`](crate::Client::serve) go out from the responder's own
/// task, outside any span of the application, and carry none. The span is
/// read through `tracing-opentelemetry`, and only an
/// `OpenTelemetryLayer` of the release mqtide uses (0.34, with
/// opentelemetry 0.33) is found. Nothing is added when that span has no
/// valid OpenTelemetry span context (no span, no layer, or a span filtered
/// out), nor when the publish already carries a `traceparent` or
/// `tracestate` user property: one set with
/// [`user_property`](Self::user_property) or
/// [`properties`](Self::properties) is sent as given, alone. There is no
/// switch per publish.
///
/// Under MQTT 3.1.1 nothing is added: 3.1.1 has no user properties, and
/// the message goes out as it would without the feature (carrying a trace
/// in the payload is the application's choice, not the client's).
#[must_use = "a publish does nothing until it is awaited or sent"]
#[derive(Debug)]
pub struct PublishBuilder {
    pub(super) client: Client,
    /// Boxed from the start (the command carries it boxed): the builder
    /// is moved by every call on it, and an inline PUBLISH made each move
    /// a copy of a few hundred bytes.
    pub(super) publish: Box<Publish>,
    pub(super) alias: TopicAliasUse,
    pub(super) error: Option<Error>,
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
        self.publish.properties.message_expiry_interval = Some(secs(expiry));
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
    /// With a [session store](crate::ClientBuilder::session_store) it returns once
    /// the publish is committed to the store: from then on it survives a
    /// crash. Await the returned [`PendingAck`] for the acknowledgement;
    /// dropping it does not cancel the publish.
    pub async fn send(self) -> Result<PendingAck, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut))]
        let mut publish = self.publish;
        // The trace context goes in user properties: 5.0 only, and under
        // 3.1.1 the session would refuse a publish that had any. The
        // protocol is fixed when the client is built; the request state
        // is where the handle keeps it.
        #[cfg(feature = "opentelemetry")]
        if self.client.requests().check_protocol().is_ok() {
            crate::otel::inject_current(&mut publish.properties);
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
                publish,
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
                Err(_) => {
                    let refused = (&mut pending).await.err();
                    return Err(refused.unwrap_or_else(|| self.client.closed_error()));
                }
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
        // The loop answers every publish it took, even when it closes; an
        // answer never given means the loop itself is gone.
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::EventLoopGone)))
    }
}
