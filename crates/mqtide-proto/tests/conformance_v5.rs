//! Conformance: MQTT 5.0 features as the client must use them: topic
//! aliases both ways, subscription identifiers, and the reason codes the
//! client puts in PUBACK, PUBREC and AUTH. Statement ids are cited as
//! `[MQTT-x.y.z-n]` from MQTT 5.0.

mod harness;

use std::num::NonZeroU16;

use bytes::Bytes;
use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{
    AckMode, Auth, AuthProperties, ConnAck, ConnectionError, EncodeError, Event, Packet,
    PacketType, ProtocolError, ProtocolVersion, Publish, QoS, ReasonCode, SubscriptionId,
    SubscriptionOptions, TopicFilter, UsageError,
};

const V5: ProtocolVersion = ProtocolVersion::V5;

fn message(h: &mut Harness) -> Publish {
    match h.expect_event() {
        Event::Message(m) => m.publish,
        other => panic!("expected Message, got {other:?}"),
    }
}

/// A PUBLISH from the server carrying `alias`, with `topic` ("" to use the
/// alias alone).
fn aliased(topic: &str, alias: u16) -> Publish {
    let mut p = incoming(topic, QoS::AtMostOnce, 0);
    p.properties.topic_alias = NonZeroU16::new(alias);
    p
}

/// [MQTT-3.3.4-6]: a PUBLISH from the client never carries a Subscription
/// Identifier; the session refuses one before anything is sent.
#[test]
fn subscription_identifier_in_a_publish_is_refused() {
    let mut h = Harness::connected(V5);
    let mut p = Publish::new("t", Bytes::from_static(b"x"));
    p.properties
        .subscription_identifiers
        .push(SubscriptionId::new(3).unwrap());
    assert!(matches!(
        h.session.publish(p, h.now),
        Err(UsageError::NotAllowed(_))
    ));
    h.drain();
    h.expect_nothing_sent();
}

/// [MQTT-3.2.2-18]: without a Topic Alias Maximum in CONNACK the client
/// sends no alias at all, even for a topic it repeats and even though it
/// accepts aliases itself.
#[test]
fn no_topic_alias_without_a_server_maximum() {
    let mut config = Harness::config(V5);
    config.properties.topic_alias_maximum = Some(10);
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
        h.publish("a/rather/long/topic", b"x", qos);
        let p = h.expect_publish();
        assert_eq!(
            (p.topic.as_ref(), p.properties.topic_alias),
            ("a/rather/long/topic", None)
        );
    }
}

/// [MQTT-3.3.2-10]: every alias from 1 to the Topic Alias Maximum the
/// client announced is accepted, at both ends of the range.
#[test]
fn every_alias_up_to_our_maximum_is_accepted() {
    let mut config = Harness::config(V5);
    config.properties.topic_alias_maximum = Some(4);
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(aliased("low", 1));
    assert_eq!(message(&mut h).topic, "low");
    h.deliver(aliased("high", 4));
    assert_eq!(message(&mut h).topic, "high");
    h.deliver(aliased("", 1));
    assert_eq!(message(&mut h).topic, "low");
    h.deliver(aliased("", 4));
    assert_eq!(message(&mut h).topic, "high");
    h.expect_no_event();
    assert!(h.session.is_connected());
}

/// [MQTT-3.3.2-7]: alias mappings the server set on one connection are
/// gone on the next; using one there is a protocol error (0x94).
#[test]
fn incoming_aliases_do_not_outlive_the_connection() {
    let mut config = Harness::config(V5);
    config.clean_start = false;
    config.properties.session_expiry_interval = Some(600);
    config.properties.topic_alias_maximum = Some(4);
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(aliased("kept/for/one/connection", 2));
    message(&mut h);
    h.lose_connection();
    h.take_events();
    h.open(ConnAck::new(true));
    h.deliver(aliased("", 2));
    assert_eq!(
        h.expect_disconnected(),
        ConnectionError::Protocol(ProtocolError::TopicAliasInvalid(2))
    );
    let Packet::Disconnect(d) = h.expect_sent() else {
        panic!("expected DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::TopicAliasInvalid);
}

/// [MQTT-3.4.2-1], [MQTT-3.5.2-1]: the client's PUBACK and PUBREC carry
/// only reason codes from their tables: others are refused and the
/// message stays unacknowledged until a valid one is given.
#[test]
fn puback_and_pubrec_reason_codes_come_from_their_tables() {
    let mut config = Harness::config(V5);
    config.ack_mode = AckMode::Manual;
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(incoming("q1", QoS::AtLeastOnce, 1));
    h.deliver(incoming("q2", QoS::ExactlyOnce, 2));
    let tokens: Vec<_> = (0..2)
        .map(|_| match h.expect_event() {
            Event::Message(m) => m.ack.unwrap(),
            other => panic!("expected Message, got {other:?}"),
        })
        .collect();
    for token in &tokens {
        for code in [
            ReasonCode::PacketIdentifierNotFound,
            ReasonCode::GrantedQoS1,
            ReasonCode::MalformedPacket,
        ] {
            assert!(matches!(
                h.session.ack_with(*token, code, h.now),
                Err(UsageError::Encode(EncodeError::InvalidReasonCode { .. }))
            ));
        }
    }
    h.drain();
    h.expect_nothing_sent();
    h.session
        .ack_with(tokens[0], ReasonCode::NoMatchingSubscribers, h.now)
        .unwrap();
    h.session
        .ack_with(tokens[1], ReasonCode::QuotaExceeded, h.now)
        .unwrap();
    h.drain();
    let mut puback = ack(pid(1));
    puback.reason_code = ReasonCode::NoMatchingSubscribers;
    assert_eq!(h.expect_sent(), Packet::PubAck(puback));
    let mut pubrec = ack(pid(2));
    pubrec.reason_code = ReasonCode::QuotaExceeded;
    assert_eq!(h.expect_sent(), Packet::PubRec(pubrec));
}

/// [MQTT-3.15.2-1]: AUTH from the client carries an Authenticate reason
/// code (0x00, 0x18, 0x19); anything else is refused unsent.
#[test]
fn auth_reason_codes_come_from_their_table() {
    let method = || Some("SCRAM-SHA-1".into());
    let mut config = Harness::config(V5);
    config.properties.authentication_method = method();
    let mut connack = ConnAck::new(false);
    connack.properties.authentication_method = method();
    let mut h = Harness::connected_with(config, connack);
    for code in [ReasonCode::NotAuthorized, ReasonCode::GrantedQoS1] {
        let mut auth = Auth {
            reason_code: code,
            properties: AuthProperties::default(),
        };
        auth.properties.authentication_method = method();
        assert_eq!(
            h.session.auth(auth, h.now),
            Err(UsageError::Encode(EncodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code
            }))
        );
    }
    h.drain();
    h.expect_nothing_sent();
    let mut reauth = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties::default(),
    };
    reauth.properties.authentication_method = method();
    h.session.auth(reauth.clone(), h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(reauth));
}

/// [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error,
/// so the session refuses it before anything is sent.
#[test]
fn no_local_on_a_shared_subscription_is_refused() {
    let mut h = Harness::connected(V5);
    let mut options = SubscriptionOptions::new(QoS::AtLeastOnce);
    options.no_local = true;
    let shared = TopicFilter::new("$share/workers/jobs/+").unwrap();
    assert_eq!(
        h.session
            .subscribe(vec![(shared, options)], Default::default(), h.now),
        Err(UsageError::NoLocalOnSharedSubscription)
    );
    h.drain();
    h.expect_nothing_sent();
    // The same options on a plain filter go out.
    let plain = TopicFilter::new("jobs/+").unwrap();
    h.session
        .subscribe(vec![(plain, options)], Default::default(), h.now)
        .unwrap();
    h.drain();
    let Packet::Subscribe(sub) = h.expect_sent() else {
        panic!("expected SUBSCRIBE")
    };
    assert!(sub.filters[0].1.no_local);
}
