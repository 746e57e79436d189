//! One-call helpers in the manner of paho-mqtt's `publish.single`,
//! `publish.multiple`, `subscribe.simple` and `subscribe.callback`: each
//! connects with the given builder (so TLS, WebSocket and credentials work
//! as for a client), does one thing, and disconnects cleanly.

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use mqtide_proto::QoS;

use crate::command::PublishOutcome;
use crate::error::Error;
use crate::message::Message;
use crate::options::ClientBuilder;

/// A message for [`publish_multiple`].
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Where it goes.
    pub topic: String,
    /// What it carries.
    pub payload: Bytes,
    /// Its QoS.
    pub qos: QoS,
    /// Whether the broker retains it.
    pub retain: bool,
}

impl Outgoing {
    /// A QoS 0, non-retained message.
    pub fn new(topic: impl Into<String>, payload: impl Into<crate::Payload>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into().into_bytes(),
            qos: QoS::AtMostOnce,
            retain: false,
        }
    }

    /// The QoS (default 0).
    ///
    /// ```
    /// use mqtide::{QoS, oneshot::Outgoing};
    ///
    /// let alarm = Outgoing::new("alarms/door", "open").qos(QoS::AtLeastOnce).retain(true);
    /// assert_eq!((alarm.qos, alarm.retain), (QoS::AtLeastOnce, true));
    /// ```
    #[must_use]
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Whether the broker retains it (default false).
    #[must_use]
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
}

/// Connects, publishes one message, waits for its acknowledgement and
/// disconnects (paho's `publish.single`).
///
/// ```no_run
/// # async fn demo() -> Result<(), mqtide::Error> {
/// use mqtide::{Client, QoS, oneshot::{Outgoing, publish_single}};
///
/// let message = Outgoing::new("alarms/door", "open").qos(QoS::AtLeastOnce);
/// publish_single(Client::builder("mqtt://localhost"), message).await?;
/// # Ok(())
/// # }
/// ```
pub async fn publish_single(
    builder: ClientBuilder,
    message: Outgoing,
) -> Result<PublishOutcome, Error> {
    let mut outcomes = publish_multiple(builder, [message]).await?;
    outcomes.pop().ok_or(Error::Closed)
}

/// Connects, publishes every message in order over one connection, waits
/// for all acknowledgements and disconnects (paho's `publish.multiple`).
///
/// ```no_run
/// # async fn demo() -> Result<(), mqtide::Error> {
/// use mqtide::{Client, QoS, oneshot::{Outgoing, publish_multiple}};
///
/// let readings = (1..=3).map(|n| Outgoing::new(format!("sensors/{n}"), "21.5").qos(QoS::AtLeastOnce));
/// let outcomes = publish_multiple(Client::builder("mqtt://localhost"), readings).await?;
/// assert_eq!(outcomes.len(), 3);
/// # Ok(())
/// # }
/// ```
pub async fn publish_multiple(
    builder: ClientBuilder,
    messages: impl IntoIterator<Item = Outgoing>,
) -> Result<Vec<PublishOutcome>, Error> {
    let client = builder.connect().await?;
    let mut pending = Vec::new();
    for m in messages {
        pending.push(
            client
                .publish(m.topic, m.payload)
                .qos(m.qos)
                .retain(m.retain)
                .send()
                .await?,
        );
    }
    let mut outcomes = Vec::with_capacity(pending.len());
    for ack in pending {
        outcomes.push(ack.await?);
    }
    client.disconnect().await?;
    Ok(outcomes)
}

/// Connects, subscribes to `filters` at `qos`, and returns the first
/// `count` messages (paho's `subscribe.simple`). Fails with
/// [`Error::Timeout`] if they do not all arrive within `timeout`.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqtide::Error> {
/// use std::time::Duration;
/// use mqtide::{Client, QoS, oneshot::subscribe_simple};
///
/// // The retained status of every device, or a timeout after 5 s.
/// let builder = Client::builder("mqtt://localhost");
/// let statuses = subscribe_simple(builder, &["devices/+/status"], QoS::AtLeastOnce, 10, Duration::from_secs(5)).await?;
/// for status in statuses {
///     println!("{}: {:?}", status.topic(), status.payload_str());
/// }
/// # Ok(())
/// # }
/// ```
pub async fn subscribe_simple(
    builder: ClientBuilder,
    filters: &[&str],
    qos: QoS,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Message>, Error> {
    let mut received = Vec::with_capacity(count);
    let collect = subscribe_callback(builder, filters, qos, |m| {
        received.push(m.clone());
        if received.len() >= count {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    match tokio::time::timeout(timeout, collect).await {
        Ok(result) => result.map(|()| received),
        Err(_) => Err(Error::Timeout {
            waiting_for: "the messages subscribe_simple collects",
            after: timeout,
        }),
    }
}

/// Connects, subscribes to `filters` at `qos`, and calls `callback` for each
/// message until it returns `ControlFlow::Break` (paho's
/// `subscribe.callback`); then disconnects.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqtide::Error> {
/// use std::ops::ControlFlow;
/// use mqtide::{Client, QoS, oneshot::subscribe_callback};
///
/// // Print messages until one says "stop".
/// subscribe_callback(Client::builder("mqtt://localhost"), &["chat/#"], QoS::AtMostOnce, |m| {
///     println!("{}", m.payload_str().unwrap_or("<binary>"));
///     if m.payload_str() == Some("stop") { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub async fn subscribe_callback(
    builder: ClientBuilder,
    filters: &[&str],
    qos: QoS,
    mut callback: impl FnMut(&Message) -> ControlFlow<()>,
) -> Result<(), Error> {
    let client = builder.connect().await?;
    let mut messages = client
        .subscribe_many(filters.iter().map(|f| (*f, qos)))
        .await?;
    while let Some(message) = messages.next().await {
        if callback(&message).is_break() {
            break;
        }
    }
    client.disconnect().await
}
