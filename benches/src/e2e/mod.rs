//! The end-to-end benchmark of issue #8: mqtide, rumqttc and mqtt5 side by
//! side through a private Mosquitto, with a raw-socket ceiling. See
//! `benches/README.md` for what each workload measures and how.
//!
//! The run is synchronous at the top: each workload walks its rounds and
//! clients in turn and hands one run at a time to a tokio runtime (or, for
//! memory and CPU time, to a child process of this same binary, so that
//! each client is measured alone).

mod broker;
mod child;
mod cli;
mod clients;
mod flow;
mod machine;
mod report;
mod stats;
mod workloads;

use std::cell::Cell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use self::cli::{Cli, Options, Workload};
use self::clients::Client;
use self::flow::Target;
use self::machine::Machine;
use self::report::Results;

/// Runs the benchmark (or, with a hidden subcommand, one child's part).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(command) = cli.child {
        return child::run(command);
    }
    match run(cli.options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the options come to.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) quick: bool,
    pub(crate) rounds: usize,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) libs: Vec<Client>,
    pub(crate) qos: Vec<u8>,
    pub(crate) payloads: Vec<usize>,
    /// Multiplies the message counts (a fifth with --quick).
    pub(crate) scale: f64,
    pub(crate) connections: Vec<usize>,
}

impl Settings {
    fn from_options(options: &Options) -> Result<Self, String> {
        let mut libs = sorted_unique(options.libs.clone());
        libs.retain(|c| *c != Client::Raw);
        let settings = Self {
            quick: options.quick,
            rounds: options.rounds.unwrap_or(if options.quick { 1 } else { 3 }),
            workloads: sorted_unique(options.workloads.clone()),
            libs,
            qos: sorted_unique(options.qos.clone()),
            payloads: sorted_unique(options.payloads.clone()),
            scale: options.scale * if options.quick { 0.2 } else { 1.0 },
            connections: options.connections.clone().unwrap_or_else(|| {
                if options.quick {
                    vec![1_000]
                } else {
                    vec![1_000, 10_000]
                }
            }),
        };
        if settings.rounds == 0 {
            return Err("--rounds must be at least 1".to_owned());
        }
        if settings.qos.iter().any(|&q| q > 2) {
            return Err("--qos takes 0, 1 and 2".to_owned());
        }
        if settings.payloads.iter().any(|&p| p < 8) {
            return Err("--payloads must be at least 8 bytes (the sequence number)".to_owned());
        }
        if settings.scale.is_nan() || settings.scale <= 0.0 {
            return Err("--scale must be positive".to_owned());
        }
        Ok(settings)
    }

    /// Whether this is the full, default run (whose report goes to docs/).
    fn is_full(&self, options: &Options) -> bool {
        let all = Options::parse_default();
        !self.quick
            && options.rounds.is_none()
            && options.scale == 1.0
            && options.connections.is_none()
            && self.workloads == all.workloads
            && self.libs_are_full()
            && self.qos == all.qos
            && self.payloads == all.payloads
    }

    /// The three libraries, and with the `metrics` feature, mqtide with
    /// metrics too (its rows in the throughput and CPU tables: what the
    /// feature costs, in the same run).
    fn libs_are_full(&self) -> bool {
        let mut full = Client::LIBS.to_vec();
        if cfg!(feature = "metrics") {
            full.push(Client::MqtideMetrics);
        }
        self.libs == sorted_unique(full)
    }

    /// `count` scaled, at least `floor`.
    pub(crate) fn scaled(&self, count: u64, floor: u64) -> u64 {
        ((count as f64 * self.scale).round() as u64).max(floor)
    }
}

fn sorted_unique<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

impl Options {
    fn parse_default() -> Self {
        Cli::parse_from(["e2e"]).options
    }
}

/// What every workload needs: the runtime, the broker, the settings.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) target: Target,
    /// The shared broker's process id, for its CPU time.
    pub(crate) broker_pid: Option<u32>,
    pub(crate) settings: Settings,
    next: Cell<u64>,
}

impl Context {
    /// A name no other run of this process uses (topics, client ids).
    pub(crate) fn unique(&self, what: &str) -> String {
        let n = self.next.get();
        self.next.set(n + 1);
        format!("e2e-{}-{what}-{n}", std::process::id())
    }
}

/// The runtime every in-process run uses: tokio's multi-threaded default
/// (one worker per core), as `#[tokio::main]` gives an application.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building the tokio runtime: {e}"))
}

/// The workspace root (this package's parent).
fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn run(options: Options) -> Result<(), String> {
    let settings = Settings::from_options(&options)?;
    let full = settings.is_full(&options);
    let out = options.out.unwrap_or_else(|| {
        if full {
            workspace().join("docs")
        } else {
            workspace().join("target/e2e")
        }
    });
    let nofile = broker::raise_nofile()?;
    let broker = broker::start("")?;
    let machine = Machine::describe(broker::version(&broker), nofile);
    eprintln!(
        "e2e: Mosquitto {} on port {}; {} core(s), load {}; open-file limit {nofile}",
        machine.mosquitto,
        broker.port(),
        machine.cores,
        machine.load
    );
    let context = Context {
        runtime: runtime()?,
        target: Target {
            port: broker.port(),
        },
        broker_pid: broker.pid(),
        settings: settings.clone(),
        next: Cell::new(0),
    };
    let started = Instant::now();
    let mut results = Results::new(machine, settings.clone(), full);
    for workload in &settings.workloads {
        let began = Instant::now();
        eprintln!("e2e: {workload:?}");
        match workload {
            Workload::Throughput => results.throughput = workloads::throughput::run(&context),
            Workload::Latency => results.latency = workloads::latency::run(&context)?,
            Workload::Connect => results.connect = workloads::connect::run(&context),
            Workload::Cpu => results.cpu = workloads::cpu::run(&context),
            // A broker of its own: nothing left over from the other runs.
            Workload::Memory => results.memory = workloads::memory::run(&context)?,
        }
        eprintln!("e2e: {workload:?} took {:.0?}", began.elapsed());
    }
    results.finish(machine::load(), started.elapsed());
    drop(broker);
    let (markdown, json) = results.write(&out)?;
    println!("{}", results.markdown());
    eprintln!(
        "e2e: done in {:.0?}; wrote {} and {}",
        started.elapsed(),
        markdown.display(),
        json.display()
    );
    Ok(())
}
