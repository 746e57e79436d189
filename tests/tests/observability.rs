//! What a service owner sees of a client (issue 28): every packet in the
//! `trace` log once, the flow steps at `debug`, no secret or payload
//! anywhere in the log, and `Client::stats` counting each flow once,
//! across a lost connection too. Against a real Mosquitto.

#[path = "support/log_capture.rs"]
mod log_capture;
mod support;

use std::time::Duration;

use log_capture::{log, logged};
use mqtide::{Client, ProtocolVersion, QoS, Stats};
use mqtide_testkit::{Fault, FaultProxy, Mosquitto, Scope};
use support::{VERSIONS, client, guard, next};

const PASSWORD: &str = "s3cret-observability-pw";
const USER_VALUE: &str = "user-property-value-hidden";

/// The lines logged in the span of client `id`.
fn lines_of(id: &str) -> Vec<String> {
    let text = logged();
    let span = format!("client_id={id} ");
    text.lines()
        .filter(|line| line.contains(&span))
        .map(str::to_owned)
        .collect()
}

/// The packet lines of `lines` that went `direction` ("sent" or
/// "received") with packet type `kind` (any with "").
fn packets<'a>(lines: &'a [String], direction: &str, kind: &str) -> Vec<&'a String> {
    let prefix = format!("mqtide::packet: {direction} {kind}");
    lines.iter().filter(|l| l.contains(&prefix)).collect()
}

const PUBLISHES: usize = 6;

/// A session of subscribe, six publishes to itself (two at each QoS, with
/// a 5.0 user property) and disconnect: each packet is in the `trace`
/// log exactly once (as many lines as the client counted packets, and
/// the expected number of each type), the flow steps are at `debug`, and
/// neither the password, nor a payload, nor a user property's value
/// appears anywhere in the log.
#[tokio::test]
async fn every_packet_is_logged_once_and_no_secret_is() {
    log();
    let broker = Mosquitto::builder()
        .user("alice", PASSWORD)
        .start()
        .unwrap();
    for version in VERSIONS {
        let id = format!("obs-log-{version}");
        let c = client(&broker.url(), version, "obs-log")
            .credentials("alice", PASSWORD)
            .connect();
        let c = guard("connect", c).await.unwrap();
        let mut sub = guard("subscribe", c.subscribe("obs/log/#", QoS::ExactlyOnce))
            .await
            .unwrap();
        let mut payloads = Vec::new();
        for n in 0..PUBLISHES {
            let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][n % 3];
            let payload = format!("payload-never-logged-{n}");
            let mut publish = c.publish(format!("obs/log/{n}"), payload.clone()).qos(qos);
            if version == ProtocolVersion::V5 {
                publish = publish.user_property("tenant", USER_VALUE);
            }
            guard("publish", publish).await.unwrap();
            assert_eq!(next(&mut sub).await.payload_str(), Some(payload.as_str()));
            payloads.push(payload);
        }
        // The broker's last PUBREL may follow the message it releases.
        stats_until(&c, "every flow finished", |s| {
            s.inflight_incoming == 0 && s.inflight_outgoing == 0
        })
        .await;
        guard("disconnect", c.disconnect()).await.unwrap();
        let stats = c.stats();
        let lines = lines_of(&id);

        let sent = packets(&lines, "sent", "");
        let received = packets(&lines, "received", "");
        assert_eq!(sent.len() as u64, stats.packets_sent, "{lines:#?}");
        assert_eq!(received.len() as u64, stats.packets_received, "{lines:#?}");
        for (direction, kind, count) in [
            ("sent", "CONNECT", 1),
            ("received", "CONNACK", 1),
            ("sent", "SUBSCRIBE", 1),
            ("received", "SUBACK", 1),
            ("sent", "PUBLISH", PUBLISHES),
            ("received", "PUBLISH", PUBLISHES),
            // Ours at QoS 1 and 2, and the broker's to us.
            ("received", "PUBACK", 2),
            ("sent", "PUBACK", 2),
            ("received", "PUBREC", 2),
            ("sent", "PUBREL", 2),
            ("received", "PUBCOMP", 2),
            ("sent", "PUBREC", 2),
            ("received", "PUBREL", 2),
            ("sent", "PUBCOMP", 2),
            ("sent", "DISCONNECT", 1),
        ] {
            let found = packets(&lines, direction, &format!("{kind} ")).len();
            assert_eq!(found, count, "{direction} {kind}, {version}:\n{lines:#?}");
        }
        let published = packets(&lines, "sent", "PUBLISH ");
        assert!(
            published
                .iter()
                .any(|l| l.contains("'obs/log/1'") && l.contains("q1")),
            "the topic and QoS are named: {published:#?}"
        );
        if version == ProtocolVersion::V5 {
            assert!(
                published
                    .iter()
                    .all(|l| l.contains("props: ") && l.contains("user property")),
                "property names are named: {published:#?}"
            );
        }
        for step in [
            "publish queued",
            "publish in flight",
            "publish acknowledged",
            "message received",
            "message delivered",
        ] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("DEBUG") && l.contains("mqtide::flow") && l.contains(step)),
                "no flow step {step:?} at debug ({version}):\n{lines:#?}"
            );
        }
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" INFO ") && l.contains("connected"))
        );
    }
    let text = logged();
    assert!(!text.contains(PASSWORD), "the password is in the log");
    assert!(
        !text.contains(USER_VALUE),
        "a user property value is in the log"
    );
    assert!(
        !text.contains("payload-never-logged"),
        "a payload is in the log"
    );
}

/// Waits (under the hang guard) until `client`'s figures satisfy `done`.
async fn stats_until(client: &Client, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    guard(what, async {
        loop {
            let stats = client.stats();
            if done(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Each flow counted once, by QoS: queued, sent, acknowledged, received;
/// nothing failed, resent or left in flight; bytes both ways.
#[tokio::test]
async fn stats_count_each_flow_once() {
    log();
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "obs-stats").connect();
        let c = guard("connect", c).await.unwrap();
        assert_eq!(c.stats().connections_made, 1);
        let mut sub = guard("subscribe", c.subscribe("obs/stats/#", QoS::ExactlyOnce))
            .await
            .unwrap();
        for (qos, count) in [
            (QoS::AtMostOnce, 3),
            (QoS::AtLeastOnce, 2),
            (QoS::ExactlyOnce, 4),
        ] {
            for _ in 0..count {
                guard("publish", c.publish("obs/stats/x", "m").qos(qos))
                    .await
                    .unwrap();
                assert_eq!(next(&mut sub).await.qos(), qos);
            }
        }
        let stats = stats_until(&c, "every message counted", |s| {
            s.messages_received.total() == 9 && s.inflight_incoming == 0
        })
        .await;
        for (qos, count) in [
            (QoS::AtMostOnce, 3),
            (QoS::AtLeastOnce, 2),
            (QoS::ExactlyOnce, 4),
        ] {
            assert_eq!(
                stats.publishes_queued.get(qos),
                count,
                "{qos:?}: {stats:#?}"
            );
            assert_eq!(stats.publishes_sent.get(qos), count, "{qos:?}: {stats:#?}");
            assert_eq!(
                stats.publishes_acknowledged.get(qos),
                count,
                "{qos:?}: {stats:#?}"
            );
            assert_eq!(
                stats.messages_received.get(qos),
                count,
                "{qos:?}: {stats:#?}"
            );
        }
        assert_eq!(stats.publishes_failed.total(), 0, "{stats:#?}");
        assert_eq!((stats.publishes_resent, stats.pubrels_resent), (0, 0));
        assert_eq!((stats.connections_lost, stats.connect_failures), (0, 0));
        assert_eq!((stats.inflight_outgoing, stats.offline_queue), (0, 0));
        assert!(
            stats.bytes_sent > 0 && stats.bytes_received > 0,
            "{stats:#?}"
        );
        guard("disconnect", c.disconnect()).await.unwrap();
        assert_eq!(c.stats().connections_lost, 0, "a disconnect is no loss");
    }
}

/// A connection lost with a QoS 1 publish unacknowledged: counted lost,
/// the publish resent once on the resumed session, then acknowledged; and
/// a publish refused at once (the offline queue full) counted failed.
#[tokio::test]
async fn stats_count_a_lost_connection_and_its_resend() {
    log();
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let proxy = FaultProxy::start(broker.addr(), fastrand::u64(..)).unwrap();
        let mut builder = client(&proxy.url(), version, "obs-resend").clean_start(false);
        if version == ProtocolVersion::V5 {
            builder = builder.session_expiry(Duration::from_secs(600));
        }
        let c = guard("connect", builder.connect()).await.unwrap();
        proxy.inject(Fault::Blackhole, Scope::Current);
        let pending = guard(
            "send",
            c.publish("obs/resend", "x").qos(QoS::AtLeastOnce).send(),
        )
        .await
        .unwrap();
        stats_until(&c, "the publish written", |s| {
            s.publishes_sent.at_least_once == 1
        })
        .await;
        proxy.inject(Fault::Cut, Scope::Current);
        proxy.heal();
        guard("the resent publish acknowledged", pending)
            .await
            .unwrap();
        let stats = c.stats();
        assert_eq!(stats.connections_made, 2, "{stats:#?}");
        assert_eq!(stats.connections_lost, 1, "{stats:#?}");
        assert_eq!(stats.publishes_sent.at_least_once, 1, "{stats:#?}");
        assert_eq!(stats.publishes_resent, 1, "{stats:#?}");
        assert_eq!(stats.publishes_acknowledged.at_least_once, 1, "{stats:#?}");
        assert_eq!(stats.publishes_failed.total(), 0, "{stats:#?}");
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}
