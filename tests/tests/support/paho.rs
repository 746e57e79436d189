//! The Eclipse Paho interoperability client scenarios (paho.mqtt.testing,
//! `interoperability/client_test.py` for 3.1.1 and `client_test5.py` for
//! 5.0) written for mqtide against a private Mosquitto 2.0.11: the eleven
//! scenarios both versions share, run by parameter. Their helpers, which
//! the 5.0-only scenarios use too, are in `interop.rs`.
//!
//! Each scenario asserts what the Paho test asserts, through mqtide's API.
//! Where Mosquitto does something else than Paho expects, the scenario
//! asserts what Mosquitto does and a comment says so. Paho waits with
//! `sleep`s and then counts; here "nothing else arrived" is shown by a
//! marker instead (see `interop::assert_next_is_marker`). Every wait is
//! under the hang guard.

use std::time::Duration;

use futures_util::StreamExt;
use mqtide::proto::{Connect, Packet, WillProperties};
use mqtide::{Client, Message, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions, Will};
use mqtide_testkit::{Fault, FaultProxy, Mosquitto, Scope};

use crate::interop::{
    NOSUBSCRIBE, Raw, TOPICS, USER_PROPERTIES, WILDTOPICS, assert_next_is_marker, connect,
    connect_killable, connect_with_messages, connect_with_protocol_name_hj, disconnect,
    nosubscribe_broker, persistent, qos_levels, session_present, take, user_properties,
};
use crate::support::{client, guard, next};

/// Basic: connect, disconnect, connect again (no session present);
/// subscribe at QoS 2 and publish to itself at QoS 0, 1 and 2: three
/// messages back. A second CONNECT on one connection, and a CONNECT with
/// a foreign protocol name, fail.
pub(crate) async fn basic(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let a = || client(&broker.url(), version, "myclientid");
    disconnect(connect(a()).await).await;

    let c = connect(a()).await;
    assert!(!session_present(&c));
    let mut sub = guard("subscribe", c.subscribe(TOPICS[0], QoS::ExactlyOnce))
        .await
        .unwrap();
    let sent = [
        ("qos 0", QoS::AtMostOnce),
        ("qos 1", QoS::AtLeastOnce),
        ("qos 2", QoS::ExactlyOnce),
    ];
    for (payload, qos) in sent {
        guard("publish", c.publish(TOPICS[0], payload).qos(qos))
            .await
            .unwrap();
    }
    let got: Vec<_> = take(&mut sub, 3)
        .await
        .iter()
        .map(|m| (m.payload_str().unwrap().to_owned(), m.qos()))
        .collect();
    assert_eq!(got, sent.map(|(p, q)| (p.to_owned(), q)));
    disconnect(c).await;

    // The broker's half: mqtide sends one CONNECT per connection, with the
    // protocol name of its version, so a bare connection sends these.
    // A second CONNECT is a protocol error: the broker closes the
    // connection (Mosquitto sends no DISCONNECT first, under 5.0 either).
    let mut raw = Raw::open(&broker, version).await;
    let connack = raw.connect("second-connect").await;
    assert!(
        matches!(&connack, Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success),
        "{connack:?}"
    );
    let again = raw.connect("second-connect").await;
    assert_eq!(again, None, "a second CONNECT must end the connection");

    // Protocol name "hj": Mosquitto closes the connection without CONNACK.
    let mut raw = Raw::open(&broker, version).await;
    raw.send_bytes(&connect_with_protocol_name_hj(version))
        .await;
    assert_eq!(raw.recv().await, None);
}

/// The retained messages of Paho's scenario, published by `c`: QoS 0, 1
/// and 2 on three topics `+/+` matches (5.0: with Paho's user properties).
async fn publish_retained(c: &Client, version: ProtocolVersion, empty: bool) {
    for (topic, payload, qos) in [
        (TOPICS[1], "qos 0", QoS::AtMostOnce),
        (TOPICS[2], "qos 1", QoS::AtLeastOnce),
        (TOPICS[3], "qos 2", QoS::ExactlyOnce),
    ] {
        let mut publish = c
            .publish(topic, if empty { "" } else { payload })
            .qos(qos)
            .retain(true);
        if version == ProtocolVersion::V5 && !empty {
            for (name, value) in USER_PROPERTIES {
                publish = publish.user_property(name, value);
            }
        }
        guard("publish retained", publish).await.unwrap();
    }
}

/// Retained messages: three retained messages reach a later `+/+`
/// subscription, flagged retained, at QoS 0, 1 and 2 (5.0: user properties
/// kept); after empty retained messages clear them, none does.
pub(crate) async fn retained_messages(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let a = || client(&broker.url(), version, "myclientid");
    let c = connect(a()).await;
    assert!(!session_present(&c));
    publish_retained(&c, version, false).await;
    let mut sub = guard("subscribe", c.subscribe(WILDTOPICS[5], QoS::ExactlyOnce))
        .await
        .unwrap();
    let retained = take(&mut sub, 3).await;
    assert!(retained.iter().all(Message::retain), "{retained:?}");
    assert_eq!(
        qos_levels(&retained),
        [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
    );
    if version == ProtocolVersion::V5 {
        for m in &retained {
            assert_eq!(user_properties(m), USER_PROPERTIES, "{m:?}");
        }
    }
    disconnect(c).await;

    // Cleared by empty retained messages: a new subscription gets none.
    let c = connect(a()).await;
    assert!(!session_present(&c));
    publish_retained(&c, version, true).await;
    let mut sub = guard("subscribe", c.subscribe(WILDTOPICS[5], QoS::ExactlyOnce))
        .await
        .unwrap();
    assert_next_is_marker(&c, TOPICS[1], &mut sub).await;
    disconnect(c).await;
}

/// Will message: a client with a will (keep-alive 2 s) dies without
/// DISCONNECT; a subscriber to the will topic gets the will (5.0: with its
/// user properties, in order).
pub(crate) async fn will_message(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let b = connect(client(&broker.url(), version, "myclientid2").clean_start(false)).await;
    let mut wills = guard("subscribe", b.subscribe(TOPICS[2], QoS::ExactlyOnce))
        .await
        .unwrap();
    let mut will = Will::new(TOPICS[2], "will message");
    if version == ProtocolVersion::V5 {
        will = will.properties(WillProperties {
            will_delay_interval: Some(0),
            user_properties: USER_PROPERTIES
                .iter()
                .map(|&(n, v)| (n.into(), v.into()))
                .collect(),
            ..WillProperties::default()
        });
    }
    let builder = client(&broker.url(), version, "myclientid")
        .keep_alive(Duration::from_secs(2))
        .will(will);
    let (_a, task) = connect_killable(builder).await;
    task.abort();
    let m = next(&mut wills).await;
    assert_eq!(
        (m.topic(), m.payload_str()),
        (TOPICS[2], Some("will message"))
    );
    if version == ProtocolVersion::V5 {
        assert_eq!(user_properties(&m), USER_PROPERTIES);
    }
    disconnect(b).await;
}

/// Zero-length client id: 3.1.1 refuses it without a clean session and
/// accepts it with one; 5.0 accepts it either way, and the broker assigns
/// an identifier.
pub(crate) async fn zero_length_client_id(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let zero = |clean: bool| {
        Client::builder(&broker.url())
            .protocol(version)
            .client_id("")
            .clean_start(clean)
    };
    if version == ProtocolVersion::V5 {
        for clean in [false, true] {
            let c = connect(zero(clean)).await;
            let info = c.server_info().unwrap();
            assert!(!info.client_id.is_empty());
            assert_eq!(
                info.properties.assigned_client_identifier.as_ref(),
                Some(&info.client_id)
            );
            disconnect(c).await;
        }
        return;
    }
    // Paho expects the broker to refuse it; mqtide refuses it before
    // connecting [MQTT-3.1.3-7], so a bare connection shows the broker's
    // refusal: CONNACK 0x02, identifier rejected.
    let error = guard("connect", zero(false).connect()).await.unwrap_err();
    assert!(matches!(error, mqtide::Error::InvalidOption(_)), "{error}");
    let mut raw = Raw::open(&broker, version).await;
    let mut connect_packet = Connect::new(version, "");
    connect_packet.clean_start = false;
    raw.send(&Packet::Connect(Box::new(connect_packet))).await;
    let answer = raw.recv().await;
    assert!(
        matches!(&answer, Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::ClientIdentifierNotValid),
        "{answer:?}"
    );
    let c = connect(zero(true)).await;
    disconnect(c).await;
}

/// The messages of Paho's offline scenario, published by a second client
/// while the subscriber is away: QoS 0, 1 and 2 on topics `+/+` matches.
async fn publish_while_away(broker: &Mosquitto, version: ProtocolVersion) {
    let b = connect(client(&broker.url(), version, "myclientid2")).await;
    assert!(!session_present(&b));
    for (topic, payload, qos) in [
        (TOPICS[1], "qos 0", QoS::AtMostOnce),
        (TOPICS[2], "qos 1", QoS::AtLeastOnce),
        (TOPICS[3], "qos 2", QoS::ExactlyOnce),
    ] {
        guard("publish", b.publish(topic, payload).qos(qos))
            .await
            .unwrap();
    }
    disconnect(b).await;
}

/// Offline message queueing: a persistent session subscribed to `+/+`
/// gets, when it comes back, what was published while it was away. Paho
/// accepts two or three messages (QoS 0 queued or not); Mosquitto queues
/// QoS 0 for offline clients only with `queue_qos0_messages true`: two
/// messages by default, three with it.
pub(crate) async fn offline_message_queueing(version: ProtocolVersion) {
    for (config, expected) in [
        ("", vec!["qos 1", "qos 2"]),
        ("queue_qos0_messages true", vec!["qos 0", "qos 1", "qos 2"]),
    ] {
        let broker = Mosquitto::start_with(config).unwrap();
        let a = || persistent(client(&broker.url(), version, "myclientid"), version);
        let c = connect(a()).await;
        guard("subscribe", c.subscribe(WILDTOPICS[5], QoS::ExactlyOnce))
            .await
            .unwrap();
        disconnect(c).await;

        publish_while_away(&broker, version).await;

        let (c, mut all) = connect_with_messages(a()).await;
        assert!(session_present(&c));
        let queued = take(&mut all, expected.len()).await;
        let payloads: Vec<_> = queued.iter().map(|m| m.payload_str().unwrap()).collect();
        assert_eq!(payloads, expected, "{config:?}");
        // Nothing else was queued.
        assert_next_is_marker(&c, TOPICS[1], &mut all).await;
        disconnect(c).await;
    }
}

/// Overlapping subscriptions: `TopicA/#` at QoS 2 and `TopicA/+` at QoS 1
/// both match a QoS 2 publish. Paho accepts one message at QoS 2 or one per
/// subscription (at QoS 2 and 1). Mosquitto 2.0.11 sends one per
/// subscription under 5.0, and one message at QoS 1 under 3.1.1.
pub(crate) async fn overlapping_subscriptions(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let c = connect(client(&broker.url(), version, "myclientid")).await;
    let mut sub = guard(
        "subscribe",
        c.subscribe_many([
            (WILDTOPICS[6], SubscriptionOptions::new(QoS::ExactlyOnce)),
            (WILDTOPICS[0], SubscriptionOptions::new(QoS::AtLeastOnce)),
        ]),
    )
    .await
    .unwrap();
    guard(
        "publish",
        c.publish(TOPICS[3], "overlapping topic filters")
            .qos(QoS::ExactlyOnce),
    )
    .await
    .unwrap();
    let copies = match version {
        // One copy per subscription, at QoS 1 and 2, as Paho accepts.
        ProtocolVersion::V5 => take(&mut sub, 2).await,
        // One copy, but at the QoS of `TopicA/+`: not the highest of the
        // two, which Paho (and [MQTT-3.3.5-1]) expects.
        _ => take(&mut sub, 1).await,
    };
    assert!(
        copies
            .iter()
            .all(|m| m.payload_str() == Some("overlapping topic filters")),
        "{copies:?}"
    );
    let expected: &[QoS] = match version {
        ProtocolVersion::V5 => &[QoS::AtLeastOnce, QoS::ExactlyOnce],
        _ => &[QoS::AtLeastOnce],
    };
    assert_eq!(qos_levels(&copies), expected);
    // No further copy.
    assert_next_is_marker(&c, TOPICS[3], &mut sub).await;
    disconnect(c).await;
}

/// Keep-alive: a client that goes silent (its connection blackholed by a
/// proxy, so its PINGREQs never arrive) is disconnected by the broker after
/// one and a half keep-alive periods, which publishes its will. Paho's
/// client simply sends nothing for 5 s; mqtide pings on its own, hence the
/// proxy, and a keep-alive of 1 s.
pub(crate) async fn keep_alive(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let proxy = FaultProxy::start(broker.addr(), 9).unwrap();
    let b = connect(client(&broker.url(), version, "myclientid2").keep_alive(Duration::ZERO)).await;
    let mut wills = guard("subscribe", b.subscribe(TOPICS[4], QoS::ExactlyOnce))
        .await
        .unwrap();
    let a = client(&proxy.url(), version, "myclientid")
        .keep_alive(Duration::from_secs(1))
        // Longer than the broker's 1.5 s, so that the broker acts first.
        .ping_timeout(Duration::from_secs(20))
        .will(Will::new(TOPICS[4], "keepalive expiry"))
        .no_reconnect();
    let a = connect(a).await;
    proxy.inject(Fault::Blackhole, Scope::Current);
    let m = next(&mut wills).await;
    assert_eq!(m.payload_str(), Some("keepalive expiry"));
    let kicked = format!("Client myclientid-{version} has exceeded timeout, disconnecting.");
    assert!(broker.log().contains(&kicked), "{}", broker.log());
    drop(a);
    disconnect(b).await;
}

/// Redelivery on reconnect: QoS 1 and 2 messages a persistent session
/// received but did not acknowledge are sent again, marked DUP, when it
/// reconnects. Paho pauses its client so that it neither processes nor
/// acknowledges them; mqtide holds the acknowledgements back with manual
/// acks (the messages reach the stream, unacknowledged).
pub(crate) async fn redelivery_on_reconnect(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let b = || persistent(client(&broker.url(), version, "myclientid2"), version);
    let c = connect(b().manual_acks(true)).await;
    let mut sub = guard("subscribe", c.subscribe(WILDTOPICS[6], QoS::ExactlyOnce))
        .await
        .unwrap();
    guard("publish", c.publish(TOPICS[1], "").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
    guard("publish", c.publish(TOPICS[3], "").qos(QoS::ExactlyOnce))
        .await
        .unwrap();
    let unacknowledged = take(&mut sub, 2).await;
    assert!(unacknowledged.iter().all(|m| !m.dup()));
    disconnect(c).await;

    let (c, mut all) = connect_with_messages(b()).await;
    assert!(session_present(&c));
    let again = take(&mut all, 2).await;
    let got: Vec<_> = again
        .iter()
        .map(|m| (m.topic(), m.qos(), m.dup()))
        .collect();
    assert_eq!(
        got,
        [
            (TOPICS[1], QoS::AtLeastOnce, true),
            (TOPICS[3], QoS::ExactlyOnce, true)
        ]
    );
    disconnect(c).await;
}

/// Subscribe failure: a subscription the broker does not allow is refused
/// in SUBACK, and mqtide reports it as the subscribe's error. Paho expects
/// 0x80 under both versions; Mosquitto answers 0x80 under 3.1.1 and 0x87
/// (not authorized) under 5.0.
pub(crate) async fn subscribe_failure(version: ProtocolVersion) {
    let (broker, _config) = nosubscribe_broker();
    let c = connect(client(&broker.url(), version, "myclientid")).await;
    let error = guard("subscribe", c.subscribe(NOSUBSCRIBE, QoS::ExactlyOnce))
        .await
        .unwrap_err();
    let expected = match version {
        ProtocolVersion::V5 => ReasonCode::NotAuthorized,
        _ => ReasonCode::UnspecifiedError,
    };
    assert_eq!(error.reason_code(), Some(expected), "{error}");
    assert!(c.state().is_connected());
    disconnect(c).await;
}

/// Dollar topics: a filter starting with a wildcard (`+/+`) does not
/// match a topic starting with `$`.
pub(crate) async fn dollar_topics(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let b = connect(client(&broker.url(), version, "myclientid2").keep_alive(Duration::ZERO)).await;
    let mut sub = guard("subscribe", b.subscribe(WILDTOPICS[5], QoS::ExactlyOnce))
        .await
        .unwrap();
    let dollar = format!("${}", TOPICS[1]);
    guard("publish", b.publish(dollar, "").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
    assert_next_is_marker(&b, TOPICS[1], &mut sub).await;
    disconnect(b).await;
}

/// Unsubscribe: of three subscriptions, the one unsubscribed gets nothing
/// (its stream ends); the other two get their message.
pub(crate) async fn unsubscribe(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let b = connect(client(&broker.url(), version, "myclientid2")).await;
    let mut all = guard("messages", b.messages()).await.unwrap();
    let mut subs = Vec::new();
    for topic in &TOPICS[..3] {
        let sub = guard("subscribe", b.subscribe(topic, QoS::ExactlyOnce))
            .await
            .unwrap();
        subs.push(sub);
    }
    guard("unsubscribe", b.unsubscribe(TOPICS[0]))
        .await
        .unwrap();

    let a = connect(client(&broker.url(), version, "myclientid")).await;
    for (topic, payload) in [
        (TOPICS[0], "topic 0 - unsubscribed"),
        (TOPICS[1], "topic 1"),
        (TOPICS[2], "topic 2"),
    ] {
        guard("publish", a.publish(topic, payload).qos(QoS::AtLeastOnce))
            .await
            .unwrap();
    }
    // One publisher's messages come in order: had the first come, it
    // would be first.
    let got: Vec<_> = take(&mut all, 2)
        .await
        .iter()
        .map(|m| m.topic().to_owned())
        .collect();
    assert_eq!(got, [TOPICS[1], TOPICS[2]]);
    assert!(guard("ended", subs[0].next()).await.is_none());
    assert_eq!(next(&mut subs[1]).await.payload_str(), Some("topic 1"));
    assert_eq!(next(&mut subs[2]).await.payload_str(), Some("topic 2"));
    disconnect(b).await;
    disconnect(a).await;
}
