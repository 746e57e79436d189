//! The report: a Markdown page (docs/PERFORMANCE.md for a full run) and a
//! JSON file with every sample, both from the same results.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::Settings;
use super::clients::Client;
use super::machine::Machine;
use super::workloads::connect::ConnectRow;
use super::workloads::cpu::{self, CpuRow};
use super::workloads::latency::{LatencyCell, LatencyRow};
use super::workloads::memory::MemoryRow;
use super::workloads::throughput::ThroughputRow;
use super::workloads::{Measured, Row};

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

/// One of issue #8's targets, judged from the run.
#[derive(Debug)]
struct Target {
    name: &'static str,
    measured: String,
    /// None: not measured in this run.
    met: Option<bool>,
}

fn rate(v: f64) -> String {
    format!("{:.1}k", v / 1e3)
}

fn fixed(decimals: usize) -> impl Fn(f64) -> String {
    move |v| format!("{v:.decimals$}")
}

/// Keeps a table cell on one line and its pipes escaped.
fn escape(text: &str) -> String {
    let one_line = text.replace('\n', " ").replace('|', "\\|");
    match one_line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// "median [min–max]", or why there is none.
fn cell(measured: Option<&Measured>, format: &dyn Fn(f64) -> String) -> String {
    let Some(measured) = measured else {
        return "—".to_owned();
    };
    let mut text = match measured.spread() {
        Some(s) if s.n > 1 => format!("{} [{}–{}]", format(s.median), format(s.min), format(s.max)),
        Some(s) => format(s.median),
        None => String::new(),
    };
    let rounds = measured.samples.len() + measured.invalid.len() + measured.errors.len();
    if let Some(reason) = measured.invalid.first() {
        text = format!(
            "**INVALID** {}/{rounds} ({}){}",
            measured.invalid.len(),
            escape(reason),
            if text.is_empty() {
                String::new()
            } else {
                format!("; valid rounds: {text}")
            }
        );
    }
    if let Some(error) = measured.errors.first() {
        text = format!(
            "**error** {}/{rounds} ({}){}",
            measured.errors.len(),
            escape(error),
            if text.is_empty() {
                String::new()
            } else {
                format!("; {text}")
            }
        );
    }
    text
}

/// mqtide's median over the peer's, when both are clean.
fn ratio_of(ours: Option<f64>, theirs: Option<f64>) -> Option<f64> {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn show_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}"))
}

fn median(row: &Row, client: Client) -> Option<f64> {
    row.get(&client).and_then(Measured::clean_median)
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// Whether every judged value passed; None if none was judged.
fn all_pass(checks: &[Option<bool>]) -> Option<bool> {
    if checks.is_empty() || checks.iter().any(Option::is_none) {
        None
    } else {
        Some(checks.iter().all(|c| *c == Some(true)))
    }
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

    fn peers(&self) -> Vec<Client> {
        self.settings
            .libs
            .iter()
            .copied()
            .filter(|c| *c != Client::Mqtide)
            .collect()
    }

    fn mqtide(&self) -> bool {
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
            "targets": self.targets().iter().map(|t| json!({
                "target": t.name,
                "measured": t.measured,
                "met": t.met,
            })).collect::<Vec<_>>(),
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

    fn header(&self, md: &mut String) {
        let m = &self.machine;
        let s = &self.settings;
        let version = |name: &str| {
            m.versions
                .iter()
                .find(|(n, _)| n == name)
                .map_or("?", |(_, v)| v.as_str())
                .to_owned()
        };
        let _ = writeln!(md, "# Performance\n");
        let _ = writeln!(
            md,
            "Generated by `cargo run --release -p benches --bin e2e{}` \
             (`benches/src/e2e/`; method in `benches/README.md`). Do not edit by hand: \
             run it again. Every figure below was measured in this one run; \
             `performance.json` beside this file holds every sample.\n",
            if self.full { "" } else { " …" }
        );
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| date | {} |", m.date);
        let _ = writeln!(md, "| CPU | {} ({} cores) |", m.cpu, m.cores);
        let _ = writeln!(md, "| memory | {} |", m.memory);
        let _ = writeln!(md, "| kernel | Linux {} |", m.kernel);
        let _ = writeln!(
            md,
            "| broker | Mosquitto {} on 127.0.0.1, stock settings (max_inflight_messages 20, \
             max_queued_messages 1000) but `max_connections -1` and no per-packet logging |",
            m.mosquitto
        );
        let _ = writeln!(md, "| rustc | {} (release profile) |", m.rustc);
        let _ = writeln!(
            md,
            "| clients | mqtide {}, rumqttc {} (in-flight 20, TCP_NODELAY), mqtt5 {} \
             (20 publishing tasks); MQTT 3.1.1 for all, one tokio multi-threaded runtime |",
            version("mqtide"),
            version("rumqttc"),
            version("mqtt5")
        );
        let _ = writeln!(
            md,
            "| rounds | {} measured, after 1 warm-up round in the in-process workloads \
             (throughput, latency, connect); order rotated every round; median [min–max] |",
            s.rounds
        );
        let _ = writeln!(
            md,
            "| load average (1, 5, 15 min) | {} at start, {} at end (other work shares this machine) |",
            m.load, self.load_at_end
        );
        let _ = writeln!(
            md,
            "| run | {:.0} s{}; open-file limit {} |\n",
            self.took.as_secs_f64(),
            if s.quick { ", --quick" } else { "" },
            m.nofile
        );
    }

    fn throughput_table(&self, md: &mut String) {
        if self.throughput.is_empty() {
            return;
        }
        let peers = self.peers();
        let _ = writeln!(
            md,
            "## Throughput: one publisher → one subscriber\n\n\
             Messages delivered per second (k = 1000), from the first publish to the last \
             message received, publisher and subscriber in one process, fresh connections \
             each round. A round that loses a message at QoS ≥ 1, or duplicates one at \
             QoS 2, is INVALID and not counted. The raw ceiling writes pre-encoded QoS 0 \
             PUBLISH packets in 256 KiB batches on a plain socket and counts them on \
             another.\n"
        );
        let mut head = "| QoS | payload | messages | raw ceiling |".to_owned();
        let mut rule = "|---|---|---|---|".to_owned();
        for client in &self.settings.libs {
            let _ = write!(head, " {client} |");
            rule.push_str("---|");
        }
        if self.mqtide() {
            head.push_str(" mqtide/ceiling |");
            rule.push_str("---|");
            for peer in &peers {
                let _ = write!(head, " mqtide/{peer} |");
                rule.push_str("---|");
            }
        }
        let _ = writeln!(md, "{head}\n{rule}");
        let mut notes = Vec::new();
        for row in &self.throughput {
            let mut line = format!(
                "| {} | {} B | {} | {} |",
                row.qos,
                row.payload,
                row.count,
                cell(row.row.get(&Client::Raw), &rate)
            );
            for client in &self.settings.libs {
                let _ = write!(line, " {} |", cell(row.row.get(client), &rate));
                if let Some(m) = row.row.get(client) {
                    for note in &m.notes {
                        notes.push(format!(
                            "QoS {} {} B, {client}: {note} (QoS 0 may drop; not invalid)",
                            row.qos, row.payload
                        ));
                    }
                }
            }
            if self.mqtide() {
                let ours = median(&row.row, Client::Mqtide);
                let _ = write!(
                    line,
                    " {} |",
                    show_ratio(ratio_of(ours, median(&row.row, Client::Raw)))
                );
                for peer in &peers {
                    let _ = write!(
                        line,
                        " {} |",
                        show_ratio(ratio_of(ours, median(&row.row, *peer)))
                    );
                }
            }
            let _ = writeln!(md, "{line}");
        }
        notes.dedup();
        if !notes.is_empty() {
            let _ = writeln!(md);
            for note in notes {
                let _ = writeln!(md, "- {}", escape(&note));
            }
        }
        let _ = writeln!(md);
    }

    fn latency_table(&self, md: &mut String) {
        if self.latency.is_empty() {
            return;
        }
        let peers = self.peers();
        let count = self.latency.first().map_or(0, |r| r.count);
        let _ = writeln!(
            md,
            "## Request / response round trip through the broker\n\n\
             Client A publishes a request, client B (a second connection of the same library) \
             echoes it on another topic, A waits for the echo before the next request: {count} \
             measured round trips per round after 100 unmeasured ones. µs, p50 / p99 over \
             all measured rounds pooled, [min–max of each round's p99]. Ratios: mqtide over \
             the peer (below 1 is faster).\n"
        );
        let mut head = "| QoS |".to_owned();
        let mut rule = "|---|".to_owned();
        for client in &self.settings.libs {
            let _ = write!(head, " {client} p50 / p99 |");
            rule.push_str("---|");
        }
        if self.mqtide() {
            for peer in &peers {
                let _ = write!(head, " mqtide/{peer} p50, p99 |");
                rule.push_str("---|");
            }
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for row in &self.latency {
            let mut line = format!("| {} |", row.qos);
            for client in &self.settings.libs {
                let _ = write!(line, " {} |", latency_cell(row.cells.get(client)));
            }
            if self.mqtide() {
                let ours = row.cells.get(&Client::Mqtide);
                for peer in &peers {
                    let theirs = row.cells.get(peer);
                    let at = |p| {
                        show_ratio(ratio_of(
                            ours.and_then(|c| c.pooled_percentile(p)),
                            theirs.and_then(|c| c.pooled_percentile(p)),
                        ))
                    };
                    let _ = write!(line, " {}, {} |", at(50.0), at(99.0));
                }
            }
            let _ = writeln!(md, "{line}");
        }
        let _ = writeln!(md);
    }

    fn simple_table(
        &self,
        md: &mut String,
        first: &str,
        rows: &[(String, &Row)],
        format: &dyn Fn(f64) -> String,
        raw: bool,
    ) {
        let peers = self.peers();
        let mut head = format!("| {first} |");
        let mut rule = "|---|".to_owned();
        if raw {
            head.push_str(" raw |");
            rule.push_str("---|");
        }
        for client in &self.settings.libs {
            let _ = write!(head, " {client} |");
            rule.push_str("---|");
        }
        if self.mqtide() {
            for peer in &peers {
                let _ = write!(head, " mqtide/{peer} |");
                rule.push_str("---|");
            }
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for (label, row) in rows {
            let mut line = format!("| {label} |");
            if raw {
                let _ = write!(line, " {} |", cell(row.get(&Client::Raw), format));
            }
            for client in &self.settings.libs {
                let _ = write!(line, " {} |", cell(row.get(client), format));
            }
            if self.mqtide() {
                for peer in &peers {
                    let _ = write!(
                        line,
                        " {} |",
                        show_ratio(ratio_of(median(row, Client::Mqtide), median(row, *peer)))
                    );
                }
            }
            let _ = writeln!(md, "{line}");
        }
        let _ = writeln!(md);
    }

    fn connect_table(&self, md: &mut String) {
        if self.connect.is_empty() {
            return;
        }
        let _ = writeln!(
            md,
            "## Connection setup\n\n\
             Connections per second: connect (TCP, CONNECT, CONNACK) and disconnect, one after \
             another, or all of a round's connections started at once.\n"
        );
        let rows: Vec<(String, &Row)> = self
            .connect
            .iter()
            .map(|r| (format!("{} ×{}", r.mode, r.count), &r.row))
            .collect();
        self.simple_table(md, "mode", &rows, &fixed(0), false);
    }

    fn cpu_tables(&self, md: &mut String) {
        if self.cpu.is_empty() {
            return;
        }
        let _ = writeln!(
            md,
            "## CPU time per delivered message\n\n\
             µs of CPU (user + system, all threads of the process) per message delivered, \
             publisher and subscriber of one client in a child process of their own, {} B \
             payloads, connect to disconnect. Below 1 is mqtide using less. \
             (`perf stat -e instructions` reports \"not supported\" on this virtual machine: \
             no instruction counts.)\n",
            cpu::PAYLOAD
        );
        let rows: Vec<(String, &Row)> = self
            .cpu
            .iter()
            .map(|r| (format!("{} ({} msgs)", r.qos, r.count), &r.cpu_us))
            .collect();
        self.simple_table(md, "QoS", &rows, &fixed(2), true);
        let _ = writeln!(
            md,
            "### Peak RSS of the same runs\n\nMiB, `ru_maxrss` of the child process.\n"
        );
        let rows: Vec<(String, &Row)> = self
            .cpu
            .iter()
            .map(|r| (format!("{} ({} msgs)", r.qos, r.count), &r.peak_rss))
            .collect();
        self.simple_table(md, "QoS", &rows, &fixed(1), true);
    }

    fn memory_table(&self, md: &mut String) {
        if self.memory.is_empty() {
            return;
        }
        let _ = writeln!(
            md,
            "## Memory per idle connection\n\n\
             KiB of RSS per connection: a child process per client opens N connections \
             (100 at a time) to a broker of its own, holds them, and reads its RSS before \
             and after. Below 1 is mqtide using less.\n"
        );
        let rows: Vec<(String, &Row)> = self
            .memory
            .iter()
            .map(|r| (r.connections.to_string(), &r.row))
            .collect();
        self.simple_table(md, "connections", &rows, &fixed(1), false);
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let show = |items: &[(String, Option<f64>)]| {
            items
                .iter()
                .map(|(label, r)| format!("{label}: {}", show_ratio(*r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let judge = |items: &[(String, Option<f64>)], pass: &dyn Fn(f64) -> bool| {
            all_pass(&items.iter().map(|(_, r)| r.map(pass)).collect::<Vec<_>>())
        };
        let throughput = |qos: &[u8], peer: Client| -> Vec<(String, Option<f64>)> {
            self.throughput
                .iter()
                .filter(|r| qos.contains(&r.qos))
                .map(|r| {
                    (
                        format!("QoS {} {} B", r.qos, r.payload),
                        ratio_of(median(&r.row, Client::Mqtide), median(&r.row, peer)),
                    )
                })
                .collect()
        };
        let ceiling = throughput(&[0], Client::Raw);
        targets.push(Target {
            name: "QoS 0 throughput ≥ 0.9 × raw ceiling",
            measured: show(&ceiling),
            met: judge(&ceiling, &|r| r >= 0.9),
        });
        let over_rumqttc = throughput(&[1, 2], Client::Rumqttc);
        targets.push(Target {
            name: "QoS 1 and 2 throughput ≥ 1.5 × rumqttc",
            measured: show(&over_rumqttc),
            met: judge(&over_rumqttc, &|r| r >= 1.5),
        });
        let over_mqtt5 = throughput(&[1, 2], Client::Mqtt5);
        targets.push(Target {
            name: "QoS 1 and 2 throughput ahead of mqtt5 (> 1)",
            measured: show(&over_mqtt5),
            met: judge(&over_mqtt5, &|r| r > 1.0),
        });
        let cpu: Vec<_> = self
            .cpu
            .iter()
            .map(|r| {
                (
                    format!("QoS {}", r.qos),
                    ratio_of(
                        median(&r.cpu_us, Client::Mqtide),
                        median(&r.cpu_us, Client::Rumqttc),
                    ),
                )
            })
            .collect();
        targets.push(Target {
            name: "CPU per delivered message ≤ 0.5 × rumqttc",
            measured: show(&cpu),
            met: judge(&cpu, &|r| r <= 0.5),
        });
        let memory: Vec<_> = self
            .memory
            .iter()
            .map(|r| {
                (
                    format!("{} connections", r.connections),
                    ratio_of(
                        median(&r.row, Client::Mqtide),
                        median(&r.row, Client::Rumqttc),
                    ),
                )
            })
            .collect();
        targets.push(Target {
            name: "RSS per idle connection ≤ 0.5 × rumqttc",
            measured: show(&memory),
            met: judge(&memory, &|r| r <= 0.5),
        });
        let ten_thousand = self
            .memory
            .iter()
            .find(|r| r.connections >= 10_000)
            .and_then(|r| r.row.get(&Client::Mqtide));
        targets.push(Target {
            name: "10 000 connections held in one process",
            measured: match ten_thousand {
                Some(m) if m.errors.is_empty() => "yes".to_owned(),
                Some(m) => escape(&m.errors.join("; ")),
                None => "not run".to_owned(),
            },
            met: ten_thousand.map(|m| m.errors.is_empty() && !m.samples.is_empty()),
        });
        let latency: Vec<_> = self
            .latency
            .iter()
            .map(|r| {
                let ours = r
                    .cells
                    .get(&Client::Mqtide)
                    .and_then(|c| c.pooled_percentile(99.0));
                let best = self
                    .peers()
                    .iter()
                    .filter_map(|p| r.cells.get(p).and_then(|c| c.pooled_percentile(99.0)))
                    .reduce(f64::min);
                (
                    format!("QoS {} (mqtide/best peer)", r.qos),
                    ratio_of(ours, best),
                )
            })
            .collect();
        targets.push(Target {
            name: "round-trip p99 no worse than the best peer (≤ 1)",
            measured: show(&latency),
            met: judge(&latency, &|r| r <= 1.0),
        });
        targets
    }

    fn targets_table(&self, md: &mut String) {
        if !self.mqtide() {
            return;
        }
        let _ = writeln!(
            md,
            "## Issue #8 targets, judged from this run\n\n\
             Ratios are mqtide's median over the other's. The codec target (2× rumqttc on \
             PUBLISH encode and decode) is measured by `cargo bench -p benches --bench codec`.\n"
        );
        let _ = writeln!(md, "| target | measured | verdict |\n|---|---|---|");
        for target in self.targets() {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                target.name,
                target.measured,
                verdict(target.met)
            );
        }
        let _ = writeln!(md);
    }
}

fn latency_cell(cell: Option<&LatencyCell>) -> String {
    let Some(cell) = cell else {
        return "—".to_owned();
    };
    if let Some(error) = cell.p99.errors.first() {
        return format!("**error** ({})", escape(error));
    }
    match (
        cell.pooled_percentile(50.0),
        cell.pooled_percentile(99.0),
        cell.p99.spread(),
    ) {
        (Some(p50), Some(p99), Some(s)) if s.n > 1 => {
            format!("{p50:.0} / {p99:.0} [{:.0}–{:.0}]", s.min, s.max)
        }
        (Some(p50), Some(p99), _) => format!("{p50:.0} / {p99:.0}"),
        _ => "—".to_owned(),
    }
}
