//! The command line, named as mosquitto_pub and mosquitto_sub name their
//! flags. `-h` is the host, as there; help is `--help`. The flags both
//! commands share are in [`crate::conn`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::conn::Conn;

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

/// `mqtide pub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct PubArgs {
    #[command(flatten)]
    pub(crate) conn: Conn,
    /// Topic to publish to (or the path of an mqtt:// URL given with -L).
    #[arg(short = 't', long = "topic")]
    pub(crate) topic: Option<String>,
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
    /// Send each line of standard input as a message (without its newline).
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    pub(crate) lines: bool,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    pub(crate) retain: bool,
    /// Publish the message (-m, -f, -s or -n) this many times in all, each
    /// once the one before was delivered (sent at QoS 0, acknowledged at
    /// QoS 1 and 2).
    #[arg(long = "repeat", value_name = "COUNT", conflicts_with = "lines",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) repeat: Option<u32>,
    /// With --repeat, wait this many seconds (a fraction is fine) after one
    /// message was delivered before publishing the next.
    #[arg(long = "repeat-delay", value_name = "SECONDS", requires = "repeat")]
    pub(crate) repeat_delay: Option<f64>,
    /// At most this many QoS 1/2 messages in flight (unacknowledged) at
    /// once; mosquitto's default is 20, as is the library's.
    #[arg(short = 'M', value_name = "MAX_INFLIGHT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) max_inflight: Option<u16>,
}

/// `mqtide sub`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct SubArgs {
    #[command(flatten)]
    pub(crate) conn: Conn,
    /// Topic filter to subscribe to (repeat -t for more).
    #[arg(short = 't', long = "topic")]
    pub(crate) topics: Vec<String>,
    /// Unsubscribe from this filter after subscribing (repeat for more);
    /// useful with -c to remove a subscription from a kept session. Without
    /// -t, exit once the broker has acknowledged it.
    #[arg(short = 'U', long = "unsubscribe")]
    pub(crate) unsubscribe: Vec<String>,
    /// Exit after this many messages (those -R and -T skip do not count).
    #[arg(short = 'C', long = "count")]
    pub(crate) count: Option<usize>,
    /// Print the topic, a space, then the payload.
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,
    /// No newline after each message.
    #[arg(short = 'N')]
    pub(crate) no_newline: bool,
    /// Print each message in this format (see the README: %t topic, %p
    /// payload, %j JSON, ...); replaces -v.
    #[arg(short = 'F', long = "format")]
    pub(crate) format: Option<String>,
    /// Exit with code 27 after this many seconds from connecting.
    #[arg(short = 'W', long = "timeout", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: Option<u64>,
    /// Exit once the subscriptions (and -U) are acknowledged.
    #[arg(short = 'E')]
    pub(crate) exit_after_subscribe: bool,
    /// Do not print messages on topics matching this filter (repeatable).
    #[arg(short = 'T', long = "filter-out")]
    pub(crate) filter_out: Vec<String>,
    /// Do not print retained messages.
    #[arg(short = 'R', long = "no-retained")]
    pub(crate) no_retained: bool,
    /// Print only retained messages, and exit at the first one that is
    /// not retained.
    #[arg(long = "retained-only", conflicts_with = "no_retained")]
    pub(crate) retained_only: bool,
    /// Clear every retained message received (not those -T filters out;
    /// -R does not stop it): publish an empty retained message, at QoS 1,
    /// to its topic. mqtide waits for those to be acknowledged before it
    /// exits.
    #[arg(long = "remove-retained")]
    pub(crate) remove_retained: bool,
    /// Print the JSON of -F %j and %J indented, as mosquitto_sub does.
    #[arg(long = "pretty", requires = "format")]
    pub(crate) pretty: bool,
}
