//! Building a client: the broker URL and every option, checked before
//! anything connects. The session and flow-control options are in
//! `flow.rs`.

mod flow;

use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqtide_proto::{LastWill, ProtocolVersion, Secret, SessionConfig, TopicName};

use crate::backoff::Backoff;
use crate::command::QueueFull;
use crate::error::Error;
use crate::take_once::TakeOnce;
#[cfg(feature = "tls")]
use crate::transport::tls::TlsOptions;
use crate::transport::{Connector, MakeConnector, ServerAddr, Servers};
use crate::will::Will;

/// Everything a client is configured with; see [`Client::builder`](crate::Client::builder).
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) addr: Result<ServerAddr, Error>,
    pub(crate) session: SessionConfig,
    pub(crate) will: Option<Will>,
    pub(crate) reconnect: Option<Backoff>,
    pub(crate) retry_first_connect: bool,
    /// Whether the `metrics` series carry a `client_id` label.
    #[cfg(feature = "metrics")]
    pub(crate) metrics_client_id_label: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_capacity: usize,
    pub(crate) stream_capacity: usize,
    pub(crate) queue_full: QueueFull,
    pub(crate) manual_acks: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsOptions>,
    #[cfg(feature = "websocket")]
    pub(crate) ws_headers: crate::transport::WsHeaders,
    #[cfg(feature = "proxy")]
    pub(crate) proxy: Option<crate::transport::proxy::Proxy>,
    pub(crate) store: Option<TakeOnce<Box<dyn crate::store::SessionStore>>>,
    pub(crate) authenticator: Option<TakeOnce<Box<dyn crate::auth::Authenticator>>>,
    /// Brokers to fail over to, after `addr`.
    pub(crate) failover: Vec<ServerAddr>,
    pub(crate) shuffle: bool,
    pub(crate) follow_redirects: bool,
    pub(crate) error: Option<Error>,
}

impl ClientBuilder {
    pub(crate) fn new(url: &str) -> Self {
        let addr = ServerAddr::parse(url);
        let mut session = SessionConfig::new(ProtocolVersion::V5, random_client_id());
        let mut error = None;
        if let Ok(addr) = &addr {
            if let Some(user) = &addr.username {
                session.username = Some(user.as_str().into());
            }
            if let Some(password) = &addr.password {
                session.password = Some(Secret::new(password.clone().into_bytes()));
            }
        }
        if let Err(e) = &addr {
            error = Some(e.clone());
        }
        Self {
            addr,
            session,
            will: None,
            reconnect: Some(Backoff::default()),
            retry_first_connect: false,
            #[cfg(feature = "metrics")]
            metrics_client_id_label: true,
            connect_timeout: Duration::from_secs(30),
            command_capacity: 1024,
            stream_capacity: 256,
            queue_full: QueueFull::Wait,
            manual_acks: false,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "websocket")]
            ws_headers: Default::default(),
            #[cfg(feature = "proxy")]
            proxy: None,
            store: None,
            authenticator: None,
            failover: Vec::new(),
            shuffle: false,
            follow_redirects: false,
            error,
        }
    }

    fn fail(mut self, message: impl Into<String>) -> Self {
        if self.error.is_none() {
            self.error = Some(Error::InvalidOption(message.into()));
        }
        self
    }

    /// The protocol version (default 5.0).
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.session.protocol = version;
        self
    }

    /// The client identifier (default: `mqtide-` and random characters).
    /// An empty identifier asks the broker to assign one.
    ///
    /// ```
    /// let builder = mqtide::Client::builder("mqtt://localhost").client_id("sensor-1");
    /// # drop(builder);
    /// ```
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.session.client_id = ByteString::from(id.into());
        self
    }

    /// Clean session (3.1.1) / clean start (5.0); default true. With
    /// `false` the broker keeps the session (subscriptions, queued
    /// messages) between connections, as `mosquitto_sub -c` asks: under
    /// 5.0, without a [`session_expiry`](Self::session_expiry), the
    /// session is asked never to expire (Session Expiry Interval
    /// 0xFFFFFFFF; the broker may cap it, as Mosquitto's
    /// `max_session_expiry_interval` does). Set an expiry to bound how
    /// long the broker keeps it once the client is gone.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // A session the broker keeps across reconnects (and, with a session
    /// // store, restarts): what was in flight resumes, nothing is lost.
    /// let builder = mqtide::Client::builder("mqtt://localhost")
    ///     .client_id("sensor-1")
    ///     .clean_start(false)
    ///     .session_expiry(Duration::from_secs(24 * 3600));
    /// # drop(builder);
    /// ```
    pub fn clean_start(mut self, clean: bool) -> Self {
        self.session.clean_start = clean;
        self
    }

    /// The keep-alive interval (default 60 s; zero turns it off). Whole
    /// seconds, at most 65,535.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = mqtide::Client::builder("mqtt://localhost").keep_alive(Duration::from_secs(30));
    /// # drop(builder);
    /// ```
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        match u16::try_from(interval.as_secs()) {
            Ok(secs) => {
                self.session.keep_alive = secs;
                self
            }
            Err(_) => self.fail(format!("keep-alive {interval:?} exceeds 65535 s")),
        }
    }

    /// How long the broker may stay silent after a PINGREQ (default 10 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.session.ping_timeout = timeout;
        self
    }

    /// How long a connection attempt (transport and CONNACK) may take
    /// (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.session.connect_timeout = timeout;
        self
    }

    /// User name and password (overrides any in the URL). Neither appears
    /// in logs or `Debug` output.
    ///
    /// ```
    /// let password = std::env::var("MQTT_PASSWORD").unwrap_or_default();
    /// let builder = mqtide::Client::builder("mqtts://broker.example").credentials("sensor-1", password);
    /// # drop(builder);
    /// ```
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<Bytes>) -> Self {
        self.session.username = Some(ByteString::from(username.into()));
        self.session.password = Some(Secret::new(password.into()));
        self
    }

    /// The will message.
    pub fn will(mut self, will: Will) -> Self {
        self.will = Some(will);
        self
    }

    /// Reconnect automatically with this backoff (the default is 1 s
    /// doubling to 60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mqtide::Backoff;
    ///
    /// // 1 s, 2 s, 4 s, … up to a minute, with jitter.
    /// let builder = mqtide::Client::builder("mqtt://localhost")
    ///     .reconnect(Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60)));
    /// # drop(builder);
    /// ```
    pub fn reconnect(mut self, backoff: Backoff) -> Self {
        self.reconnect = Some(backoff);
        self
    }

    /// Never reconnect: the client closes when its connection is lost.
    pub fn no_reconnect(mut self) -> Self {
        self.reconnect = None;
        self
    }

    /// Retry the first connection with the [reconnect](Self::reconnect)
    /// backoff until a broker accepts it, instead of failing once every
    /// broker failed (default false). A failure that retrying cannot fix
    /// (bad credentials, a certificate that does not verify) still ends
    /// it. [`connect`](Self::connect) then waits for a broker;
    /// [`start`](Self::start) turns this on and returns the client at
    /// once.
    pub fn retry_first_connect(mut self, retry: bool) -> Self {
        self.retry_first_connect = retry;
        self
    }

    /// Feature `metrics`: whether this client's `mqtide_*` series carry
    /// the label `client_id` (default true). Turn it off for a large fleet
    /// whose clients should add up into one series each.
    ///
    /// ```
    /// let builder = mqtide::Client::builder("mqtt://localhost").metrics_client_id_label(false);
    /// # drop(builder);
    /// ```
    #[cfg(feature = "metrics")]
    pub fn metrics_client_id_label(mut self, label: bool) -> Self {
        self.metrics_client_id_label = label;
        self
    }

    /// More brokers of the same cluster (EMQX, HiveMQ, VerneMQ, …) to fail
    /// over to. Connections go to the URL given to
    /// [`Client::builder`](crate::Client::builder) first, then to these in
    /// turn: a failed attempt moves on to the next broker at once, and the
    /// reconnect backoff applies once every broker has failed. A lost
    /// connection is retried on the same broker first. The first
    /// [`connect`](Self::connect) fails only when every broker refused.
    /// Credentials come from the first URL (or
    /// [`credentials`](Self::credentials)); TLS, WebSocket and proxy
    /// options apply to all.
    ///
    /// ```
    /// let builder = mqtide::Client::builder("mqtt://node-1.cluster:1883")
    ///     .failover(["mqtt://node-2.cluster:1883", "mqtt://node-3.cluster:1883"]);
    /// # drop(builder);
    /// ```
    pub fn failover<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for url in urls {
            match ServerAddr::parse(url.as_ref()) {
                Ok(addr) => self.failover.push(addr),
                Err(e) => {
                    if self.error.is_none() {
                        self.error = Some(e);
                    }
                }
            }
        }
        self
    }

    /// Walk the brokers (see [`failover`](Self::failover)) in an order
    /// shuffled once per client, so that a fleet of clients spreads over
    /// the cluster instead of all trying the first broker first.
    pub fn shuffle_brokers(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// 5.0: follow the broker's redirection — a CONNACK or DISCONNECT with
    /// "use another server" (for the next connection only) or "server
    /// moved" (from now on) and a Server Reference (`host`, `host:port`).
    /// Off by default: a redirection is then reported as the refusal or
    /// disconnection it is.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// TLS options for `mqtts://` (default: the system's roots and host
    /// name verification). Setting them on an `mqtt://` URL is an error.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mqtide::TlsOptions;
    ///
    /// // Mutual TLS with ALPN, as AWS IoT Core wants it.
    /// let tls = TlsOptions::new()
    ///     .ca_file("AmazonRootCA1.pem")
    ///     .client_cert(std::fs::read("device.pem.crt")?, std::fs::read("private.pem.key")?)
    ///     .alpn(["x-amzn-mqtt-ca"]);
    /// let builder = mqtide::Client::builder("mqtts://example-ats.iot.eu-west-1.amazonaws.com:443").tls(tls);
    /// # drop(builder);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, options: TlsOptions) -> Self {
        self.tls = Some(options);
        self
    }

    /// An extra HTTP header for the WebSocket upgrade of `ws://` and
    /// `wss://` URLs (an authorization token for a gateway, say).
    #[cfg(feature = "websocket")]
    pub fn ws_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.ws_headers.0.push((name.into(), value.into()));
        self
    }

    /// Connect through a SOCKS5 or HTTP CONNECT proxy (feature `proxy`).
    #[cfg(feature = "proxy")]
    pub fn proxy(mut self, proxy: crate::transport::proxy::Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Keeps the session in `store` (see [`store`](crate::store)), so that
    /// it survives the process: what the store holds is resumed when the
    /// client is built, and every step is committed before it reaches the
    /// network. [`send`](crate::PublishBuilder::send) then resolves once
    /// the publish is committed.
    ///
    /// The session must be one the broker keeps: clean start is turned
    /// off, and under 5.0 a [`session_expiry`](Self::session_expiry) is
    /// required (or [`clean_start(false)`](Self::clean_start), which asks
    /// for a session that never expires). One store serves one client.
    pub fn session_store(mut self, store: impl crate::store::SessionStore) -> Self {
        self.store = Some(TakeOnce::new(Box::new(store)));
        self
    }

    /// 5.0: ask the broker for Response Information, a topic prefix it
    /// wants replies under; [`Client::request`](crate::Client::request)
    /// then uses it for its response topic (see
    /// [`Client::server_info`](crate::Client::server_info)).
    pub fn request_response_information(mut self, ask: bool) -> Self {
        self.session.properties.request_response_information = ask.then_some(true);
        self
    }

    /// 5.0 enhanced authentication (see [`auth`](crate::auth)): every
    /// CONNECT starts an exchange with `authenticator`, AUTH packets from
    /// the broker are answered by it, and the broker's final data is
    /// checked by it before the connection counts as up;
    /// [`Client::reauthenticate`](crate::Client::reauthenticate) runs the
    /// exchange again on a live connection. One authenticator serves one
    /// client.
    pub fn authenticator(mut self, authenticator: impl crate::auth::Authenticator) -> Self {
        self.authenticator = Some(TakeOnce::new(Box::new(authenticator)));
        self
    }

    /// Every session option at once, for what the builder has no method
    /// for (5.0 properties such as authentication method and data).
    pub fn session_config(mut self, edit: impl FnOnce(&mut SessionConfig)) -> Self {
        edit(&mut self.session);
        self
    }

    /// The final session configuration, or the first problem found.
    pub(crate) fn finish(&self) -> Result<(Servers, SessionConfig), Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let addr = self.addr.clone()?;
        let mut connectors = vec![self.connector(addr)?];
        for addr in &self.failover {
            connectors.push(self.connector(addr.clone())?);
        }
        if self.shuffle {
            fastrand::shuffle(&mut connectors);
        }
        let make = self.follow_redirects.then(|| {
            let template = self.clone();
            Box::new(move |addr| template.connector(addr)) as MakeConnector
        });
        let servers = Servers::new(connectors, make);
        let mut session = self.session.clone();
        if let Some(will) = &self.will {
            let topic = TopicName::new(will.topic.as_str())
                .map_err(|e| Error::InvalidOption(format!("will topic {:?}: {e}", will.topic)))?;
            session.will = Some(LastWill {
                topic: topic.into_inner(),
                payload: will.payload.clone(),
                qos: will.qos,
                retain: will.retain,
                properties: will.properties.clone(),
            });
        }
        // `clean_start(false)` asks the broker to keep the session; under
        // 5.0 that takes an expiry, and without one the session would end
        // with the connection. As `mosquitto_sub -c`: never.
        if session.protocol == ProtocolVersion::V5
            && !session.clean_start
            && session.properties.session_expiry_interval.is_none()
        {
            session.properties.session_expiry_interval = Some(u32::MAX);
        }
        if self.store.is_some() {
            if session.client_id.is_empty() && session.protocol != ProtocolVersion::V5 {
                return Err(Error::InvalidOption(
                    "a session store needs a client id under 3.1.1: the broker keeps sessions by client id".into(),
                ));
            }
            if session.protocol == ProtocolVersion::V5
                && session.properties.session_expiry_interval.unwrap_or(0) == 0
            {
                return Err(Error::InvalidOption(
                    "a session store needs session_expiry(...) (or clean_start(false), which keeps the session until the broker expires it) under 5.0: with no expiry the broker forgets the session when the connection drops, and nothing could be resumed".into(),
                ));
            }
            session.clean_start = false;
            session.durable = true;
        }
        if self.authenticator.is_some() && session.protocol != ProtocolVersion::V5 {
            return Err(Error::InvalidOption(
                "enhanced authentication (an authenticator) needs protocol 5.0".into(),
            ));
        }
        if session.protocol != ProtocolVersion::V5 && !session.properties.is_empty() {
            return Err(Error::InvalidOption(
                "5.0 properties (session expiry, receive maximum, user properties, …) need protocol 5.0".into(),
            ));
        }
        if session.client_id.is_empty()
            && !session.clean_start
            && session.protocol != ProtocolVersion::V5
        {
            return Err(Error::InvalidOption(
                "an empty client id needs clean_start(true) under 3.1.1 [MQTT-3.1.3-7]".into(),
            ));
        }
        session.ack_mode = mqtide_proto::AckMode::Manual;
        // A will topic with wildcards, a client id with U+0000, …: refused
        // now rather than at the first CONNECT.
        session.validate().map_err(Error::Usage)?;
        Ok((servers, session))
    }

    #[cfg(feature = "tls")]
    fn connector(&self, addr: ServerAddr) -> Result<Connector, Error> {
        use crate::transport::Scheme;
        let tls = match (addr.scheme, &self.tls) {
            (Scheme::Tls | Scheme::Wss, options) => {
                Some(options.clone().unwrap_or_default().connector(&addr.host)?)
            }
            (_, Some(_)) => {
                return Err(Error::InvalidOption(
                    "TLS options are set but the URL is neither mqtts:// nor wss://".into(),
                ));
            }
            (_, None) => None,
        };
        Ok(Connector {
            addr,
            tls,
            #[cfg(feature = "websocket")]
            ws_headers: self.ws_headers.clone(),
            #[cfg(feature = "proxy")]
            proxy: self.proxy.clone(),
        })
    }

    #[cfg(not(feature = "tls"))]
    fn connector(&self, addr: ServerAddr) -> Result<Connector, Error> {
        Ok(Connector {
            addr,
            #[cfg(feature = "websocket")]
            ws_headers: self.ws_headers.clone(),
            #[cfg(feature = "proxy")]
            proxy: self.proxy.clone(),
        })
    }
}

fn random_client_id() -> String {
    let mut rng = fastrand::Rng::new();
    let suffix: String = (0..12).map(|_| rng.alphanumeric()).collect();
    format!("mqtide-{suffix}")
}
