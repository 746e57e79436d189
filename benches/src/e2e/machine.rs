//! What the benchmark ran on, for the report's header.

use std::fs;
use std::process::Command;

use serde_json::{Value, json};

/// The machine, the toolchain and the versions under test.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory: String,
    pub(crate) kernel: String,
    pub(crate) mosquitto: String,
    pub(crate) rustc: String,
    pub(crate) date: String,
    pub(crate) load: String,
    pub(crate) nofile: u64,
    /// (crate, version) of each client library, from Cargo.lock.
    pub(crate) versions: Vec<(String, String)>,
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn proc_field(path: &str, key: &str) -> Option<String> {
    fs::read_to_string(path).ok()?.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == key).then(|| value.trim().to_owned())
    })
}

/// The load average (1, 5, 15 minutes): other work on the machine.
pub(crate) fn load() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Versions of the locked packages, read from the workspace's Cargo.lock.
fn locked_versions(names: &[&str]) -> Vec<(String, String)> {
    let lock = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .unwrap_or_default();
    names
        .iter()
        .map(|name| {
            let needle = format!("name = \"{name}\"\nversion = \"");
            let version = lock
                .split(&needle)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("unknown");
            ((*name).to_owned(), version.to_owned())
        })
        .collect()
}

impl Machine {
    pub(crate) fn describe(mosquitto: String, nofile: u64) -> Self {
        let unknown = || "unknown".to_owned();
        Self {
            cpu: proc_field("/proc/cpuinfo", "model name").unwrap_or_else(unknown),
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory: proc_field("/proc/meminfo", "MemTotal").unwrap_or_else(unknown),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| unknown()),
            mosquitto,
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(unknown),
            date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(unknown),
            load: load(),
            nofile,
            versions: locked_versions(&["mqtide", "rumqttc", "mqtt5"]),
        }
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "cpu": self.cpu,
            "cores": self.cores,
            "memory": self.memory,
            "kernel": self.kernel,
            "mosquitto": self.mosquitto,
            "rustc": self.rustc,
            "date": self.date,
            "load_at_start": self.load,
            "nofile": self.nofile,
            "versions": self
                .versions
                .iter()
                .map(|(name, version)| (name.clone(), Value::String(version.clone())))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}
