//! mqtide, as its docs suggest for throughput: `publish(..).send()` queues
//! each message and returns a `PendingAck` without waiting for the
//! acknowledgement (the event loop pipelines up to the in-flight window);
//! messages arrive on a `Subscription` stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mqtide::{Client, ProtocolVersion, QoS};

use super::{EchoSpec, Held, KEEP_ALIVE, LATENCY_WARMUP};
use crate::e2e::flow::{FlowOutcome, FlowSpec, Sink, Target, payload, sequence};

fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

async fn connect(target: &Target, id: &str) -> Result<Client, String> {
    Client::builder(&target.url())
        .protocol(ProtocolVersion::V3_1_1)
        .client_id(id)
        .keep_alive(KEEP_ALIVE)
        .connect()
        .await
        .map_err(|e| format!("mqtide connect: {e}"))
}

pub(super) async fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let level = qos(spec.qos);
    let subscriber = connect(target, &format!("{}-sub", spec.id)).await?;
    let mut messages = subscriber
        .subscribe(&spec.topic, level)
        .await
        .map_err(|e| format!("mqtide subscribe: {e}"))?;
    let publisher = connect(target, &format!("{}-pub", spec.id)).await?;
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

pub(super) async fn round_trips(target: &Target, spec: &EchoSpec) -> Result<Vec<Duration>, String> {
    let level = qos(spec.qos);
    let echo = connect(target, &format!("{}-echo", spec.id)).await?;
    let mut requests = echo
        .subscribe(&spec.request_topic, level)
        .await
        .map_err(|e| format!("mqtide subscribe: {e}"))?;
    let requester = connect(target, &format!("{}-req", spec.id)).await?;
    let mut responses = requester
        .subscribe(&spec.response_topic, level)
        .await
        .map_err(|e| format!("mqtide subscribe: {e}"))?;
    let echoing = tokio::spawn({
        let echo = echo.clone();
        let topic = spec.response_topic.clone();
        async move {
            while let Some(request) = requests.next().await {
                match echo
                    .publish(topic.as_str(), request.payload().clone())
                    .qos(level)
                    .send()
                    .await
                {
                    Ok(pending) => drop(pending),
                    Err(_) => break,
                }
            }
        }
    });
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
    echoing.abort();
    let _ = requester.disconnect().await;
    let _ = echo.disconnect().await;
    Ok(samples)
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
