//! Request / response round trips through the broker: client A publishes
//! a request, client B (a second connection of the same library) echoes
//! it on another topic, A waits for the echo before the next request. The
//! time runs from A's publish call to the echo in A's hands; the request's
//! own acknowledgement is not waited for on the measured path. A broker of
//! its own, with `set_tcp_nodelay true` (see [`broker::NODELAY`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Measured, round_label, rounds};
use crate::e2e::clients::{self, Client, EchoSpec, LATENCY_WARMUP};
use crate::e2e::flow::Target;
use crate::e2e::stats::percentile;
use crate::e2e::{Context, broker};

/// Round trips per measured round.
const ROUND_TRIPS: u64 = 2_000;

/// One client's round trips at one QoS.
#[derive(Debug, Clone, Default)]
pub(crate) struct LatencyCell {
    /// Every measured round trip of every round, in µs, sorted.
    pub(crate) pooled: Vec<f64>,
    /// Each round's median, µs.
    pub(crate) p50: Measured,
    /// Each round's 99th percentile, µs.
    pub(crate) p99: Measured,
}

impl LatencyCell {
    pub(crate) fn pooled_percentile(&self, p: f64) -> Option<f64> {
        if self.p99.errors.is_empty() {
            percentile(&self.pooled, p)
        } else {
            None
        }
    }

    fn json(&self) -> Value {
        json!({
            "round_trips": self.pooled.len(),
            "p50_us": percentile(&self.pooled, 50.0),
            "p90_us": percentile(&self.pooled, 90.0),
            "p99_us": percentile(&self.pooled, 99.0),
            "p99_9_us": percentile(&self.pooled, 99.9),
            "max_us": self.pooled.last(),
            "rounds_p50_us": self.p50.json(),
            "rounds_p99_us": self.p99.json(),
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LatencyRow {
    pub(crate) qos: u8,
    pub(crate) count: u64,
    pub(crate) cells: BTreeMap<Client, LatencyCell>,
}

impl LatencyRow {
    pub(crate) fn json(&self) -> Value {
        json!({
            "qos": self.qos,
            "round_trips_per_round": self.count,
            "unmeasured_per_round": LATENCY_WARMUP,
            "clients": self.cells.iter()
                .map(|(client, cell)| (client.name().to_owned(), cell.json()))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

pub(crate) fn run(context: &Context) -> Result<Vec<LatencyRow>, String> {
    let settings = &context.settings;
    let broker = broker::start(broker::NODELAY)?;
    let target = Target {
        port: broker.port(),
    };
    let count = settings.scaled(ROUND_TRIPS, 100);
    let mut rows = Vec::new();
    for &qos in &settings.qos {
        let results = rounds(
            &Client::every_workload(&settings.libs),
            settings.rounds,
            true,
            |client, round| {
                let spec = EchoSpec {
                    qos,
                    count,
                    request_topic: context.unique("req"),
                    response_topic: context.unique("resp"),
                    id: context.unique(client.name()),
                };
                let result = context
                    .runtime
                    .block_on(clients::round_trips(client, &target, &spec))
                    .map(|samples| {
                        let mut us: Vec<f64> =
                            samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
                        us.sort_by(f64::total_cmp);
                        us
                    });
                let shown = match &result {
                    Ok(us) => format!(
                        "p50 {:.0} µs, p99 {:.0} µs",
                        percentile(us, 50.0).unwrap_or(f64::NAN),
                        percentile(us, 99.0).unwrap_or(f64::NAN)
                    ),
                    Err(e) => format!("error: {e}"),
                };
                eprintln!(
                    "  QoS {qos}  {:<8} {:<9} {shown}",
                    client.name(),
                    round_label(round, settings.rounds)
                );
                result
            },
        );
        let cells = results
            .into_iter()
            .map(|(client, runs)| {
                let mut cell = LatencyCell::default();
                for run in runs {
                    match run {
                        Ok(us) => {
                            cell.p50.samples.extend(percentile(&us, 50.0));
                            cell.p99.samples.extend(percentile(&us, 99.0));
                            cell.pooled.extend(us);
                        }
                        Err(e) => {
                            cell.p50.errors.push(e.clone());
                            cell.p99.errors.push(e);
                        }
                    }
                }
                cell.pooled.sort_by(f64::total_cmp);
                (client, cell)
            })
            .collect();
        rows.push(LatencyRow { qos, count, cells });
    }
    Ok(rows)
}
