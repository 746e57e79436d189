//! One publisher → one subscriber through the broker, each client in fresh
//! connections, at every QoS and payload size; at QoS 0 the raw-socket
//! ceiling runs in the same rotation. Throughput is messages delivered
//! over the time from the first publish to the last message received.

use serde_json::{Value, json};

use super::{Measured, Row, round_label, rounds, row_json};
use crate::e2e::Context;
use crate::e2e::broker::{self, CpuTrace};
use crate::e2e::clients::{self, Client};
use crate::e2e::flow::{FlowOutcome, FlowSpec};

/// One QoS and payload size.
#[derive(Debug, Clone)]
pub(crate) struct ThroughputRow {
    pub(crate) qos: u8,
    pub(crate) payload: usize,
    pub(crate) count: u64,
    /// Messages per second.
    pub(crate) row: Row,
    /// The broker's share of one core during each client's counted rounds,
    /// in percent: near 100, the broker is what limits the rate.
    pub(crate) broker_busy: Row,
}

impl ThroughputRow {
    pub(crate) fn json(&self) -> Value {
        json!({
            "qos": self.qos,
            "payload": self.payload,
            "messages": self.count,
            "msg_per_s": row_json(&self.row),
            "broker_busy_percent": row_json(&self.broker_busy),
        })
    }
}

/// Messages per round: about 1 s of the fastest client on an idle 2-core
/// machine, 2 s on a busy one (QoS 0 is bound by the broker, QoS 1 and 2
/// by the in-flight window).
pub(crate) fn base_count(qos: u8, payload: usize) -> u64 {
    match (qos, payload > 1024) {
        (0, false) => 150_000,
        (0, true) => 75_000,
        (1, false) => 50_000,
        (1, true) => 30_000,
        (_, false) => 30_000,
        (_, true) => 20_000,
    }
}

type Outcome = (Result<FlowOutcome, String>, Option<f64>);

/// The broker's busy share in the rounds `measured` counts.
fn broker_busy(outcomes: &[Outcome]) -> Measured {
    let mut busy = Measured::default();
    for (outcome, percent) in outcomes {
        if let (Ok(outcome), Some(percent)) = (outcome, percent)
            && outcome.invalid().is_none()
        {
            busy.samples.push(*percent);
        }
    }
    busy
}

/// The broker's busy share over the measured part of a round: from the
/// first publish to the last message received (not the connects, nor a
/// wait for QoS 0 messages that never come).
fn busy_percent(outcome: &Result<FlowOutcome, String>, trace: Option<&CpuTrace>) -> Option<f64> {
    let outcome = outcome.as_ref().ok()?;
    trace?.busy_percent(outcome.start, outcome.elapsed)
}

fn measured(outcomes: Vec<Outcome>) -> Measured {
    let mut measured = Measured::default();
    for (outcome, _) in outcomes {
        match outcome {
            Ok(outcome) => match outcome.invalid() {
                Some(reason) => measured.invalid.push(reason),
                None => {
                    if outcome.missing() > 0 {
                        measured.notes.push(format!(
                            "lost {} of {}",
                            outcome.missing(),
                            outcome.count
                        ));
                    }
                    if outcome.duplicates > 0 {
                        measured
                            .notes
                            .push(format!("{} duplicates", outcome.duplicates));
                    }
                    measured.samples.push(outcome.rate());
                }
            },
            Err(error) => measured.errors.push(error),
        }
    }
    measured
}

pub(crate) fn run(context: &Context) -> Vec<ThroughputRow> {
    let settings = &context.settings;
    let mut rows = Vec::new();
    for &qos in &settings.qos {
        for &payload in &settings.payloads {
            let count = settings.scaled(base_count(qos, payload), 1_000);
            let mut clients = settings.libs.clone();
            if qos == 0 {
                clients.insert(0, Client::Raw);
            }
            let results = rounds(&clients, settings.rounds, true, |client, round| {
                let spec = FlowSpec {
                    qos,
                    payload,
                    count,
                    topic: context.unique("flow"),
                    id: context.unique(client.name()),
                };
                let (outcome, trace) = broker::trace(context.broker_pid, || {
                    context
                        .runtime
                        .block_on(clients::flow(client, &context.target, &spec))
                });
                let percent = busy_percent(&outcome, trace.as_ref());
                let busy = percent
                    .map(|p| format!(", broker {p:.0}% busy"))
                    .unwrap_or_default();
                let shown = match &outcome {
                    Ok(o) => match o.invalid() {
                        Some(reason) => format!("INVALID: {reason}"),
                        None => format!(
                            "{:.1}k msg/s ({} of {count} in {:.2?}{busy})",
                            o.rate() / 1e3,
                            o.unique,
                            o.elapsed
                        ),
                    },
                    Err(e) => format!("error: {e}"),
                };
                eprintln!(
                    "  QoS {qos} {payload:>5} B  {:<8} {:<9} {shown}",
                    client.name(),
                    round_label(round, settings.rounds)
                );
                (outcome, percent)
            });
            let mut row = Row::new();
            let mut busy = Row::new();
            for (client, outcomes) in results {
                busy.insert(client, broker_busy(&outcomes));
                row.insert(client, measured(outcomes));
            }
            rows.push(ThroughputRow {
                qos,
                payload,
                count,
                row,
                broker_busy: busy,
            });
        }
    }
    rows
}
