//! CPU time per delivered message and peak RSS of a publish run: each
//! client (and the raw sockets, at QoS 0) runs one publisher → subscriber
//! run of 256-byte messages in a child process of its own; the child
//! reports getrusage's user + system time of the whole process and its
//! peak RSS (`VmHWM`). (`perf stat -e instructions` is not supported on this kind
//! of virtual machine, so instructions are not counted.)

use std::time::Duration;

use serde_json::{Value, json};

use super::throughput::base_count;
use super::{Measured, Row, round_label, rounds, row_json};
use crate::e2e::Context;
use crate::e2e::clients::Client;
use crate::e2e::{broker, child};

/// The payload size of the CPU runs.
pub(crate) const PAYLOAD: usize = 256;

/// How long one child may take.
const CHILD_LIMIT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone)]
pub(crate) struct CpuRow {
    pub(crate) qos: u8,
    pub(crate) count: u64,
    /// CPU µs per delivered message.
    pub(crate) cpu_us: Row,
    /// Peak RSS, MiB.
    pub(crate) peak_rss: Row,
    /// The broker's CPU µs per delivered message in the same runs: what
    /// each client's way of writing and reading costs the broker.
    pub(crate) broker_us: Row,
    /// What the children reported.
    pub(crate) reports: Vec<Value>,
}

impl CpuRow {
    pub(crate) fn json(&self) -> Value {
        json!({
            "qos": self.qos,
            "payload": PAYLOAD,
            "messages": self.count,
            "cpu_us_per_msg": row_json(&self.cpu_us),
            "peak_rss_mib": row_json(&self.peak_rss),
            "broker_cpu_us_per_msg": row_json(&self.broker_us),
            "children": self.reports,
        })
    }
}

pub(crate) fn run(context: &Context) -> Vec<CpuRow> {
    let settings = &context.settings;
    let mut rows = Vec::new();
    for &qos in &settings.qos {
        let count = settings.scaled(base_count(qos, PAYLOAD), 1_000);
        let mut clients = settings.libs.clone();
        if qos == 0 {
            clients.insert(0, Client::Raw);
        }
        // Every run is a fresh process: no warm-up round.
        let results = rounds(&clients, settings.rounds, false, |client, round| {
            let args = [
                "__publish".to_owned(),
                format!("--client={}", client.name()),
                format!("--qos={qos}"),
                format!("--payload={PAYLOAD}"),
                format!("--count={count}"),
                format!("--port={}", context.target.port),
            ];
            let (mut report, trace) =
                broker::trace(context.broker_pid, || child::spawn(&args, CHILD_LIMIT));
            if let (Ok(Value::Object(fields)), Some(trace)) = (&mut report, trace) {
                fields.insert("broker_cpu_s".to_owned(), json!(trace.total_s()));
            }
            let shown = match &report {
                Ok(r) => format!(
                    "{:.2} µs CPU/msg, peak RSS {:.1} MiB{}",
                    cpu_per_message(r).unwrap_or(f64::NAN),
                    r["peak_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                    r["invalid"]
                        .as_str()
                        .map(|i| format!(" INVALID: {i}"))
                        .unwrap_or_default()
                ),
                Err(e) => format!("error: {e}"),
            };
            eprintln!(
                "  QoS {qos}  {:<8} {:<9} {shown}",
                client.name(),
                round_label(round, settings.rounds)
            );
            report
        });
        let mut row = CpuRow {
            qos,
            count,
            cpu_us: Row::new(),
            peak_rss: Row::new(),
            broker_us: Row::new(),
            reports: Vec::new(),
        };
        for (client, reports) in results {
            let mut cpu = Measured::default();
            let mut rss = Measured::default();
            let mut broker_us = Measured::default();
            for report in reports {
                match report {
                    Ok(report) => {
                        match (report["invalid"].as_str(), cpu_per_message(&report)) {
                            (Some(reason), _) => cpu.invalid.push(reason.to_owned()),
                            (None, Some(us)) => cpu.samples.push(us),
                            (None, None) => cpu.errors.push("nothing delivered".to_owned()),
                        }
                        if report["invalid"].is_null()
                            && let Some(us) = broker_per_message(&report)
                        {
                            broker_us.samples.push(us);
                        }
                        match report["peak_rss_kib"].as_f64() {
                            Some(kib) => rss.samples.push(kib / 1024.0),
                            None => rss.errors.push("no peak RSS".to_owned()),
                        }
                        row.reports.push(report);
                    }
                    Err(e) => {
                        cpu.errors.push(e.clone());
                        rss.errors.push(e);
                    }
                }
            }
            row.cpu_us.insert(client, cpu);
            row.peak_rss.insert(client, rss);
            row.broker_us.insert(client, broker_us);
        }
        rows.push(row);
    }
    rows
}

/// The broker's CPU µs per delivered message.
fn broker_per_message(report: &Value) -> Option<f64> {
    per_delivered(report, report["broker_cpu_s"].as_f64()?)
}

/// User + system CPU µs per delivered message.
fn cpu_per_message(report: &Value) -> Option<f64> {
    per_delivered(
        report,
        report["user_s"].as_f64()? + report["sys_s"].as_f64()?,
    )
}

/// `cpu_s` seconds as µs per message the report delivered.
fn per_delivered(report: &Value, cpu_s: f64) -> Option<f64> {
    let delivered = report["delivered"].as_f64().filter(|&d| d > 0.0)?;
    Some(cpu_s * 1e6 / delivered)
}
