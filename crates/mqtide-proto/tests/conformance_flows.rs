//! Conformance: the QoS 1 and QoS 2 delivery protocols as the client runs
//! them in both directions, packet identifiers, retransmission, ordering
//! of acknowledgements and the send quota. Statement ids are cited as
//! `[MQTT-x.y.z-n]`, numbered as in MQTT 5.0 unless marked 3.1.1.

mod harness;

use std::collections::HashSet;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{
    ConnAck, Event, Packet, ProtocolVersion, Publish, QoS, ReasonCode, RequestError,
    SubscriptionOptions, TopicFilter, UsageError,
};

/// A connected session that resumes its session on reconnect.
fn persistent(version: ProtocolVersion) -> Harness {
    let mut config = Harness::config(version);
    config.clean_start = false;
    if version.is_v5() {
        config.properties.session_expiry_interval = Some(600);
    }
    Harness::connected_with(config, ConnAck::new(false))
}

fn message_topic(h: &mut Harness) -> String {
    match h.expect_event() {
        Event::Message(m) => m.publish.topic.to_string(),
        other => panic!("expected Message, got {other:?}"),
    }
}

each_version! {
    /// [MQTT-3.3.1-1], [MQTT-3.3.1-3], [MQTT-4.3.2-2], [MQTT-4.3.3-2]
    /// (3.1.1 [MQTT-3.3.1-1], [MQTT-4.3.2-1], [MQTT-4.3.3-1]): a new
    /// PUBLISH goes out with DUP 0 even if the application handed it over
    /// with DUP set; only its retransmission carries DUP 1, under the same
    /// packet identifier.
    fn dup_marks_retransmissions_only(version: ProtocolVersion) {
        let mut h = persistent(version);
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut p = Publish::new("relayed", Bytes::from_static(b"x"));
            p.qos = qos;
            p.dup = true;
            h.session.publish(p, h.now).unwrap();
        }
        h.drain();
        let first = [h.expect_publish(), h.expect_publish()];
        assert!(first.iter().all(|p| !p.dup));
        h.lose_connection();
        h.take_events();
        h.open(ConnAck::new(true));
        for sent in first {
            let again = h.expect_publish();
            assert!(again.dup);
            assert_eq!((again.qos, again.packet_id), (sent.qos, sent.packet_id));
        }
    }
}

each_version! {
    /// [MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1], [MQTT-2.3.1-2]): publishes,
    /// subscriptions and unsubscriptions in flight together each get a
    /// non-zero identifier no other packet in flight is using.
    fn packet_identifiers_are_distinct_across_packet_types(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.publish("a", b"1", QoS::AtLeastOnce);
        h.publish("b", b"2", QoS::ExactlyOnce);
        let f = TopicFilter::new("c/#").unwrap();
        h.session.subscribe(vec![(f.clone(), SubscriptionOptions::new(QoS::AtMostOnce))], Default::default(), h.now).unwrap();
        h.session.unsubscribe(vec![f], Default::default(), h.now).unwrap();
        h.drain();
        let mut ids = HashSet::new();
        for _ in 0..4 {
            let id = match h.expect_sent() {
                Packet::Publish(p) => p.packet_id.expect("QoS 1/2 carries an identifier"),
                Packet::Subscribe(s) => s.packet_id,
                Packet::Unsubscribe(u) => u.packet_id,
                other => panic!("unexpected {other:?}"),
            };
            assert!(ids.insert(id), "identifier {id} used twice");
        }
    }
}

each_version! {
    /// [MQTT-4.3.2-5] (3.1.1 [MQTT-4.3.2-2]): once a QoS 1 message is
    /// acknowledged, a PUBLISH reusing its identifier is a new message,
    /// DUP or not: delivered and acknowledged again.
    fn qos1_identifier_reused_after_puback_is_a_new_message(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.deliver(incoming("first", QoS::AtLeastOnce, 7));
        assert_eq!(message_topic(&mut h), "first");
        assert_eq!(h.expect_sent(), Packet::PubAck(ack(pid(7))));
        let mut again = incoming("second", QoS::AtLeastOnce, 7);
        again.dup = true;
        h.deliver(again);
        assert_eq!(message_topic(&mut h), "second");
        assert_eq!(h.expect_sent(), Packet::PubAck(ack(pid(7))));
    }
}

each_version! {
    /// [MQTT-4.6.0-4] (3.1.1 [MQTT-4.6.0-4]): PUBRELs leave in the order
    /// their PUBRECs arrived, whatever the order of the publishes.
    fn pubrels_follow_the_order_of_pubrecs(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        for topic in ["a", "b", "c"] {
            h.publish(topic, b"x", QoS::ExactlyOnce);
        }
        let ids: Vec<_> = (0..3).map(|_| h.expect_publish().packet_id.unwrap()).collect();
        let order = [ids[2], ids[0], ids[1]];
        let mut wire = BytesMut::new();
        for id in order {
            Packet::PubRec(ack(id)).encode(version, &mut wire).unwrap();
        }
        h.deliver_bytes(&wire);
        for id in order {
            assert_eq!(h.expect_sent(), Packet::PubRel(ack(id)));
        }
    }
}

each_version! {
    /// [MQTT-4.4.0-1] (3.1.1 [MQTT-4.4.0-1]): resending happens on a
    /// resumed session only; while the connection lasts, an unanswered
    /// PUBLISH or PUBREL is never sent again, however long it waits.
    fn nothing_is_resent_while_the_connection_lasts(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.keep_alive = 0;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        h.publish("q1", b"x", QoS::AtLeastOnce);
        h.publish("q2", b"x", QoS::ExactlyOnce);
        h.expect_publish();
        let q2 = h.expect_publish().packet_id.unwrap();
        h.deliver(Packet::PubRec(ack(q2)));
        assert_eq!(h.expect_sent(), Packet::PubRel(ack(q2)));
        h.advance(Duration::from_secs(3600));
        h.expect_nothing_sent();
        h.expect_no_event();
        assert_eq!(h.session.inflight(), 2);
    }
}

/// [MQTT-4.4.0-2]: a PUBACK or PUBREC with a failure reason code ends the
/// flow; the publish is not sent again, not even on a resumed session.
#[test]
fn rejected_publishes_are_not_retransmitted_v5() {
    let mut h = persistent(ProtocolVersion::V5);
    let q1 = h.publish("q1", b"x", QoS::AtLeastOnce);
    let q2 = h.publish("q2", b"x", QoS::ExactlyOnce);
    let (p1, p2) = (
        h.expect_publish().packet_id.unwrap(),
        h.expect_publish().packet_id.unwrap(),
    );
    let mut puback = ack(p1);
    puback.reason_code = ReasonCode::NotAuthorized;
    let mut pubrec = ack(p2);
    pubrec.reason_code = ReasonCode::UnspecifiedError;
    h.deliver(Packet::PubAck(puback));
    h.deliver(Packet::PubRec(pubrec));
    assert!(matches!(
        h.expect_completed(q1),
        Err(RequestError::Rejected { .. })
    ));
    assert!(matches!(
        h.expect_completed(q2),
        Err(RequestError::Rejected { .. })
    ));
    h.expect_nothing_sent();
    h.lose_connection();
    h.take_events();
    h.open(ConnAck::new(true));
    h.expect_nothing_sent();
}

/// [MQTT-4.3.3-7]: a QoS 2 PUBLISH already sent is not dropped when its
/// Message Expiry Interval passes: the flow goes on to PUBCOMP, across a
/// reconnect.
#[test]
fn sent_qos2_publish_outlives_its_message_expiry_v5() {
    let mut h = persistent(ProtocolVersion::V5);
    let mut p = Publish::new("short-lived", Bytes::from_static(b"x"));
    p.qos = QoS::ExactlyOnce;
    p.properties.message_expiry_interval = Some(1);
    let id = h.session.publish(p, h.now).unwrap();
    h.drain();
    let packet_id = h.expect_publish().packet_id.unwrap();
    h.advance(Duration::from_secs(10));
    h.lose_connection();
    h.take_events();
    h.advance(Duration::from_secs(10));
    h.open(ConnAck::new(true));
    let resent = h.expect_publish();
    assert_eq!((resent.packet_id, resent.dup), (Some(packet_id), true));
    h.deliver(Packet::PubRec(ack(packet_id)));
    assert_eq!(h.expect_sent(), Packet::PubRel(ack(packet_id)));
    h.deliver(Packet::PubComp(ack(packet_id)));
    h.expect_completed(id).unwrap();
}

/// [MQTT-4.3.3-13]: an incoming QoS 2 message whose expiry has passed still
/// gets its PUBCOMP.
#[test]
fn received_qos2_flow_completes_after_its_expiry_v5() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let mut p = incoming("short-lived", QoS::ExactlyOnce, 4);
    p.properties.message_expiry_interval = Some(1);
    h.deliver(p);
    message_topic(&mut h);
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(4))));
    h.advance(Duration::from_secs(10));
    h.deliver(Packet::PubRel(ack(pid(4))));
    assert_eq!(h.expect_sent(), Packet::PubComp(ack(pid(4))));
}

/// [MQTT-4.9.0-3]: with the send quota at zero (Receive Maximum 1, one
/// QoS 1 publish unacknowledged), the client still answers incoming QoS 1
/// and QoS 2 messages and PUBREL, and keeps pinging.
#[test]
fn zero_send_quota_still_answers_everything_else_v5() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.keep_alive = 10;
    let mut connack = ConnAck::new(false);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    let mut h = Harness::connected_with(config, connack);
    let first = h.publish("out/1", b"x", QoS::AtLeastOnce);
    h.publish("out/2", b"x", QoS::AtLeastOnce);
    let in_flight = h.expect_publish().packet_id.unwrap();
    h.expect_nothing_sent();

    h.deliver(incoming("in/1", QoS::AtLeastOnce, 9));
    message_topic(&mut h);
    assert_eq!(h.expect_sent(), Packet::PubAck(ack(pid(9))));
    h.deliver(incoming("in/2", QoS::ExactlyOnce, 10));
    message_topic(&mut h);
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(10))));
    h.deliver(Packet::PubRel(ack(pid(10))));
    assert_eq!(h.expect_sent(), Packet::PubComp(ack(pid(10))));
    h.advance(Duration::from_secs(10));
    assert_eq!(h.expect_sent(), Packet::PingReq);
    h.deliver(Packet::PingResp);

    // The quota comes back with the PUBACK; the waiting publish goes out.
    h.deliver(Packet::PubAck(ack(in_flight)));
    h.expect_completed(first).unwrap();
    assert_eq!(h.expect_publish().topic, "out/2");
}

each_version! {
    /// [MQTT-3.6.2-1] (5.0): a PUBREC for an identifier the client does
    /// not hold is released with a PUBREL reason code from PUBREL's own
    /// table (0x92 Packet Identifier not found; 3.1.1 has no reason code).
    fn pubrec_for_an_unknown_identifier_is_released(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.deliver(Packet::PubRec(ack(pid(33))));
        let Packet::PubRel(rel) = h.expect_sent() else { panic!("expected PUBREL") };
        assert_eq!(rel.packet_id, pid(33));
        let expected = if version.is_v5() { ReasonCode::PacketIdentifierNotFound } else { ReasonCode::Success };
        assert_eq!(rel.reason_code, expected);
        assert!(rel.reason_code.is_valid_for(mqtide_proto::PacketType::PubRel));
        h.expect_no_event();
    }
}

each_version! {
    /// [MQTT-3.10.3-2] (3.1.1 [MQTT-3.10.3-2]): an UNSUBSCRIBE names at
    /// least one topic filter; an empty one is refused before anything is
    /// sent.
    fn unsubscribe_needs_a_topic_filter(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        assert_eq!(
            h.session.unsubscribe(Vec::new(), Default::default(), h.now),
            Err(UsageError::NoFilters)
        );
        h.drain();
        h.expect_nothing_sent();
    }
}
