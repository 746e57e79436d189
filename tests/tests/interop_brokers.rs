//! The client against every MQTT broker on the machine: Mosquitto always,
//! the NATS server's MQTT listener and RabbitMQ's MQTT plugin when they are
//! installed (each started privately by the testkit on a free loopback
//! port; a broker that is not installed is skipped with a message).
//!
//! Each broker runs one test, on one broker process: for each protocol
//! version, a connection the broker accepts or refuses, a round trip at
//! QoS 0, 1 and 2, a retained message for a later subscriber (by exact
//! topic and by wildcard), and a will published when a client dies
//! without DISCONNECT and not after a clean one.
//!
//! [`EXPECTATIONS`] says what each broker does, per version series, as
//! measured here: the test checks that what a broker supports works and
//! that what it does not fails the way the table says. A broker version
//! the table does not know is checked only for what every MQTT 3.1.1
//! broker must do. The README's "Brokers" section is this table.

mod support;

use mqtide::proto::{ConnectionError, PacketType, ProtocolError, ReasonCode};
use mqtide::{
    Client, ConnectError, ConnectionEvent, DisconnectReason, Error, ProtocolVersion, QoS,
    Subscription, Will,
};
use mqtide_testkit::{BrokerStartError, Mosquitto, NatsServer, RabbitMq};
use support::{client, guard, next};

/// What a broker does with a CONNECT of a protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connect {
    /// CONNACK with success.
    Accepted,
    /// To a 5.0 CONNECT, a 3.1.1 CONNACK with return code 1 ("unacceptable
    /// protocol version"), as a broker that knows only 3.1.1 answers.
    RefusedAs311,
    /// The broker closes the connection without a CONNACK.
    Closed,
}

/// What a broker does with a QoS 2 PUBLISH from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qos2Publish {
    /// PUBREC, PUBREL, PUBCOMP: exactly once.
    ExactlyOnce,
    /// A PUBACK, as for QoS 1 (which breaks the protocol: our client
    /// fails the publish and drops the connection), and the message is
    /// forwarded at QoS 1.
    AnsweredWithPuback,
    /// The broker closes the connection and forwards nothing.
    Closed,
}

/// Which new subscriptions receive a retained message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retained {
    /// Every filter that matches the topic.
    AnyMatchingFilter,
    /// Only a filter equal to the topic (no wildcards).
    ExactTopicOnly,
}

/// What one broker series does, as measured by this test. `None`: not
/// recorded, so not checked.
#[derive(Debug, Clone, Copy)]
struct Expectations {
    broker: &'static str,
    /// The versions this row was measured on (a prefix of the version).
    series: &'static str,
    v3_1: Option<Connect>,
    v3_1_1: Connect,
    v5: Option<Connect>,
    /// The QoS a SUBSCRIBE at QoS 2 is granted.
    granted_for_qos2: Option<QoS>,
    qos2_publish: Option<Qos2Publish>,
    retained: Retained,
    /// A will on an abrupt disconnect, none on a clean one.
    will: bool,
}

/// What each broker supports, per version series.
const EXPECTATIONS: &[Expectations] = &[
    Expectations {
        broker: "mosquitto",
        series: "2.0.",
        v3_1: Some(Connect::Accepted),
        v3_1_1: Connect::Accepted,
        v5: Some(Connect::Accepted),
        granted_for_qos2: Some(QoS::ExactlyOnce),
        qos2_publish: Some(Qos2Publish::ExactlyOnce),
        retained: Retained::AnyMatchingFilter,
        will: true,
    },
    // MQTT 3.1.1 only (a 3.1 CONNECT is closed without an answer; a 5.0 one
    // gets a 3.1.1 CONNACK refusing the version). QoS 2 subscriptions are
    // served at QoS 1, and a QoS 2 PUBLISH closes the connection ("publish
    // QoS=2 not supported"); later releases document QoS 2 support.
    Expectations {
        broker: "nats-server",
        series: "2.9.",
        v3_1: Some(Connect::Closed),
        v3_1_1: Connect::Accepted,
        v5: Some(Connect::RefusedAs311),
        granted_for_qos2: Some(QoS::AtLeastOnce),
        qos2_publish: Some(Qos2Publish::Closed),
        retained: Retained::AnyMatchingFilter,
        will: true,
    },
    // MQTT 3.1 and 3.1.1 (5.0 came with 3.13); QoS 2 is downgraded to QoS 1
    // both ways; retained messages reach only subscriptions without
    // wildcards.
    Expectations {
        broker: "rabbitmq",
        series: "3.10.",
        v3_1: Some(Connect::Accepted),
        v3_1_1: Connect::Accepted,
        v5: Some(Connect::Closed),
        granted_for_qos2: Some(QoS::AtLeastOnce),
        qos2_publish: Some(Qos2Publish::AnsweredWithPuback),
        retained: Retained::ExactTopicOnly,
        will: true,
    },
];

/// The row for `broker` at `version`, or what every MQTT 3.1.1 broker
/// must do.
fn expectations(broker: &'static str, version: &str) -> Expectations {
    if let Some(row) = EXPECTATIONS
        .iter()
        .find(|row| row.broker == broker && version.starts_with(row.series))
    {
        return *row;
    }
    eprintln!(
        "{broker} {version}: no recorded expectations for this version; \
         checking only what every MQTT 3.1.1 broker must do"
    );
    Expectations {
        broker,
        series: "",
        v3_1: None,
        v3_1_1: Connect::Accepted,
        v5: None,
        granted_for_qos2: None,
        qos2_publish: None,
        retained: Retained::ExactTopicOnly,
        will: true,
    }
}

#[tokio::test]
async fn mosquitto() {
    let broker = Mosquitto::start().expect("mosquitto is required for the tests");
    let version = broker
        .log()
        .lines()
        .find_map(|line| line.split_once("mosquitto version "))
        .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    run_all(&broker.url(), expectations("mosquitto", &version), &version).await;
}

#[tokio::test]
async fn nats_server() {
    let Some(broker) = started(NatsServer::start()) else {
        return;
    };
    let version = broker.version().unwrap_or_default();
    run_all(
        &broker.url(),
        expectations("nats-server", &version),
        &version,
    )
    .await;
}

#[tokio::test]
async fn rabbitmq() {
    let Some(broker) = started(RabbitMq::start()) else {
        return;
    };
    let version = broker.version().unwrap_or_default();
    run_all(&broker.url(), expectations("rabbitmq", &version), &version).await;
}

/// The broker, or `None` with a message when it is not installed; any
/// other failure to start fails the test.
fn started<B>(result: Result<B, BrokerStartError>) -> Option<B> {
    match result {
        Ok(broker) => Some(broker),
        Err(e) if e.is_not_installed() => {
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Every case, for every protocol version, on the broker at `url`.
async fn run_all(url: &str, expect: Expectations, version: &str) {
    let versions = [
        (ProtocolVersion::V3_1, expect.v3_1),
        (ProtocolVersion::V3_1_1, Some(expect.v3_1_1)),
        (ProtocolVersion::V5, expect.v5),
    ];
    for (protocol, connect) in versions {
        let row = format!("{} {version}, MQTT {protocol}", expect.broker);
        match connect {
            None => eprintln!("{row}: not recorded, not checked"),
            Some(Connect::Accepted) => {
                qos_round_trips(url, protocol, &expect).await;
                retained(url, protocol, expect.retained).await;
                if expect.will {
                    will(url, protocol).await;
                }
                eprintln!("{row}: {}", describe(&expect));
            }
            Some(refusal) => {
                refused(url, protocol, refusal).await;
                eprintln!("{row}: {refusal:?}");
            }
        }
    }
}

/// What was checked on a version the broker accepts, for the test's output.
fn describe(expect: &Expectations) -> String {
    let qos2 = match (expect.granted_for_qos2, expect.qos2_publish) {
        (Some(granted), Some(publish)) => {
            format!("QoS 2 subscription granted {granted:?}, QoS 2 publish {publish:?}")
        }
        _ => "QoS 2 not checked".to_owned(),
    };
    format!(
        "connect, QoS 0 and 1 round trips, {qos2}; retained {:?}; will {}",
        expect.retained,
        if expect.will { "yes" } else { "not checked" }
    )
}

/// A short tag for topics: NATS refuses `.` in topic names.
fn tag(protocol: ProtocolVersion) -> &'static str {
    match protocol {
        ProtocolVersion::V3_1 => "v31",
        ProtocolVersion::V3_1_1 => "v311",
        ProtocolVersion::V5 => "v5",
    }
}

async fn connect(url: &str, protocol: ProtocolVersion, id: &str) -> Client {
    guard(
        "connect",
        client(url, protocol, id).no_reconnect().connect(),
    )
    .await
    .unwrap_or_else(|e| panic!("{id} over MQTT {protocol}: {e}"))
}

async fn subscribe(c: &Client, filter: &str, qos: QoS) -> Subscription {
    guard("subscribe", c.subscribe(filter, qos))
        .await
        .unwrap_or_else(|e| panic!("subscribe {filter}: {e}"))
}

async fn publish(c: &Client, topic: &str, payload: &str, qos: QoS, retain: bool) {
    guard(
        "publish",
        c.publish(topic, payload.to_owned()).qos(qos).retain(retain),
    )
    .await
    .unwrap_or_else(|e| panic!("publish to {topic} at {qos:?}: {e}"));
}

/// The reason code a SUBACK carries for `granted`.
fn granted_code(granted: QoS) -> ReasonCode {
    match granted {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

/// A subscriber at QoS 2 and a publisher: QoS 0 and 1 arrive at the QoS
/// they were sent with (capped by the grant); QoS 2 goes as the table says.
async fn qos_round_trips(url: &str, protocol: ProtocolVersion, expect: &Expectations) {
    let base = format!("mqtide/interop/{}/qos", tag(protocol));
    let subscriber = connect(url, protocol, "qos-sub").await;
    let mut messages = subscribe(&subscriber, &format!("{base}/#"), QoS::ExactlyOnce).await;
    let granted = match expect.granted_for_qos2 {
        Some(granted) => {
            assert_eq!(
                messages.reason_codes(),
                [granted_code(granted)],
                "{}: SUBACK for a QoS 2 subscription",
                expect.broker
            );
            granted
        }
        None => match messages.reason_codes() {
            [ReasonCode::GrantedQoS2] => QoS::ExactlyOnce,
            [ReasonCode::GrantedQoS1] => QoS::AtLeastOnce,
            other => panic!("{}: SUBACK {other:?} for QoS 2", expect.broker),
        },
    };

    let publisher = connect(url, protocol, "qos-pub").await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let payload = format!("at {qos:?}");
        publish(&publisher, &format!("{base}/x"), &payload, qos, false).await;
        let m = next(&mut messages).await;
        assert_eq!((m.payload_str(), m.qos()), (Some(payload.as_str()), qos));
    }

    let Some(behaviour) = expect.qos2_publish else {
        return;
    };
    let mut events = publisher.events();
    let result = guard(
        "publish at QoS 2",
        publisher
            .publish(format!("{base}/x"), "at ExactlyOnce")
            .qos(QoS::ExactlyOnce),
    )
    .await;
    match behaviour {
        Qos2Publish::ExactlyOnce => {
            result.expect("publish at QoS 2");
            let m = next(&mut messages).await;
            assert_eq!(
                (m.payload_str(), m.qos()),
                (Some("at ExactlyOnce"), granted)
            );
        }
        Qos2Publish::AnsweredWithPuback => {
            let e = result.expect_err("a PUBACK cannot complete a QoS 2 publish");
            let reason = disconnect_reason(&mut events).await;
            eprintln!(
                "{}: QoS 2 publish: {e}; the connection: {reason}",
                expect.broker
            );
            assert!(
                matches!(
                    reason,
                    DisconnectReason::Session(ConnectionError::Protocol(
                        ProtocolError::UnknownPacketId {
                            packet: PacketType::PubAck,
                            ..
                        }
                    ))
                ),
                "{reason:?}"
            );
            let m = next(&mut messages).await;
            assert_eq!(
                (m.payload_str(), m.qos()),
                (Some("at ExactlyOnce"), QoS::AtLeastOnce)
            );
        }
        Qos2Publish::Closed => {
            let e = result.expect_err("the broker closes the connection");
            let reason = disconnect_reason(&mut events).await;
            eprintln!(
                "{}: QoS 2 publish: {e}; the connection: {reason}",
                expect.broker
            );
            assert!(
                matches!(
                    reason,
                    DisconnectReason::Transport(_)
                        | DisconnectReason::Session(ConnectionError::ConnectionLost)
                ),
                "{reason:?}"
            );
            // Nothing was forwarded: the next message is a later marker.
            let marker = connect(url, protocol, "qos-marker").await;
            publish(
                &marker,
                &format!("{base}/x"),
                "marker",
                QoS::AtLeastOnce,
                false,
            )
            .await;
            assert_eq!(next(&mut messages).await.payload_str(), Some("marker"));
        }
    }
}

/// Why the connection ended, from the client's events.
async fn disconnect_reason(
    events: &mut tokio::sync::broadcast::Receiver<ConnectionEvent>,
) -> DisconnectReason {
    loop {
        match guard("the disconnect event", events.recv()).await {
            Ok(ConnectionEvent::Disconnected { reason }) => return reason,
            Ok(_) => {}
            Err(e) => panic!("no disconnect event: {e}"),
        }
    }
}

/// A retained message reaches a later subscriber to its exact topic, and
/// a later wildcard subscriber where the broker supports that.
async fn retained(url: &str, protocol: ProtocolVersion, retained: Retained) {
    let base = format!("mqtide/interop/{}/retained", tag(protocol));
    let topic = format!("{base}/kept");
    let publisher = connect(url, protocol, "ret-pub").await;
    publish(&publisher, &topic, "kept", QoS::AtLeastOnce, true).await;

    let exact = connect(url, protocol, "ret-exact").await;
    let mut messages = subscribe(&exact, &topic, QoS::AtLeastOnce).await;
    let m = next(&mut messages).await;
    assert_eq!(
        (m.topic(), m.payload_str(), m.retain()),
        (topic.as_str(), Some("kept"), true)
    );

    let wildcard = connect(url, protocol, "ret-wild").await;
    let mut messages = subscribe(&wildcard, &format!("{base}/+"), QoS::AtLeastOnce).await;
    match retained {
        Retained::AnyMatchingFilter => {
            let m = next(&mut messages).await;
            assert_eq!((m.payload_str(), m.retain()), (Some("kept"), true));
        }
        Retained::ExactTopicOnly => {
            // Had the retained message come, it would precede this one.
            publish(
                &publisher,
                &format!("{base}/marker"),
                "marker",
                QoS::AtLeastOnce,
                false,
            )
            .await;
            let m = next(&mut messages).await;
            assert_eq!((m.payload_str(), m.retain()), (Some("marker"), false));
        }
    }
    // Leave nothing retained behind.
    publish(&publisher, &topic, "", QoS::AtLeastOnce, true).await;
}

/// A clean DISCONNECT publishes no will; a connection that dies does.
async fn will(url: &str, protocol: ProtocolVersion) {
    let topic = format!("mqtide/interop/{}/will", tag(protocol));
    let watcher = connect(url, protocol, "will-watch").await;
    let mut wills = subscribe(&watcher, &topic, QoS::AtLeastOnce).await;

    let polite = client(url, protocol, "will-polite")
        .no_reconnect()
        .will(Will::new(topic.clone(), "polite").qos(QoS::AtLeastOnce))
        .connect();
    let polite = guard("connect", polite).await.unwrap();
    guard("disconnect", polite.disconnect()).await.unwrap();

    // The task that owns the socket is aborted: no DISCONNECT goes out.
    let (rude, connection) = client(url, protocol, "will-rude")
        .no_reconnect()
        .will(Will::new(topic.clone(), "rude").qos(QoS::AtLeastOnce))
        .build()
        .unwrap();
    let task = tokio::spawn(connection.run());
    guard("connected", rude.wait_connected()).await.unwrap();
    task.abort();
    // Had the polite client's will gone out, it would come first.
    assert_eq!(next(&mut wills).await.payload_str(), Some("rude"));
}

/// A version the broker does not speak fails the connect the way the
/// table says.
async fn refused(url: &str, protocol: ProtocolVersion, how: Connect) {
    let result = guard(
        "connect",
        client(url, protocol, "refused").no_reconnect().connect(),
    )
    .await;
    let Err(e) = result else {
        panic!("MQTT {protocol} was accepted; expected {how:?}");
    };
    match (how, &e) {
        (Connect::Closed, Error::Connect(ConnectError::Lost { .. } | ConnectError::Io { .. })) => {}
        // A 3.1.1 CONNACK to a 5.0 CONNECT is a refusal for the protocol
        // version (libmosquitto reads it the same way).
        (Connect::RefusedAs311, Error::Connect(ConnectError::Refused { reason_code, .. })) => {
            assert_eq!(*reason_code, ReasonCode::UnsupportedProtocolVersion, "{e}");
        }
        _ => panic!("MQTT {protocol}: expected {how:?}, got {e:?}"),
    }
}
