//! The private Mosquitto the benchmark talks to, and the open-file limit
//! that 10 000 connections need.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mqtide_testkit::Mosquitto;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Open files wanted by the benchmark, its child processes and Mosquitto
/// (which inherits the limit from us): 10 000 connections, with room.
const NOFILE: u64 = 65_536;

/// Appended to the testkit's configuration. Everything else is Mosquitto's
/// default: notably `max_inflight_messages 20` and `max_queued_messages
/// 1000`, as BASELINES.md measured.
const CONFIG: &str = "\
# Unlimited connections (Mosquitto's default; said here so that nobody lowers it).
max_connections -1
# The testkit logs everything (`log_type all`), a line per packet: far too
# costly here. `none` empties the set; then keep what is not per packet.
log_type none
log_type error
log_type warning
log_type notice
log_type information
";

/// Raises RLIMIT_NOFILE to [`NOFILE`] (the hard limit too, when we may),
/// and returns the soft limit now in force.
pub(crate) fn raise_nofile() -> Result<u64, String> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit(NOFILE): {e}"))?;
    if soft >= NOFILE {
        return Ok(soft);
    }
    // Raising the hard limit needs CAP_SYS_RESOURCE; without it, go as far
    // as the hard limit allows.
    if setrlimit(Resource::RLIMIT_NOFILE, NOFILE, hard.max(NOFILE)).is_ok() {
        return Ok(NOFILE);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
        .map_err(|e| format!("setrlimit(NOFILE, {hard}): {e}"))?;
    Ok(hard)
}

/// For the latency workload only: without it Mosquitto holds a response
/// back (Nagle) until the requester's delayed ACK of the PUBACK it sent
/// just before, and every client's QoS 1 and 2 round trip takes ~44 ms.
pub(crate) const NODELAY: &str = "set_tcp_nodelay true\n";

/// Starts a broker for the benchmark, with `extra` configuration lines.
pub(crate) fn start(extra: &str) -> Result<Mosquitto, String> {
    Mosquitto::builder()
        .config(CONFIG)
        .config(extra)
        .start()
        .map_err(|e| format!("starting mosquitto: {e}"))
}

/// The CPU time (user + system) process `pid` has used so far, in
/// seconds, from `/proc/<pid>/stat`; None once it is gone.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces;
    // utime and stime are fields 14 and 15, the 12th and 13th after it.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    Some((user + system) as f64 / ticks as f64)
}

/// How often [`trace`] reads the broker's CPU time: twice per clock tick
/// (10 ms), which is all the resolution `/proc` has.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// Runs `run` while a thread reads the broker's CPU time every
/// [`SAMPLE_EVERY`]; what `run` returned, and the readings (None without
/// a broker process to read).
pub(crate) fn trace<T>(pid: Option<u32>, run: impl FnOnce() -> T) -> (T, Option<CpuTrace>) {
    let Some(pid) = pid else {
        return (run(), None);
    };
    let done = AtomicBool::new(false);
    let mut samples = Vec::new();
    let result = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Some(cpu) = cpu_seconds(pid) {
                    samples.push((Instant::now(), cpu));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            samples
        });
        let result = run();
        done.store(true, Ordering::Relaxed);
        samples = sampler.join().unwrap_or_default();
        result
    });
    if let Some(cpu) = cpu_seconds(pid) {
        samples.push((Instant::now(), cpu));
    }
    let trace = (samples.len() >= 2).then_some(CpuTrace { samples });
    (result, trace)
}

/// The broker's CPU time, read at instants over one run.
#[derive(Debug, Clone)]
pub(crate) struct CpuTrace {
    samples: Vec<(Instant, f64)>,
}

impl CpuTrace {
    /// CPU seconds the broker used over the whole run.
    pub(crate) fn total_s(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some((_, first)), Some((_, last))) => last - first,
            _ => 0.0,
        }
    }

    /// The broker's CPU time at `at`, interpolated between the readings
    /// around it; None outside the readings.
    fn at(&self, at: Instant) -> Option<f64> {
        let after = self.samples.iter().position(|(t, _)| *t >= at)?;
        let (t1, c1) = self.samples[after];
        if after == 0 {
            return (t1 == at).then_some(c1);
        }
        let (t0, c0) = self.samples[after - 1];
        let span = (t1 - t0).as_secs_f64();
        let part = if span > 0.0 {
            (at - t0).as_secs_f64() / span
        } else {
            1.0
        };
        Some(c0 + (c1 - c0) * part)
    }

    /// The share of one core the broker used from `from` for `during`,
    /// in percent.
    pub(crate) fn busy_percent(&self, from: Instant, during: Duration) -> Option<f64> {
        let secs = during.as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        let used = self.at(from + during)? - self.at(from)?;
        Some(100.0 * used / secs)
    }
}

/// The version Mosquitto logged at start-up.
pub(crate) fn version(broker: &Mosquitto) -> String {
    let log = broker.log();
    log.split("mosquitto version ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("unknown")
        .to_owned()
}
