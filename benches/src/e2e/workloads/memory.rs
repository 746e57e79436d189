//! RSS per idle connection: each client opens N connections in a child
//! process of its own (100 at a time) and holds them; the child reads its
//! RSS before and after, and the difference over N is the figure. A broker
//! of its own, so that nothing else is connected.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Measured, Row, round_label, rounds, row_json};
use crate::e2e::clients::Client;
use crate::e2e::{Context, broker, child};

/// How long one child may take.
const CHILD_LIMIT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone)]
pub(crate) struct MemoryRow {
    pub(crate) connections: usize,
    /// KiB of RSS per idle connection.
    pub(crate) row: Row,
    /// What the children reported.
    pub(crate) reports: Vec<Value>,
}

impl MemoryRow {
    pub(crate) fn json(&self) -> Value {
        json!({
            "connections": self.connections,
            "rss_kib_per_connection": row_json(&self.row),
            "children": self.reports,
        })
    }
}

pub(crate) fn run(context: &Context) -> Result<Vec<MemoryRow>, String> {
    let settings = &context.settings;
    let broker = broker::start("")?;
    let mut rows = Vec::new();
    for &connections in &settings.connections {
        let results = rounds(
            &Client::every_workload(&settings.libs),
            settings.rounds,
            false,
            |client, round| {
                let args = [
                    "__idle".to_owned(),
                    format!("--client={}", client.name()),
                    format!("--count={connections}"),
                    format!("--port={}", broker.port()),
                ];
                let report = child::spawn(&args, CHILD_LIMIT);
                let shown = match &report {
                    Ok(r) => format!(
                        "{} connected in {:.1} s, RSS {} → {} KiB{}",
                        r["connected"],
                        r["open_s"].as_f64().unwrap_or(f64::NAN),
                        r["rss_before_kib"],
                        r["rss_after_kib"],
                        r["error"]
                            .as_str()
                            .map(|e| format!(", stopped by: {e}"))
                            .unwrap_or_default()
                    ),
                    Err(e) => format!("error: {e}"),
                };
                eprintln!(
                    "  {connections:>6} connections  {:<8} {:<9} {shown}",
                    client.name(),
                    round_label(round, settings.rounds)
                );
                report
            },
        );
        let mut row = MemoryRow {
            connections,
            row: Row::new(),
            reports: Vec::new(),
        };
        for (client, reports) in results {
            row.row
                .insert(client, measured(connections, reports, &mut row.reports));
        }
        rows.push(row);
    }
    Ok(rows)
}

fn measured(
    connections: usize,
    reports: Vec<Result<Value, String>>,
    kept: &mut Vec<Value>,
) -> Measured {
    let mut measured = Measured::default();
    for report in reports {
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                measured.errors.push(e);
                continue;
            }
        };
        let connected = report["connected"].as_u64().unwrap_or(0);
        if connected < connections as u64 {
            measured.errors.push(format!(
                "only {connected} of {connections} connected: {}",
                report["error"].as_str().unwrap_or("no error reported")
            ));
        } else {
            let before = report["rss_before_kib"].as_f64().unwrap_or(f64::NAN);
            let after = report["rss_after_kib"].as_f64().unwrap_or(f64::NAN);
            measured.samples.push((after - before) / connections as f64);
        }
        kept.push(report);
    }
    measured
}
