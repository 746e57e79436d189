//! What a waiter learns when the client closes under it.

mod support;

use mqtide::{DisconnectReason, Error, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use support::{client, guard};

/// Without reconnects, a publish still waiting for its acknowledgement
/// when the broker goes away fails with the reason, not a bare "closed".
#[tokio::test]
async fn a_lost_connection_without_reconnect_fails_waiters_with_the_reason() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut broker = Mosquitto::start().unwrap();
        let c = guard(
            "connect",
            client(&broker.url(), version, "lost")
                .no_reconnect()
                .connect(),
        )
        .await
        .unwrap();
        broker.pause().unwrap();
        let pending = guard(
            "send",
            c.publish("lost/x", "1").qos(QoS::AtLeastOnce).send(),
        )
        .await
        .unwrap();
        broker.kill();
        let error = guard("the acknowledgement", pending).await.unwrap_err();
        assert!(
            matches!(error, Error::ConnectionLost(DisconnectReason::Transport(_))),
            "{version}: {error:?}"
        );
        assert!(error.is_retryable());
        assert!(error.to_string().contains("does not reconnect"), "{error}");
    }
}

/// A configuration CONNECT cannot carry fails when the client is built,
/// not at its first connection.
#[test]
fn an_unsendable_configuration_fails_at_build() {
    let error = mqtide::Client::builder("mqtt://127.0.0.1:1")
        .client_id("sensor\0one")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error:?}");
}

/// With `build()`, `wait_connected` reports why the first connection
/// failed, not a bare "closed".
#[tokio::test]
async fn wait_connected_reports_the_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (c, connection) = mqtide::Client::builder(&format!("mqtt://127.0.0.1:{port}"))
        .build()
        .unwrap();
    tokio::spawn(connection.run());
    let error = guard("wait_connected", c.wait_connected())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Connect(mqtide::ConnectError::Io { .. })),
        "{error:?}"
    );
}

/// UNSUBSCRIBE can carry 5.0 user properties.
#[tokio::test]
async fn unsubscribe_with_properties() {
    let broker = Mosquitto::start().unwrap();
    let c = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V5, "unsub-props").connect(),
    )
    .await
    .unwrap();
    let _sub = guard("subscribe", c.subscribe("unsub/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    let properties = mqtide::proto::UnsubscribeProperties {
        user_properties: vec![("why".into(), "done".into())],
    };
    guard(
        "unsubscribe",
        c.unsubscribe_with(
            vec![mqtide::TopicFilter::new("unsub/#").unwrap()],
            properties,
        ),
    )
    .await
    .unwrap();
    guard("disconnect", c.disconnect()).await.unwrap();
}
