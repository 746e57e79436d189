//! rumqttc's synchronous `Client`, as its docs suggest: `publish` blocks
//! until the request is queued, and a thread iterates each `Connection`
//! (which runs rumqttc's event loop on a runtime of its own). Set up as the
//! async rumqttc run is: in-flight window 20, TCP_NODELAY.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, MqttOptions, NetworkOptions, Packet};

use super::KEEP_ALIVE;
use super::rumqttc::{INFLIGHT, REQUEST_CAPACITY, qos};
use super::sync_flow::{Reading, count};
use crate::e2e::flow::{FlowOutcome, FlowSpec, IDLE, Target, payload};

fn connect(target: &Target, id: &str) -> Result<(Client, Connection), String> {
    let mut options = MqttOptions::new(id, "127.0.0.1", target.port);
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(true)
        .set_inflight(INFLIGHT);
    let (client, mut connection) = Client::new(options, REQUEST_CAPACITY);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    connection.eventloop.set_network_options(network);
    loop {
        match connection.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => return Ok((client, connection)),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("rumqttc sync connect: {e}")),
            Err(e) => return Err(format!("rumqttc sync connect: {e:?}")),
        }
    }
}

/// A publisher → subscriber run, on threads (no async runtime of ours).
pub(crate) fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let level = qos(spec.qos);
    let (subscriber, mut sub_connection) = connect(target, &format!("{}-sub", spec.id))?;
    subscriber
        .subscribe(spec.topic.as_str(), level)
        .map_err(|e| format!("rumqttc sync subscribe: {e}"))?;
    loop {
        match sub_connection.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            other => return Err(format!("rumqttc sync subscribe: {other:?}")),
        }
    }
    let (publisher, mut pub_connection) = connect(target, &format!("{}-pub", spec.id))?;
    let reading = Reading {
        count: spec.count,
        published: Arc::new(AtomicBool::new(false)),
    };
    let reader = std::thread::spawn({
        let reading = reading.clone();
        move || {
            let payloads = std::iter::from_fn(move || {
                loop {
                    match sub_connection.recv_timeout(IDLE) {
                        Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                            return Some(Some(p.payload.to_vec()));
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(_)) => return None,
                        Err(_) => return Some(None),
                    }
                }
            });
            count(&reading, payloads)
        }
    });
    let driver = std::thread::spawn(move || {
        for event in pub_connection.iter() {
            if event.is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for seq in 0..spec.count {
        publisher
            .publish(
                spec.topic.as_str(),
                level,
                false,
                payload(seq, spec.payload),
            )
            .map_err(|e| format!("rumqttc sync publish: {e}"))?;
    }
    reading.published.store(true, Ordering::Release);
    let tracker = reader
        .join()
        .map_err(|_| "rumqttc sync: the reader thread panicked".to_owned())?;
    let _ = publisher.disconnect();
    let _ = subscriber.disconnect();
    let _ = driver.join();
    Ok(tracker.outcome(spec.qos, start))
}
