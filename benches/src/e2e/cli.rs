//! Command-line options, and the hidden subcommands the benchmark runs in
//! child processes of itself.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::clients::Client;

/// The libraries of a full run: with the `metrics` feature, mqtide with
/// metrics too (throughput and CPU rows beside the plain client's).
const DEFAULT_LIBS: &str = if cfg!(feature = "metrics") {
    "mqtide,rumqttc,mqtt5,mqtide-metrics"
} else {
    "mqtide,rumqttc,mqtt5"
};

/// End-to-end benchmark: mqtide, rumqttc and mqtt5 side by side through a
/// private Mosquitto. Writes PERFORMANCE.md and performance.json.
#[derive(Debug, Parser)]
#[command(name = "e2e")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) child: Option<ChildCommand>,
    #[command(flatten)]
    pub(crate) options: Options,
}

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Workload {
    /// Publisher → subscriber at each QoS and payload, and the raw ceiling.
    Throughput,
    /// Request / response round trips through the broker.
    Latency,
    /// Connect, CONNACK, disconnect: one after another and all at once.
    Connect,
    /// CPU time per delivered message and peak RSS, in child processes.
    Cpu,
    /// RSS per idle connection (1 000 and 10 000), in child processes.
    Memory,
}

#[derive(Debug, Args)]
pub(crate) struct Options {
    /// A run of about a minute: a fifth of the messages, one measured
    /// round, 1 000 idle connections only.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Measured rounds of each workload [default: 3, or 1 with --quick].
    #[arg(long)]
    pub(crate) rounds: Option<usize>,
    /// Workloads to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,connect,cpu,memory"
    )]
    pub(crate) workloads: Vec<Workload>,
    /// Client libraries to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_LIBS)]
    pub(crate) libs: Vec<Client>,
    /// QoS levels of the throughput and latency workloads.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub(crate) qos: Vec<u8>,
    /// Payload sizes in bytes of the throughput workload (at least 8).
    #[arg(long, value_delimiter = ',', default_value = "16,256,4096")]
    pub(crate) payloads: Vec<usize>,
    /// Multiplies every message count (after --quick).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) scale: f64,
    /// Idle connection counts of the memory workload [default: 1000,10000,
    /// or 1000 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub(crate) connections: Option<Vec<usize>>,
    /// Directory for PERFORMANCE.md and performance.json [default: docs/
    /// of the workspace for a full run, target/e2e/ otherwise].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// Runs in a child process, prints one JSON line.
#[derive(Debug, Subcommand)]
pub(crate) enum ChildCommand {
    /// Opens idle connections and reports RSS before and after.
    #[command(name = "__idle", hide = true)]
    Idle {
        #[arg(long)]
        client: Client,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        port: u16,
    },
    /// One publisher → subscriber run; reports CPU time and peak RSS.
    #[command(name = "__publish", hide = true)]
    Publish {
        #[arg(long)]
        client: Client,
        #[arg(long)]
        qos: u8,
        #[arg(long)]
        payload: usize,
        #[arg(long)]
        count: u64,
        #[arg(long)]
        port: u16,
    },
}
