//! The requesting side's state (see [`crate::request`]): the response
//! topic subscription, made once per client and shared by its clones, and
//! the requests waiting on it, keyed by correlation data. It lives with
//! the handle that owns it; `request` builds on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use mqtide_proto::{ProtocolVersion, QoS, SessionConfig, TopicName, UsageError};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::{Client, Subscription, WeakClient};
use crate::error::Error;
use crate::message::Message;

/// Per client (shared by its clones): what it needs to make requests.
#[derive(Debug)]
pub(crate) struct Requests {
    protocol: ProtocolVersion,
    client_id: ByteString,
    manual_acks: bool,
    /// The live inbox, once the first request made it. An async mutex:
    /// the first requests wait here for the SUBACK, so the topic is
    /// subscribed once, however many ask at the same moment.
    inbox: tokio::sync::Mutex<Option<Arc<Inbox>>>,
}

impl Requests {
    pub(crate) fn new(config: &SessionConfig, manual_acks: bool) -> Self {
        Self {
            protocol: config.protocol,
            client_id: config.client_id.clone(),
            manual_acks,
            inbox: tokio::sync::Mutex::new(None),
        }
    }

    /// Response topics and correlation data are 5.0 properties: under
    /// 3.1.1 there is no way to make (or answer) a request.
    pub(crate) fn check_protocol(&self) -> Result<(), Error> {
        if self.protocol == ProtocolVersion::V5 {
            return Ok(());
        }
        Err(Error::Usage(UsageError::NotAllowed(
            "request/response needs MQTT 5.0 (response topic and correlation data are 5.0 \
             properties); build the client with .protocol(ProtocolVersion::V5)",
        )))
    }

    /// The inbox, subscribing to the response topic if there is none yet
    /// or the last one ended (the topic was unsubscribed).
    pub(crate) async fn inbox(&self, client: &Client) -> Result<Arc<Inbox>, Error> {
        let mut slot = self.inbox.lock().await;
        if let Some(inbox) = slot.as_ref().filter(|inbox| inbox.is_open()) {
            return Ok(Arc::clone(inbox));
        }
        // The broker's Response Information (5.0, when the client asked
        // for it and the broker offers it) is the place it wants replies.
        let offered = client.server_info().and_then(|info| {
            let base = info.properties.response_information.as_ref()?;
            let topic = format!("{}/{}", base.trim_end_matches('/'), info.client_id);
            TopicName::new(topic.as_str()).is_ok().then_some(topic)
        });
        let topic = offered.unwrap_or_else(|| self.response_topic());
        // QoS 2: the reply keeps whatever QoS the responder chose.
        let subscription = client.subscribe(&topic, QoS::ExactlyOnce).await?;
        debug!(%topic, "subscribed to the response topic");
        let inbox = Arc::new(Inbox::new(topic));
        // Only the receiving end is kept: the subscription's own client
        // handle would keep the client open after its last user handle is
        // dropped. The weak handle serves manual acknowledgements.
        let Subscription { receiver, .. } = subscription;
        let acks = self.manual_acks.then(|| client.downgrade());
        tokio::spawn(dispatch(Arc::clone(&inbox), receiver, acks));
        *slot = Some(Arc::clone(&inbox));
        Ok(inbox)
    }

    /// Why a request's response subscription ended under it: the client
    /// closed (its one reason), or the application unsubscribed the
    /// response topic.
    pub(crate) fn ended(client: &Client) -> Error {
        client.why_closed().unwrap_or(Error::Usage(UsageError::NotAllowed(
            "the response topic was unsubscribed while a request waited for its reply; leave the client's response topic subscribed",
        )))
    }

    /// `mqtide/response/<client-id>`.
    ///
    /// The broker's Response Information (CONNACK) would be the better
    /// basis, but the client does not pass CONNACK properties on to its
    /// handles; and an empty (broker-assigned) client id is not known here.
    fn response_topic(&self) -> String {
        let topic = format!("mqtide/response/{}", self.client_id);
        if !self.client_id.is_empty() && TopicName::new(topic.as_str()).is_ok() {
            return topic;
        }
        let mut rng = fastrand::Rng::new();
        let name: String = (0..16).map(|_| rng.alphanumeric()).collect();
        format!("mqtide/response/{name}")
    }
}

/// Reads the response subscription and hands each reply to its request.
async fn dispatch(
    inbox: Arc<Inbox>,
    mut replies: mpsc::Receiver<Message>,
    acks: Option<WeakClient>,
) {
    while let Some(reply) = replies.recv().await {
        let Some(acks) = &acks else {
            inbox.deliver(reply);
            continue;
        };
        let copy = reply.clone();
        inbox.deliver(reply);
        if let Some(client) = acks.upgrade()
            && let Err(error) = client.ack(&copy).await
        {
            debug!(%error, "could not acknowledge a reply");
        }
    }
    debug!(topic = inbox.topic(), "the response subscription ended");
    inbox.close();
}

/// The requests of one response subscription that wait for a reply.
#[derive(Debug)]
pub(crate) struct Inbox {
    topic: String,
    /// Random per inbox, so that correlation data from another run of the
    /// same client (a reply queued in a persistent session) never match.
    nonce: u64,
    next: AtomicU64,
    /// `None` once the subscription ended: nothing more will arrive.
    waiting: Mutex<Option<HashMap<Bytes, oneshot::Sender<Message>>>>,
}

impl Inbox {
    fn new(topic: String) -> Self {
        Self {
            topic,
            nonce: fastrand::u64(..),
            next: AtomicU64::new(0),
            waiting: Mutex::new(Some(HashMap::new())),
        }
    }

    /// The response topic.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    fn waiting(&self) -> MutexGuard<'_, Option<HashMap<Bytes, oneshot::Sender<Message>>>> {
        // Nothing panics while holding the lock; if something did, the
        // map is still consistent (each step is one insert or remove).
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_open(&self) -> bool {
        self.waiting().is_some()
    }

    /// A new request, with correlation data no other request of this
    /// inbox has: the nonce, then a counter. Fails, with `ended`, once the
    /// response subscription ended.
    pub(crate) fn register(
        self: &Arc<Self>,
        ended: impl FnOnce() -> Error,
    ) -> Result<Waiter, Error> {
        let mut correlation = BytesMut::with_capacity(16);
        correlation.put_u64(self.nonce);
        correlation.put_u64(self.next.fetch_add(1, Ordering::Relaxed));
        let correlation = correlation.freeze();
        let (sender, reply) = oneshot::channel();
        self.waiting()
            .as_mut()
            .ok_or_else(ended)?
            .insert(correlation.clone(), sender);
        Ok(Waiter {
            inbox: Arc::clone(self),
            correlation,
            reply,
        })
    }

    /// Hands `reply` to the request with its correlation data, if one
    /// still waits.
    fn deliver(&self, reply: Message) {
        let Some(correlation) = reply.properties().correlation_data.as_deref() else {
            debug!(
                topic = self.topic(),
                "a message without correlation data on the response topic; dropped"
            );
            return;
        };
        let waiter = self
            .waiting()
            .as_mut()
            .and_then(|waiting| waiting.remove(correlation));
        let Some(waiter) = waiter else {
            debug!(
                topic = self.topic(),
                "a reply for no waiting request (timed out, cancelled or not ours); dropped"
            );
            return;
        };
        if waiter.send(reply).is_err() {
            debug!(
                topic = self.topic(),
                "a reply whose request just gave up; dropped"
            );
        }
    }

    fn forget(&self, correlation: &[u8]) {
        if let Some(waiting) = self.waiting().as_mut() {
            waiting.remove(correlation);
        }
    }

    /// The subscription ended: every waiting request fails (see
    /// `Requests::ended`).
    fn close(&self) {
        self.waiting().take();
    }
}

/// One request's place in the inbox. Dropping it (the request timed out
/// or was cancelled) takes it out, so a late reply finds nobody.
#[derive(Debug)]
pub(crate) struct Waiter {
    inbox: Arc<Inbox>,
    correlation: Bytes,
    reply: oneshot::Receiver<Message>,
}

impl Waiter {
    pub(crate) fn correlation(&self) -> &Bytes {
        &self.correlation
    }

    /// The reply, or `ended` if the response subscription ended first.
    pub(crate) async fn reply(mut self, ended: impl FnOnce() -> Error) -> Result<Message, Error> {
        (&mut self.reply).await.map_err(|_| ended())
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.inbox.forget(&self.correlation);
    }
}
