//! The clients under test, each driven the way its documentation suggests,
//! behind one set of functions: a publisher → subscriber run, request /
//! response round trips, one connect and disconnect, and an idle
//! connection held open.
//!
//! Every client speaks MQTT 3.1.1 (the protocol all three share with
//! rumqttc's default module), with a 60 s keep-alive and clean sessions.

mod mqtide;
mod mqtide_blocking;
#[cfg(feature = "metrics")]
mod mqtide_metrics;
mod mqtt5;
pub(crate) mod raw;
mod rumqttc;
mod rumqttc_sync;
mod sync_flow;

use std::any::Any;
use std::fmt;
use std::time::Duration;

use clap::ValueEnum;

use super::flow::{FlowOutcome, FlowSpec, Target};

/// How long any single run may take before it is abandoned as hung.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// How many requests go unmeasured at the start of each latency round, to
/// warm the connection up.
pub(crate) const LATENCY_WARMUP: u64 = 100;

/// The keep-alive every client is given.
const KEEP_ALIVE: Duration = Duration::from_secs(60);

/// A client under test, or the raw socket that sets the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Client {
    /// Hand-written packets on a plain TCP socket: the ceiling.
    Raw,
    Mqtide,
    Rumqttc,
    Mqtt5,
    /// mqtide's blocking client (throughput runs only).
    MqtideBlocking,
    /// rumqttc's synchronous `Client` (throughput runs only).
    RumqttcSync,
    /// mqtide with its `metrics` feature and a Prometheus recorder
    /// installed (throughput runs only; needs `--features metrics`).
    MqtideMetrics,
}

impl Client {
    /// The client libraries (everything but the raw socket).
    pub(crate) const LIBS: [Self; 3] = [Self::Mqtide, Self::Rumqttc, Self::Mqtt5];

    /// Whether only the throughput and CPU workloads run this client (the
    /// blocking clients, and mqtide with metrics: a variant of a row
    /// measured in full).
    pub(crate) fn throughput_only(self) -> bool {
        matches!(
            self,
            Self::MqtideBlocking | Self::RumqttcSync | Self::MqtideMetrics
        )
    }

    /// The clients of `libs` every workload runs.
    pub(crate) fn every_workload(libs: &[Self]) -> Vec<Self> {
        libs.iter()
            .copied()
            .filter(|c| !c.throughput_only())
            .collect()
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Mqtide => "mqtide",
            Self::Rumqttc => "rumqttc",
            Self::Mqtt5 => "mqtt5",
            Self::MqtideBlocking => "mqtide-blocking",
            Self::RumqttcSync => "rumqttc-sync",
            Self::MqtideMetrics => "mqtide-metrics",
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One request / response latency round.
#[derive(Debug, Clone)]
pub(crate) struct EchoSpec {
    pub(crate) qos: u8,
    /// Measured round trips (after [`LATENCY_WARMUP`] unmeasured ones).
    pub(crate) count: u64,
    pub(crate) request_topic: String,
    pub(crate) response_topic: String,
    pub(crate) id: String,
}

/// An open connection kept alive by holding this.
pub(crate) type Held = Box<dyn Any + Send>;

async fn limited<T>(what: &str, run: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(RUN_LIMIT, run)
        .await
        .unwrap_or_else(|_| Err(format!("{what} did not finish within {RUN_LIMIT:?}")))
}

/// A publisher → subscriber run with fresh connections. Must run on a
/// tokio runtime; the raw client uses threads of its own.
pub(crate) async fn flow(
    client: Client,
    target: &Target,
    spec: &FlowSpec,
) -> Result<FlowOutcome, String> {
    match client {
        Client::Raw => {
            let (target, spec) = (target.clone(), spec.clone());
            tokio::task::spawn_blocking(move || raw::flow(&target, &spec))
                .await
                .map_err(|e| format!("raw run: {e}"))?
        }
        Client::Mqtide => limited("the run", mqtide::flow(target, spec)).await,
        Client::Rumqttc => limited("the run", rumqttc::flow(target, spec)).await,
        Client::Mqtt5 => limited("the run", mqtt5::flow(target, spec)).await,
        Client::MqtideBlocking => on_a_thread(target, spec, mqtide_blocking::flow).await,
        Client::RumqttcSync => on_a_thread(target, spec, rumqttc_sync::flow).await,
        #[cfg(feature = "metrics")]
        Client::MqtideMetrics => limited("the run", mqtide::flow_recorded(target, spec)).await,
        #[cfg(not(feature = "metrics"))]
        Client::MqtideMetrics => {
            Err("mqtide-metrics needs the benchmark built with --features metrics".to_owned())
        }
    }
}

/// Runs a synchronous client's flow on a plain thread (not one of the
/// runtime's: a blocking client refuses to run inside a runtime).
async fn on_a_thread(
    target: &Target,
    spec: &FlowSpec,
    flow: fn(&Target, &FlowSpec) -> Result<FlowOutcome, String>,
) -> Result<FlowOutcome, String> {
    let (target, spec) = (target.clone(), spec.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(flow(&target, &spec));
    });
    limited("the run", async {
        rx.await
            .map_err(|_| "the run's thread panicked".to_owned())?
    })
    .await
}

/// Round-trip times of sequential requests echoed by a second client.
pub(crate) async fn round_trips(
    client: Client,
    target: &Target,
    spec: &EchoSpec,
) -> Result<Vec<Duration>, String> {
    match client {
        Client::Raw | Client::MqtideBlocking | Client::RumqttcSync | Client::MqtideMetrics => {
            Err(format!("{client} has no latency run"))
        }
        Client::Mqtide => limited("the round trips", mqtide::round_trips(target, spec)).await,
        Client::Rumqttc => limited("the round trips", rumqttc::round_trips(target, spec)).await,
        Client::Mqtt5 => limited("the round trips", mqtt5::round_trips(target, spec)).await,
    }
}

/// Connects (CONNECT, CONNACK) and disconnects.
pub(crate) async fn connect_disconnect(
    client: Client,
    target: &Target,
    id: &str,
) -> Result<(), String> {
    match client {
        Client::Raw | Client::MqtideBlocking | Client::RumqttcSync | Client::MqtideMetrics => {
            Err(format!("{client} has no connection run"))
        }
        Client::Mqtide => limited("the connection", mqtide::connect_disconnect(target, id)).await,
        Client::Rumqttc => limited("the connection", rumqttc::connect_disconnect(target, id)).await,
        Client::Mqtt5 => limited("the connection", mqtt5::connect_disconnect(target, id)).await,
    }
}

/// Opens a connection and returns what keeps it open.
pub(crate) async fn hold(client: Client, target: Target, id: String) -> Result<Held, String> {
    match client {
        Client::Raw | Client::MqtideBlocking | Client::RumqttcSync | Client::MqtideMetrics => {
            Err(format!("{client} has no idle run"))
        }
        Client::Mqtide => mqtide::hold(&target, &id).await,
        Client::Rumqttc => rumqttc::hold(&target, &id).await,
        Client::Mqtt5 => mqtt5::hold(&target, &id).await,
    }
}
