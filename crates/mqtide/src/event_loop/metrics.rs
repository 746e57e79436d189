//! The figures of [`Stats`](crate::Stats) through the `metrics` facade
//! (feature `metrics`), for whatever exporter the application installed
//! (Prometheus, StatsD, …), plus the time from a publish's acceptance to
//! its acknowledgement as a histogram per QoS.
//!
//! Every name starts with `mqtide_`; counts end in `_total`. Each carries
//! the label `client_id` unless the builder turned it off
//! ([`ClientBuilder::metrics_client_id_label`](crate::ClientBuilder::metrics_client_id_label)),
//! for fleets where one series per client is too many. Handles are
//! registered once per client; a task of the client's gives them what
//! changed once a second and as the client closes (so nothing of it is on
//! the path of a message but the latency sample).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Label};
use mqtide_proto::QoS;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::state::ConnectionState;
use crate::stats::{CELLS, Cell, StatsCells, rtt_from_cell};

/// What a figure is in the facade: its name, its own label, and whether it
/// is a count (a counter) or a level (a gauge).
struct Series {
    name: &'static str,
    label: Option<(&'static str, &'static str)>,
    count: bool,
}

const fn count(name: &'static str, label: Option<(&'static str, &'static str)>) -> Series {
    Series {
        name,
        label,
        count: true,
    }
}

const fn level(name: &'static str, label: Option<(&'static str, &'static str)>) -> Series {
    Series {
        name,
        label,
        count: false,
    }
}

const Q0: Option<(&str, &str)> = Some(("qos", "0"));
const Q1: Option<(&str, &str)> = Some(("qos", "1"));
const Q2: Option<(&str, &str)> = Some(("qos", "2"));
const SENT: Option<(&str, &str)> = Some(("direction", "sent"));
const RECEIVED: Option<(&str, &str)> = Some(("direction", "received"));
const OUT: Option<(&str, &str)> = Some(("direction", "outgoing"));
const IN: Option<(&str, &str)> = Some(("direction", "incoming"));

/// The series of each [`Cell`], in its order.
const SERIES: [Series; CELLS] = [
    count("mqtide_connections_total", None),
    count("mqtide_connections_lost_total", None),
    count("mqtide_connect_failures_total", None),
    count("mqtide_publishes_queued_total", Q0),
    count("mqtide_publishes_queued_total", Q1),
    count("mqtide_publishes_queued_total", Q2),
    count("mqtide_publishes_sent_total", Q0),
    count("mqtide_publishes_sent_total", Q1),
    count("mqtide_publishes_sent_total", Q2),
    count("mqtide_publishes_acknowledged_total", Q0),
    count("mqtide_publishes_acknowledged_total", Q1),
    count("mqtide_publishes_acknowledged_total", Q2),
    count("mqtide_publishes_failed_total", Q0),
    count("mqtide_publishes_failed_total", Q1),
    count("mqtide_publishes_failed_total", Q2),
    count("mqtide_resends_total", Some(("packet", "publish"))),
    count("mqtide_resends_total", Some(("packet", "pubrel"))),
    count("mqtide_messages_received_total", Q0),
    count("mqtide_messages_received_total", Q1),
    count("mqtide_messages_received_total", Q2),
    count("mqtide_duplicates_suppressed_total", None),
    count("mqtide_packets_total", SENT),
    count("mqtide_packets_total", RECEIVED),
    count("mqtide_bytes_total", SENT),
    count("mqtide_bytes_total", RECEIVED),
    level("mqtide_inflight", OUT),
    level("mqtide_inflight", IN),
    level("mqtide_offline_queue", None),
    level("mqtide_held_for_streams", None),
    level("mqtide_keep_alive_rtt_seconds", None),
];

/// The name of the acknowledgement latency histogram.
const LATENCY: &str = "mqtide_publish_ack_seconds";

/// A figure's handle.
#[derive(Debug)]
enum Handle {
    Counter(Counter),
    Gauge(Gauge),
}

/// How often the figures go to the facade while the client lives (and
/// once more as it closes). Exporters scrape every few seconds; pushing
/// per turn of the loop would put the facade on the path of every message.
const PERIOD: Duration = Duration::from_secs(1);

/// One client's series and what they were last given.
#[derive(Debug)]
struct Pushed {
    handles: Vec<Handle>,
    reported: [u64; CELLS],
}

/// One client's metrics: the series of its figures, pushed from the
/// statistics once a [`PERIOD`] by a task of its own, and the latency
/// histograms, recorded as each publish is acknowledged.
#[derive(Debug)]
pub(super) struct Metrics {
    series: Arc<Mutex<Pushed>>,
    /// By QoS; acknowledged publishes only.
    latency: [Histogram; 3],
}

impl Metrics {
    /// Registers the client's series with the installed recorder, labelled
    /// with `client_id` if given.
    pub(super) fn new(client_id: Option<&str>) -> Self {
        let base: Vec<Label> = client_id
            .map(|id| Label::new("client_id", id.to_owned()))
            .into_iter()
            .collect();
        let labels = |extra: Option<(&'static str, &'static str)>| {
            let mut labels = base.clone();
            labels.extend(extra.map(|(k, v)| Label::new(k, v)));
            labels
        };
        let handles = SERIES
            .iter()
            .map(|series| {
                let labels = labels(series.label);
                if series.count {
                    Handle::Counter(metrics::counter!(series.name, labels))
                } else {
                    Handle::Gauge(metrics::gauge!(series.name, labels))
                }
            })
            .collect();
        let latency = [Q0, Q1, Q2].map(|qos| metrics::histogram!(LATENCY, labels(qos)));
        Self {
            series: Arc::new(Mutex::new(Pushed {
                handles,
                reported: [0; CELLS],
            })),
            latency,
        }
    }

    /// Records how long an acknowledged publish took.
    pub(super) fn latency(&self, qos: QoS, took: Duration) {
        self.latency[qos as usize].record(took.as_secs_f64());
    }

    /// Pushes the figures now (the client is closing).
    pub(super) fn flush(&self, cells: &StatsCells) {
        lock(&self.series).update(&cells.values());
    }

    /// The task that pushes the figures once a [`PERIOD`] until the client
    /// closes (its state `Closed`, or the loop gone).
    pub(super) fn publisher(
        &self,
        cells: Arc<StatsCells>,
        mut state: watch::Receiver<ConnectionState>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let series = Arc::clone(&self.series);
        async move {
            let mut tick = tokio::time::interval(PERIOD);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                let closed = tokio::select! {
                    _ = tick.tick() => false,
                    changed = state.changed() => {
                        changed.is_err() || matches!(*state.borrow(), ConnectionState::Closed)
                    }
                };
                lock(&series).update(&cells.values());
                if closed {
                    break;
                }
            }
        }
    }
}

fn lock(series: &Mutex<Pushed>) -> std::sync::MutexGuard<'_, Pushed> {
    series.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pushed {
    /// Adds to each counter what it gained since the last report, and sets
    /// each gauge that changed.
    fn update(&mut self, values: &[u64; CELLS]) {
        for (index, handle) in self.handles.iter().enumerate() {
            let value = values[index];
            match handle {
                Handle::Counter(counter) => {
                    let gained = value.saturating_sub(self.reported[index]);
                    if gained > 0 {
                        counter.increment(gained);
                    }
                }
                Handle::Gauge(gauge) if index == Cell::KeepAliveRtt as usize => {
                    if let Some(rtt) = rtt_from_cell(value) {
                        gauge.set(rtt.as_secs_f64());
                    }
                }
                Handle::Gauge(gauge) => {
                    if value != self.reported[index] {
                        gauge.set(value as f64);
                    }
                }
            }
        }
        self.reported = *values;
    }
}
