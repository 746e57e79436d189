//! mqtide's blocking client (`mqtide::blocking`), as its docs suggest for
//! throughput: `publish(..).send()` queues each message and returns a
//! `PendingAck` without waiting (the event loop, on the client's own
//! runtime thread, pipelines up to the in-flight window); a reader thread
//! iterates the subscription.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Instant;

use mqtide::ProtocolVersion;
use mqtide::blocking::{Client, ClientBuilder};

use super::KEEP_ALIVE;
use super::mqtide::qos;
use super::sync_flow::{Reading, count};
use crate::e2e::flow::{FlowOutcome, FlowSpec, IDLE, Target, payload};

fn builder(target: &Target, id: &str) -> ClientBuilder {
    Client::builder(&target.url())
        .protocol(ProtocolVersion::V3_1_1)
        .client_id(id)
        .keep_alive(KEEP_ALIVE)
}

/// A publisher → subscriber run, on threads (no async runtime).
pub(crate) fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    let level = qos(spec.qos);
    let subscriber = builder(target, &format!("{}-sub", spec.id))
        .connect()
        .map_err(|e| format!("mqtide blocking connect: {e}"))?;
    let mut messages = subscriber
        .subscribe(&spec.topic, level)
        .map_err(|e| format!("mqtide blocking subscribe: {e}"))?;
    let publisher = builder(target, &format!("{}-pub", spec.id))
        .connect()
        .map_err(|e| format!("mqtide blocking connect: {e}"))?;
    let reading = Reading {
        count: spec.count,
        published: Arc::new(AtomicBool::new(false)),
    };
    let reader = std::thread::spawn({
        let reading = reading.clone();
        move || {
            let payloads = std::iter::from_fn(move || match messages.recv_timeout(IDLE) {
                Ok(message) => Some(Some(message.payload().to_vec())),
                Err(RecvTimeoutError::Timeout) => Some(None),
                Err(RecvTimeoutError::Disconnected) => None,
            });
            count(&reading, payloads)
        }
    });
    let start = Instant::now();
    for seq in 0..spec.count {
        let pending = publisher
            .publish(spec.topic.as_str(), payload(seq, spec.payload))
            .qos(level)
            .send()
            .map_err(|e| format!("mqtide blocking publish: {e}"))?;
        // The subscriber's count is the proof of delivery.
        drop(pending);
    }
    reading.published.store(true, Ordering::Release);
    let tracker = reader
        .join()
        .map_err(|_| "mqtide blocking: the reader thread panicked".to_owned())?;
    let _ = publisher.disconnect();
    let _ = subscriber.disconnect();
    Ok(tracker.outcome(spec.qos, start))
}
