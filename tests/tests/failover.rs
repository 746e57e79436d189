//! Several brokers: failover along a list (first connection and
//! reconnects), and 5.0 server redirection from CONNACK and DISCONNECT,
//! with real Mosquittos and a scripted redirecting broker.

mod support;

use std::time::Duration;

use bytes::BytesMut;
use mqtide::{ConnectError, ConnectionEvent, Error, ProtocolVersion, QoS, ReasonCode};
use mqtide_proto::{ConnAck, Disconnect, MAX_PACKET_SIZE, Packet};
use mqtide_testkit::Mosquitto;
use support::{client, guard, next};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback URL where nothing listens.
async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("mqtt://127.0.0.1:{port}")
}

/// Publishes to itself through `c` and expects the message back: the
/// connection works.
async fn round_trip(c: &mqtide::Client, topic: &str) {
    let mut sub = guard("subscribe", c.subscribe(topic, QoS::AtLeastOnce))
        .await
        .unwrap();
    guard("publish", c.publish(topic, "x").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload().as_ref(), b"x");
}

#[tokio::test]
async fn the_first_connection_fails_over_to_the_next_broker() {
    let broker = Mosquitto::start().unwrap();
    for version in support::VERSIONS {
        let c = guard(
            "connect",
            client(&dead_url().await, version, "failover-first")
                .failover([dead_url().await, broker.url()])
                .connect(),
        )
        .await
        .unwrap();
        round_trip(&c, "failover/first").await;
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn when_every_broker_fails_connect_says_so() {
    let last = dead_url().await;
    let error = guard(
        "connect",
        client(&dead_url().await, ProtocolVersion::V5, "failover-none")
            .failover([last.clone()])
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::Connect(ConnectError::Io { .. })),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(last.trim_start_matches("mqtt://")),
        "{error}"
    );
}

#[tokio::test]
async fn a_lost_broker_gives_way_to_the_next() {
    let mut first = Mosquitto::start().unwrap();
    let second = Mosquitto::start().unwrap();
    let c = guard(
        "connect",
        client(&first.url(), ProtocolVersion::V5, "failover-lost")
            .failover([second.url()])
            .connect(),
    )
    .await
    .unwrap();
    let mut events = c.events();
    first.kill();
    // Retried on the first broker (dead), then the second one takes over.
    guard("reconnected to the second broker", async {
        loop {
            if let Ok(ConnectionEvent::Connected { .. }) = events.recv().await {
                break;
            }
        }
    })
    .await;
    round_trip(&c, "failover/lost").await;
    assert!(
        second.log().contains("failover-lost"),
        "the second broker never saw the client"
    );
    guard("disconnect", c.disconnect()).await.unwrap();
}

/// A broker that answers every CONNECT with `answer` (5.0) and, if
/// `then_disconnect` is set, accepts and then sends that DISCONNECT.
async fn scripted(answer: ConnAck, then_disconnect: Option<Disconnect>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            let then_disconnect = then_disconnect.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    match Packet::decode(&mut buf, ProtocolVersion::V5, MAX_PACKET_SIZE) {
                        Ok(Some(Packet::Connect(_))) => break,
                        Ok(Some(_)) | Err(_) => return,
                        Ok(None) => {
                            if socket.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                                return;
                            }
                        }
                    }
                }
                let mut out = BytesMut::new();
                Packet::ConnAck(Box::new(answer))
                    .encode(ProtocolVersion::V5, &mut out)
                    .unwrap();
                if let Some(disconnect) = then_disconnect {
                    Packet::Disconnect(disconnect)
                        .encode(ProtocolVersion::V5, &mut out)
                        .unwrap();
                }
                let _ = socket.write_all(&out).await;
                let _ = socket.read(&mut [0; 64]).await;
            });
        }
    });
    url
}

fn redirect_to(code: ReasonCode, broker: &Mosquitto) -> ConnAck {
    let mut answer = ConnAck::new(false);
    answer.reason_code = code;
    answer.properties.server_reference = Some(format!("127.0.0.1:{}", broker.port()).into());
    answer
}

#[tokio::test]
async fn a_connack_redirection_is_followed_when_allowed() {
    let broker = Mosquitto::start().unwrap();
    for code in [ReasonCode::UseAnotherServer, ReasonCode::ServerMoved] {
        let redirecting = scripted(redirect_to(code, &broker), None).await;
        // Not allowed: the refusal it is.
        let error = guard(
            "connect",
            client(&redirecting, ProtocolVersion::V5, "redirect-off").connect(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.reason_code(), Some(code), "{error}");

        let (c, connection) = client(&redirecting, ProtocolVersion::V5, "redirect-on")
            .follow_redirects(true)
            .build()
            .unwrap();
        let mut events = c.events();
        tokio::spawn(connection.run());
        guard("connected after the redirection", c.wait_connected())
            .await
            .unwrap();
        let redirected = guard("the redirection event", async {
            loop {
                if let Ok(ConnectionEvent::Redirected { server, permanent }) = events.recv().await {
                    break (server, permanent);
                }
            }
        })
        .await;
        assert_eq!(
            redirected,
            (
                format!("127.0.0.1:{}", broker.port()),
                code == ReasonCode::ServerMoved
            )
        );
        round_trip(&c, "redirect/connack").await;
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn a_disconnect_with_server_moved_sends_the_client_on() {
    let broker = Mosquitto::start().unwrap();
    let mut moved = Disconnect::new(ReasonCode::ServerMoved);
    moved.properties.server_reference = Some(format!("127.0.0.1:{}", broker.port()).into());
    let old = scripted(ConnAck::new(false), Some(moved)).await;
    let c = guard(
        "connect",
        client(&old, ProtocolVersion::V5, "redirect-disconnect")
            .follow_redirects(true)
            .connect(),
    )
    .await
    .unwrap();
    // The scripted broker said goodbye at once; the client moved on.
    guard("moved to the real broker", async {
        loop {
            if broker.log().contains("redirect-disconnect") && c.state().is_connected() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    round_trip(&c, "redirect/disconnect").await;
    guard("disconnect", c.disconnect()).await.unwrap();
}
