//! Mosquitto's client-library publish scenarios (test/lib/03-*, 04-*),
//! ported as byte-exact tests: QoS 0/1/2 from client to broker, with the
//! resend after a lost connection (DUP set, same packet identifier, PUBREL
//! resent), QoS 1/2 from broker to client, and acknowledgements for
//! nothing. A scripted broker compares each packet the client sends with
//! hand-written bytes.

mod support;

#[path = "support/exact_broker.rs"]
mod exact;

use std::time::Duration;

use exact::{
    ExactBroker, MAX_PACKET, accept_plain, builder, connack, connect, disconnects, per, start, wire,
};
use mqtide::{ConnectionEvent, ProtocolVersion, QoS};
use support::{VERSIONS, guard, next};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// 03-publish-qos0: one QoS 0 PUBLISH.
#[tokio::test]
async fn publish_qos0() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos0-test", 60));
        let mut conn = accept_plain(&broker, version, "publish-qos0-test").await;
        guard("publish", client.publish("pub/qos0/test", "message"))
            .await
            .expect("a QoS 0 publish");
        let publish = per(
            version,
            &["30 16 00 0d", "'pub/qos0/test'", "'message'"],
            &["30 17 00 0d", "'pub/qos0/test'", "00", "'message'"],
        );
        conn.expect("PUBLISH", &publish).await;
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-qos0-no-payload: a QoS 0 PUBLISH with no payload.
#[tokio::test]
async fn publish_qos0_no_payload() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos0-test-np", 60));
        let mut conn = accept_plain(&broker, version, "publish-qos0-test-np").await;
        guard("publish", client.publish("pub/qos0/no-payload/test", ""))
            .await
            .expect("a QoS 0 publish");
        let publish = per(
            version,
            &["30 1a 00 18", "'pub/qos0/no-payload/test'"],
            &["30 1b 00 18", "'pub/qos0/no-payload/test'", "00"],
        );
        conn.expect("PUBLISH", &publish).await;
        disconnects(client, conn, task).await;
    }
}

/// 04-retain-qos0: a retained QoS 0 PUBLISH (RETAIN bit 0x01).
#[tokio::test]
async fn retain_qos0() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "retain-qos0-test", 60));
        let mut conn = accept_plain(&broker, version, "retain-qos0-test").await;
        guard(
            "publish",
            client
                .publish("retain/qos0/test", "retained message")
                .retain(true),
        )
        .await
        .expect("a retained publish");
        let publish = per(
            version,
            &["31 22 00 10", "'retain/qos0/test'", "'retained message'"],
            &[
                "31 23 00 10",
                "'retain/qos0/test'",
                "00",
                "'retained message'",
            ],
        );
        conn.expect("PUBLISH", &publish).await;
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-c2b-qos1 (the flow of -disconnect without the cut): PUBLISH
/// with packet identifier 1, PUBACK.
#[tokio::test]
async fn publish_c2b_qos1() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos1-test", 60));
        let mut conn = accept_plain(&broker, version, "publish-qos1-test").await;
        let publish = qos1_publish(version, 0x32);
        let puback = wire(&["40 02 00 01"]);
        let (outcome, ()) = tokio::join!(
            guard(
                "publish",
                client
                    .publish("pub/qos1/test", "message")
                    .qos(QoS::AtLeastOnce)
            ),
            conn.expect_send("PUBLISH", &publish, &puback)
        );
        outcome.expect("PUBACK completes the publish");
        disconnects(client, conn, task).await;
    }
}

/// PUBLISH "pub/qos1/test" "message", packet identifier 1, first byte
/// `first`.
fn qos1_publish(version: ProtocolVersion, first: u8) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(per(
        version,
        &["18 00 0d", "'pub/qos1/test'", "00 01", "'message'"],
        &["19 00 0d", "'pub/qos1/test'", "00 01 00", "'message'"],
    ));
    out
}

/// PUBLISH "pub/qos2/test" "message", packet identifier 1, first byte
/// `first`.
fn qos2_publish(version: ProtocolVersion, first: u8) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(per(
        version,
        &["18 00 0d", "'pub/qos2/test'", "00 01", "'message'"],
        &["19 00 0d", "'pub/qos2/test'", "00 01 00", "'message'"],
    ));
    out
}

/// A client that keeps its session across connections: clean session 0
/// under 3.1.1; under 5.0 a Session Expiry Interval (60 s), so that the
/// first CONNECT has clean start 1 and the reconnections clean start 0.
fn resuming(url: &str, version: ProtocolVersion, id: &str) -> mqtide::ClientBuilder {
    let b = builder(url, version, id, 60);
    if version == V5 {
        b.session_expiry(Duration::from_secs(60))
    } else {
        b.clean_start(false)
    }
}

/// The CONNECTs of [`resuming`]: the first, then a reconnection.
fn resuming_connects(version: ProtocolVersion, id: &str) -> (Vec<u8>, Vec<u8>) {
    if version == V5 {
        let props = wire(&["11 00 00 00 3c", MAX_PACKET]);
        (
            connect(version, 0x02, id, &props),
            connect(version, 0x00, id, &props),
        )
    } else {
        let c = connect(version, 0x00, id, &[]);
        (c.clone(), c)
    }
}

/// 03-publish-c2b-qos1-disconnect: the broker drops the connection after
/// the PUBLISH; on the reconnection (session present) the client sends it
/// again with DUP (0x3a) and the same packet identifier.
#[tokio::test]
async fn publish_c2b_qos1_disconnect() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let id = "publish-qos1-test";
        let (client, task) = start(resuming(&broker.url(), version, id));
        let (first, again) = resuming_connects(version, id);
        let mut conn = broker.accept().await;
        conn.expect_send("CONNECT", &first, &connack(version, false))
            .await;
        guard("connected", client.wait_connected()).await.unwrap();
        let pending = guard(
            "queue the publish",
            client
                .publish("pub/qos1/test", "message")
                .qos(QoS::AtLeastOnce)
                .send(),
        )
        .await
        .expect("queued");
        conn.expect("PUBLISH", &qos1_publish(version, 0x32)).await;
        drop(conn);
        let mut conn = broker.accept().await;
        conn.expect_send("reconnection CONNECT", &again, &connack(version, true))
            .await;
        conn.expect_send(
            "PUBLISH with DUP",
            &qos1_publish(version, 0x3a),
            &wire(&["40 02 00 01"]),
        )
        .await;
        guard("the PUBACK", pending)
            .await
            .expect("PUBACK completes the publish");
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-c2b-qos2: PUBLISH, PUBREC, PUBREL, PUBCOMP.
#[tokio::test]
async fn publish_c2b_qos2() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos2-test", 60));
        let mut conn = accept_plain(&broker, version, "publish-qos2-test").await;
        let (outcome, ()) = tokio::join!(
            guard(
                "publish",
                client
                    .publish("pub/qos2/test", "message")
                    .qos(QoS::ExactlyOnce)
            ),
            async {
                conn.expect_send(
                    "PUBLISH",
                    &qos2_publish(version, 0x34),
                    &wire(&["50 02 00 01"]),
                )
                .await;
                conn.expect_send("PUBREL", &wire(&["62 02 00 01"]), &wire(&["70 02 00 01"]))
                    .await;
            }
        );
        outcome.expect("PUBCOMP completes the publish");
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-c2b-qos2-disconnect: cut after the PUBLISH (resent with DUP,
/// 0x3c), then cut after the PUBREL (resent as it was).
#[tokio::test]
async fn publish_c2b_qos2_disconnect() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let id = "publish-qos2-test";
        let (client, task) = start(resuming(&broker.url(), version, id));
        let (first, again) = resuming_connects(version, id);
        let mut conn = broker.accept().await;
        conn.expect_send("CONNECT", &first, &connack(version, false))
            .await;
        guard("connected", client.wait_connected()).await.unwrap();
        let pending = guard(
            "queue the publish",
            client
                .publish("pub/qos2/test", "message")
                .qos(QoS::ExactlyOnce)
                .send(),
        )
        .await
        .expect("queued");
        conn.expect("PUBLISH", &qos2_publish(version, 0x34)).await;
        drop(conn);
        let mut conn = broker.accept().await;
        conn.expect_send("first reconnection", &again, &connack(version, true))
            .await;
        conn.expect_send(
            "PUBLISH with DUP",
            &qos2_publish(version, 0x3c),
            &wire(&["50 02 00 01"]),
        )
        .await;
        conn.expect("PUBREL", &wire(&["62 02 00 01"])).await;
        drop(conn);
        let mut conn = broker.accept().await;
        conn.expect_send("second reconnection", &again, &connack(version, true))
            .await;
        conn.expect_send(
            "PUBREL again",
            &wire(&["62 02 00 01"]),
            &wire(&["70 02 00 01"]),
        )
        .await;
        guard("the PUBCOMP", pending)
            .await
            .expect("PUBCOMP completes the publish");
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-b2c-qos1: the broker's QoS 1 PUBLISH (identifier 123) is
/// delivered and answered with PUBACK.
#[tokio::test]
async fn publish_b2c_qos1() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos1-test", 60));
        let mut messages = client.messages().await.expect("a message stream");
        let mut conn = accept_plain(&broker, version, "publish-qos1-test").await;
        let publish = per(
            version,
            &["32 1b 00 10", "'pub/qos1/receive'", "00 7b", "'message'"],
            &["32 1c 00 10", "'pub/qos1/receive'", "00 7b 00", "'message'"],
        );
        conn.send(&publish).await;
        conn.expect("PUBACK", &wire(&["40 02 00 7b"])).await;
        let m = next(&mut messages).await;
        assert_eq!(
            (m.topic(), m.payload().as_ref(), m.qos()),
            ("pub/qos1/receive", b"message".as_slice(), QoS::AtLeastOnce)
        );
        disconnects(client, conn, task).await;
    }
}

/// The broker's QoS 2 PUBLISH "pub/qos2/receive" "message", identifier
/// 13423 (0x346f).
fn b2c_qos2(version: ProtocolVersion) -> Vec<u8> {
    per(
        version,
        &["34 1b 00 10", "'pub/qos2/receive'", "34 6f", "'message'"],
        &["34 1c 00 10", "'pub/qos2/receive'", "34 6f 00", "'message'"],
    )
}

/// 03-publish-b2c-qos2: PUBLISH, PUBREC, PUBREL, PUBCOMP from the
/// broker's side; the message is delivered once.
#[tokio::test]
async fn publish_b2c_qos2() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos2-test", 60));
        let mut messages = client.messages().await.expect("a message stream");
        let mut conn = accept_plain(&broker, version, "publish-qos2-test").await;
        conn.send(&b2c_qos2(version)).await;
        conn.expect_send("PUBREC", &wire(&["50 02 34 6f"]), &wire(&["62 02 34 6f"]))
            .await;
        conn.expect("PUBCOMP", &wire(&["70 02 34 6f"])).await;
        let m = next(&mut messages).await;
        assert_eq!(
            (m.topic(), m.payload().as_ref(), m.qos()),
            ("pub/qos2/receive", b"message".as_slice(), QoS::ExactlyOnce)
        );
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-b2c-qos2-unexpected-pubrel: a PUBREL for an identifier
/// (1000) the client never received is answered with PUBCOMP (5.0: reason
/// 0x92, packet identifier not found), and a QoS 2 flow then goes through.
#[tokio::test]
async fn publish_b2c_qos2_unexpected_pubrel() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "publish-qos2-test", 60));
        let mut messages = client.messages().await.expect("a message stream");
        let mut conn = accept_plain(&broker, version, "publish-qos2-test").await;
        conn.send(&wire(&["62 02 03 e8"])).await;
        let pubcomp = per(version, &["70 02 03 e8"], &["70 03 03 e8 92"]);
        conn.expect("PUBCOMP for the unknown PUBREL", &pubcomp)
            .await;
        conn.send(&b2c_qos2(version)).await;
        conn.expect_send("PUBREC", &wire(&["50 02 34 6f"]), &wire(&["62 02 34 6f"]))
            .await;
        conn.expect("PUBCOMP", &wire(&["70 02 34 6f"])).await;
        let m = next(&mut messages).await;
        assert_eq!(m.payload().as_ref(), b"message");
        disconnects(client, conn, task).await;
    }
}

/// 03-publish-b2c-qos1-unexpected-puback and
/// 03-publish-b2c-qos2-unexpected-pubcomp:
/// Mosquitto's library ignores an acknowledgement for nothing and goes on
/// (the next packet it expects is PINGREQ). mqtide treats it as a protocol
/// error by design (see hostile_broker.rs): under 5.0 it sends DISCONNECT
/// 0x82 (protocol error), under 3.1.1 it closes without DISCONNECT; then
/// it reconnects.
async fn unexpected_ack(version: ProtocolVersion, ack: &str) {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), version, "publish-qos1-test", 60));
    let mut events = client.events();
    let mut conn = accept_plain(&broker, version, "publish-qos1-test").await;
    conn.send(&wire(&[ack])).await;
    if version == V5 {
        conn.expect("DISCONNECT protocol error", &wire(&["e0 01 82"]))
            .await;
    }
    conn.expect_closed("after the unexpected acknowledgement")
        .await;
    loop {
        match guard("the disconnection", events.recv()).await.unwrap() {
            ConnectionEvent::Disconnected { .. } => break,
            _ => continue,
        }
    }
    let conn = accept_plain(&broker, version, "publish-qos1-test").await;
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn publish_b2c_qos1_unexpected_puback() {
    for version in VERSIONS {
        unexpected_ack(version, "40 02 34 6f").await;
    }
}

#[tokio::test]
async fn publish_b2c_qos2_unexpected_pubcomp() {
    for version in VERSIONS {
        unexpected_ack(version, "70 02 34 6f").await;
    }
}
