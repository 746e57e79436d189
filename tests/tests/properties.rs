//! MQTT 5.0 message properties in both directions through Mosquitto:
//! user properties, content type, payload format, message expiry,
//! response topic and correlation data; and a manual acknowledgement
//! that rejects a message with a 5.0 reason code.

mod support;

use std::time::Duration;

use mqtide::{ProtocolVersion, PublishProperties, QoS, ReasonCode};
use mqtide_testkit::Mosquitto;
use support::{client, guard, next};

#[tokio::test]
async fn publish_properties_arrive_as_sent() {
    let broker = Mosquitto::start().unwrap();
    let c = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V5, "props").connect(),
    )
    .await
    .unwrap();
    let mut sub = guard("subscribe", c.subscribe("props/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    let properties = PublishProperties {
        response_topic: Some("props/reply".into()),
        correlation_data: Some(bytes::Bytes::from_static(b"\x00\x01corr")),
        ..Default::default()
    };
    guard(
        "publish",
        c.publish("props/a", "héllo")
            .qos(QoS::AtLeastOnce)
            .properties(properties)
            .user_property("unit", "celsius")
            .user_property("unit", "kelvin")
            .user_property("site", "lab")
            .content_type("application/json")
            .utf8_payload()
            .message_expiry(Duration::from_secs(600)),
    )
    .await
    .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(
        m.user_properties().collect::<Vec<_>>(),
        [("unit", "celsius"), ("unit", "kelvin"), ("site", "lab")]
    );
    assert_eq!(m.user_property("unit"), Some("celsius"));
    assert_eq!(m.content_type(), Some("application/json"));
    assert!(m.is_utf8());
    assert_eq!(m.payload_str(), Some("héllo"));
    let expiry = m.message_expiry().expect("an expiry");
    assert!(expiry <= Duration::from_secs(600) && expiry >= Duration::from_secs(590));
    assert_eq!(m.response_topic(), Some("props/reply"));
    assert_eq!(
        m.correlation_data().map(|d| d.as_ref()),
        Some(&b"\x00\x01corr"[..])
    );

    // Without properties, every accessor says so.
    guard(
        "publish",
        c.publish("props/b", vec![0xff]).qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.user_properties().count(), 0);
    assert!(!m.is_utf8() && m.content_type().is_none() && m.message_expiry().is_none());
    assert_eq!(m.payload_str(), None);
    guard("disconnect", c.disconnect()).await.unwrap();
}

#[tokio::test]
async fn a_manual_ack_can_reject_with_a_reason_code() {
    let broker = Mosquitto::start().unwrap();
    let c = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V5, "reject")
            .manual_acks(true)
            .connect(),
    )
    .await
    .unwrap();
    let mut sub = guard("subscribe", c.subscribe("reject/#", QoS::ExactlyOnce))
        .await
        .unwrap();
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        guard("publish", c.publish("reject/x", "bad").qos(qos))
            .await
            .unwrap();
        let m = next(&mut sub).await;
        guard("reject", c.ack_with(&m, ReasonCode::PayloadFormatInvalid))
            .await
            .unwrap();
    }
    // The broker took both refusals: the connection is fine, and a
    // success code outside the PUBACK set is refused locally.
    assert!(c.state().is_connected());
    guard("publish", c.publish("reject/y", "ok").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
    let m = next(&mut sub).await;
    let error = guard("bad code", c.ack_with(&m, ReasonCode::ServerMoved))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("reason code"), "{error}");
    guard("ack", c.ack(&m)).await.unwrap();
    guard("disconnect", c.disconnect()).await.unwrap();
}
