//! The report: a Markdown page (docs/PERFORMANCE.md for a full run) and a
//! JSON file with every sample, both from the same results.

mod format;
mod tables;
mod targets;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::Settings;
use super::clients::Client;
use super::machine::Machine;
use super::workloads::connect::ConnectRow;
use super::workloads::cpu::CpuRow;
use super::workloads::latency::LatencyRow;
use super::workloads::memory::MemoryRow;
use super::workloads::throughput::ThroughputRow;

/// Everything one run measured.
#[derive(Debug)]
pub(crate) struct Results {
    machine: Machine,
    settings: Settings,
    full: bool,
    pub(crate) throughput: Vec<ThroughputRow>,
    pub(crate) latency: Vec<LatencyRow>,
    pub(crate) connect: Vec<ConnectRow>,
    pub(crate) cpu: Vec<CpuRow>,
    pub(crate) memory: Vec<MemoryRow>,
    load_at_end: String,
    took: Duration,
}

impl Results {
    pub(crate) fn new(machine: Machine, settings: Settings, full: bool) -> Self {
        Self {
            machine,
            settings,
            full,
            throughput: Vec::new(),
            latency: Vec::new(),
            connect: Vec::new(),
            cpu: Vec::new(),
            memory: Vec::new(),
            load_at_end: String::new(),
            took: Duration::ZERO,
        }
    }

    pub(crate) fn finish(&mut self, load_at_end: String, took: Duration) {
        self.load_at_end = load_at_end;
        self.took = took;
    }

    pub(super) fn peers(&self) -> Vec<Client> {
        self.settings
            .libs
            .iter()
            .copied()
            .filter(|c| *c != Client::Mqtide)
            .collect()
    }

    pub(super) fn mqtide(&self) -> bool {
        self.settings.libs.contains(&Client::Mqtide)
    }

    /// Writes PERFORMANCE.md and performance.json into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let markdown = dir.join("PERFORMANCE.md");
        let json = dir.join("performance.json");
        fs::write(&markdown, self.markdown())
            .map_err(|e| format!("writing {}: {e}", markdown.display()))?;
        let text = serde_json::to_string_pretty(&self.json())
            .map_err(|e| format!("encoding the JSON report: {e}"))?;
        fs::write(&json, text + "\n").map_err(|e| format!("writing {}: {e}", json.display()))?;
        Ok((markdown, json))
    }

    pub(crate) fn json(&self) -> Value {
        let s = &self.settings;
        json!({
            "machine": self.machine.json(),
            "load_at_end": self.load_at_end,
            "duration_s": self.took.as_secs_f64(),
            "settings": {
                "full_run": self.full,
                "quick": s.quick,
                "measured_rounds": s.rounds,
                "scale": s.scale,
                "protocol": "MQTT 3.1.1",
                "clients": s.libs.iter().map(|c| c.name()).collect::<Vec<_>>(),
            },
            "throughput": self.throughput.iter().map(ThroughputRow::json).collect::<Vec<_>>(),
            "latency": self.latency.iter().map(LatencyRow::json).collect::<Vec<_>>(),
            "connect": self.connect.iter().map(ConnectRow::json).collect::<Vec<_>>(),
            "cpu": self.cpu.iter().map(CpuRow::json).collect::<Vec<_>>(),
            "memory": self.memory.iter().map(MemoryRow::json).collect::<Vec<_>>(),
            "targets": self.targets_json(),
        })
    }

    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        self.header(&mut md);
        self.throughput_table(&mut md);
        self.latency_table(&mut md);
        self.connect_table(&mut md);
        self.cpu_tables(&mut md);
        self.memory_table(&mut md);
        self.targets_table(&mut md);
        md
    }
}
