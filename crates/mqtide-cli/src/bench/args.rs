//! The flags of `mqtide bench pub|sub|conn`. A letter that `mqtide pub`
//! and `mqtide sub` (and so mosquitto_pub and mosquitto_sub) use means the
//! same here: `-h` host, `-p` port, `-L` the broker URL, `-I` the client id
//! prefix, `-C` how many messages, `-q`, `-t`, `-u`, `-P`, `-k`, `-V`.
//! Otherwise the letter is emqtt-bench's (`-c` clients, `-s` size). The
//! pauses have long names only (`--interval`, `--connect-interval`):
//! emqtt-bench's `-I` and `-i` for them, and `-L` for the limit, meant
//! other things in `pub`/`sub` and were given up. Help is `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use mqtide::{ClientBuilder, Error, ProtocolVersion, QoS};

use super::payload::HEADER_LEN;

/// `mqtide bench`: load-test a broker.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    pub(crate) command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Publish from many clients at a set rate (or as fast as the broker
    /// takes it); with --sub, also subscribe and measure loss and latency
    /// end to end.
    Pub(PubBench),
    /// Subscribe from many clients and measure what arrives: rate, latency
    /// (from the timestamps `bench pub` puts in its payloads) and gaps.
    Sub(SubBench),
    /// Open many connections and measure how long each takes.
    Conn(ConnBench),
}

/// How every bench client reaches the broker.
#[derive(Debug, Args)]
pub(crate) struct BenchConn {
    /// Broker host.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    host: String,
    /// Broker port (default 1883, or 8883 with TLS).
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// The broker as a URL (mqtt://, mqtts://, ws://, wss://, unix://);
    /// overrides -h and -p.
    #[arg(short = 'L', long = "url")]
    url: Option<String>,
    /// Protocol version: mqttv31, mqttv311 or mqttv5 (also 31, 311, 5, and
    /// emqtt-bench's 3, 4, 5).
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv5")]
    version: String,
    /// User name (for every client).
    #[arg(short = 'u', long = "username")]
    pub(crate) username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "password", visible_alias = "pw")]
    password: Option<String>,
    /// Keep-alive in seconds.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    keepalive: u16,
    /// Client identifier prefix: clients are named PREFIX-ROLEINDEX-RUN
    /// (mqtide-bench-pub1-0badcafe).
    #[arg(
        short = 'I',
        long = "prefix",
        visible_alias = "id-prefix",
        default_value = "mqtide-bench"
    )]
    pub(crate) prefix: String,
    /// Milliseconds between starting two connections (0: all at once).
    /// Many at once can overflow the broker's listen backlog: see the
    /// summary's note.
    #[arg(long = "connect-interval", default_value_t = 0)]
    pub(crate) connect_interval: u64,
    /// QoS 1/2 messages in flight per client under 3.1/3.1.1 (5.0 uses the
    /// broker's Receive Maximum).
    #[arg(long = "inflight")]
    inflight: Option<u16>,
    /// CA certificates (PEM) to trust; turns TLS on.
    #[arg(long = "cafile")]
    cafile: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --key.
    #[arg(long = "cert", requires = "key")]
    cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long = "key", requires = "cert")]
    key: Option<PathBuf>,
    /// Do not check that the broker's certificate was issued for the host
    /// connected to (its CA and dates are still checked), as mosquitto's
    /// --insecure.
    #[arg(long = "insecure")]
    insecure: bool,
    /// ALPN protocol to offer.
    #[arg(long = "tls-alpn")]
    alpn: Option<String>,
    /// Print the summary as one JSON object instead of text.
    #[arg(long = "json")]
    pub(crate) json: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl BenchConn {
    fn tls(&self) -> bool {
        self.cafile.is_some() || self.cert.is_some() || self.insecure || self.alpn.is_some()
    }

    /// The broker URL these flags name.
    pub(crate) fn url(&self) -> String {
        match &self.url {
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
        }
    }

    /// The protocol version from `-V`.
    pub(crate) fn protocol(&self) -> Result<ProtocolVersion, Error> {
        match self.version.as_str() {
            "mqttv31" | "31" | "3" => Ok(ProtocolVersion::V3_1),
            "mqttv311" | "311" | "4" => Ok(ProtocolVersion::V3_1_1),
            "mqttv5" | "5" => Ok(ProtocolVersion::V5),
            other => Err(Error::InvalidOption(format!(
                "-V {other}: use mqttv31, mqttv311 or mqttv5"
            ))),
        }
    }

    /// A builder for one bench client; clone it and set the client id per
    /// client. Problems (a bad URL, an unreadable certificate) show here,
    /// before any connection is tried.
    pub(crate) fn builder(&self) -> Result<ClientBuilder, Error> {
        if let Some(url) = &self.url
            && url.parse::<u64>().is_ok()
        {
            return Err(Error::InvalidOption(format!(
                "-L {url}: -L is the broker URL, as in mqtide pub and sub; the number of messages per client is -C (or --limit)"
            )));
        }
        let mut builder = mqtide::Client::builder(&self.url())
            .protocol(self.protocol()?)
            .keep_alive(Duration::from_secs(self.keepalive.into()))
            // A reconnecting client would hide the failures a load test is
            // there to find, and skew its figures.
            .no_reconnect();
        if let Some(window) = self.inflight {
            builder = builder.inflight(window);
        }
        if let Some(user) = &self.username {
            builder = builder.credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        if self.tls() {
            builder = builder.tls(self.tls_options()?);
        }
        Ok(builder)
    }

    fn tls_options(&self) -> Result<mqtide::TlsOptions, Error> {
        let mut tls = mqtide::TlsOptions::new();
        if let Some(ca) = &self.cafile {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            let read = |p: &PathBuf| {
                std::fs::read(p).map_err(|e| Error::InvalidOption(format!("{}: {e}", p.display())))
            };
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

/// `mqtide bench pub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct PubBench {
    #[command(flatten)]
    pub(crate) conn: BenchConn,
    /// Number of publishing clients.
    #[arg(short = 'c', long = "count", default_value_t = 1)]
    pub(crate) clients: u32,
    /// Milliseconds between two messages of one client (default: no pause,
    /// as fast as the broker takes them).
    #[arg(long = "interval", conflicts_with = "rate")]
    pub(crate) interval: Option<f64>,
    /// Messages per second per client (default: as fast as the broker
    /// takes them).
    #[arg(long = "rate")]
    pub(crate) rate: Option<f64>,
    /// QoS, 0 to 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    pub(crate) qos: u8,
    /// Payload size in bytes (at least 28: the bench header).
    #[arg(short = 's', long = "size", default_value_t = 256)]
    pub(crate) size: usize,
    /// Topic; %i is the client's number (1, 2, …), %c its client id, %u
    /// the user name, %% a percent sign.
    #[arg(short = 't', long = "topic", default_value = "mqtide/bench/%i")]
    pub(crate) topic: String,
    /// Messages per client, then stop (mosquitto_sub's -C).
    #[arg(short = 'C', long = "limit")]
    pub(crate) limit: Option<u64>,
    /// Publish for this long (10, 10s, 500ms, 2m), then stop.
    #[arg(long = "duration", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Messages one client may have handed over and not yet seen
    /// acknowledged (QoS 1/2) or written to the socket (QoS 0); beyond
    /// that it waits. Keep it above the broker's in-flight window, or the
    /// window is not kept full.
    #[arg(long = "pending", default_value_t = 100)]
    pub(crate) pending: usize,
    /// Also run one subscriber in this process, to measure loss and
    /// latency end to end.
    #[arg(long = "sub")]
    pub(crate) sub: bool,
    /// Run this many subscribers in this process (implies --sub); each
    /// receives every message.
    #[arg(long = "sub-clients")]
    pub(crate) sub_clients: Option<u32>,
    /// The subscribers' filter (default: the topic with every level that
    /// holds a %-variable replaced by +).
    #[arg(long = "sub-topic")]
    pub(crate) sub_topic: Option<String>,
    /// After publishing, how long the subscribers may stay silent before the
    /// messages still missing count as lost.
    #[arg(long = "wait", value_parser = parse_duration, default_value = "2s")]
    pub(crate) wait: Duration,
}

impl PubBench {
    /// The QoS from `-q`.
    pub(crate) fn qos(&self) -> Result<QoS, Error> {
        crate::qos_from(self.qos)
    }

    /// How many subscribers to run in this process.
    pub(crate) fn subscribers(&self) -> u32 {
        match self.sub_clients {
            Some(n) => n,
            None => u32::from(self.sub),
        }
    }

    /// The pause between two messages of one client, if paced.
    pub(crate) fn period(&self) -> Result<Option<Duration>, Error> {
        let per_second = if let Some(ms) = self.interval {
            if !ms.is_finite() || ms < 0.0 {
                return Err(Error::InvalidOption(format!(
                    "-I {ms}: give the pause between two messages in milliseconds, 0 or more"
                )));
            }
            if ms == 0.0 {
                return Ok(None);
            }
            1000.0 / ms
        } else if let Some(rate) = self.rate {
            if !rate.is_finite() || rate <= 0.0 {
                return Err(Error::InvalidOption(format!(
                    "--rate {rate}: give messages per second per client, above 0 (leave it out for no limit)"
                )));
            }
            rate
        } else {
            return Ok(None);
        };
        Duration::try_from_secs_f64(1.0 / per_second)
            .map(Some)
            .map_err(|e| Error::InvalidOption(format!("message rate: {e}")))
    }

    /// Checks what clap cannot: sizes, counts and the QoS.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.qos()?;
        self.period()?;
        check_clients(self.clients)?;
        if self.size < HEADER_LEN {
            return Err(Error::InvalidOption(format!(
                "-s {}: the payload must hold the {HEADER_LEN}-byte bench header (sequence number and send time); use -s {HEADER_LEN} or more",
                self.size
            )));
        }
        // MQTT's receive maximum tops out at 65,535: a larger window would
        // only queue inside the client.
        if !(1..=65_536).contains(&self.pending) {
            return Err(Error::InvalidOption(format!(
                "--pending {}: give 1 to 65536 messages per client",
                self.pending
            )));
        }
        if self.limit == Some(0) {
            return Err(Error::InvalidOption(
                "-L 0: give at least one message per client, or leave -L out to publish until --duration or Ctrl-C".into(),
            ));
        }
        Ok(())
    }
}

/// `mqtide bench sub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct SubBench {
    #[command(flatten)]
    pub(crate) conn: BenchConn,
    /// Number of subscribing clients.
    #[arg(short = 'c', long = "count", default_value_t = 1)]
    pub(crate) clients: u32,
    /// QoS of the subscriptions, 0 to 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    pub(crate) qos: u8,
    /// Topic filter; %i, %c, %u and %% as for `bench pub`.
    #[arg(short = 't', long = "topic", default_value = "mqtide/bench/#")]
    pub(crate) topic: String,
    /// Messages per client, then stop (mosquitto_sub's -C).
    #[arg(short = 'C', long = "limit")]
    pub(crate) limit: Option<u64>,
    /// Stop after this long (10, 10s, 500ms, 2m).
    #[arg(long = "duration", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
}

impl SubBench {
    /// Checks what clap cannot.
    pub(crate) fn validate(&self) -> Result<QoS, Error> {
        check_clients(self.clients)?;
        if self.limit == Some(0) {
            return Err(Error::InvalidOption(
                "-L 0: give at least one message per client, or leave -L out".into(),
            ));
        }
        crate::qos_from(self.qos)
    }
}

/// `mqtide bench conn`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct ConnBench {
    #[command(flatten)]
    pub(crate) conn: BenchConn,
    /// Number of connections.
    #[arg(short = 'c', long = "count", default_value_t = 1)]
    pub(crate) clients: u32,
    /// Keep the connections open this long (10, 10s, 2m) before
    /// disconnecting (default: disconnect once all are up).
    #[arg(long = "duration", value_parser = parse_duration, conflicts_with = "hold")]
    pub(crate) duration: Option<Duration>,
    /// Keep the connections open until Ctrl-C.
    #[arg(long = "hold")]
    pub(crate) hold: bool,
}

impl ConnBench {
    /// Checks what clap cannot.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        check_clients(self.clients)
    }
}

fn check_clients(clients: u32) -> Result<(), Error> {
    if clients == 0 {
        return Err(Error::InvalidOption(
            "-c 0: give at least one client".into(),
        ));
    }
    Ok(())
}

/// A duration as people type it: `10` or `10s` (seconds), `1.5s`, `500ms`,
/// `2m`, `1h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write 10, 10s, 500ms, 2m or 1h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_as_people_type_them() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("").is_err());
    }
}
