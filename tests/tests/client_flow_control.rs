//! Acknowledgement and memory: a QoS 1/2 message is acknowledged only once
//! the application has it (or acks it, in manual mode), and a slow
//! consumer slows the socket instead of growing memory.

mod support;

use std::time::Duration;

use mqtide::QoS;
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard, next};

/// Manual acknowledgement: a message the application did not ack is
/// redelivered after a reconnect; one it acked is not.
#[tokio::test]
async fn manual_acks_decide_what_is_redelivered() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let builder = || {
            let mut b = client(&broker.url(), version, "manual")
                .clean_start(false)
                .manual_acks(true);
            if version == mqtide::ProtocolVersion::V5 {
                b = b.session_expiry(Duration::from_secs(300));
            }
            b
        };
        let publisher = guard(
            "connect",
            client(&broker.url(), version, "manual-pub").connect(),
        )
        .await
        .unwrap();

        let (c, connection) = builder().no_reconnect().build().unwrap();
        let task = tokio::spawn(connection.run());
        guard("connected", c.wait_connected()).await.unwrap();
        let mut sub = guard("subscribe", c.subscribe("manual/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        guard(
            "publish",
            publisher.publish("manual/acked", "1").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        guard(
            "publish",
            publisher
                .publish("manual/unacked", "2")
                .qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        let acked = next(&mut sub).await;
        let unacked = next(&mut sub).await;
        assert_eq!(
            (acked.topic(), unacked.topic()),
            ("manual/acked", "manual/unacked")
        );
        guard("ack", c.ack(&acked)).await.unwrap();
        // Make sure the PUBACK went out: a round trip after it.
        guard(
            "round trip",
            c.publish("manual/ping", "x").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        let ping = next(&mut sub).await;
        guard("ack", c.ack(&ping)).await.unwrap();
        guard("round trip", c.publish("other", "x").qos(QoS::AtLeastOnce))
            .await
            .unwrap();
        // The process dies with the second message unacknowledged.
        task.abort();
        drop((c, sub));

        let (c, connection) = builder().build().unwrap();
        let mut all = guard("messages", c.messages()).await.unwrap();
        tokio::spawn(connection.run());
        let m = next(&mut all).await;
        assert_eq!(
            (m.topic(), m.payload().as_ref()),
            ("manual/unacked", &b"2"[..])
        );
        assert!(m.dup(), "a redelivery is marked DUP");
        guard("ack", c.ack(&m)).await.unwrap();
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A subscriber that does not read: its stream fills, the client stops
/// reading the socket, and memory stays flat while the publisher pushes
/// far more than fits. Then every message is still delivered.
#[tokio::test]
async fn slow_consumer_does_not_grow_memory() {
    let broker = Mosquitto::start_with("max_queued_messages 100000\nmax_queued_bytes 0").unwrap();
    let version = mqtide::ProtocolVersion::V5;
    let subscriber = client(&broker.url(), version, "slow")
        .stream_capacity(16)
        .connect();
    let subscriber = guard("connect", subscriber).await.unwrap();
    let mut sub = guard("subscribe", subscriber.subscribe("slow", QoS::AtLeastOnce))
        .await
        .unwrap();
    let publisher = guard("connect", client(&broker.url(), version, "fast").connect())
        .await
        .unwrap();

    let payload = vec![7u8; 16 * 1024];
    let count = 4000u32; // 64 MiB in all
    let before = rss_kib();
    for i in 0..count {
        let mut p = payload.clone();
        p[..4].copy_from_slice(&i.to_be_bytes());
        guard(
            "publish",
            publisher.publish("slow", p).qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
    }
    let after = rss_kib();
    if let (Some(before), Some(after)) = (before, after) {
        // 64 MiB went through the broker; the subscriber holds a stream's
        // worth, a socket buffer and a read buffer.
        assert!(
            after.saturating_sub(before) < 24 * 1024,
            "RSS grew from {before} KiB to {after} KiB"
        );
    }
    assert!(subscriber.state().is_connected());
    for i in 0..count {
        let m = next(&mut sub).await;
        assert_eq!(&m.payload()[..4], i.to_be_bytes());
    }
}

/// Publishes made while the broker is away wait in the bounded offline
/// queue and go out, in order, once it is back; past the capacity they
/// fail at once (with `QueueFull::Error`).
#[tokio::test]
async fn offline_queue_is_bounded_and_drains_on_reconnect() {
    let mut broker = Mosquitto::builder().persistence(true).start().unwrap();
    for version in VERSIONS {
        // A persistent watcher on a persistent broker: its subscription
        // survives the restart whichever client reconnects first.
        let mut watcher = client(&broker.url(), version, "offline-watch").clean_start(false);
        if version == mqtide::ProtocolVersion::V5 {
            watcher = watcher.session_expiry(Duration::from_secs(300));
        }
        let watcher = guard("connect", watcher.connect()).await.unwrap();
        let mut stream = guard("subscribe", watcher.subscribe("offline", QoS::AtLeastOnce))
            .await
            .unwrap();
        let c = client(&broker.url(), version, "offline")
            .offline_queue(3, mqtide::QueueFull::Error)
            .connect();
        let c = guard("connect", c).await.unwrap();
        let mut state = c.watch_state();
        broker.stop();
        guard("noticed", state.wait_for(|s| !s.is_connected()))
            .await
            .unwrap();
        let mut acks = Vec::new();
        for i in 0..3u8 {
            acks.push(
                guard(
                    "send",
                    c.publish("offline", vec![i]).qos(QoS::AtLeastOnce).send(),
                )
                .await
                .unwrap(),
            );
        }
        let full = guard("send", c.publish("offline", vec![9]).qos(QoS::AtLeastOnce)).await;
        assert!(
            matches!(
                full,
                Err(mqtide::Error::Usage(mqtide::proto::UsageError::QueueFull(
                    3
                )))
            ),
            "{full:?}"
        );
        broker.restart().unwrap();
        for ack in acks {
            guard("ack", ack).await.unwrap();
        }
        // The watcher's stream gets the queued messages in order.
        for i in 0..3u8 {
            assert_eq!(next(&mut stream).await.payload().as_ref(), [i]);
        }
    }
}

/// Awaiting our own publishes while not reading a full subscription stream
/// must not deadlock: acknowledgements keep arriving (QoS 1/2 deliveries
/// are held back by flow control, not by stopping the socket).
#[tokio::test]
async fn awaiting_publishes_while_a_stream_is_full_does_not_deadlock() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "no-deadlock")
            .stream_capacity(2)
            .connect();
        let c = guard("connect", c).await.unwrap();
        let mut sub = guard("subscribe", c.subscribe("loop", QoS::AtLeastOnce))
            .await
            .unwrap();
        // Each publish comes back to our unread stream; its capacity is 2.
        for i in 0..30u8 {
            guard(
                "publish while the stream is full",
                c.publish("loop", vec![i]).qos(QoS::AtLeastOnce),
            )
            .await
            .unwrap();
        }
        for i in 0..30u8 {
            assert_eq!(next(&mut sub).await.payload().as_ref(), [i]);
        }
    }
}
