//! The command-line flags, named as mosquitto_pub and mosquitto_sub name
//! them. `-h` is the host, as there; help is `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mqtide::{ClientBuilder, Error, ProtocolVersion, QoS};

/// An MQTT client for the command line.
#[derive(Debug, Parser)]
#[command(name = "mqtide", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Publish one message (or one per line of standard input), like mosquitto_pub.
    Pub(PubArgs),
    /// Subscribe and print what arrives, like mosquitto_sub.
    Sub(SubArgs),
    /// Load-test a broker (bench pub, bench sub, bench conn), like emqtt-bench.
    Bench(crate::bench::BenchArgs),
}

/// How to reach the broker: the flags both commands share.
#[derive(Debug, Args)]
pub(crate) struct Conn {
    /// Broker host.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    host: String,
    /// Broker port (default 1883, or 8883 with TLS).
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// The broker as a URL (mqtt://, mqtts://, ws://, wss://, unix://), with
    /// user:password; overrides -h and -p.
    #[arg(short = 'L', long = "url")]
    url: Option<String>,
    /// Client identifier (default: a random one).
    #[arg(short = 'i', long = "id")]
    id: Option<String>,
    /// Prefix for a random client identifier.
    #[arg(short = 'I', long = "id-prefix")]
    id_prefix: Option<String>,
    /// User name.
    #[arg(short = 'u', long = "username")]
    username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    password: Option<String>,
    /// Keep-alive in seconds.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    keepalive: u16,
    /// Protocol version: mqttv31, mqttv311 or mqttv5 (also 31, 311, 5).
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv5")]
    version: String,
    /// QoS, 0 to 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    qos: u8,
    /// Print what happens to standard error.
    #[arg(short = 'd', long = "debug")]
    pub(crate) debug: bool,
    /// CA certificates (PEM) to trust; turns TLS on.
    #[arg(long = "cafile")]
    cafile: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --key.
    #[arg(long = "cert", requires = "key")]
    cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long = "key", requires = "cert")]
    key: Option<PathBuf>,
    /// Do not verify the broker's certificate (dangerous).
    #[arg(long = "insecure")]
    insecure: bool,
    /// ALPN protocol to offer (e.g. x-amzn-mqtt-ca).
    #[arg(long = "tls-alpn")]
    alpn: Option<String>,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl Conn {
    pub(crate) fn qos(&self) -> Result<QoS, Error> {
        crate::qos_from(self.qos)
    }

    fn tls(&self) -> bool {
        self.cafile.is_some() || self.cert.is_some() || self.insecure || self.alpn.is_some()
    }

    /// The client builder these flags describe.
    pub(crate) fn builder(&self, default_prefix: &str) -> Result<ClientBuilder, Error> {
        let url = match &self.url {
            Some(url) => url.clone(),
            None => {
                let (scheme, default_port) = if self.tls() {
                    ("mqtts", 8883)
                } else {
                    ("mqtt", 1883)
                };
                format!(
                    "{scheme}://{}:{}",
                    self.host,
                    self.port.unwrap_or(default_port)
                )
            }
        };
        let version = match self.version.as_str() {
            "mqttv31" | "31" => ProtocolVersion::V3_1,
            "mqttv311" | "311" => ProtocolVersion::V3_1_1,
            "mqttv5" | "5" => ProtocolVersion::V5,
            other => {
                return Err(Error::InvalidOption(format!(
                    "-V {other}: use mqttv31, mqttv311 or mqttv5"
                )));
            }
        };
        let mut builder = mqtide::Client::builder(&url)
            .protocol(version)
            .keep_alive(Duration::from_secs(self.keepalive.into()))
            .no_reconnect();
        let id = match (&self.id, &self.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, prefix) => format!(
                "{}-{}",
                prefix.as_deref().unwrap_or(default_prefix),
                std::process::id()
            ),
        };
        builder = builder.client_id(id);
        if let Some(user) = &self.username {
            builder = builder.credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        if self.tls() {
            let mut tls = mqtide::TlsOptions::new();
            if let Some(ca) = &self.cafile {
                tls = tls.ca_file(ca);
            }
            if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
                let read = |p: &PathBuf| {
                    std::fs::read(p)
                        .map_err(|e| Error::InvalidOption(format!("{}: {e}", p.display())))
                };
                tls = tls.client_cert(read(cert)?, read(key)?);
            }
            if let Some(alpn) = &self.alpn {
                tls = tls.alpn([alpn.clone()]);
            }
            if self.insecure {
                tls = tls.dangerous_accept_any_certificate();
            }
            builder = builder.tls(tls);
        }
        Ok(builder)
    }
}

/// `mqtide pub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct PubArgs {
    #[command(flatten)]
    pub(crate) conn: Conn,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic")]
    pub(crate) topic: String,
    /// The message.
    #[arg(short = 'm', long = "message", group = "source")]
    pub(crate) message: Option<String>,
    /// Send this file as the message.
    #[arg(short = 'f', long = "file", group = "source")]
    pub(crate) file: Option<PathBuf>,
    /// Send an empty message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    pub(crate) null: bool,
    /// Send all of standard input as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    pub(crate) stdin: bool,
    /// Send each line of standard input as a message.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    pub(crate) lines: bool,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    pub(crate) retain: bool,
}

/// `mqtide sub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct SubArgs {
    #[command(flatten)]
    pub(crate) conn: Conn,
    /// Topic filter(s) to subscribe to (repeat -t for more).
    #[arg(short = 't', long = "topic", required = true)]
    pub(crate) topics: Vec<String>,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count")]
    pub(crate) count: Option<usize>,
    /// Print the topic before each payload.
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,
    /// No newline after each payload.
    #[arg(short = 'N')]
    pub(crate) no_newline: bool,
    /// Exit (with code 27) after this many seconds.
    #[arg(short = 'W', long = "timeout")]
    pub(crate) timeout: Option<u64>,
    /// Keep the session (clean session / clean start off).
    #[arg(short = 'c', long = "disable-clean-session")]
    pub(crate) no_clean: bool,
    /// 5.0 session expiry in seconds.
    #[arg(short = 'x', long = "session-expiry-interval")]
    pub(crate) session_expiry: Option<u64>,
    /// Do not print messages on topics matching this filter.
    #[arg(short = 'T', long = "filter-out")]
    pub(crate) filter_out: Vec<String>,
    /// Do not print retained messages.
    #[arg(short = 'R', long = "no-retained")]
    pub(crate) no_retained: bool,
}
