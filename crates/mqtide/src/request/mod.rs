//! MQTT 5.0 request/response: [`Client::request`] asks, [`Client::serve`]
//! answers.
//!
//! A request is an ordinary PUBLISH carrying two 5.0 properties: a
//! Response Topic (where the answer goes) and Correlation Data (which
//! question the answer belongs to). The requesting client subscribes to
//! its response topic once, the first time it asks, and every later
//! request reuses that subscription; one task reads it and hands each
//! reply to the request whose correlation data it carries.
//!
//! The response topic is `mqtide/response/<client-id>` (a random name in
//! place of the id when the id is empty or is not usable in a topic).
//! Brokers with ACLs must let each client subscribe to it; for Mosquitto:
//! `pattern readwrite mqtide/response/%c`.

mod respond;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqtide_proto::{PublishProperties, QoS, TopicName, UsageError};

pub use respond::{Reply, Responder, ServeBuilder};

use crate::client::{Client, Requests};
use crate::error::Error;
use crate::message::Message;
use crate::properties::{add_user_property, secs, set_content_type};

/// How long a request waits for its reply unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// Sends a request to `topic` and resolves with the reply (MQTT 5.0).
    ///
    /// Configure the returned builder, then `.await` it. The request is
    /// published with a Response Topic and unique Correlation Data; the
    /// future resolves with the first message on the response topic that
    /// carries the same correlation data, or fails with
    /// [`Error::Timeout`] when none came within the
    /// [timeout](RequestBuilder::timeout) (30 s by default; it covers
    /// subscribing, publishing and waiting). Any number of requests may be
    /// in flight at once, from any clone of the client: each gets its own
    /// reply. A reply that arrives after its request gave up is dropped
    /// (logged at debug level), never handed to another request.
    ///
    /// The first request subscribes to the client's response topic (see
    /// the [module docs](crate::request)) and waits for the broker's
    /// SUBACK; later requests reuse the subscription, which is restored
    /// after a reconnect like any other. With
    /// [`manual_acks`](crate::ClientBuilder::manual_acks), replies are
    /// acknowledged by the client itself: do not ack them.
    ///
    /// Request/response needs MQTT 5.0: on a 3.1 / 3.1.1 client the request
    /// fails with [`Error::Usage`] before anything is sent.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mqtide::{Client, QoS, Reply};
    ///
    /// # async fn demo() -> Result<(), mqtide::Error> {
    /// let client = Client::builder("mqtt://localhost:1883").connect().await?;
    ///
    /// // Somewhere, a service answers requests on `svc/time`.
    /// let service = client
    ///     .serve("svc/time", |_request| async { Reply::new("12:00") })
    ///     .await?;
    ///
    /// let reply = client
    ///     .request("svc/time", "what time is it?")
    ///     .qos(QoS::AtLeastOnce)
    ///     .timeout(Duration::from_secs(5))
    ///     .user_property("zone", "UTC")
    ///     .await?;
    /// println!("{:?}", reply.payload());
    /// service.stop().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn request(
        &self,
        topic: impl AsRef<str>,
        payload: impl Into<crate::Payload>,
    ) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            topic: topic.as_ref().to_owned(),
            payload: payload.into().into_bytes(),
            qos: QoS::AtMostOnce,
            timeout: DEFAULT_TIMEOUT,
            properties: PublishProperties::default(),
        }
    }
}

/// A request being configured (see [`Client::request`]); `.await` it for
/// the reply.
#[must_use = "a request does nothing until it is awaited"]
#[derive(Debug)]
pub struct RequestBuilder {
    client: Client,
    topic: String,
    payload: Bytes,
    qos: QoS,
    timeout: Duration,
    properties: PublishProperties,
}

impl RequestBuilder {
    /// The QoS of the request's PUBLISH (default 0). The reply comes at
    /// the QoS the responder chose.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// How long to wait, in all, for the reply (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A user property on the request (may repeat).
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        add_user_property(&mut self.properties, name.into(), value.into());
        self
    }

    /// The request payload's content type (and, for `text/*`, that it is
    /// UTF-8).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        set_content_type(&mut self.properties, content_type.into());
        self
    }

    /// How long the broker keeps the request for a responder that is not
    /// connected yet.
    pub fn message_expiry(mut self, expiry: Duration) -> Self {
        self.properties.message_expiry_interval = Some(secs(expiry));
        self
    }

    /// Every PUBLISH property at once. The response topic and correlation
    /// data are the request's own and replace any given here.
    pub fn properties(mut self, properties: PublishProperties) -> Self {
        self.properties = properties;
        self
    }

    async fn run(self) -> Result<Message, Error> {
        self.client.requests().check_protocol()?;
        // Refused before the first request subscribes to anything.
        TopicName::new(self.topic.as_str())
            .map_err(|e| Error::Usage(UsageError::InvalidTopic(e)))?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange()).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                waiting_for: "the reply to the request",
                after: timeout,
            }),
        }
    }

    /// Subscribes if this is the client's first request, publishes, and
    /// waits for the reply. Cancelling it (the timeout) forgets the
    /// request, so a late reply finds nobody waiting.
    async fn exchange(self) -> Result<Message, Error> {
        let inbox = self.client.requests().inbox(&self.client).await?;
        // Registered before publishing: the reply may overtake the PUBACK.
        let ended = || Requests::ended(&self.client);
        let waiter = inbox.register(ended)?;
        let mut properties = self.properties;
        properties.response_topic = Some(ByteString::from(inbox.topic()));
        properties.correlation_data = Some(waiter.correlation().clone());
        self.client
            .publish(self.topic, self.payload)
            .qos(self.qos)
            .properties(properties)
            .await?;
        waiter.reply(|| Requests::ended(&self.client)).await
    }
}

impl IntoFuture for RequestBuilder {
    type Output = Result<Message, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
