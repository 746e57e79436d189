//! The paho-style one-call helpers against a real Mosquitto.

mod support;

use std::ops::ControlFlow;
use std::time::Duration;

use mqtide::oneshot::{
    Outgoing, publish_multiple, publish_single, subscribe_callback, subscribe_simple,
};
use mqtide::{Error, QoS};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard};

fn retained(topic: &str, payload: &'static str, qos: QoS) -> Outgoing {
    Outgoing {
        topic: topic.into(),
        payload: payload.into(),
        qos,
        retain: true,
    }
}

/// Retained messages make the order deterministic: published first by
/// one helper, collected afterwards by another.
#[tokio::test]
async fn publish_then_subscribe_with_helpers() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let prefix = format!("oneshot/{version}");
        let outcome = guard(
            "publish_single",
            publish_single(
                client(&broker.url(), version, "single"),
                retained(&format!("{prefix}/a"), "1", QoS::AtLeastOnce),
            ),
        )
        .await
        .unwrap();
        assert!(!outcome.reason_code.is_error());
        let outcomes = guard(
            "publish_multiple",
            publish_multiple(
                client(&broker.url(), version, "multiple"),
                [
                    retained(&format!("{prefix}/b"), "2", QoS::ExactlyOnce),
                    retained(&format!("{prefix}/c"), "3", QoS::AtMostOnce),
                ],
            ),
        )
        .await
        .unwrap();
        assert_eq!(outcomes.len(), 2);

        let filter = format!("{prefix}/#");
        let messages = guard(
            "subscribe_simple",
            subscribe_simple(
                client(&broker.url(), version, "simple"),
                &[&filter],
                QoS::ExactlyOnce,
                3,
                Duration::from_secs(10),
            ),
        )
        .await
        .unwrap();
        let mut payloads: Vec<_> = messages.iter().map(|m| m.payload().clone()).collect();
        payloads.sort();
        assert_eq!(payloads, ["1", "2", "3"]);

        let mut seen = 0;
        guard(
            "subscribe_callback",
            subscribe_callback(
                client(&broker.url(), version, "callback"),
                &[&filter],
                QoS::AtLeastOnce,
                |_| {
                    seen += 1;
                    if seen == 2 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            ),
        )
        .await
        .unwrap();
        assert_eq!(seen, 2);
    }
}

#[tokio::test]
async fn subscribe_simple_times_out() {
    let broker = Mosquitto::start().unwrap();
    let result = guard(
        "subscribe_simple",
        subscribe_simple(
            client(&broker.url(), mqtide::ProtocolVersion::V5, "quiet"),
            &["nothing/here"],
            QoS::AtMostOnce,
            1,
            Duration::from_millis(200),
        ),
    )
    .await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
}
