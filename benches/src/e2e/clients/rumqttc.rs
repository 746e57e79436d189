//! rumqttc, as its docs suggest: an `AsyncClient` queues requests into a
//! bounded channel and a task polls the `EventLoop`, which does the I/O.
//! Set up as BASELINES.md measured it at its best: an in-flight window of
//! 20 (Mosquitto's; the default of 100 loses the connection at QoS 2) and
//! TCP_NODELAY. Payloads go in as `Bytes` (`publish_bytes`, no copy).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Outgoing, Packet, QoS};

use super::{EchoSpec, Held, KEEP_ALIVE, LATENCY_WARMUP};
use crate::e2e::flow::{FlowOutcome, FlowSpec, Sink, Target, payload, sequence};

/// Capacity of the request channel (the same as mqtide's command queue).
pub(super) const REQUEST_CAPACITY: usize = 1024;

/// Mosquitto's `max_inflight_messages`.
pub(super) const INFLIGHT: u16 = 20;

pub(super) fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Connects and polls until the CONNACK.
async fn connect(target: &Target, id: &str) -> Result<(AsyncClient, EventLoop), String> {
    let mut options = MqttOptions::new(id, "127.0.0.1", target.port);
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(true)
        .set_inflight(INFLIGHT);
    let (client, mut events) = AsyncClient::new(options, REQUEST_CAPACITY);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    events.set_network_options(network);
    match events.poll().await {
        Ok(Event::Incoming(Packet::ConnAck(_))) => Ok((client, events)),
        Ok(other) => Err(format!("rumqttc: expected CONNACK, got {other:?}")),
        Err(e) => Err(format!("rumqttc connect: {e}")),
    }
}

/// Subscribes and polls until the SUBACK.
async fn subscribe(
    client: &AsyncClient,
    events: &mut EventLoop,
    topic: &str,
    level: QoS,
) -> Result<(), String> {
    client
        .subscribe(topic, level)
        .await
        .map_err(|e| format!("rumqttc subscribe: {e}"))?;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("rumqttc subscribe: {e}")),
        }
    }
}

/// Polls until the connection ends, handing every PUBLISH to `on_publish`.
async fn drive(mut events: EventLoop, mut on_publish: impl FnMut(rumqttc::Publish)) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(publish))) => on_publish(publish),
            Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

pub(super) async fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let level = qos(spec.qos);
    let (subscriber, mut sub_events) = connect(target, &format!("{}-sub", spec.id)).await?;
    subscribe(&subscriber, &mut sub_events, &spec.topic, level).await?;
    let (publisher, pub_events) = connect(target, &format!("{}-pub", spec.id)).await?;
    let sink = Arc::new(Sink::new(spec.count));
    let reader = tokio::spawn({
        let sink = Arc::clone(&sink);
        drive(sub_events, move |publish| sink.record(&publish.payload))
    });
    let driver = tokio::spawn(drive(pub_events, drop));
    let start = Instant::now();
    for seq in 0..spec.count {
        publisher
            .publish_bytes(
                spec.topic.as_str(),
                level,
                false,
                Bytes::from(payload(seq, spec.payload)),
            )
            .await
            .map_err(|e| format!("rumqttc publish: {e}"))?;
    }
    sink.wait().await;
    let outcome = sink.outcome(spec.qos, start);
    let _ = publisher.disconnect().await;
    let _ = subscriber.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), driver).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    Ok(outcome)
}

pub(super) async fn round_trips(target: &Target, spec: &EchoSpec) -> Result<Vec<Duration>, String> {
    let level = qos(spec.qos);
    let (echo, mut echo_events) = connect(target, &format!("{}-echo", spec.id)).await?;
    subscribe(&echo, &mut echo_events, &spec.request_topic, level).await?;
    let (requester, mut events) = connect(target, &format!("{}-req", spec.id)).await?;
    subscribe(&requester, &mut events, &spec.response_topic, level).await?;
    let echoing = tokio::spawn({
        let echo = echo.clone();
        let topic = spec.response_topic.clone();
        async move {
            loop {
                match echo_events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(request))) => {
                        // Sequential requests: the channel never fills.
                        if echo
                            .publish_bytes(topic.as_str(), level, false, request.payload)
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        }
    });
    let mut samples = Vec::with_capacity(usize::try_from(spec.count).unwrap_or(0));
    // The requester drives its own event loop in this task: publish, then
    // poll until the echo of this request comes back.
    for seq in 0..LATENCY_WARMUP + spec.count {
        let sent = Instant::now();
        requester
            .publish_bytes(
                spec.request_topic.as_str(),
                level,
                false,
                Bytes::from(payload(seq, 16)),
            )
            .await
            .map_err(|e| format!("rumqttc publish: {e}"))?;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(response)))
                    if sequence(&response.payload) == Some(seq) =>
                {
                    break;
                }
                Ok(_) => {}
                Err(e) => return Err(format!("rumqttc: {e}")),
            }
        }
        if seq >= LATENCY_WARMUP {
            samples.push(sent.elapsed());
        }
    }
    let _ = requester.disconnect().await;
    let _ = echo.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), drive(events, drop)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), echoing).await;
    Ok(samples)
}

pub(super) async fn connect_disconnect(target: &Target, id: &str) -> Result<(), String> {
    let (client, events) = connect(target, id).await?;
    client
        .disconnect()
        .await
        .map_err(|e| format!("rumqttc disconnect: {e}"))?;
    drive(events, drop).await;
    Ok(())
}

pub(super) async fn hold(target: &Target, id: &str) -> Result<Held, String> {
    let (client, events) = connect(target, id).await?;
    let task = tokio::spawn(drive(events, drop));
    Ok(Box::new((client, task)))
}
