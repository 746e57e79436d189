//! Mosquitto's client-library 5.0 scenarios on the broker's limits and on
//! properties (test/lib/03-publish-c2b-*-receive-maximum*, -maximum-qos-*,
//! -pubrec-error, 03-request-response*, 11-prop-*), ported as byte-exact
//! tests against a scripted broker.

mod support;

#[path = "support/exact_broker.rs"]
mod exact;

use exact::{Conn, ExactBroker, accept_plain, builder, disconnects, plain_connect, start, wire};
use mqtide::proto::{PublishProperties, UsageError};
use mqtide::{Client, Error, PendingAck, ProtocolVersion, QoS};
use support::{guard, next};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// Connects `id` and answers with a CONNACK carrying `properties`.
async fn connect_with(
    broker: &ExactBroker,
    id: &str,
    properties: &str,
) -> (Client, tokio::task::JoinHandle<()>, Conn) {
    let (client, task) = start(builder(&broker.url(), V5, id, 60));
    let mut conn = broker.accept().await;
    let props = wire(&[properties]);
    let mut connack = vec![0x20, 3 + u8::try_from(props.len()).unwrap(), 0, 0];
    connack.push(u8::try_from(props.len()).unwrap());
    connack.extend(props);
    conn.expect_send("CONNECT", &plain_connect(V5, id), &connack)
        .await;
    guard("connected", client.wait_connected()).await.unwrap();
    (client, task, conn)
}

/// Queues `count` publishes of "12345" to "topic" at `qos`, in order.
async fn queue(client: &Client, qos: QoS, count: usize) -> Vec<PendingAck> {
    let mut pending = Vec::new();
    for _ in 0..count {
        let p = guard("queue", client.publish("topic", "12345").qos(qos).send())
            .await
            .expect("queued");
        pending.push(p);
    }
    pending
}

/// PUBLISH "topic" "12345" at `qos` with packet identifier `id`.
fn publish(qos: QoS, id: u8) -> Vec<u8> {
    let first = format!("{:02x}", 0x30 | (qos as u8) << 1);
    let id = format!("00 {id:02x} 00");
    wire(&[&first, "0f 00 05", "'topic'", &id, "'12345'"])
}

fn ack(kind: &str, id: u8) -> Vec<u8> {
    wire(&[kind, &format!("02 00 {id:02x}")])
}

/// 03-publish-c2b-qos1-receive-maximum: Receive Maximum 3; six QoS 1
/// publishes: three go out, and each PUBACK lets one more go.
#[tokio::test]
async fn publish_c2b_qos1_receive_maximum_3() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) = connect_with(&broker, "publish-qos1-test", "21 00 03").await;
    let pending = queue(&client, QoS::AtLeastOnce, 6).await;
    for id in 1..=3 {
        conn.expect("publish within the window", &publish(QoS::AtLeastOnce, id))
            .await;
    }
    conn.send(&ack("40", 1)).await;
    conn.send(&ack("40", 2)).await;
    conn.expect("publish 4", &publish(QoS::AtLeastOnce, 4))
        .await;
    conn.expect("publish 5", &publish(QoS::AtLeastOnce, 5))
        .await;
    conn.send(&ack("40", 3)).await;
    conn.expect("publish 6", &publish(QoS::AtLeastOnce, 6))
        .await;
    for id in 4..=6 {
        conn.send(&ack("40", id)).await;
    }
    for p in pending {
        guard("PUBACK", p).await.expect("acknowledged");
    }
    disconnects(client, conn, task).await;
}

/// One QoS 2 flow from the broker's side: PUBREC in, PUBREL out.
async fn release(conn: &mut Conn, id: u8) {
    conn.send(&ack("50", id)).await;
    conn.expect("PUBREL", &ack("62", id)).await;
}

/// 03-publish-c2b-qos2-receive-maximum-1: with Receive Maximum 1 the five
/// QoS 2 publishes go one at a time: the next PUBLISH only after PUBCOMP.
#[tokio::test]
async fn publish_c2b_qos2_receive_maximum_1() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) = connect_with(&broker, "publish-qos2-test", "21 00 01").await;
    let pending = queue(&client, QoS::ExactlyOnce, 5).await;
    for id in 1..=5 {
        conn.expect("PUBLISH", &publish(QoS::ExactlyOnce, id)).await;
        release(&mut conn, id).await;
        conn.send(&ack("70", id)).await;
    }
    for p in pending {
        guard("PUBCOMP", p).await.expect("completed");
    }
    disconnects(client, conn, task).await;
}

/// 03-publish-c2b-qos2-receive-maximum-2: Receive Maximum 2: two flows at
/// a time, and a PUBREL still counts until its PUBCOMP.
#[tokio::test]
async fn publish_c2b_qos2_receive_maximum_2() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) = connect_with(&broker, "publish-qos2-test", "21 00 02").await;
    let pending = queue(&client, QoS::ExactlyOnce, 5).await;
    for pair in [[1, 2], [3, 4]] {
        for id in pair {
            conn.expect("PUBLISH", &publish(QoS::ExactlyOnce, id)).await;
        }
        conn.send(&ack("50", pair[0])).await;
        conn.send(&ack("50", pair[1])).await;
        for id in pair {
            conn.expect("PUBREL", &ack("62", id)).await;
        }
        conn.send(&ack("70", pair[0])).await;
        conn.send(&ack("70", pair[1])).await;
    }
    conn.expect("PUBLISH 5", &publish(QoS::ExactlyOnce, 5))
        .await;
    release(&mut conn, 5).await;
    conn.send(&ack("70", 5)).await;
    for p in pending {
        guard("PUBCOMP", p).await.expect("completed");
    }
    disconnects(client, conn, task).await;
}

fn qos_not_supported(result: Result<mqtide::PublishOutcome, Error>) -> bool {
    matches!(
        result,
        Err(Error::Usage(UsageError::QoSNotSupported { .. }))
    )
}

/// 03-publish-c2b-qos2-maximum-qos-0: with Maximum QoS 0, QoS 2 and QoS 1
/// publishes are refused before anything is sent; QoS 0 goes out.
#[tokio::test]
async fn publish_c2b_maximum_qos_0() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) = connect_with(&broker, "publish-qos2-test", "24 00").await;
    for (topic, qos) in [
        ("maximum/qos/qos2", QoS::ExactlyOnce),
        ("maximum/qos/qos1", QoS::AtLeastOnce),
    ] {
        let result = guard("publish", client.publish(topic, "message").qos(qos)).await;
        assert!(qos_not_supported(result.clone()), "{qos:?}: {result:?}");
    }
    guard("publish", client.publish("maximum/qos/qos0", "message"))
        .await
        .expect("QoS 0 is allowed");
    conn.expect(
        "the QoS 0 PUBLISH",
        &wire(&["30 1a 00 10", "'maximum/qos/qos0'", "00", "'message'"]),
    )
    .await;
    disconnects(client, conn, task).await;
}

/// 03-publish-c2b-qos2-maximum-qos-1: with Maximum QoS 1, QoS 2 is
/// refused, QoS 1 and QoS 0 go out.
#[tokio::test]
async fn publish_c2b_maximum_qos_1() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) = connect_with(&broker, "publish-qos2-test", "24 01").await;
    let result = guard(
        "publish",
        client
            .publish("maximum/qos/qos2", "message")
            .qos(QoS::ExactlyOnce),
    )
    .await;
    assert!(qos_not_supported(result.clone()), "{result:?}");
    let pending = guard(
        "queue",
        client
            .publish("maximum/qos/qos1", "message")
            .qos(QoS::AtLeastOnce)
            .send(),
    )
    .await
    .expect("queued");
    conn.expect_send(
        "the QoS 1 PUBLISH",
        &wire(&["32 1c 00 10", "'maximum/qos/qos1'", "00 01 00", "'message'"]),
        &ack("40", 1),
    )
    .await;
    guard("PUBACK", pending).await.expect("acknowledged");
    guard("publish", client.publish("maximum/qos/qos0", "message"))
        .await
        .expect("QoS 0");
    conn.expect(
        "the QoS 0 PUBLISH",
        &wire(&["30 1a 00 10", "'maximum/qos/qos0'", "00", "'message'"]),
    )
    .await;
    disconnects(client, conn, task).await;
}

/// 03-publish-c2b-qos2-pubrec-error: Receive Maximum 1; the first QoS 2
/// publish gets PUBREC 0x80 (unspecified error), which ends its flow (no
/// PUBREL) and fails it; the second then goes out and completes.
#[tokio::test]
async fn publish_c2b_qos2_pubrec_error() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) = connect_with(&broker, "publish-qos2-test", "21 00 01").await;
    let mut pending = Vec::new();
    for payload in ["rejected", "accepted"] {
        let p = guard(
            "queue",
            client
                .publish("topic", payload)
                .qos(QoS::ExactlyOnce)
                .send(),
        )
        .await
        .expect("queued");
        pending.push(p);
    }
    conn.expect_send(
        "PUBLISH 1",
        &wire(&["34 12 00 05", "'topic'", "00 01 00", "'rejected'"]),
        &wire(&["50 03 00 01 80"]),
    )
    .await;
    conn.expect_send(
        "PUBLISH 2",
        &wire(&["34 12 00 05", "'topic'", "00 02 00", "'accepted'"]),
        &ack("50", 2),
    )
    .await;
    conn.expect_send("PUBREL 2", &ack("62", 2), &ack("70", 2))
        .await;
    let mut pending = pending.into_iter();
    let rejected = guard("the refusal", pending.next().unwrap()).await;
    assert!(
        matches!(rejected, Err(Error::Request(_))),
        "PUBREC 0x80 fails the publish: {rejected:?}"
    );
    guard("PUBCOMP", pending.next().unwrap())
        .await
        .expect("the second completes");
    disconnects(client, conn, task).await;
}

/// 11-prop-oversize-packet: the CONNACK's Maximum Packet Size is 30. A
/// PUBLISH "pub/test" with 18 payload bytes would be 31 bytes and is
/// refused unsent; with 17 it is exactly 30 and goes out. (Mosquitto's
/// script lets the 18-byte payload through: libmosquitto leaves the first
/// byte out of the packet size.)
#[tokio::test]
async fn prop_oversize_packet() {
    let broker = ExactBroker::bind().await;
    let (client, task, mut conn) =
        connect_with(&broker, "publish-qos0-test", "27 00 00 00 1e").await;
    let result = guard("publish", client.publish("pub/test", "012345678901234567")).await;
    assert!(
        matches!(
            result,
            Err(Error::Usage(UsageError::PacketTooLarge {
                size: 31,
                maximum: 30
            }))
        ),
        "{result:?}"
    );
    guard("publish", client.publish("pub/test", "01234567890123456"))
        .await
        .expect("30 bytes fit");
    conn.expect(
        "the PUBLISH that fits",
        &wire(&["30 1c 00 08", "'pub/test'", "00", "'01234567890123456'"]),
    )
    .await;
    disconnects(client, conn, task).await;
}

/// 11-prop-send-content-type and 11-prop-send-payload-format: a QoS 0
/// PUBLISH with Content Type (0x03), then one with Payload Format
/// Indicator 1 (0x01).
#[tokio::test]
async fn prop_send_content_type_and_payload_format() {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), V5, "prop-test", 60));
    let mut conn = accept_plain(&broker, V5, "prop-test").await;
    guard(
        "publish",
        client
            .publish("prop/qos0", "message")
            .content_type("application/json"),
    )
    .await
    .unwrap();
    conn.expect(
        "PUBLISH with Content Type",
        &wire(&[
            "30 26 00 09",
            "'prop/qos0'",
            "13 03 00 10",
            "'application/json'",
            "'message'",
        ]),
    )
    .await;
    guard(
        "publish",
        client.publish("prop/qos0", "message").utf8_payload(),
    )
    .await
    .unwrap();
    conn.expect(
        "PUBLISH with Payload Format Indicator",
        &wire(&["30 15 00 09", "'prop/qos0'", "02 01 01", "'message'"]),
    )
    .await;
    disconnects(client, conn, task).await;
}

/// 11-prop-recv-qos1: a QoS 1 PUBLISH with Content Type and Response
/// Topic reaches the application with both, and is acknowledged.
#[tokio::test]
async fn prop_recv_qos1() {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), V5, "prop-test", 60));
    let mut messages = client.messages().await.unwrap();
    let mut conn = accept_plain(&broker, V5, "prop-test").await;
    conn.send(&wire(&[
        "32 2c 00 09",
        "'prop/test'",
        "00 01 17 03 00 0a",
        "'plain/text'",
        "08 00 07",
        "'msg/123'",
        "'message'",
    ]))
    .await;
    conn.expect("PUBACK", &ack("40", 1)).await;
    let m = next(&mut messages).await;
    assert_eq!(
        (m.content_type(), m.response_topic(), m.payload().as_ref()),
        (Some("plain/text"), Some("msg/123"), b"message".as_slice())
    );
    disconnects(client, conn, task).await;
}

/// 03-request-response and 03-request-response-correlation: two clients on
/// one broker. The requester subscribes to "response/topic" and publishes
/// to "request/topic" with that Response Topic (and Correlation Data
/// "corridor"); the responder, subscribed to "request/topic", answers on
/// the Response Topic with the Correlation Data.
async fn request_response(correlation: bool) {
    let broker = ExactBroker::bind().await;
    let (requester, req_task) = start(builder(&broker.url(), V5, "request-test", 60));
    let mut conn1 = accept_plain(&broker, V5, "request-test").await;
    let (responder, resp_task) = start(builder(&broker.url(), V5, "response-test", 60));
    let mut conn2 = accept_plain(&broker, V5, "response-test").await;
    let suback = wire(&["90 04 00 01 00 00"]);
    // Subscription Identifier 1 (0x0b): the broker did not say it lacks
    // them.
    let sub1 = wire(&["82 16 00 01 02 0b 01 00 0e", "'response/topic'", "00"]);
    let (s1, ()) = tokio::join!(
        guard(
            "subscribe",
            requester.subscribe("response/topic", QoS::AtMostOnce)
        ),
        conn1.expect_send("SUBSCRIBE 1", &sub1, &suback)
    );
    let _responses = s1.unwrap();
    let sub2 = wire(&["82 15 00 01 02 0b 01 00 0d", "'request/topic'", "00"]);
    let (s2, ()) = tokio::join!(
        guard(
            "subscribe",
            responder.subscribe("request/topic", QoS::AtMostOnce)
        ),
        conn2.expect_send("SUBSCRIBE 2", &sub2, &suback)
    );
    let mut requests = s2.unwrap();
    let properties = PublishProperties {
        response_topic: Some("response/topic".into()),
        correlation_data: correlation.then(|| bytes::Bytes::from_static(b"corridor")),
        ..PublishProperties::default()
    };
    guard(
        "request",
        requester
            .publish("request/topic", "action")
            .properties(properties),
    )
    .await
    .unwrap();
    let request = if correlation {
        wire(&[
            "30 32 00 0d",
            "'request/topic'",
            "1c 08 00 0e",
            "'response/topic'",
            "09 00 08",
            "'corridor'",
            "'action'",
        ])
    } else {
        wire(&[
            "30 27 00 0d",
            "'request/topic'",
            "11 08 00 0e",
            "'response/topic'",
            "'action'",
        ])
    };
    conn1.expect("the request", &request).await;
    conn2.send(&request).await;
    let m = next(&mut requests).await;
    let topic = m.response_topic().expect("a response topic").to_owned();
    let properties = PublishProperties {
        correlation_data: m.correlation_data().cloned(),
        ..PublishProperties::default()
    };
    guard(
        "response",
        responder
            .publish(topic, "a response")
            .properties(properties),
    )
    .await
    .unwrap();
    let response = if correlation {
        wire(&[
            "30 26 00 0e",
            "'response/topic'",
            "0b 09 00 08",
            "'corridor'",
            "'a response'",
        ])
    } else {
        wire(&["30 1b 00 0e", "'response/topic'", "00", "'a response'"])
    };
    conn2.expect("the response", &response).await;
    disconnects(requester, conn1, req_task).await;
    disconnects(responder, conn2, resp_task).await;
}

#[tokio::test]
async fn request_response_v5() {
    request_response(false).await;
}

#[tokio::test]
async fn request_response_correlation_v5() {
    request_response(true).await;
}
