//! Connection setup: connect (TCP, CONNECT, CONNACK) and disconnect, one
//! after another, and many at once.

use std::time::Instant;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Measured, Row, round_label, rounds, row_json};
use crate::e2e::Context;
use crate::e2e::clients::{self, Client};
use crate::e2e::flow::Target;

/// Connections opened one after another per round.
const SEQUENTIAL: u64 = 300;

/// How a round's connections are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One after another in the benchmark's `block_on` (the main thread,
    /// as in `#[tokio::main]`'s own future).
    Sequential,
    /// One after another in a spawned task, on a runtime worker, as a
    /// service's task would.
    SequentialInTask,
    /// All at once, a task each.
    Concurrent,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::SequentialInTask => "sequential, in a task",
            Self::Concurrent => "concurrent",
        }
    }
}
/// Connections opened at once per round: no more than Mosquitto's listen
/// backlog (100). With 300 at once, SYNs overflow the accept queue, are
/// retransmitted a second later, and that second is all a round measures
/// (seen as rounds at ~290 connections/s against ~8 000 otherwise).
const CONCURRENT: u64 = 100;

#[derive(Debug, Clone)]
pub(crate) struct ConnectRow {
    /// "sequential", "sequential, in a task" or "concurrent".
    pub(crate) mode: &'static str,
    pub(crate) count: u64,
    /// Connections per second.
    pub(crate) row: Row,
}

impl ConnectRow {
    pub(crate) fn json(&self) -> Value {
        json!({
            "mode": self.mode,
            "connections": self.count,
            "per_s": row_json(&self.row),
        })
    }
}

/// Connect–disconnect cycles, one after another.
async fn one_by_one(client: Client, target: Target, ids: Vec<String>) -> Result<(), String> {
    for id in ids {
        clients::connect_disconnect(client, &target, &id).await?;
    }
    Ok(())
}

/// `count` connect–disconnect cycles, one at a time or all at once; the
/// rate in connections per second.
async fn cycles(client: Client, context: &Context, count: u64, mode: Mode) -> Result<f64, String> {
    let ids: Vec<String> = (0..count).map(|_| context.unique(client.name())).collect();
    let target = context.target.clone();
    let started = Instant::now();
    match mode {
        Mode::Sequential => one_by_one(client, target, ids).await?,
        Mode::SequentialInTask => tokio::spawn(one_by_one(client, target, ids))
            .await
            .map_err(|e| format!("connection task: {e}"))??,
        Mode::Concurrent => {
            let mut tasks = JoinSet::new();
            for id in ids {
                let target = target.clone();
                tasks.spawn(async move { clients::connect_disconnect(client, &target, &id).await });
            }
            while let Some(done) = tasks.join_next().await {
                done.map_err(|e| format!("connection task: {e}"))??;
            }
        }
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

pub(crate) fn run(context: &Context) -> Vec<ConnectRow> {
    let settings = &context.settings;
    let mut rows = Vec::new();
    for (mode, base) in [
        (Mode::Sequential, SEQUENTIAL),
        (Mode::SequentialInTask, SEQUENTIAL),
        (Mode::Concurrent, CONCURRENT),
    ] {
        let count = settings.scaled(base, 20);
        let results = rounds(
            &Client::every_workload(&settings.libs),
            settings.rounds,
            true,
            |client, round| {
                let result = context
                    .runtime
                    .block_on(cycles(client, context, count, mode));
                let shown = match &result {
                    Ok(rate) => format!("{rate:.0} connections/s"),
                    Err(e) => format!("error: {e}"),
                };
                eprintln!(
                    "  {:<21} x{count} {:<8} {:<9} {shown}",
                    mode.name(),
                    client.name(),
                    round_label(round, settings.rounds)
                );
                result
            },
        );
        let row = results
            .into_iter()
            .map(|(client, runs)| {
                let mut measured = Measured::default();
                for run in runs {
                    match run {
                        Ok(rate) => measured.samples.push(rate),
                        Err(e) => measured.errors.push(e),
                    }
                }
                (client, measured)
            })
            .collect();
        rows.push(ConnectRow {
            mode: mode.name(),
            count,
            row,
        });
    }
    rows
}
