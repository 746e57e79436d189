//! The answering side: [`Client::serve`] subscribes to a filter and
//! answers each request on its response topic, with its correlation data.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use mqtide_proto::{PublishProperties, QoS, UsageError};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::client::Client;
use crate::client::Subscription;
use crate::error::Error;
use crate::message::Message;
use crate::properties::{add_user_property, secs, set_content_type};

impl Client {
    /// Answers requests (MQTT 5.0): subscribes to `filter` and, for each
    /// message that carries a Response Topic, calls `handler` and publishes
    /// the [`Reply`] it returns to that topic with the request's
    /// Correlation Data. The counterpart of [`Client::request`].
    ///
    /// Configure the returned builder, then `.await` it: it resolves once
    /// the broker has acknowledged the subscription, so requests sent from
    /// then on are answered. Handling runs in a task of its own until
    /// [`Responder::stop`] or until the client closes; dropping the
    /// [`Responder`] leaves it running (and the client open).
    ///
    /// `handler` returns a [`Reply`], or `None` (an `Option<Reply>`) to
    /// leave a request unanswered. Messages without a response topic are
    /// not requests: they are skipped (logged at debug level), and so are
    /// requests whose response topic cannot be published to. Each request
    /// is acknowledged once its reply is queued, so with
    /// [`manual_acks`](crate::ClientBuilder::manual_acks) a request whose
    /// handler never finished is redelivered by the broker.
    ///
    /// Fails with [`Error::Usage`] on a 3.1 / 3.1.1 client, whose messages
    /// carry no response topic.
    ///
    /// ```no_run
    /// use mqtide::{Client, QoS, Reply};
    ///
    /// # async fn demo() -> Result<(), mqtide::Error> {
    /// let client = Client::builder("mqtt://localhost:1883").connect().await?;
    /// let echo = client
    ///     .serve("svc/echo", |request| async move {
    ///         Reply::new(request.payload().clone()).content_type("application/octet-stream")
    ///     })
    ///     .qos(QoS::AtLeastOnce)
    ///     .concurrency(8)
    ///     .await?;
    /// // ... later
    /// echo.stop().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn serve<F, Fut, R>(&self, filter: impl Into<String>, handler: F) -> ServeBuilder<F>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: Into<Option<Reply>> + 'static,
    {
        ServeBuilder {
            client: self.clone(),
            filter: filter.into(),
            qos: QoS::AtLeastOnce,
            concurrency: 1,
            handler,
        }
    }
}

/// A reply, as a [`Client::serve`] handler returns it.
#[derive(Debug, Clone)]
pub struct Reply {
    payload: Bytes,
    qos: Option<QoS>,
    properties: PublishProperties,
}

impl Reply {
    /// A reply with `payload`, sent at the QoS the request arrived at.
    pub fn new(payload: impl Into<crate::Payload>) -> Self {
        Self {
            payload: payload.into().into_bytes(),
            qos: None,
            properties: PublishProperties::default(),
        }
    }

    /// The reply's QoS (default: the QoS the request was delivered at).
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = Some(qos);
        self
    }

    /// A user property on the reply (may repeat).
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        add_user_property(&mut self.properties, name.into(), value.into());
        self
    }

    /// The reply payload's content type (and, for `text/*`, that it is
    /// UTF-8).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        set_content_type(&mut self.properties, content_type.into());
        self
    }

    /// How long the broker keeps the reply for a requester that is not
    /// connected.
    pub fn message_expiry(mut self, expiry: Duration) -> Self {
        self.properties.message_expiry_interval = Some(secs(expiry));
        self
    }

    /// Every PUBLISH property at once; the correlation data is the
    /// request's and replaces any given here.
    pub fn properties(mut self, properties: PublishProperties) -> Self {
        self.properties = properties;
        self
    }
}

/// A responder being configured (see [`Client::serve`]); `.await` it to
/// subscribe and start answering.
#[must_use = "a responder does nothing until it is awaited"]
pub struct ServeBuilder<F> {
    client: Client,
    filter: String,
    qos: QoS,
    concurrency: usize,
    handler: F,
}

impl<F> fmt::Debug for ServeBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeBuilder")
            .field("filter", &self.filter)
            .field("qos", &self.qos)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl<F> ServeBuilder<F> {
    /// The QoS of the subscription to the filter (default 1).
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// How many requests are handled at once (default 1: one at a time,
    /// in arrival order). With more, replies may leave in any order; the
    /// correlation data still pairs each with its request.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }
}

impl<F, Fut, R> IntoFuture for ServeBuilder<F>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Into<Option<Reply>> + 'static,
{
    type Output = Result<Responder, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.client.requests().check_protocol()?;
            // `acquire_many` counts in u32, `Semaphore::new` in usize.
            let max = Semaphore::MAX_PERMITS.min(usize::try_from(u32::MAX).unwrap_or(usize::MAX));
            let permits = u32::try_from(self.concurrency)
                .ok()
                .filter(|_| (1..=max).contains(&self.concurrency))
                .ok_or_else(|| {
                    Error::InvalidOption(format!(
                        "serve concurrency must be between 1 and {max}, not {}",
                        self.concurrency
                    ))
                })?;
            let requests = self.client.subscribe(&self.filter, self.qos).await?;
            debug!(filter = %self.filter, "serving requests");
            let task = tokio::spawn(serve(
                self.client.clone(),
                requests,
                Arc::new(self.handler),
                permits,
            ));
            Ok(Responder {
                client: self.client,
                filter: self.filter,
                task,
            })
        })
    }
}

/// A running responder (see [`Client::serve`]).
#[derive(Debug)]
pub struct Responder {
    client: Client,
    filter: String,
    task: JoinHandle<()>,
}

impl Responder {
    /// The filter it answers on.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Unsubscribes the filter, answers the requests that had already
    /// arrived, and returns once every handler has finished (their replies
    /// are queued in the client by then). Other subscriptions of the
    /// client to the same filter end too (see
    /// [`Subscription::unsubscribe`]).
    pub async fn stop(self) -> Result<(), Error> {
        let unsubscribed = self.client.unsubscribe(&self.filter).await;
        if unsubscribed.is_err() {
            // The stream cannot end by itself: end the task.
            self.task.abort();
        }
        let _ = self.task.await;
        unsubscribed
    }
}

/// The responder's task: one request after another from the stream, each
/// handled in a task of its own once a permit allows.
async fn serve<F, Fut, R>(client: Client, mut requests: Subscription, handler: Arc<F>, permits: u32)
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Into<Option<Reply>> + 'static,
{
    let limit = Arc::new(Semaphore::new(permits as usize));
    while let Some(request) = requests.next().await {
        let Some(response_topic) = request.properties().response_topic.clone() else {
            debug!(
                topic = request.topic(),
                "a message without a response topic is not a request; skipped"
            );
            acknowledge(&client, &request).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
            break;
        };
        let (client, handler) = (client.clone(), Arc::clone(&handler));
        tokio::spawn(async move {
            let reply: Option<Reply> = handler(request.clone()).await.into();
            let pending = match reply {
                Some(reply) => answer(&client, &request, &response_topic, reply).await,
                None => {
                    debug!(topic = request.topic(), "the handler gave no reply");
                    None
                }
            };
            acknowledge(&client, &request).await;
            drop(permit);
            if let Some(pending) = pending
                && let Err(error) = pending.await
            {
                warn!(%error, topic = %response_topic, "the broker did not take a reply");
            }
        });
    }
    // Wait for the handlers still running.
    let _ = limit.acquire_many(permits).await;
    debug!("responder stopped");
}

/// Queues `reply` on the request's response topic; returns its
/// acknowledgement to wait for.
async fn answer(
    client: &Client,
    request: &Message,
    response_topic: &str,
    reply: Reply,
) -> Option<crate::PendingAck> {
    let mut properties = reply.properties;
    properties
        .correlation_data
        .clone_from(&request.properties().correlation_data);
    let sent = client
        .publish(response_topic, reply.payload)
        .qos(reply.qos.unwrap_or(request.qos()))
        .properties(properties)
        .send()
        .await;
    match sent {
        Ok(pending) => Some(pending),
        // The response topic came from the network: a bad one is the
        // requester's problem, not ours.
        Err(error @ Error::Usage(UsageError::InvalidTopic(_))) => {
            debug!(%error, topic = %response_topic, "cannot reply to this response topic; skipped");
            None
        }
        Err(error) => {
            warn!(%error, topic = %response_topic, "a reply could not be sent");
            None
        }
    }
}

/// Acknowledges a request (in manual-ack mode; a no-op otherwise).
async fn acknowledge(client: &Client, request: &Message) {
    if let Err(error) = client.ack(request).await {
        debug!(%error, "could not acknowledge a request");
    }
}
