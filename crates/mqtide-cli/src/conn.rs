//! The flags `mqtide pub` and `mqtide sub` share: where the broker is, who
//! we are, TLS, the will, the session and 5.0 properties; and the client
//! builder they describe.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use mqtide::proto::Secret;
use mqtide::{ClientBuilder, Error, ProtocolVersion, QoS, Will};

use crate::properties::Properties;

/// How long the first connection may take (transport, TLS, CONNACK).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the broker, and how to connect.
#[derive(Debug, Args)]
pub(crate) struct Conn {
    /// Broker host.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    host: String,
    /// Broker port (default 1883, or 8883 with TLS).
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// The broker as a URL: mqtt://, mqtts://, ws://, wss:// or unix://,
    /// with user:password@ if needed; replaces -h and -p. For mqtt:// and
    /// mqtts://, a path is the topic (mqtt://host/a/b publishes to or
    /// subscribes to a/b); for ws:// and wss:// it is the WebSocket path.
    #[arg(short = 'L', long = "url", conflicts_with_all = ["host", "port"])]
    url: Option<String>,
    /// Connect through this Unix domain socket instead of TCP (Mosquitto:
    /// `listener 0 /path/to/socket`); replaces -h, -p and -L.
    #[arg(long = "unix", conflicts_with_all = ["host", "port", "url"])]
    unix: Option<PathBuf>,
    /// Connect through a SOCKS5 proxy:
    /// socks5h://[user[:password]@]host[:port] (port 1080 by default; the
    /// proxy resolves the broker's name; %25, %3A and %40 in the user or
    /// password stand for %, : and @).
    #[arg(long = "proxy", conflicts_with = "unix")]
    proxy: Option<String>,
    /// Bind the outgoing connection to this local address: not supported
    /// (the library has no option for it); refused with an explanation.
    #[arg(short = 'A', value_name = "ADDRESS")]
    bind_address: Option<String>,
    /// Disable Nagle's algorithm: accepted for mosquitto's sake; mqtide
    /// always sets TCP_NODELAY on its TCP connections.
    #[arg(long = "nodelay")]
    nodelay: bool,
    /// Print no runtime errors (errors in the command line still print).
    #[arg(long = "quiet")]
    pub(crate) quiet: bool,
    /// Client identifier (default: mqtide-pub-PID or mqtide-sub-PID).
    #[arg(short = 'i', long = "id", conflicts_with = "id_prefix")]
    id: Option<String>,
    /// Client identifier prefix, followed by the process id.
    #[arg(short = 'I', long = "id-prefix")]
    id_prefix: Option<String>,
    /// User name.
    #[arg(short = 'u', long = "username")]
    username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    password: Option<String>,
    /// Keep-alive in seconds (0: none).
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    keepalive: u16,
    /// Protocol version: mqttv31, mqttv311 or mqttv5 (also 31, 311, 5).
    /// mosquitto defaults to mqttv311.
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv5")]
    version: String,
    /// QoS, 0 to 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    qos: u8,
    /// Keep the session: clean session (3.1.1) / clean start (5.0) off;
    /// under 5.0 the session then never expires unless -x says otherwise.
    /// Needs -i.
    #[arg(short = 'c', long = "disable-clean-session")]
    pub(crate) keep_session: bool,
    /// 5.0 session expiry interval in seconds; -1, 4294967295 or ∞ for
    /// never.
    #[arg(
        short = 'x',
        long = "session-expiry-interval",
        allow_hyphen_values = true
    )]
    session_expiry: Option<String>,
    /// Print what happens to standard error.
    #[arg(short = 'd', long = "debug")]
    pub(crate) debug: bool,
    /// CA certificates (PEM) to trust instead of the system's; turns TLS on.
    #[arg(long = "cafile")]
    cafile: Option<PathBuf>,
    /// A directory of CA certificates (PEM files named *.crt or *.pem) to
    /// trust; turns TLS on.
    #[arg(long = "capath")]
    capath: Option<PathBuf>,
    /// Turn TLS on, trusting the system's CA certificates.
    #[arg(long = "tls-use-os-certs")]
    os_certs: bool,
    /// Client certificate (PEM) for mutual TLS; needs --key.
    #[arg(long = "cert", requires = "key")]
    cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long = "key", requires = "cert")]
    key: Option<PathBuf>,
    /// Do not check that the broker's certificate was issued for the host
    /// connected to; the certificate must still be signed by a trusted CA
    /// and be in date, as with mosquitto's --insecure. For test brokers.
    #[arg(long = "insecure")]
    insecure: bool,
    /// ALPN protocol to offer (e.g. x-amzn-mqtt-ca).
    #[arg(long = "tls-alpn")]
    alpn: Option<String>,
    /// The topic of the will, which the broker publishes if the connection
    /// dies without a DISCONNECT.
    #[arg(long = "will-topic")]
    will_topic: Option<String>,
    /// The will's payload (default empty).
    #[arg(long = "will-payload", requires = "will_topic")]
    will_payload: Option<String>,
    /// The will's QoS.
    #[arg(long = "will-qos", requires = "will_topic", default_value_t = 0)]
    will_qos: u8,
    /// Retain the will.
    #[arg(long = "will-retain", requires = "will_topic")]
    will_retain: bool,
    /// A 5.0 property: -D COMMAND NAME VALUE, or -D COMMAND user-property
    /// NAME VALUE (e.g. -D publish content-type text/plain, -D connect
    /// session-expiry-interval 60). Commands: connect, publish (pub),
    /// subscribe (sub), unsubscribe (sub), disconnect, will.
    #[arg(
        short = 'D',
        long = "property",
        num_args = 3..=4,
        value_names = ["COMMAND", "NAME", "VALUE"]
    )]
    properties: Vec<String>,
    /// The words of each -D, grouped by occurrence (clap's derive flattens
    /// them into `properties`); see [`Conn::group_properties`].
    #[arg(skip)]
    pub(crate) property_groups: Vec<Vec<String>>,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// Where to connect, from -h/-p or -L.
pub(crate) struct Target {
    pub(crate) url: String,
    /// The topic an mqtt:// or mqtts:// URL carried as its path.
    pub(crate) topic: Option<String>,
}

impl Conn {
    /// Takes the words of each `-D` from the matches of this command.
    pub(crate) fn group_properties(&mut self, matches: &clap::ArgMatches) {
        if let Some(occurrences) = matches.get_occurrences::<String>("properties") {
            self.property_groups = occurrences.map(|words| words.cloned().collect()).collect();
        }
    }

    pub(crate) fn qos(&self) -> Result<QoS, Error> {
        crate::qos_from(self.qos)
    }

    pub(crate) fn version(&self) -> Result<ProtocolVersion, Error> {
        match self.version.as_str() {
            "mqttv31" | "31" => Ok(ProtocolVersion::V3_1),
            "mqttv311" | "311" => Ok(ProtocolVersion::V3_1_1),
            "mqttv5" | "5" => Ok(ProtocolVersion::V5),
            other => Err(invalid(format!(
                "-V {other}: use mqttv31, mqttv311 or mqttv5"
            ))),
        }
    }

    fn tls(&self) -> bool {
        self.cafile.is_some()
            || self.capath.is_some()
            || self.os_certs
            || self.cert.is_some()
            || self.insecure
            || self.alpn.is_some()
    }

    /// The URL to connect to, and the topic an mqtt(s):// URL names.
    pub(crate) fn target(&self) -> Target {
        if let Some(path) = &self.unix {
            // The library takes unix:///absolute/path; mosquitto takes a
            // relative path too.
            let path = std::env::current_dir()
                .map(|dir| dir.join(path))
                .unwrap_or_else(|_| path.clone());
            return Target {
                url: format!("unix://{}", path.display()),
                topic: None,
            };
        }
        let Some(url) = &self.url else {
            let (scheme, default_port) = if self.tls() {
                ("mqtts", 8883)
            } else {
                ("mqtt", 1883)
            };
            let host = if self.host.contains(':') {
                format!("[{}]", self.host)
            } else {
                self.host.clone()
            };
            return Target {
                url: format!("{scheme}://{host}:{}", self.port.unwrap_or(default_port)),
                topic: None,
            };
        };
        // mosquitto's -L: everything after the host's first `/` is the
        // topic, as written (`#` and `+` included, no percent-decoding).
        for scheme in ["mqtt://", "mqtts://"] {
            let Some(rest) = strip_prefix_ignore_case(url, scheme) else {
                continue;
            };
            if let Some((authority, topic)) = rest.split_once('/') {
                return Target {
                    url: format!("{scheme}{authority}"),
                    topic: (!topic.is_empty()).then(|| topic.to_owned()),
                };
            }
        }
        Target {
            url: url.clone(),
            topic: None,
        }
    }

    /// The client builder these flags describe, with the `-D` properties
    /// that go into CONNECT and the will.
    pub(crate) fn builder(
        &self,
        default_prefix: &str,
        properties: &Properties,
    ) -> Result<ClientBuilder, Error> {
        let version = self.version()?;
        let v5 = version == ProtocolVersion::V5;
        if properties.any && !v5 {
            return Err(invalid(
                "-D sets MQTT 5.0 properties: use -V mqttv5 (the default)",
            ));
        }
        if properties.any_will && self.will_topic.is_none() {
            return Err(invalid("-D will ... needs --will-topic"));
        }
        let expiry = match &self.session_expiry {
            Some(_) if !v5 => return Err(invalid("-x needs MQTT 5.0 (-V mqttv5)")),
            Some(text) => Some(parse_expiry(text)?),
            None => properties.connect.session_expiry_interval,
        };
        // -c alone keeps the 5.0 session for good, as mosquitto does.
        let expiry = expiry.or((self.keep_session && v5).then_some(u32::MAX));
        if self.id.is_none() && (self.keep_session || expiry == Some(u32::MAX)) {
            return Err(invalid(
                "a kept session (-c) or one that never expires (-x -1) needs a client id (-i): the broker finds the session by it",
            ));
        }
        if self.password.is_some() && self.username.is_none() && !v5 {
            return Err(invalid(
                "-P without -u: MQTT 3.1.1 sends a password only with a user name",
            ));
        }
        if let Some(address) = &self.bind_address {
            return Err(invalid(format!(
                "-A {address}: binding the outgoing connection to a local address is not supported: the mqtide library opens its sockets itself and has no option for it. Let the routing table choose the interface (ip route get BROKER shows which), or use mosquitto_pub/mosquitto_sub for this"
            )));
        }
        let target = self.target();
        let mut builder = mqtide::Client::builder(&target.url)
            .protocol(version)
            .keep_alive(Duration::from_secs(self.keepalive.into()))
            .connect_timeout(CONNECT_TIMEOUT)
            .clean_start(!self.keep_session);
        let id = match (&self.id, &self.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            (None, None) => format!("{default_prefix}-{}", std::process::id()),
        };
        builder = builder.client_id(id);
        if let Some(expiry) = expiry {
            builder = builder.session_expiry(Duration::from_secs(expiry.into()));
        }
        builder = connect_properties(builder, properties);
        match (&self.username, &self.password) {
            (Some(user), password) => {
                builder = builder.credentials(user.clone(), password.clone().unwrap_or_default());
            }
            (None, Some(password)) => {
                let secret = Secret::new(password.clone().into_bytes());
                builder = builder.session_config(|c| c.password = Some(secret));
            }
            (None, None) => {}
        }
        if let Some(topic) = &self.will_topic {
            let will = Will::new(topic.clone(), self.will_payload.clone().unwrap_or_default())
                .qos(crate::qos_from(self.will_qos).map_err(|_| {
                    invalid(format!(
                        "--will-qos {}: QoS must be 0, 1 or 2",
                        self.will_qos
                    ))
                })?)
                .retain(self.will_retain)
                .properties(properties.will.clone());
            builder = builder.will(will);
        }
        if self.tls() {
            builder = builder.tls(self.tls_options()?);
        }
        if let Some(url) = &self.proxy {
            builder = builder.proxy(parse_proxy(url)?);
        }
        // `--nodelay` needs nothing: the library sets TCP_NODELAY on every
        // TCP connection (a QoS 1 round trip would otherwise wait on
        // delayed ACKs), and a Unix socket has no Nagle to turn off.
        let _ = self.nodelay;
        Ok(builder)
    }

    fn tls_options(&self) -> Result<mqtide::TlsOptions, Error> {
        let mut tls = mqtide::TlsOptions::new();
        let mut roots = Vec::new();
        if let Some(file) = &self.cafile {
            roots.extend(read(file)?);
            roots.push(b'\n');
        }
        if let Some(dir) = &self.capath {
            roots.extend(read_ca_dir(dir)?);
        }
        if !roots.is_empty() {
            tls = tls.ca_pem(roots);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls.client_cert(read(cert)?, read(key)?);
        }
        if let Some(alpn) = &self.alpn {
            tls = tls.alpn([alpn.clone()]);
        }
        if self.insecure {
            // mosquitto's --insecure: every check but the host name.
            tls = tls.dangerous_skip_hostname_verification();
        }
        Ok(tls)
    }
}

/// `-D connect ...` onto the builder (session expiry was taken with -x).
fn connect_properties(mut builder: ClientBuilder, properties: &Properties) -> ClientBuilder {
    let p = &properties.connect;
    if let Some(max) = p.receive_maximum {
        builder = builder.receive_maximum(max.get());
    }
    if let Some(max) = p.maximum_packet_size {
        builder = builder.max_packet_size(max.get());
    }
    if let Some(max) = p.topic_alias_maximum {
        builder = builder.topic_alias_maximum(max);
    }
    if let Some(ask) = p.request_response_information {
        builder = builder.request_response_information(ask);
    }
    if let Some(ask) = p.request_problem_information {
        builder = builder.session_config(|c| c.properties.request_problem_information = Some(ask));
    }
    for (name, value) in &p.user_properties {
        builder = builder.user_property(name.to_string(), value.to_string());
    }
    builder
}

/// `--proxy socks5h://[user[:password]@]host[:port]`, as mosquitto takes
/// it: SOCKS5 only, port 1080 by default, `%25`, `%3A` and `%40` decoded
/// in the user name and password.
fn parse_proxy(url: &str) -> Result<mqtide::Proxy, Error> {
    let usage = |why: &str| {
        invalid(format!(
            "--proxy {}: {why}; write socks5h://[user[:password]@]host[:port]",
            crate::redact(url)
        ))
    };
    let Some(rest) = strip_prefix_ignore_case(url, "socks5h://") else {
        return Err(usage(
            "only SOCKS5 with the proxy resolving names (socks5h://) is supported, as in mosquitto",
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((credentials, address)) => (Some(credentials), address),
        None => (None, rest),
    };
    let (host, port) = match address.rsplit_once(':') {
        // An IPv6 address is written in brackets.
        Some((host, port)) if !port.contains(']') => (
            host,
            port.parse::<u16>()
                .map_err(|_| usage(&format!("{port:?} is not a port")))?,
        ),
        _ => (address, 1080),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(usage("no proxy host"));
    }
    let mut proxy = mqtide::Proxy::socks5(host, port);
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        proxy = proxy.credentials(url_decode(user), url_decode(password));
    }
    Ok(proxy)
}

/// The three escapes mosquitto decodes in a proxy's user name and password.
fn url_decode(text: &str) -> String {
    text.replace("%3A", ":")
        .replace("%3a", ":")
        .replace("%40", "@")
        .replace("%25", "%")
}

/// `-x`: seconds, or -1, 4294967295 or ∞ for never.
fn parse_expiry(text: &str) -> Result<u32, Error> {
    match text {
        "∞" | "-1" => Ok(u32::MAX),
        _ => text.parse().map_err(|_| {
            invalid(format!(
                "-x {text}: give seconds from 0 to 4294967295, or -1 (never expires)"
            ))
        }),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// Every `*.crt` and `*.pem` file of a `--capath` directory, concatenated.
fn read_ca_dir(dir: &Path) -> Result<Vec<u8>, Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| invalid(format!("--capath {}: {e}", dir.display())))?;
    let mut pem = Vec::new();
    let mut files = 0;
    for entry in entries {
        let path = entry
            .map_err(|e| invalid(format!("--capath {}: {e}", dir.display())))?
            .path();
        let is_cert = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("crt") || ext.eq_ignore_ascii_case("pem"));
        if is_cert && path.is_file() {
            pem.extend(read(&path)?);
            pem.push(b'\n');
            files += 1;
        }
    }
    if files == 0 {
        return Err(invalid(format!(
            "--capath {}: no *.crt or *.pem file in it",
            dir.display()
        )));
    }
    Ok(pem)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidOption(message.into())
}
