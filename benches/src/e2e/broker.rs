//! The private Mosquitto the benchmark talks to, and the open-file limit
//! that 10 000 connections need.

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

/// The broker's CPU time over one run: what `run` returns, and the
/// broker's CPU seconds and the wall-clock seconds it took.
pub(crate) fn measure<T>(pid: Option<u32>, run: impl FnOnce() -> T) -> (T, Option<BrokerCpu>) {
    let before = pid.and_then(cpu_seconds);
    let started = std::time::Instant::now();
    let result = run();
    let wall_s = started.elapsed().as_secs_f64();
    let after = pid.and_then(cpu_seconds);
    let cpu = match (before, after) {
        (Some(before), Some(after)) => Some(BrokerCpu {
            cpu_s: after - before,
            wall_s,
        }),
        _ => None,
    };
    (result, cpu)
}

/// The broker's CPU time over one run, and the run's wall-clock time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BrokerCpu {
    pub(crate) cpu_s: f64,
    pub(crate) wall_s: f64,
}

impl BrokerCpu {
    /// The share of one core the broker used, in percent.
    pub(crate) fn busy_percent(self) -> f64 {
        100.0 * self.cpu_s / self.wall_s
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
