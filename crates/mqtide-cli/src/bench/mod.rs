//! `mqtide bench`: a load generator in the spirit of emqtt-bench.
//!
//! - `bench pub` connects `-c` clients and has each publish `-s`-byte
//!   messages to its topic (`-t`, with `%i` for the client's number), paced
//!   by `--interval`/`--rate` or as fast as the broker takes them, for `-C`
//!   messages or `--duration`. Publishes are pipelined (`send()`, with the
//!   acknowledgements collected by a task of their own), so at QoS 1/2 the
//!   broker's in-flight window, not a round trip per message, sets the pace.
//!   With `--sub` it also runs subscribers in the same process and reports
//!   loss and end-to-end latency.
//! - `bench sub` connects `-c` subscribers and measures what arrives; the
//!   header `bench pub` puts in every payload (see [`payload`]) gives the
//!   latency and the gaps, even when the publishers run elsewhere.
//! - `bench conn` opens `-c` connections and measures how long each took.
//!
//! Each client has its own event-loop task and its own publishing or
//! receiving task, spread over the multi-thread runtime. A progress line
//! shows on standard error when it is a terminal; the summary goes to
//! standard output, as text or (`--json`) as one JSON object. The exit code
//! is 0 when every connection and every publish succeeded and no message
//! was lost, 1 when a connection or a publish failed, 3 when only messages
//! were lost. Loss is explained from the broker's own counters where it
//! has them (see [`broker`]): a broker that discards what a slow
//! subscriber cannot take is told apart from loss elsewhere.

mod args;
mod broker;
mod conn;
pub(crate) mod payload;
mod progress;
mod publisher;
mod report;
mod stats;
mod subscriber;
mod topic;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mqtide::{Error, ProtocolVersion};
use tokio::sync::watch;

pub(crate) use args::BenchArgs;
use args::BenchCommand;

/// Runs one `mqtide bench` subcommand.
pub(crate) async fn run(args: BenchArgs) -> Result<ExitCode, Error> {
    match args.command {
        BenchCommand::Pub(args) => publisher::run(args).await,
        BenchCommand::Sub(args) => subscriber::run(args).await,
        BenchCommand::Conn(args) => conn::run(args).await,
    }
}

/// A one-way switch that tasks poll cheaply (an atomic) or wait on.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    flag: Arc<AtomicBool>,
    notify: Arc<watch::Sender<bool>>,
}

impl Stop {
    pub(crate) fn new() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            notify: Arc::new(watch::channel(false).0),
        }
    }

    pub(crate) fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.send_replace(true);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves once the switch is on.
    pub(crate) async fn wait(&self) {
        let mut receiver = self.notify.subscribe();
        // The sender lives as long as `self`, so this only ends when set.
        let _ = receiver.wait_for(|on| *on).await;
    }
}

/// Ctrl-C handling: the first stops the load (the summary still comes),
/// the second stops waiting for stragglers.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    pub(crate) stop: Stop,
    pub(crate) abort: Stop,
}

impl Signals {
    pub(crate) fn install() -> Self {
        let signals = Self {
            stop: Stop::new(),
            abort: Stop::new(),
        };
        let (stop, abort) = (signals.stop.clone(), signals.abort.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.trigger();
                if tokio::signal::ctrl_c().await.is_ok() {
                    abort.trigger();
                }
            }
        });
        signals
    }
}

/// The version as the summary names it.
pub(crate) fn version_name(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V3_1 => "3.1",
        ProtocolVersion::V3_1_1 => "3.1.1",
        ProtocolVersion::V5 => "5.0",
    }
}

/// The client identifier of client `index` in role `role` of run `run`:
/// `mqtide-bench-pub7-0badcafe`. The run id keeps two runs from taking
/// each other's identifiers (and connections).
pub(crate) fn client_id(prefix: &str, role: &str, run: u32, index: u32) -> String {
    format!("{prefix}-{role}{index}-{run:08x}")
}
