//! Connection setup: connect (TCP, CONNECT, CONNACK) and disconnect, one
//! after another, and many at once.

use std::time::Instant;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Measured, Row, round_label, rounds, row_json};
use crate::e2e::Context;
use crate::e2e::clients::{self, Client};

/// Connections opened one after another per round.
const SEQUENTIAL: u64 = 300;
/// Connections opened at once per round: no more than Mosquitto's listen
/// backlog (100). With 300 at once, SYNs overflow the accept queue, are
/// retransmitted a second later, and that second is all a round measures
/// (seen as rounds at ~290 connections/s against ~8 000 otherwise).
const CONCURRENT: u64 = 100;

#[derive(Debug, Clone)]
pub(crate) struct ConnectRow {
    /// "sequential" or "concurrent".
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

/// `count` connect–disconnect cycles, one at a time or all at once; the
/// rate in connections per second.
async fn cycles(
    client: Client,
    context: &Context,
    count: u64,
    concurrent: bool,
) -> Result<f64, String> {
    let ids: Vec<String> = (0..count).map(|_| context.unique(client.name())).collect();
    let started = Instant::now();
    if concurrent {
        let mut tasks = JoinSet::new();
        for id in ids {
            let target = context.target.clone();
            tasks.spawn(async move { clients::connect_disconnect(client, &target, &id).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| format!("connection task: {e}"))??;
        }
    } else {
        for id in ids {
            clients::connect_disconnect(client, &context.target, &id).await?;
        }
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

pub(crate) fn run(context: &Context) -> Vec<ConnectRow> {
    let settings = &context.settings;
    let mut rows = Vec::new();
    for (mode, base) in [("sequential", SEQUENTIAL), ("concurrent", CONCURRENT)] {
        let count = settings.scaled(base, 20);
        let results = rounds(&settings.libs, settings.rounds, true, |client, round| {
            let result =
                context
                    .runtime
                    .block_on(cycles(client, context, count, mode == "concurrent"));
            let shown = match &result {
                Ok(rate) => format!("{rate:.0} connections/s"),
                Err(e) => format!("error: {e}"),
            };
            eprintln!(
                "  {mode:<10} x{count} {:<8} {:<9} {shown}",
                client.name(),
                round_label(round, settings.rounds)
            );
            result
        });
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
        rows.push(ConnectRow { mode, count, row });
    }
    rows
}
