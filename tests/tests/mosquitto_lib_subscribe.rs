//! Mosquitto's client-library subscription scenarios (test/lib/02-*),
//! ported as byte-exact tests: SUBSCRIBE at each QoS and UNSUBSCRIBE (one
//! filter, and under 5.0 two), compared byte for byte with hand-written
//! packets. Under 5.0 a SUBSCRIBE made once connected carries a
//! Subscription Identifier (`0b 01`: the CONNACK did not say the broker
//! lacks them).

mod support;

#[path = "support/exact_broker.rs"]
mod exact;

use exact::{ExactBroker, accept_plain, builder, disconnects, per, start, wire};
use mqtide::{ProtocolVersion, QoS};
use support::{VERSIONS, guard};

/// 02-subscribe-qos0, 02-subscribe-qos1, 02-subscribe-qos2: SUBSCRIBE
/// "qosN/test" at QoS N with packet identifier 1 (5.0: Subscription
/// Identifier 1, options byte N), SUBACK granting N.
async fn subscribe(version: ProtocolVersion, qos: QoS) {
    let n = qos as u8;
    let id = format!("subscribe-qos{n}-test");
    let filter = format!("qos{n}/test");
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), version, &id, 60));
    let mut conn = accept_plain(&broker, version, &id).await;
    guard("connected", client.wait_connected()).await.unwrap();
    let quoted = format!("'{filter}'");
    let last = format!("{n:02x}");
    let subscribe_packet = per(
        version,
        &["82 0e 00 01 00 09", &quoted, &last],
        &["82 11 00 01 02 0b 01 00 09", &quoted, &last],
    );
    let suback = per(version, &["90 03 00 01", &last], &["90 04 00 01 00", &last]);
    let (sub, ()) = tokio::join!(
        guard("subscribe", client.subscribe(&filter, qos)),
        conn.expect_send("SUBSCRIBE", &subscribe_packet, &suback)
    );
    sub.expect("SUBACK grants the subscription");
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn subscribe_qos0() {
    for version in VERSIONS {
        subscribe(version, QoS::AtMostOnce).await;
    }
}

#[tokio::test]
async fn subscribe_qos1() {
    for version in VERSIONS {
        subscribe(version, QoS::AtLeastOnce).await;
    }
}

#[tokio::test]
async fn subscribe_qos2() {
    for version in VERSIONS {
        subscribe(version, QoS::ExactlyOnce).await;
    }
}

/// 02-unsubscribe and 02-unsubscribe-v5: UNSUBSCRIBE "unsubscribe/test"
/// with packet identifier 1, UNSUBACK.
#[tokio::test]
async fn unsubscribe() {
    for version in VERSIONS {
        let broker = ExactBroker::bind().await;
        let (client, task) = start(builder(&broker.url(), version, "unsubscribe-test", 60));
        let mut conn = accept_plain(&broker, version, "unsubscribe-test").await;
        let unsubscribe = per(
            version,
            &["a2 14 00 01 00 10", "'unsubscribe/test'"],
            &["a2 15 00 01 00 00 10", "'unsubscribe/test'"],
        );
        let unsuback = per(version, &["b0 02 00 01"], &["b0 04 00 01 00 00"]);
        let (done, ()) = tokio::join!(
            guard("unsubscribe", client.unsubscribe("unsubscribe/test")),
            conn.expect_send("UNSUBSCRIBE", &unsubscribe, &unsuback)
        );
        done.expect("UNSUBACK");
        disconnects(client, conn, task).await;
    }
}

/// 02-unsubscribe-multiple-v5: SUBSCRIBE at QoS 2, then one UNSUBSCRIBE
/// for two filters; the UNSUBACK's reason codes are success and 0x11 (no
/// subscription existed).
#[tokio::test]
async fn unsubscribe_multiple_v5() {
    let version = ProtocolVersion::V5;
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), version, "unsubscribe-test", 60));
    let mut conn = accept_plain(&broker, version, "unsubscribe-test").await;
    guard("connected", client.wait_connected()).await.unwrap();
    let subscribe_packet = wire(&["82 18 00 01 02 0b 01 00 10", "'unsubscribe/test'", "02"]);
    let suback = wire(&["90 04 00 01 00 02"]);
    let (sub, ()) = tokio::join!(
        guard(
            "subscribe",
            client.subscribe("unsubscribe/test", QoS::ExactlyOnce)
        ),
        conn.expect_send("SUBSCRIBE", &subscribe_packet, &suback)
    );
    sub.expect("SUBACK");
    let unsubscribe = wire(&[
        "a2 1d 00 02 00 00 10",
        "'unsubscribe/test'",
        "00 06",
        "'no-sub'",
    ]);
    let filters = ["unsubscribe/test", "no-sub"];
    let unsuback = wire(&["b0 05 00 02 00 00 11"]);
    let (done, ()) = tokio::join!(
        guard("unsubscribe", client.unsubscribe_many(filters)),
        conn.expect_send("UNSUBSCRIBE", &unsubscribe, &unsuback)
    );
    done.expect("UNSUBACK (0x11 is not a failure)");
    disconnects(client, conn, task).await;
}
