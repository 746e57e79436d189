//! Issue #8's targets, judged from the run's medians.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Results;
use super::format::{escape, median, ratio_of, show_ratio};
use crate::e2e::clients::Client;

/// One of issue #8's targets, judged from the run.
#[derive(Debug)]
struct Target {
    name: &'static str,
    measured: String,
    /// None: not measured in this run.
    met: Option<bool>,
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

    pub(super) fn targets_json(&self) -> Value {
        Value::Array(
            self.targets()
                .iter()
                .map(|t| json!({ "target": t.name, "measured": t.measured, "met": t.met }))
                .collect(),
        )
    }

    pub(super) fn targets_table(&self, md: &mut String) {
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
