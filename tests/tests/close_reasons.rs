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
