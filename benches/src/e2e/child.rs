//! The parts of the benchmark that run in a child process of this same
//! binary (hidden subcommands), so that the memory and CPU time measured
//! are one client's alone: the parent spawns them and reads one JSON line.

use std::io::{self, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::sys::time::TimeVal;
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::broker;
use super::cli::ChildCommand;
use super::clients::{self, Client, Held};
use super::flow::{FlowSpec, Target};
use super::runtime;

/// Connections being opened at once by the idle child.
const OPENING: usize = 100;

/// Runs a child's part, prints its JSON line and exits (without closing
/// thousands of connections one by one: the kernel does that).
pub(crate) fn run(command: ChildCommand) -> ExitCode {
    let (line, held) = match command {
        ChildCommand::Idle {
            client,
            count,
            port,
        } => match idle(client, count, Target { port }) {
            Ok((line, held)) => (line, held),
            Err(e) => (json!({ "error": e }), Vec::new()),
        },
        ChildCommand::Publish {
            client,
            qos,
            payload,
            count,
            port,
        } => {
            let line = publish(client, qos, payload, count, Target { port })
                .unwrap_or_else(|e| json!({ "error": e }));
            (line, Vec::new())
        }
    };
    let mut stdout = io::stdout();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    // The connections stay open until the process ends.
    let _keep = held;
    std::process::exit(0)
}

/// A size from /proc/self/status, in KiB: `VmRSS` (resident now) or
/// `VmHWM` (the peak). Unlike getrusage's `ru_maxrss`, which Linux carries
/// over from the parent across fork and exec, `VmHWM` is this process's own.
fn status_kib(key: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no {key} in /proc/self/status"))
}

/// The resident set size now, in KiB.
fn rss_kib() -> Result<u64, String> {
    status_kib("VmRSS")
}

/// Opens `count` connections (at most [`OPENING`] at a time) and reports
/// the RSS before and after. Stops opening at the first failure.
fn idle(client: Client, count: usize, target: Target) -> Result<(Value, Vec<Held>), String> {
    let nofile = broker::raise_nofile()?;
    let runtime = runtime()?;
    let before = rss_kib()?;
    let started = Instant::now();
    let (held, error) = runtime.block_on(async {
        let mut held = Vec::with_capacity(count);
        let mut opening = JoinSet::new();
        let mut next = 0;
        let mut error = None;
        loop {
            while error.is_none() && next < count && opening.len() < OPENING {
                let id = format!("e2e-idle-{}-{}-{next}", std::process::id(), client.name());
                opening.spawn(clients::hold(client, target.clone(), id));
                next += 1;
            }
            match opening.join_next().await {
                Some(Ok(Ok(connection))) => held.push(connection),
                Some(Ok(Err(e))) => {
                    error.get_or_insert(e);
                }
                Some(Err(e)) => {
                    error.get_or_insert(format!("connection task: {e}"));
                }
                None => break,
            }
        }
        (held, error)
    });
    let opened = started.elapsed();
    // Let every connection's task settle before reading the RSS.
    thread::sleep(Duration::from_millis(500));
    let after = rss_kib()?;
    let line = json!({
        "client": client.name(),
        "requested": count,
        "connected": held.len(),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "open_s": opened.as_secs_f64(),
        "nofile": nofile,
        "error": error,
    });
    Ok((line, held))
}

fn seconds(t: TimeVal) -> f64 {
    t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6
}

/// One publisher → subscriber run; reports CPU time (getrusage: user and
/// system, all threads, from just before the clients connect to after they
/// disconnect) and the peak RSS of the process (`VmHWM`).
fn publish(
    client: Client,
    qos: u8,
    payload: usize,
    count: u64,
    target: Target,
) -> Result<Value, String> {
    let spec = FlowSpec {
        qos,
        payload,
        count,
        topic: format!("e2e-cpu-{}", std::process::id()),
        id: format!("e2e-cpu-{}-{}", std::process::id(), client.name()),
    };
    let runtime = match client {
        Client::Raw => None,
        _ => Some(runtime()?),
    };
    let usage = || getrusage(UsageWho::RUSAGE_SELF).map_err(|e| format!("getrusage: {e}"));
    let before = usage()?;
    let started = Instant::now();
    let outcome = match &runtime {
        Some(runtime) => runtime.block_on(clients::flow(client, &target, &spec))?,
        None => clients::raw::flow(&target, &spec)?,
    };
    let wall = started.elapsed();
    let after = usage()?;
    Ok(json!({
        "client": client.name(),
        "delivered": outcome.unique,
        "invalid": outcome.invalid(),
        "rate": outcome.rate(),
        "user_s": seconds(after.user_time()) - seconds(before.user_time()),
        "sys_s": seconds(after.system_time()) - seconds(before.system_time()),
        "wall_s": wall.as_secs_f64(),
        "peak_rss_kib": status_kib("VmHWM")?,
    }))
}

/// Runs this binary with `args` and returns the JSON line it printed; an
/// `"error"` in it, a crash or a run over `limit` is an error.
pub(crate) fn spawn(args: &[String], limit: Duration) -> Result<Value, String> {
    // /proc/self/exe is the running binary even after a rebuild replaced
    // the file on disk (a shared target directory); current_exe's path
    // would then name the new file, or nothing.
    let proc_exe = std::path::Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().map_err(|e| format!("finding this binary: {e}"))?
    };
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting a child process: {e}"))?;
    let pid = i32::try_from(child.id()).map_err(|_| "child pid out of range".to_owned())?;
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(limit) {
        Ok(output) => output.map_err(|e| format!("waiting for the child process: {e}"))?,
        Err(_) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            return Err(format!(
                "the child process ran over {limit:?} and was killed"
            ));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "the child process printed nothing ({}): {}",
            output.status,
            stderr.trim()
        ));
    };
    let value: Value = serde_json::from_str(line)
        .map_err(|e| format!("reading the child's line {line:?}: {e}"))?;
    match value.get("error").and_then(Value::as_str) {
        Some(error) if value.get("client").is_none() => Err(error.to_owned()),
        _ => Ok(value),
    }
}
