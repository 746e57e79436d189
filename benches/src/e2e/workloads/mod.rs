//! The workloads, and what they share: rounds in rotating order, and the
//! samples of one client in one row.

pub(crate) mod connect;
pub(crate) mod cpu;
pub(crate) mod latency;
pub(crate) mod memory;
pub(crate) mod throughput;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::clients::Client;
use super::stats::Spread;

/// The measured rounds of one client in one row: values of valid rounds,
/// reasons of invalid ones (they do not count), errors, and remarks on
/// valid rounds (QoS 0 loss, QoS 1 duplicates).
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    pub(crate) samples: Vec<f64>,
    pub(crate) invalid: Vec<String>,
    pub(crate) errors: Vec<String>,
    pub(crate) notes: Vec<String>,
}

impl Measured {
    pub(crate) fn spread(&self) -> Option<Spread> {
        Spread::of(&self.samples)
    }

    /// The median, if every round was valid.
    pub(crate) fn clean_median(&self) -> Option<f64> {
        if self.invalid.is_empty() && self.errors.is_empty() {
            self.spread().map(|s| s.median)
        } else {
            None
        }
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "samples": self.samples,
            "summary": self.spread().map(|s| s.json()),
            "invalid": self.invalid,
            "errors": self.errors,
            "notes": self.notes,
        })
    }
}

/// One measurement per client per row.
pub(crate) type Row = BTreeMap<Client, Measured>;

pub(crate) fn row_json(row: &Row) -> Value {
    Value::Object(
        row.iter()
            .map(|(client, measured)| (client.name().to_owned(), measured.json()))
            .collect(),
    )
}

/// The clients of round `round`, rotated so that each takes each place in
/// turn (the first round is the warm-up when there is one).
pub(crate) fn order(clients: &[Client], round: usize) -> Vec<Client> {
    let mut order = clients.to_vec();
    if !order.is_empty() {
        let shift = round % order.len();
        order.rotate_left(shift);
    }
    order
}

/// Runs `measure` for every client in every round, rotating the order;
/// with `warmup`, a first round whose results are dropped. Returns each
/// client's measured results in round order.
pub(crate) fn rounds<T>(
    clients: &[Client],
    rounds: usize,
    warmup: bool,
    mut measure: impl FnMut(Client, usize) -> T,
) -> BTreeMap<Client, Vec<T>> {
    let mut results: BTreeMap<Client, Vec<T>> = BTreeMap::new();
    let first = usize::from(!warmup);
    for round in first..=rounds {
        for client in order(clients, round) {
            let result = measure(client, round);
            if round > 0 {
                results.entry(client).or_default().push(result);
            }
        }
    }
    results
}

/// `label` for progress lines: "warm-up" or "round i/n".
pub(crate) fn round_label(round: usize, rounds: usize) -> String {
    if round == 0 {
        "warm-up".to_owned()
    } else {
        format!("round {round}/{rounds}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_rotate_and_drop_the_warm_up() {
        let clients = [Client::Mqtide, Client::Rumqttc, Client::Mqtt5];
        let mut seen = Vec::new();
        let results = rounds(&clients, 2, true, |client, round| {
            seen.push((round, client));
            round
        });
        assert_eq!(
            seen,
            [
                (0, Client::Mqtide),
                (0, Client::Rumqttc),
                (0, Client::Mqtt5),
                (1, Client::Rumqttc),
                (1, Client::Mqtt5),
                (1, Client::Mqtide),
                (2, Client::Mqtt5),
                (2, Client::Mqtide),
                (2, Client::Rumqttc),
            ]
        );
        assert_eq!(results[&Client::Mqtide], [1, 2]);
        let without = rounds(&clients, 1, false, |_, round| round);
        assert_eq!(without[&Client::Mqtt5], [1]);
    }
}
