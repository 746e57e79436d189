//! `mqtide-sim`: a deterministic fault-and-crash simulator for mqtide's
//! sans-IO core.
//!
//! Each schedule runs the real `mqtide_proto::Session` twice over (a
//! publisher and a subscriber, each with a session store) against a model
//! broker written from the specification, with every interleaving and
//! every fault (connections cut, the broker restarting with or without its
//! sessions, a client process crashing between commits) chosen by a seeded
//! generator, on virtual time. A schedule is named by one number: the same
//! number replays the same trace, byte for byte.
//!
//! Schedule numbers: `base << 10 | variant`. Variant 0 is the schedule of
//! `base` as drawn; variant `1 + 2k` crashes the client making commit `k`
//! just before it is made, `2 + 2k` just after, the rest of the schedule
//! drawn the same way. Every commit point of every base schedule is
//! enumerated (up to 511 commits per base schedule).
//!
//! ```text
//! cargo run --release -p mqtide-sim -- --schedules 1000000 --seed 1 [--version 3.1.1|5.0]
//! cargo run --release -p mqtide-sim -- --replay 1234567 [--version 3.1.1|5.0]
//! RUSTFLAGS='--cfg mqtide_mutants' cargo run --release -p mqtide-sim -- --mutant qos2-dedupe-off --schedules 10000
//! ```

mod broker;
mod client;
mod net;
mod oracle;
mod plan;
mod schedule;
mod trace;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use mqtide_proto::ProtocolVersion;

use schedule::{ForcedCrash, Mutant, Outcome, Stats};

/// The most variants a base schedule has (its number's low 10 bits).
const VARIANTS: u64 = 1 << 10;

#[derive(Debug, Parser)]
#[command(about = "Deterministic fault-and-crash simulator over mqtide's sans-IO session")]
struct Args {
    /// How many schedules to run (at least; whole base schedules are run).
    #[arg(long, default_value_t = 10_000)]
    schedules: u64,
    /// The first base schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// MQTT version: 3.1.1 or 5.0.
    #[arg(long, default_value = "5.0")]
    version: String,
    /// Replay one schedule (as printed for a violation) with its trace.
    #[arg(long)]
    replay: Option<u64>,
    /// Switch on a deliberate bug: qos2-dedupe-off, pubrel-order or
    /// drop-store-record. The first two need a build with
    /// RUSTFLAGS='--cfg mqtide_mutants'.
    #[arg(long)]
    mutant: Option<String>,
    /// Worker threads (schedules are independent; each is deterministic).
    #[arg(long, default_value_t = std::thread::available_parallelism().map_or(1, |n| n.get()))]
    jobs: usize,
    /// How many violating schedules to print with their trace.
    #[arg(long, default_value_t = 1)]
    traces: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("mqtide-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<u64, String> {
    let version = match args.version.as_str() {
        "3.1.1" | "4" => ProtocolVersion::V3_1_1,
        "5.0" | "5" => ProtocolVersion::V5,
        other => return Err(format!("unknown version {other:?}: use 3.1.1 or 5.0")),
    };
    let mutant = args.mutant.as_deref().map(parse_mutant).transpose()?;
    arm(mutant)?;
    if let Some(number) = args.replay {
        return Ok(replay(number, version, mutant));
    }
    let started = std::time::Instant::now();
    let (results, total, stats) = explore(args, version, mutant);
    let elapsed = started.elapsed();
    let mut violating = Vec::new();
    let mut by_invariant: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (number, outcome) in &results {
        if !outcome.violations.is_empty() {
            for v in &outcome.violations {
                *by_invariant.entry(v.invariant).or_default() += 1;
            }
            violating.push((*number, outcome));
        }
    }
    violating.sort_by_key(|(number, _)| *number);
    for (number, outcome) in violating.iter().take(20) {
        for v in &outcome.violations {
            println!(
                "violation: schedule {number} (MQTT {version}): {}: {}",
                v.invariant, v.detail
            );
        }
    }
    // The shortest violating schedules first: their traces say it best.
    violating.sort_by_key(|(number, outcome)| (outcome.stats.steps, *number));
    for (number, _) in violating.iter().take(args.traces) {
        println!("\ntrace of schedule {number} (replay: --replay {number} --version {version}):");
        let outcome = schedule::run(number >> 10, version, forced(*number), mutant, true);
        for line in &outcome.trace {
            println!("{line}");
        }
    }
    if !by_invariant.is_empty() {
        let caught: Vec<String> = by_invariant
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        println!("caught by: {}", caught.join(", "));
    }
    let seconds = elapsed.as_secs_f64().max(1e-9);
    println!(
        "MQTT {version}, seed {}: {:.0} schedules/s on {} threads; {} steps, {} packets, {} connections cut, {} client crashes, {} broker restarts",
        args.seed,
        total as f64 / seconds,
        args.jobs,
        stats.steps,
        stats.packets,
        stats.cuts,
        stats.crashes,
        stats.restarts
    );
    let violations = violating.len() as u64;
    println!("schedules: {total}, violations: {violations}");
    Ok(violations)
}

/// Runs base schedules from `--seed` on, each with every crash variant,
/// until `--schedules` are done; returns the violating ones and the
/// count. Which schedules run does not depend on the threads' timing.
fn explore(
    args: &Args,
    version: ProtocolVersion,
    mutant: Option<Mutant>,
) -> (Vec<(u64, Outcome)>, u64, Stats) {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let results: Mutex<Vec<(u64, Base)>> = Mutex::new(Vec::new());
    let finished = AtomicU64::new(0);
    let bad = AtomicU64::new(0);
    std::thread::scope(|scope| {
        // A line on stderr every 30 s, so that a long run shows where it is.
        scope.spawn(|| {
            let started = std::time::Instant::now();
            let mut last = started;
            while finished.load(Ordering::Relaxed) < args.jobs.max(1) as u64 {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if last.elapsed().as_secs() >= 30 {
                    last = std::time::Instant::now();
                    eprintln!(
                        "{} s: {} schedules, {} violating",
                        started.elapsed().as_secs(),
                        done.load(Ordering::Relaxed),
                        bad.load(Ordering::Relaxed)
                    );
                }
            }
        });
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| {
                while done.load(Ordering::Relaxed) < args.schedules {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let base = args.seed.wrapping_add(index);
                    let ran = run_base(base, version, mutant);
                    done.fetch_add(ran.count, Ordering::Relaxed);
                    bad.fetch_add(ran.bad.len() as u64, Ordering::Relaxed);
                    if let Ok(mut results) = results.lock() {
                        results.push((index, ran));
                    }
                }
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(index, _)| *index);
    let mut total = 0;
    let mut stats = Stats::default();
    let mut violating = Vec::new();
    for (_, ran) in results {
        if total >= args.schedules {
            break;
        }
        total += ran.count;
        stats.add(&ran.stats);
        violating.extend(ran.bad);
    }
    (violating, total, stats)
}

/// What one base schedule and its crash variants did.
#[derive(Debug)]
struct Base {
    count: u64,
    stats: Stats,
    /// Those that broke an invariant, with their schedule numbers.
    bad: Vec<(u64, Outcome)>,
}

/// Runs base schedule `base` and each of its crash variants.
fn run_base(base: u64, version: ProtocolVersion, mutant: Option<Mutant>) -> Base {
    let mut ran = Base {
        count: 0,
        stats: Stats::default(),
        bad: Vec::new(),
    };
    let mut variants = 0;
    let mut variant = 0;
    while variant <= variants {
        let number = base << 10 | variant;
        let outcome = schedule::run(base, version, forced(number), mutant, false);
        if variant == 0 {
            variants = (2 * outcome.commits).min(VARIANTS - 1);
        }
        ran.count += 1;
        ran.stats.add(&outcome.stats);
        if !outcome.violations.is_empty() {
            ran.bad.push((number, outcome));
        }
        variant += 1;
    }
    ran
}

/// The crash a schedule number's variant forces.
fn forced(number: u64) -> Option<ForcedCrash> {
    let variant = number % VARIANTS;
    (variant > 0).then(|| ForcedCrash {
        commit: (variant - 1) / 2,
        after: variant.is_multiple_of(2),
    })
}

fn replay(number: u64, version: ProtocolVersion, mutant: Option<Mutant>) -> u64 {
    let outcome = schedule::run(number >> 10, version, forced(number), mutant, true);
    for line in &outcome.trace {
        println!("{line}");
    }
    for v in &outcome.violations {
        println!("violation: {}: {}", v.invariant, v.detail);
    }
    let violations = u64::from(!outcome.violations.is_empty());
    println!("schedules: 1, violations: {violations}");
    violations
}

fn parse_mutant(name: &str) -> Result<Mutant, String> {
    match name {
        "qos2-dedupe-off" => Ok(Mutant::Qos2DedupeOff),
        "pubrel-order" => Ok(Mutant::PubrelOrder),
        "drop-store-record" => Ok(Mutant::DropStoreRecord),
        other => Err(format!(
            "unknown mutant {other:?}: qos2-dedupe-off, pubrel-order or drop-store-record"
        )),
    }
}

/// Switches the session's deliberate bug on (the store's is the
/// simulator's own).
#[cfg(mqtide_mutants)]
fn arm(mutant: Option<Mutant>) -> Result<(), String> {
    use mqtide_proto::mutants;
    mutants::arm(match mutant {
        Some(Mutant::Qos2DedupeOff) => Some(mutants::Mutant::Qos2DedupeOff),
        Some(Mutant::PubrelOrder) => Some(mutants::Mutant::PubrelOrder),
        Some(Mutant::DropStoreRecord) | None => None,
    });
    Ok(())
}

#[cfg(not(mqtide_mutants))]
fn arm(mutant: Option<Mutant>) -> Result<(), String> {
    match mutant {
        Some(Mutant::Qos2DedupeOff | Mutant::PubrelOrder) => Err(
            "this mutant lives in mqtide-proto and is compiled only with RUSTFLAGS='--cfg mqtide_mutants' (use another CARGO_TARGET_DIR for it)".into(),
        ),
        _ => Ok(()),
    }
}
