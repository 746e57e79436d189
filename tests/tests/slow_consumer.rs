//! A slow consumer: a subscriber holds a QoS 1 subscription stream and
//! stops reading it while a publisher pushes 100 000 QoS 1 messages of
//! 1 KiB (about 100 MiB) through a real Mosquitto. The subscriber's memory
//! must stay within a stated bound — the backlog waits in the broker, not
//! in the client — and once the application reads again every message
//! arrives (QoS 1 may repeat one; none may be missing).
//!
//! Why the bound holds, from the client's design:
//!
//! - a subscription stream buffers at most `stream_capacity` messages
//!   (default 256);
//! - past that, messages wait in the event loop's delivery queue, and at
//!   `PENDING_DELIVERIES` (1024, `crates/mqtide/src/event_loop/mod.rs`) the
//!   loop stops reading the socket; the session decodes at most
//!   `event_capacity` (256) packets ahead of that;
//! - a QoS 1 message is acknowledged only once it is in the stream, so the
//!   broker's in-flight window (20 under 3.1.1; under 5.0 our Receive
//!   Maximum, 65 535 when not set) fills and then the socket does: the
//!   broker keeps the rest queued (`max_queued_messages` is raised so that
//!   it keeps all of them rather than dropping QoS 1 messages).
//!
//! So the client holds at most about 256 + 1024 + 256 = 1536 messages:
//! 1.5 MiB of payload, plus the read-buffer chunks those payloads share
//! (they are slices of it, not copies) — a few MiB. The test allows
//! [`RSS_BOUND_MIB`], several times that for allocator slack and the
//! publisher's own queue, and far below the ~100 MiB a client that
//! buffered the backlog would need.
//!
//! Memory is measured as the process's resident set (`/proc/self/status`):
//! the peak (`VmHWM`, reset first through `/proc/self/clear_refs` where
//! the kernel allows) against the resident size before publishing. The
//! test is Linux-only in that respect; elsewhere it checks delivery only.

mod support;

use std::collections::VecDeque;
use std::time::Instant;

use mqtide::{ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard, next};

const MESSAGES: u32 = 100_000;
const PAYLOAD: usize = 1024;
/// Allowed growth of the resident set while the backlog builds.
const RSS_BOUND_MIB: u64 = 32;
/// Publishes the publisher keeps unacknowledged (pipelined).
const PIPELINE: usize = 256;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak resident set (`VmHWM`) to the current one (Linux 4.0+).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::test]
async fn slow_consumer_memory_stays_bounded_and_nothing_is_lost() {
    let broker = Mosquitto::start_with("max_queued_messages 200000\nmax_queued_bytes 0").unwrap();
    // 5.0 first: there the broker may push up to 65 535 unacknowledged
    // messages, the harder case, and the first run measures against an
    // allocator that has not yet grown (the second reuses freed memory).
    for version in VERSIONS.into_iter().rev() {
        run(&broker, version).await;
    }
}

async fn run(broker: &Mosquitto, version: ProtocolVersion) {
    let topic = format!("slow/{version}");
    let subscriber = guard(
        "connect",
        client(&broker.url(), version, "slow-sub").connect(),
    )
    .await
    .unwrap();
    let mut stream = guard("subscribe", subscriber.subscribe(&topic, QoS::AtLeastOnce))
        .await
        .unwrap();
    let publisher = guard(
        "connect",
        client(&broker.url(), version, "slow-pub").connect(),
    )
    .await
    .unwrap();

    // The application stops reading `stream` while everything is published.
    let started = Instant::now();
    reset_peak();
    let before = status_kib("VmRSS:");
    let mut pending = VecDeque::with_capacity(PIPELINE);
    for i in 0..MESSAGES {
        let mut payload = vec![0u8; PAYLOAD];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        let ack = guard(
            "queue a publish",
            publisher
                .publish(&topic, payload)
                .qos(QoS::AtLeastOnce)
                .send(),
        )
        .await
        .unwrap();
        pending.push_back(ack);
        if pending.len() == PIPELINE {
            let ack = pending.pop_front().expect("a pending publish");
            guard("PUBACK", ack).await.unwrap();
        }
    }
    for ack in pending {
        guard("PUBACK", ack).await.unwrap();
    }
    let published = started.elapsed();
    let (after, peak) = (status_kib("VmRSS:"), status_kib("VmHWM:"));
    assert!(
        subscriber.state().is_connected(),
        "the subscriber stayed connected while not reading"
    );
    if let (Some(before), Some(after), Some(peak)) = (before, after, peak) {
        let growth = peak.max(after).saturating_sub(before);
        println!(
            "{version}: {MESSAGES} x {PAYLOAD} B published in {published:.1?}; \
             RSS {before} KiB before, {after} KiB after, peak growth {growth} KiB"
        );
        assert!(
            growth < RSS_BOUND_MIB * 1024,
            "{version}: the resident set grew by {growth} KiB while the consumer was not \
             reading; the bound is {RSS_BOUND_MIB} MiB"
        );
    }

    // The application reads again: every message arrives.
    let mut seen = vec![false; MESSAGES as usize];
    let (mut distinct, mut duplicates) = (0u32, 0u32);
    while distinct < MESSAGES {
        let message = next(&mut stream).await;
        let number = u32::from_be_bytes(message.payload()[..4].try_into().expect("4 bytes"));
        let slot = &mut seen[number as usize];
        if std::mem::replace(slot, true) {
            duplicates += 1;
        } else {
            distinct += 1;
        }
    }
    println!(
        "{version}: all {MESSAGES} received ({duplicates} duplicates) after {:.1?}",
        started.elapsed()
    );
    guard("disconnect", publisher.disconnect()).await.unwrap();
    guard("disconnect", subscriber.disconnect()).await.unwrap();
}
