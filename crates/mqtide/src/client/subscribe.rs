//! Subscribing and unsubscribing: [`Client::subscribe`] and its
//! siblings, and [`Client::messages`], the stream of every message.

use mqtide_proto::{
    QoS, SubscribeProperties, SubscriptionOptions, TopicFilter, UnsubscribeProperties,
};
use tokio::sync::mpsc;

use super::{Client, MessageStream, Subscription};
use crate::command::Command;
use crate::error::Error;

impl Client {
    /// Subscribes to `filter` at `qos` and returns the stream of matching
    /// messages; resolves on SUBACK. A filter that is not valid fails with
    /// [`Error::InvalidFilter`] before anything is sent.
    ///
    /// Cancel safety: once the SUBSCRIBE is queued (the first poll finds
    /// room in the command queue), dropping the future does not withdraw
    /// it: the broker still subscribes the client, and what it sends for
    /// that filter reaches no stream (it is acknowledged and dropped, with
    /// a `debug` line) until something else subscribes to it. Unsubscribe
    /// if that matters.
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut temperatures = client.subscribe("home/+/temperature", mqtide::QoS::AtLeastOnce).await?;
    /// while let Some(message) = temperatures.next().await {
    ///     println!("{}: {:?}", message.topic(), message.payload_str());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe(
        &self,
        filter: impl AsRef<str>,
        qos: QoS,
    ) -> Result<Subscription, Error> {
        self.subscribe_many([(filter, qos)]).await
    }

    /// Subscribes to several filters at once, each with its QoS or its
    /// 5.0 options (no local, retain as published, retain handling). The
    /// stream carries messages matching any of them. Fails if the broker
    /// refused every filter; see [`Subscription::reason_codes`] for
    /// partial refusals.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Client#cancel-safety)).
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// use mqtide::{QoS, SubscriptionOptions};
    ///
    /// let both = client
    ///     .subscribe_many([
    ///         ("alarms/#", SubscriptionOptions::new(QoS::ExactlyOnce)),
    ///         ("status/+", SubscriptionOptions::new(QoS::AtMostOnce).no_local(true)),
    ///     ])
    ///     .await?;
    /// let filters = vec![String::from("a/#"), String::from("b/#")];
    /// let simple = client
    ///     .subscribe_many(filters.iter().map(|f| (f, QoS::AtLeastOnce)))
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe_many<F, O>(
        &self,
        filters: impl IntoIterator<Item = (F, O)>,
    ) -> Result<Subscription, Error>
    where
        F: AsRef<str>,
        O: Into<SubscriptionOptions>,
    {
        self.subscribe_with(filters, SubscribeProperties::default())
            .await
    }

    /// [`subscribe_many`](Self::subscribe_many) with 5.0 properties (user
    /// properties; a subscription identifier is the client's own).
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Client#cancel-safety)).
    pub async fn subscribe_with<F, O>(
        &self,
        filters: impl IntoIterator<Item = (F, O)>,
        properties: SubscribeProperties,
    ) -> Result<Subscription, Error>
    where
        F: AsRef<str>,
        O: Into<SubscriptionOptions>,
    {
        let filters = filters
            .into_iter()
            .map(|(f, o)| Ok((topic_filter(f.as_ref())?, o.into())))
            .collect::<Result<Vec<_>, Error>>()?;
        let topic_filters: Vec<TopicFilter> = filters.iter().map(|(f, _)| f.clone()).collect();
        let (sender, receiver) = mpsc::channel(self.inner.stream_capacity);
        let outcome = self
            .call(|reply| Command::Subscribe {
                filters,
                properties: Box::new(properties),
                sender,
                reply,
            })
            .await?;
        Ok(Subscription {
            receiver,
            client: self.clone(),
            filters: topic_filters,
            reason_codes: outcome.reason_codes,
        })
    }

    /// Unsubscribes from `filter`; the streams subscribed to it alone end.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Client#cancel-safety)).
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// let device = String::from("lamp-7");
    /// client.unsubscribe(format!("devices/{device}/#")).await?;
    /// client.unsubscribe_many(["alarms/#", "status/+"]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn unsubscribe(&self, filter: impl AsRef<str>) -> Result<(), Error> {
        self.unsubscribe_many([filter]).await
    }

    /// Unsubscribes from several filters at once.
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Client#cancel-safety)).
    pub async fn unsubscribe_many(
        &self,
        filters: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(), Error> {
        self.unsubscribe_with(filters, UnsubscribeProperties::default())
            .await
    }

    /// Unsubscribes with 5.0 properties (user properties).
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Client#cancel-safety)).
    pub async fn unsubscribe_with(
        &self,
        filters: impl IntoIterator<Item = impl AsRef<str>>,
        properties: UnsubscribeProperties,
    ) -> Result<(), Error> {
        let filters = filters
            .into_iter()
            .map(|f| topic_filter(f.as_ref()))
            .collect::<Result<Vec<_>, Error>>()?;
        self.call(|reply| Command::Unsubscribe {
            filters,
            properties: Box::new(properties),
            reply,
        })
        .await
    }

    /// A stream of every incoming message, whatever subscription it
    /// matched (and messages that match none, such as a persistent
    /// session's queued ones). Ask for it before subscribing so that
    /// retained messages are not missed.
    ///
    /// It is `async` because the stream is registered with the event loop
    /// through the client's bounded command queue (waiting for room, as a
    /// publish does), so that it is in place before anything subscribed
    /// after it can deliver; it fails only once the client has closed
    /// (with the reason it closed).
    ///
    /// Cancel safety: carried out once queued, as every request (see
    /// [`Client`](Client#cancel-safety)).
    ///
    /// ```no_run
    /// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut all = client.messages().await?;
    /// client.subscribe("sensors/#", mqtide::QoS::AtLeastOnce).await?;
    /// while let Some(message) = all.next().await {
    ///     println!("{} {:?}", message.topic(), message.payload_str());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn messages(&self) -> Result<MessageStream, Error> {
        let (sender, receiver) = mpsc::channel(self.inner.stream_capacity);
        self.send(Command::Messages { sender }).await?;
        Ok(MessageStream {
            receiver,
            _client: self.clone(),
        })
    }
}

/// `filter` as a [`TopicFilter`], or why it is not one.
fn topic_filter(filter: &str) -> Result<TopicFilter, Error> {
    TopicFilter::new(filter).map_err(|source| Error::InvalidFilter {
        filter: filter.to_owned(),
        source,
    })
}
