//! The streams a client hands out: a [`Subscription`] per subscribe, and
//! [`MessageStream`] for every message.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use mqtide_proto::ReasonCode;
use tokio::sync::mpsc;

use super::Client;
use crate::error::Error;
use crate::message::Message;

/// A stream of the messages matching one subscription's filters, from
/// [`Client::subscribe`].
///
/// Overlapping subscriptions each get their copy. The stream ends after
/// [`unsubscribe`](Self::unsubscribe) (or `Client::unsubscribe` of all its
/// filters) once what was already delivered is read, and when the client
/// closes.
///
/// Dropping a `Subscription` stops delivery to it, but does **not**
/// unsubscribe at the broker: messages that match no other stream are then
/// acknowledged and dropped. Call `unsubscribe` to stop the broker sending
/// them.
///
/// A stream that is not read fills up (see
/// [`ClientBuilder::stream_capacity`](crate::ClientBuilder::stream_capacity))
/// and then the client stops reading the socket: a slow consumer slows the
/// connection, it never grows memory.
#[derive(Debug)]
pub struct Subscription {
    pub(crate) receiver: mpsc::Receiver<Message>,
    pub(crate) client: Client,
    pub(crate) filters: Vec<mqtide_proto::TopicFilter>,
    pub(crate) reason_codes: Vec<ReasonCode>,
}

impl Subscription {
    /// The next message, or `None` once the stream has ended. Cancel
    /// safe: a dropped `recv` loses no message.
    pub async fn recv(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }

    /// The broker's answer per filter: granted QoS (`Success`,
    /// `GrantedQoS1`, `GrantedQoS2`) or a failure code.
    pub fn reason_codes(&self) -> &[ReasonCode] {
        &self.reason_codes
    }

    /// Unsubscribes this subscription's filters at the broker; the stream
    /// ends. The broker holds one subscription per filter, so other streams
    /// subscribed to the same filters end too.
    pub async fn unsubscribe(self) -> Result<(), Error> {
        self.client.unsubscribe_many(self.filters.clone()).await
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.receiver.poll_recv(cx)
    }
}

/// Every incoming message, from [`Client::messages`] (aiomqtt's
/// `client.messages`). It ends when the client closes.
#[derive(Debug)]
pub struct MessageStream {
    pub(crate) receiver: mpsc::Receiver<Message>,
    pub(crate) _client: Client,
}

impl MessageStream {
    /// The next message, or `None` once the client has closed.
    pub async fn recv(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }
}

impl Stream for MessageStream {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.receiver.poll_recv(cx)
    }
}
