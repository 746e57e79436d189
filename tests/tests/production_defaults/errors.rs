//! The real cause in every error (issue 27, item 6; issue 26, item 3):
//! a request failed by a lost connection says why it was lost, the
//! broker's DISCONNECT gives its reason code and string, a closed client
//! answers every call with the one reason it closed, and the messages
//! that used to mislead now say what to do.

use std::time::Duration;

use mqtide::proto::{ConnectionError, ProtocolError, RequestError};
use mqtide::{
    Client, ConnectError, ConnectionEvent, ConnectionState, DisconnectReason, Error,
    ProtocolVersion, QoS, ReasonCode, TlsFailure,
};
use mqtide_testkit::Mosquitto;

use crate::scripted::{DISCONNECT, Harness, PUBACK, PUBLISH, ack, packet, var_int};
use crate::support::{VERSIONS, client, guard, still_pending};

const V5: ProtocolVersion = ProtocolVersion::V5;
const SHUTTING_DOWN: u8 = 0x8B;

/// A 5.0 DISCONNECT with `code` and a Reason String (property 0x1F).
fn disconnect_with_string(code: u8, text: &str) -> Vec<u8> {
    let mut properties = vec![0x1F];
    properties.extend(u16::try_from(text.len()).unwrap().to_be_bytes());
    properties.extend(text.as_bytes());
    let mut body = vec![code];
    body.extend(var_int(properties.len()));
    body.extend(properties);
    packet(DISCONNECT << 4, &body)
}

/// The broker acknowledges a QoS 2 publish with PUBACK, as RabbitMQ does:
/// the client ends the connection for the protocol violation, reconnects
/// without a session, and the publish fails with what happened to it
/// (not resumed) and why (the violation), not with "not resumed" alone.
#[tokio::test]
async fn a_publish_failed_by_a_lost_connection_says_why() {
    for version in VERSIONS {
        let mut h = Harness::new(version, "cause-publish", |b| b).await;
        let mut peer = h.connect().await;
        let pending = guard(
            "send",
            h.client
                .publish("cause/x", "1")
                .qos(QoS::ExactlyOnce)
                .send(),
        )
        .await
        .unwrap();
        let publish = guard("the PUBLISH", peer.reader.next())
            .await
            .unwrap()
            .expect("a PUBLISH");
        assert_eq!(publish.kind(), PUBLISH, "{publish:?}");
        // The packet identifier follows the topic (a 2-byte length, then
        // the topic itself).
        let topic = usize::from(u16::from_be_bytes([publish.body[0], publish.body[1]]));
        let id = u16::from_be_bytes([publish.body[2 + topic], publish.body[3 + topic]]);
        let attack = h
            .attack(peer, async |w| w.send(&ack(PUBACK, id)).await.unwrap())
            .await;
        assert!(
            matches!(
                attack.error,
                ConnectionError::Protocol(ProtocolError::UnknownPacketId { .. })
            ),
            "{version}: {:?}",
            attack.error
        );
        h.reconnects_and_closes().await;
        let error = guard("the publish", pending).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Interrupted {
                    error: RequestError::SessionLost,
                    cause: DisconnectReason::Session(ConnectionError::Protocol(_)),
                }
            ),
            "{version}: {error:?}"
        );
        assert_eq!(error.request_error(), Some(&RequestError::SessionLost));
        assert!(error.is_protocol_violation(), "{version}: {error}");
        assert!(error.to_string().contains("PubAck"), "{version}: {error}");
    }
}

/// The broker ends the connection with DISCONNECT "server shutting down"
/// and a reason string while a subscribe waits for its SUBACK: the
/// subscribe fails with the code (`reason_code`) and the string (in its
/// message).
#[tokio::test]
async fn a_server_disconnect_gives_its_code_and_string_to_what_it_failed() {
    let mut h = Harness::new(V5, "cause-disconnect", |b| b).await;
    let mut peer = h.connect().await;
    let c = h.client.clone();
    let subscribing = tokio::spawn(async move { c.subscribe("cause/#", QoS::AtLeastOnce).await });
    let subscribe = guard("the SUBSCRIBE", peer.reader.next())
        .await
        .unwrap()
        .expect("a SUBSCRIBE");
    assert_eq!(subscribe.kind(), 8, "{subscribe:?}");
    let attack = h
        .attack(peer, async |w| {
            w.send(&disconnect_with_string(SHUTTING_DOWN, "maintenance window"))
                .await
                .unwrap();
        })
        .await;
    assert!(
        matches!(attack.error, ConnectionError::ServerDisconnect { .. }),
        "{:?}",
        attack.error
    );
    let error = guard("the subscribe", subscribing)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Interrupted {
                error: RequestError::ConnectionLost,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.reason_code(), Some(ReasonCode::ServerShuttingDown));
    assert!(error.to_string().contains("maintenance window"), "{error}");
    assert_eq!(
        error.disconnect_reason().and_then(|r| r.reason_string()),
        Some("maintenance window")
    );
    h.reconnects_and_closes().await;
}

/// A client that does not reconnect closes on the broker's DISCONNECT, and
/// every call after answers with that one reason: its code and its string.
#[tokio::test]
async fn every_call_after_a_server_disconnect_gives_its_reason() {
    let mut h = Harness::new(V5, "sticky-disconnect", |b| b.no_reconnect()).await;
    let peer = h.connect().await;
    h.attack(peer, async |w| {
        w.send(&disconnect_with_string(SHUTTING_DOWN, "maintenance window"))
            .await
            .unwrap();
    })
    .await;
    let c = &h.client;
    let errors = [
        guard("publish", c.publish("x", "1").qos(QoS::AtLeastOnce))
            .await
            .unwrap_err(),
        guard("subscribe", c.subscribe("x", QoS::AtMostOnce))
            .await
            .unwrap_err(),
        guard("unsubscribe", c.unsubscribe("x")).await.unwrap_err(),
        guard("messages", c.messages()).await.unwrap_err(),
        guard("wait_connected", c.wait_connected())
            .await
            .unwrap_err(),
        guard("disconnect", c.disconnect()).await.unwrap_err(),
    ];
    for error in &errors {
        assert!(
            matches!(
                error,
                Error::ConnectionLost(DisconnectReason::Session(
                    ConnectionError::ServerDisconnect { .. }
                ))
            ),
            "{error:?}"
        );
        assert_eq!(error.reason_code(), Some(ReasonCode::ServerShuttingDown));
        assert_eq!(error.to_string(), errors[0].to_string());
        assert!(error.to_string().contains("maintenance window"), "{error}");
    }
}

/// Without reconnects, a publish and a subscribe waiting when the broker
/// dies both fail with the transport's reason (not a bare "closed"), and
/// every call after returns the one reason the client closed.
#[tokio::test]
async fn pending_requests_and_later_calls_fail_with_the_same_cause() {
    for version in VERSIONS {
        let mut broker = Mosquitto::start().unwrap();
        let c = guard(
            "connect",
            client(&broker.url(), version, "sticky")
                .no_reconnect()
                .connect(),
        )
        .await
        .unwrap();
        broker.pause().unwrap();
        let publish = guard(
            "send",
            c.publish("sticky/x", "1").qos(QoS::AtLeastOnce).send(),
        )
        .await
        .unwrap();
        let subscriber = c.clone();
        let mut subscribing =
            tokio::spawn(async move { subscriber.subscribe("sticky/#", QoS::AtLeastOnce).await });
        assert!(still_pending(&mut subscribing).await, "{version}");
        broker.kill();
        let published = guard("the publish", publish).await.unwrap_err();
        let subscribed = guard("the subscribe", subscribing)
            .await
            .unwrap()
            .unwrap_err();
        for error in [&published, &subscribed] {
            assert!(
                matches!(
                    error.disconnect_reason(),
                    Some(DisconnectReason::Transport(_))
                ),
                "{version}: {error:?}"
            );
            assert!(
                error.is_transport() && error.is_retryable(),
                "{version}: {error}"
            );
        }
        let later = [
            guard("publish", c.publish("sticky/x", "2"))
                .await
                .unwrap_err(),
            guard("subscribe", c.subscribe("sticky/#", QoS::AtMostOnce))
                .await
                .unwrap_err(),
            guard("wait_connected", c.wait_connected())
                .await
                .unwrap_err(),
        ];
        for error in &later {
            assert!(
                matches!(error, Error::ConnectionLost(DisconnectReason::Transport(_))),
                "{version}: {error:?}"
            );
            assert_eq!(error.to_string(), published.to_string(), "{version}");
        }
    }
}

/// A broker that accepts TCP but never answers CONNECT (amqtt 0.12 with a
/// 5.0 CONNECT): the error says so, and under 5.0 suggests 3.1.1.
#[tokio::test]
async fn a_connect_never_answered_says_so_and_suggests_3_1_1() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    for version in VERSIONS {
        let error = guard(
            "connect",
            client(&url, version, "silent")
                .connect_timeout(Duration::from_millis(300))
                .connect(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, Error::Connect(ConnectError::NoConnack { .. })),
            "{version}: {error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("did not answer CONNECT"), "{text}");
        assert_eq!(text.contains("V3_1_1"), version == V5, "{version}: {text}");
        assert!(error.is_retryable());
    }
    silent.abort();
}

/// `mqtts://` to a plain listener: the handshake is cut short, and the
/// error says the port may not speak TLS.
#[tokio::test]
async fn tls_to_a_plain_port_says_the_port_may_not_speak_tls() {
    let broker = Mosquitto::start().unwrap();
    let url = format!("mqtts://127.0.0.1:{}", broker.port());
    let error = guard("connect", Client::builder(&url).no_reconnect().connect())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Connect(ConnectError::Tls {
                failure: TlsFailure::NotTls(_),
                ..
            })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("may not speak TLS"), "{error}");
    assert!(error.is_transport());
}

/// The mistakes of a first try, said as what to write instead: a URL
/// without a scheme, a topic filter that is not one.
#[tokio::test]
async fn a_url_without_a_scheme_and_a_bad_filter_say_what_to_write() {
    let error = Client::builder("127.0.0.1:1883").build().unwrap_err();
    assert!(
        error.to_string().contains("write mqtt://127.0.0.1:1883"),
        "{error}"
    );
    let (c, _connection) = Client::builder("mqtt://127.0.0.1:1").build().unwrap();
    for error in [
        c.subscribe("a/#/b", QoS::AtMostOnce).await.unwrap_err(),
        c.unsubscribe("a/b+").await.unwrap_err(),
    ] {
        assert!(matches!(error, Error::InvalidFilter { .. }), "{error:?}");
        assert!(
            error.to_string().contains("invalid topic filter"),
            "{error}"
        );
    }
}

/// `Closed` and `Timeout` say what closed and what timed out; a client
/// whose event loop was dropped says that, not "closed".
#[tokio::test]
async fn closed_and_timeout_say_what() {
    let broker = Mosquitto::start().unwrap();
    let c = guard("connect", client(&broker.url(), V5, "said").connect())
        .await
        .unwrap();
    guard("disconnect", c.disconnect()).await.unwrap();
    let closed = guard("publish", c.publish("said/x", "1"))
        .await
        .unwrap_err();
    assert!(matches!(closed, Error::Closed), "{closed:?}");
    assert!(closed.to_string().contains("disconnected"), "{closed}");
    // Disconnecting a client the application closed is done.
    guard("disconnect", c.disconnect()).await.unwrap();

    let timeout = guard(
        "subscribe_simple",
        mqtide::oneshot::subscribe_simple(
            client(&broker.url(), V5, "said-simple"),
            &["said/nothing"],
            QoS::AtMostOnce,
            1,
            Duration::from_millis(200),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(timeout, Error::Timeout { .. }), "{timeout:?}");
    assert!(
        timeout.to_string().contains("subscribe_simple"),
        "{timeout}"
    );

    let (c, connection) = client(&broker.url(), V5, "said-gone").build().unwrap();
    drop(connection);
    let gone = guard("publish", c.publish("said/x", "1"))
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::EventLoopGone), "{gone:?}");
    assert!(gone.to_string().contains("Connection future"), "{gone}");
}

/// A broker that goes away: one `Disconnected` for the connection that was
/// up, then each failed attempt is a `ConnectFailed`, never another lost
/// connection, until the broker is back.
#[tokio::test]
async fn failed_reconnect_attempts_are_reported_as_attempts() {
    let mut broker = Mosquitto::start().unwrap();
    let c = guard("connect", client(&broker.url(), V5, "attempts").connect())
        .await
        .unwrap();
    let mut events = c.events();
    broker.stop();
    let mut lost = 0;
    let mut failed = 0;
    while failed < 2 {
        match guard("an event", events.recv()).await.unwrap() {
            ConnectionEvent::Disconnected { .. } => lost += 1,
            ConnectionEvent::ConnectFailed { reason, .. } => {
                assert!(reason.is_retryable(), "{reason}");
                failed += 1;
            }
            _ => {}
        }
    }
    assert_eq!(lost, 1, "one connection was lost");
    assert!(
        matches!(c.state(), ConnectionState::Reconnecting { .. }),
        "{:?}",
        c.state()
    );
    broker.restart().unwrap();
    guard("wait_connected", c.wait_connected()).await.unwrap();
    guard("disconnect", c.disconnect()).await.unwrap();
}
