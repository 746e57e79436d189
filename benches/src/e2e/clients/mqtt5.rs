//! mqtt5, its own way: `publish_with_options` resolves only when the
//! message is written (QoS 0) or acknowledged (QoS 1/2), so throughput
//! comes from concurrent publishing tasks sharing one cloned client (20, the
//! broker's in-flight window, as BASELINES.md measured it); incoming
//! messages reach a callback given to `subscribe_with_options`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mqtt5::{ConnectOptions, MqttClient, ProtocolVersion, PublishOptions, QoS, SubscribeOptions};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{EchoSpec, Held, KEEP_ALIVE, LATENCY_WARMUP};
use crate::e2e::flow::{FlowOutcome, FlowSpec, Sink, Target, payload, sequence};

/// Concurrent publishing tasks.
const PUBLISHERS: usize = 20;

fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn publish_options(level: u8) -> PublishOptions {
    PublishOptions {
        qos: qos(level),
        ..PublishOptions::default()
    }
}

fn subscribe_options(level: u8) -> SubscribeOptions {
    SubscribeOptions {
        qos: qos(level),
        ..SubscribeOptions::default()
    }
}

async fn connect(target: &Target, id: &str) -> Result<MqttClient, String> {
    let options = ConnectOptions::new(id)
        .with_protocol_version(ProtocolVersion::V311)
        .with_clean_start(true)
        .with_keep_alive(KEEP_ALIVE);
    let client = MqttClient::with_options(options);
    client
        .connect(&target.url())
        .await
        .map_err(|e| format!("mqtt5 connect: {e}"))?;
    Ok(client)
}

pub(super) async fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let subscriber = connect(target, &format!("{}-sub", spec.id)).await?;
    let sink = Arc::new(Sink::new(spec.count));
    subscriber
        .subscribe_with_options(spec.topic.as_str(), subscribe_options(spec.qos), {
            let sink = Arc::clone(&sink);
            move |message| sink.record(&message.payload)
        })
        .await
        .map_err(|e| format!("mqtt5 subscribe: {e}"))?;
    let publisher = connect(target, &format!("{}-pub", spec.id)).await?;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers: JoinSet<Result<(), String>> = JoinSet::new();
    for _ in 0..PUBLISHERS {
        let (publisher, next) = (publisher.clone(), Arc::clone(&next));
        let (topic, size, count, level) = (spec.topic.clone(), spec.payload, spec.count, spec.qos);
        workers.spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= count {
                    return Ok(());
                }
                publisher
                    .publish_with_options(
                        topic.as_str(),
                        payload(seq, size),
                        publish_options(level),
                    )
                    .await
                    .map_err(|e| format!("mqtt5 publish: {e}"))?;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.map_err(|e| format!("mqtt5 publisher task: {e}"))??;
    }
    sink.wait().await;
    let outcome = sink.outcome(spec.qos, start);
    let _ = publisher.disconnect().await;
    let _ = subscriber.disconnect().await;
    Ok(outcome)
}

/// Subscribes with a callback that forwards payloads into a channel.
async fn subscribe_channel(
    client: &MqttClient,
    topic: &str,
    level: u8,
) -> Result<mpsc::Receiver<Vec<u8>>, String> {
    let (sender, receiver) = mpsc::channel(1024);
    client
        .subscribe_with_options(topic, subscribe_options(level), move |message| {
            let _ = sender.try_send(message.payload);
        })
        .await
        .map_err(|e| format!("mqtt5 subscribe: {e}"))?;
    Ok(receiver)
}

pub(super) async fn round_trips(target: &Target, spec: &EchoSpec) -> Result<Vec<Duration>, String> {
    let echo = connect(target, &format!("{}-echo", spec.id)).await?;
    let mut requests = subscribe_channel(&echo, &spec.request_topic, spec.qos).await?;
    let requester = connect(target, &format!("{}-req", spec.id)).await?;
    let mut responses = subscribe_channel(&requester, &spec.response_topic, spec.qos).await?;
    // The callback cannot await; a task publishes the echoes.
    let echoing = tokio::spawn({
        let echo = echo.clone();
        let (topic, level) = (spec.response_topic.clone(), spec.qos);
        async move {
            while let Some(request) = requests.recv().await {
                if echo
                    .publish_with_options(topic.as_str(), request, publish_options(level))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    let mut samples = Vec::with_capacity(usize::try_from(spec.count).unwrap_or(0));
    for seq in 0..LATENCY_WARMUP + spec.count {
        let sent = Instant::now();
        // The publish resolves on the acknowledgement; polled alongside
        // the wait for the response so that neither delays the other.
        let publish = requester.publish_with_options(
            spec.request_topic.as_str(),
            payload(seq, 16),
            publish_options(spec.qos),
        );
        let response = async {
            loop {
                match responses.recv().await {
                    Some(response) if sequence(&response) == Some(seq) => {
                        return Ok(sent.elapsed());
                    }
                    Some(_) => {}
                    None => return Err("mqtt5: the response channel closed".to_owned()),
                }
            }
        };
        let (published, elapsed) = tokio::join!(publish, response);
        published.map_err(|e| format!("mqtt5 publish: {e}"))?;
        let elapsed = elapsed?;
        if seq >= LATENCY_WARMUP {
            samples.push(elapsed);
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
        .map_err(|e| format!("mqtt5 disconnect: {e}"))
}

pub(super) async fn hold(target: &Target, id: &str) -> Result<Held, String> {
    Ok(Box::new(connect(target, id).await?))
}
