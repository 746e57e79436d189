//! mqtide, as its docs suggest for throughput: `publish(..).send()` queues
//! each message and returns a `PendingAck` without waiting for the
//! acknowledgement (the event loop pipelines up to the in-flight window);
//! messages arrive on a `Subscription` stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mqtide::{Client, ClientBuilder, Connection, ProtocolVersion, QoS};
use tokio::sync::oneshot;

use super::{EchoSpec, Held, KEEP_ALIVE, LATENCY_WARMUP};
use crate::e2e::flow::{FlowOutcome, FlowSpec, Sink, Target, payload, sequence};

pub(super) fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn builder(target: &Target, id: &str) -> ClientBuilder {
    Client::builder(&target.url())
        .protocol(ProtocolVersion::V3_1_1)
        .client_id(id)
        .keep_alive(KEEP_ALIVE)
}

/// Connects, with the event loop in a spawned task.
async fn connect(target: &Target, id: &str) -> Result<Client, String> {
    builder(target, id)
        .connect()
        .await
        .map_err(|e| format!("mqtide connect: {e}"))
}

/// Connects a client whose figures go to a Prometheus recorder (feature
/// `metrics`), its event loop in a spawned task.
#[cfg(feature = "metrics")]
async fn connect_recorded(target: &Target, id: &str) -> Result<Client, String> {
    let (client, connection) = super::mqtide_metrics::build(builder(target, id))
        .map_err(|e| format!("mqtide build: {e}"))?;
    tokio::spawn(connection.run());
    client
        .wait_connected()
        .await
        .map_err(|e| format!("mqtide connect: {e}"))?;
    Ok(client)
}

/// A publisher → subscriber run of clients that report to a Prometheus
/// recorder (`--libs mqtide-metrics`).
#[cfg(feature = "metrics")]
pub(super) async fn flow_recorded(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let subscriber = connect_recorded(target, &format!("{}-sub", spec.id)).await?;
    let publisher = connect_recorded(target, &format!("{}-pub", spec.id)).await?;
    flow_between(subscriber, publisher, spec).await
}

/// The client and its connection, for the caller to drive.
fn build(target: &Target, id: &str) -> Result<(Client, Connection), String> {
    builder(target, id)
        .build()
        .map_err(|e| format!("mqtide build: {e}"))
}

pub(super) async fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let subscriber = connect(target, &format!("{}-sub", spec.id)).await?;
    let publisher = connect(target, &format!("{}-pub", spec.id)).await?;
    flow_between(subscriber, publisher, spec).await
}

async fn flow_between(
    subscriber: Client,
    publisher: Client,
    spec: &FlowSpec,
) -> Result<FlowOutcome, String> {
    let level = qos(spec.qos);
    let mut messages = subscriber
        .subscribe(&spec.topic, level)
        .await
        .map_err(|e| format!("mqtide subscribe: {e}"))?;
    let sink = Arc::new(Sink::new(spec.count));
    let reader = tokio::spawn({
        let sink = Arc::clone(&sink);
        async move {
            while let Some(message) = messages.next().await {
                sink.record(message.payload());
            }
        }
    });
    let start = Instant::now();
    for seq in 0..spec.count {
        let pending = publisher
            .publish(spec.topic.as_str(), payload(seq, spec.payload))
            .qos(level)
            .send()
            .await
            .map_err(|e| format!("mqtide publish: {e}"))?;
        // The subscriber's count is the proof of delivery; the
        // acknowledgement is not waited for (dropping it does not cancel).
        drop(pending);
    }
    sink.wait().await;
    let outcome = sink.outcome(spec.qos, start);
    reader.abort();
    let _ = publisher.disconnect().await;
    let _ = subscriber.disconnect().await;
    Ok(outcome)
}

/// Like rumqttc's requester, which polls its own event loop in the
/// benchmark's own (`block_on`) task, the requester drives its connection
/// in the task that uses it (`ClientBuilder::build` and `Connection::run`).
/// The echo side is a spawned task with its event loop in a task of its
/// own (`connect`), as an application's would be: driven in one task, each
/// echo's publish woke the task that was running, which tokio's
/// multi-threaded scheduler takes for a yield, waking an idle worker to
/// steal it (two more futex calls and ~1.4 more context switches per round
/// trip, seen with `perf stat` and `perf record -e syscalls:sys_enter_futex`,
/// and a QoS 1 p99 1.17× rumqttc's instead of 1.06×).
pub(super) async fn round_trips(target: &Target, spec: &EchoSpec) -> Result<Vec<Duration>, String> {
    let level = qos(spec.qos);
    let echo = connect(target, &format!("{}-echo", spec.id)).await?;
    let (subscribed, echo_ready) = oneshot::channel();
    let echoing = tokio::spawn({
        let echo = echo.clone();
        let request_topic = spec.request_topic.clone();
        let response_topic = spec.response_topic.clone();
        async move {
            let mut requests = match echo.subscribe(&request_topic, level).await {
                Ok(requests) => {
                    let _ = subscribed.send(Ok(()));
                    requests
                }
                Err(e) => {
                    let _ = subscribed.send(Err(format!("mqtide subscribe: {e}")));
                    return;
                }
            };
            while let Some(request) = requests.next().await {
                let sent = echo
                    .publish(response_topic.as_str(), request.payload().clone())
                    .qos(level)
                    .send()
                    .await;
                if sent.is_err() {
                    break;
                }
            }
        }
    });
    echo_ready
        .await
        .map_err(|_| "mqtide: the echo task ended".to_owned())??;
    let (requester, connection) = build(target, &format!("{}-req", spec.id))?;
    let measure = async {
        let mut responses = requester
            .subscribe(&spec.response_topic, level)
            .await
            .map_err(|e| format!("mqtide subscribe: {e}"))?;
        let mut samples = Vec::with_capacity(usize::try_from(spec.count).unwrap_or(0));
        for seq in 0..LATENCY_WARMUP + spec.count {
            let sent = Instant::now();
            let pending = requester
                .publish(spec.request_topic.as_str(), payload(seq, 16))
                .qos(level)
                .send()
                .await
                .map_err(|e| format!("mqtide publish: {e}"))?;
            drop(pending);
            loop {
                let response = responses
                    .next()
                    .await
                    .ok_or("mqtide: the response stream ended")?;
                // A QoS 1 redelivery of an earlier response is skipped.
                if sequence(response.payload()) == Some(seq) {
                    break;
                }
            }
            if seq >= LATENCY_WARMUP {
                samples.push(sent.elapsed());
            }
        }
        Ok(samples)
    };
    let measure = async {
        let samples = measure.await;
        // Ends the connection, which then ends `run`.
        let _ = requester.disconnect().await;
        samples
    };
    let ((), samples) = tokio::join!(connection.run(), measure);
    let _ = echo.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), echoing).await;
    samples
}

pub(super) async fn connect_disconnect(target: &Target, id: &str) -> Result<(), String> {
    let client = connect(target, id).await?;
    client
        .disconnect()
        .await
        .map_err(|e| format!("mqtide disconnect: {e}"))
}

pub(super) async fn hold(target: &Target, id: &str) -> Result<Held, String> {
    Ok(Box::new(connect(target, id).await?))
}
