//! MQTT over WebSocket (`ws://`, `wss://`), against Mosquitto's own
//! websockets listeners (libwebsockets is the client's peer), and through
//! the testkit's front (`mqtide_testkit::WsFront`) for what only it can
//! do: capture the upgrade request, refuse it with an HTTP status, and
//! frames that do not line up with packets. The broker answering is real
//! either way.

mod support;

use mqtide::{Client, ConnectionEvent, QoS, TlsOptions};
use mqtide_testkit::{Mosquitto, WsFront};
use support::{VERSIONS, client, guard, next};

#[tokio::test]
async fn each_qos_over_websocket() {
    let broker = Mosquitto::builder().websocket(true).start().unwrap();
    let url = broker.ws_url().unwrap();
    for version in VERSIONS {
        // Larger than one frame of the front's reads: packets and frames
        // do not line up.
        let builder = client(&url, version, "ws").ws_header("x-token", "abc");
        support::each_qos_round_trip(builder, "ws", 20_000).await;
    }
    let seen = broker.ws_front().unwrap().requests();
    assert_eq!(seen.len(), VERSIONS.len());
    for request in &seen {
        assert_eq!(request.path, "/mqtt");
        assert_eq!(request.header("sec-websocket-protocol"), Some("mqtt"));
        assert_eq!(request.header("x-token"), Some("abc"));
    }
}

#[tokio::test]
async fn refused_upgrade_reports_the_http_status() {
    let broker = Mosquitto::start().unwrap();
    let front = WsFront::builder(broker.addr()).refuse(403).start().unwrap();
    let err = guard("connect", Client::builder(&front.url()).connect())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("WebSocket upgrade refused: HTTP 403"),
        "{err}"
    );
}

/// `wss://`: the WebSocket upgrade over a verified TLS connection.
#[tokio::test]
async fn each_qos_over_secure_websocket() {
    let broker = Mosquitto::builder().secure_websocket(true).start().unwrap();
    let url = broker.wss_url().unwrap();
    let ca_pem = broker.tls_material().unwrap().ca_pem.clone();
    for version in VERSIONS {
        let builder = client(&url, version, "wss").tls(TlsOptions::new().ca_pem(ca_pem.clone()));
        support::each_qos_round_trip(builder, "wss", 5000).await;
    }
}

/// `ws://` and `wss://` against Mosquitto's own websockets listeners:
/// the upgrade, the framing and TLS are libwebsockets', not ours.
#[tokio::test]
async fn each_qos_over_mosquittos_own_websocket_listeners() {
    let broker = Mosquitto::builder()
        .native_websocket(true)
        .native_secure_websocket(true)
        .start()
        .unwrap();
    let ca_pem = broker.tls_material().unwrap().ca_pem.clone();
    for version in VERSIONS {
        let builder = client(&broker.native_ws_url().unwrap(), version, "native-ws");
        support::each_qos_round_trip(builder, "native-ws", 20_000).await;
        let builder = client(&broker.native_wss_url().unwrap(), version, "native-wss")
            .tls(TlsOptions::new().ca_pem(ca_pem.clone()));
        support::each_qos_round_trip(builder, "native-wss", 5000).await;
    }
    // The broker saw them as websockets clients of its own.
    assert!(
        broker.log().contains("New client connected from 127.0.0.1"),
        "{}",
        broker.log()
    );
}

/// A broker restart: the client reconnects over WebSocket (a new upgrade)
/// and carries on.
#[tokio::test]
async fn reconnects_over_websocket_after_a_broker_restart() {
    let mut broker = Mosquitto::builder().websocket(true).start().unwrap();
    let url = broker.ws_url().unwrap();
    for version in VERSIONS {
        let c = guard("connect", client(&url, version, "ws-restart").connect())
            .await
            .unwrap();
        let mut sub = guard("subscribe", c.subscribe("ws/restart", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut events = c.events();
        broker.restart().unwrap();
        loop {
            if let ConnectionEvent::Connected { .. } =
                guard("reconnect", events.recv()).await.unwrap()
            {
                break;
            }
        }
        // The subscription was restored (the broker kept nothing).
        guard(
            "publish",
            c.publish("ws/restart", "again").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        assert_eq!(next(&mut sub).await.payload().as_ref(), b"again");
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}
