//! [`ClientBuilder`] for the blocking client: every option of the async
//! [`crate::ClientBuilder`], under the same name, and a `connect` that
//! blocks.

use std::time::Duration;

use bytes::Bytes;
use mqtide_proto::{ProtocolVersion, QoSPolicy, ReceiveOverrun, SessionConfig};

use super::Client;
use super::runtime::{RuntimeThread, not_in_runtime};
use crate::backoff::Backoff;
use crate::command::QueueFull;
use crate::error::Error;
use crate::will::Will;

/// Builds a blocking [`Client`]: [`crate::ClientBuilder`]'s options, name for
/// name, with a blocking [`connect`](Self::connect). From
/// [`Client::builder`].
///
/// An async builder already set up converts with `From`:
/// `ClientBuilder::from(async_builder)`.
#[derive(Debug)]
#[must_use = "a builder does nothing until connect() is called"]
pub struct ClientBuilder {
    inner: crate::ClientBuilder,
}

impl From<crate::ClientBuilder> for ClientBuilder {
    fn from(inner: crate::ClientBuilder) -> Self {
        Self { inner }
    }
}

/// Forwards builder methods to the async builder, with a pointer to its
/// documentation (the behaviour is the same).
macro_rules! forward {
    ($( $(#[$attr:meta])* fn $name:ident ( $( $arg:ident : $ty:ty ),* ); )*) => {
        $(
            #[doc = concat!("See [`crate::ClientBuilder::", stringify!($name), "`].")]
            $(#[$attr])*
            pub fn $name(self, $( $arg: $ty ),*) -> Self {
                Self { inner: self.inner.$name($( $arg ),*) }
            }
        )*
    };
}

impl ClientBuilder {
    pub(super) fn new(url: &str) -> Self {
        Self {
            inner: crate::Client::builder(url),
        }
    }

    pub(super) fn into_async(self) -> crate::ClientBuilder {
        self.inner
    }

    forward! {
        fn protocol(version: ProtocolVersion);
        fn client_id(id: impl Into<String>);
        fn clean_start(clean: bool);
        fn keep_alive(interval: Duration);
        fn ping_timeout(timeout: Duration);
        fn connect_timeout(timeout: Duration);
        fn credentials(username: impl Into<String>, password: impl Into<Bytes>);
        fn will(will: Will);
        fn reconnect(backoff: Backoff);
        fn no_reconnect();
        fn retry_first_connect(retry: bool);
        fn shuffle_brokers(shuffle: bool);
        fn follow_redirects(follow: bool);
        fn session_expiry(expiry: Duration);
        fn receive_maximum(maximum: u16);
        fn receive_overrun(overrun: ReceiveOverrun);
        fn max_packet_size(bytes: u32);
        fn outgoing_topic_aliases(maximum: u16);
        fn topic_alias_maximum(maximum: u16);
        fn user_property(name: impl Into<String>, value: impl Into<String>);
        fn inflight(window: u16);
        fn offline_queue(capacity: usize, when_full: QueueFull);
        fn stream_capacity(capacity: usize);
        fn qos_policy(policy: QoSPolicy);
        fn resend_qos1_on_session_loss(resend: bool);
        fn poison_threshold(connections: u32);
        fn manual_acks(manual: bool);
        #[cfg(feature = "tls")]
        fn tls(options: crate::TlsOptions);
        #[cfg(feature = "websocket")]
        fn ws_header(name: impl Into<String>, value: impl Into<String>);
        #[cfg(feature = "proxy")]
        fn proxy(proxy: crate::Proxy);
        #[cfg(feature = "metrics")]
        fn metrics_client_id_label(label: bool);
        fn session_store(store: impl crate::store::SessionStore);
        fn request_response_information(ask: bool);
        fn authenticator(authenticator: impl crate::auth::Authenticator);
        fn session_config(edit: impl FnOnce(&mut SessionConfig));
    }

    /// See [`crate::ClientBuilder::failover`].
    pub fn failover<I, S>(self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            inner: self.inner.failover(urls),
        }
    }

    /// Connects, blocking until the broker accepted the connection (or the
    /// first connection failed, with the same errors as
    /// [`crate::ClientBuilder::connect`]). The event loop then runs on a
    /// thread of the client's own until the last handle is dropped.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), mqtide::Error> {
    /// use mqtide::QoS;
    ///
    /// let client = mqtide::blocking::Client::builder("mqtt://localhost:1883")
    ///     .client_id("sensor-1")
    ///     .connect()?;
    /// client.publish("sensors/1/status", "online").qos(QoS::AtLeastOnce).wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(self) -> Result<Client, Error> {
        let client = self.spawn()?;
        client.runtime().block_on(client.inner.wait_connected())??;
        Ok(client)
    }

    /// Returns a client at once and keeps trying the first connection with
    /// the reconnect backoff, as [`crate::ClientBuilder::start`] does:
    /// publishes wait in the offline queue meanwhile, and
    /// [`Client::wait_connected`] tells when it is up.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), mqtide::Error> {
    /// let client = mqtide::blocking::Client::builder("mqtt://broker:1883").start()?;
    /// let pending = client.publish("service/status", "up").qos(mqtide::QoS::AtLeastOnce).send()?;
    /// client.wait_connected()?;
    /// pending.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(self) -> Result<Client, Error> {
        Self {
            inner: self.inner.retry_first_connect(true),
        }
        .spawn()
    }

    /// Builds the client and runs its event loop on a thread of its own.
    fn spawn(self) -> Result<Client, Error> {
        not_in_runtime()?;
        let (client, runtime) = RuntimeThread::start(|| {
            let (client, connection) = self.inner.build()?;
            Ok((client, connection.run()))
        })?;
        Ok(Client::new(client, runtime))
    }
}
