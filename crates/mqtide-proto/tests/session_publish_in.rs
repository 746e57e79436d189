//! Incoming messages: QoS 1 and 2 towards the client, exactly-once
//! delivery across DUP resends, the receive maximum we announce, topic
//! aliases, and manual acknowledgement in arrival order.

mod harness;

use std::num::NonZeroU16;

use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{
    AckMode, ConnAck, ConnectionError, Event, Message, Packet, ProtocolError, ProtocolVersion, QoS,
    ReasonCode, ReceiveOverrun,
};

fn message(h: &mut Harness) -> Message {
    match h.expect_event() {
        Event::Message(m) => m,
        other => panic!("expected Message, got {other:?}"),
    }
}

each_version! {
    /// QoS 0 is delivered and not acknowledged; QoS 1 is acknowledged with
    /// PUBACK ([MQTT-4.3.2-4]).
    fn qos0_and_qos1_are_delivered_and_acknowledged(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.deliver(incoming("t/0", QoS::AtMostOnce, 0));
        assert_eq!(message(&mut h).publish.topic, "t/0");
        h.expect_nothing_sent();
        h.deliver(incoming("t/1", QoS::AtLeastOnce, 7));
        let m = message(&mut h);
        assert_eq!((m.publish.topic.as_ref(), m.ack), ("t/1", None));
        assert_eq!(h.expect_sent(), Packet::PubAck(ack(pid(7))));
    }
}

each_version! {
    /// QoS 2 is delivered once even when the broker resends it with DUP
    /// before releasing it; PUBREL is answered with PUBCOMP (spec §4.3.3:
    /// deliver on PUBLISH, keep the identifier until PUBREL).
    fn qos2_is_delivered_exactly_once(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.deliver(incoming("t/2", QoS::ExactlyOnce, 9));
        assert_eq!(message(&mut h).publish.topic, "t/2");
        assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(9))));
        let mut dup = incoming("t/2", QoS::ExactlyOnce, 9);
        dup.dup = true;
        h.deliver(dup);
        h.expect_no_event();
        assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(9))));
        h.deliver(Packet::PubRel(ack(pid(9))));
        assert_eq!(h.expect_sent(), Packet::PubComp(ack(pid(9))));
        // Released: the identifier may now carry a new message.
        h.deliver(incoming("t/2b", QoS::ExactlyOnce, 9));
        assert_eq!(message(&mut h).publish.topic, "t/2b");
    }
}

each_version! {
    /// The exactly-once state survives a lost connection when the session
    /// is resumed: the broker's resend after reconnecting is not delivered
    /// again.
    fn qos2_state_survives_reconnect(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.clean_start = false;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        h.deliver(incoming("t", QoS::ExactlyOnce, 3));
        message(&mut h);
        h.expect_sent();
        h.lose_connection();
        h.expect_disconnected();
        h.open(ConnAck::new(true));
        let mut dup = incoming("t", QoS::ExactlyOnce, 3);
        dup.dup = true;
        h.deliver(dup);
        h.expect_no_event();
        assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(3))));
    }
}

each_version! {
    /// A PUBREL for an identifier we no longer hold (our PUBCOMP was lost)
    /// is completed again; 5.0 says "Packet Identifier not found".
    fn unknown_pubrel_is_completed(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.deliver(Packet::PubRel(ack(pid(44))));
        let Packet::PubComp(comp) = h.expect_sent() else { panic!("expected PUBCOMP") };
        let expected = if version.is_v5() { ReasonCode::PacketIdentifierNotFound } else { ReasonCode::Success };
        assert_eq!(comp.reason_code, expected);
        h.expect_no_event();
    }
}

/// [MQTT-3.3.4-9]: the server must not exceed the Receive Maximum we sent;
/// if it does, we disconnect with 0x93 under `ReceiveOverrun::Strict` (the
/// default tolerates it within bounds: `session_receive_overrun.rs`).
#[test]
fn broker_exceeding_our_receive_maximum_is_disconnected() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.properties.receive_maximum = NonZeroU16::new(2);
    config.receive_overrun = ReceiveOverrun::Strict;
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(incoming("a", QoS::ExactlyOnce, 1));
    h.deliver(incoming("b", QoS::ExactlyOnce, 2));
    message(&mut h);
    message(&mut h);
    h.expect_sent();
    h.expect_sent();
    h.deliver(incoming("c", QoS::ExactlyOnce, 3));
    assert_eq!(
        h.expect_disconnected(),
        ConnectionError::Protocol(ProtocolError::ReceiveMaximumExceeded(2))
    );
    let Packet::Disconnect(d) = h.expect_sent() else {
        panic!("expected DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::ReceiveMaximumExceeded);
}

each_version! {
    /// Manual acknowledgement: nothing is acknowledged until the
    /// application says so, and acknowledgements leave in arrival order
    /// ([MQTT-4.6.0-2] PUBACK, [MQTT-4.6.0-3] PUBREC).
    fn manual_acks_go_out_in_arrival_order(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.ack_mode = AckMode::Manual;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        h.deliver(incoming("first", QoS::AtLeastOnce, 1));
        h.deliver(incoming("second", QoS::ExactlyOnce, 2));
        h.deliver(incoming("third", QoS::AtLeastOnce, 3));
        h.deliver(incoming("qos0", QoS::AtMostOnce, 0));
        let tokens: Vec<_> = (0..4).map(|_| message(&mut h).ack).collect();
        assert!(tokens[3].is_none(), "QoS 0 needs no acknowledgement");
        h.expect_nothing_sent();
        // Acknowledging the third holds it back behind the first two.
        h.session.ack(tokens[2].unwrap(), h.now).unwrap();
        h.drain();
        h.expect_nothing_sent();
        h.session.ack(tokens[0].unwrap(), h.now).unwrap();
        h.drain();
        assert_eq!(h.expect_sent(), Packet::PubAck(ack(pid(1))));
        h.expect_nothing_sent();
        h.session.ack(tokens[1].unwrap(), h.now).unwrap();
        h.drain();
        assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(2))));
        assert_eq!(h.expect_sent(), Packet::PubAck(ack(pid(3))));
        // A token acknowledges once.
        assert!(h.session.ack(tokens[0].unwrap(), h.now).is_err());
        // A resend of the unreleased QoS 2 message is answered, not redelivered.
        let mut dup = incoming("second", QoS::ExactlyOnce, 2);
        dup.dup = true;
        h.deliver(dup);
        h.expect_no_event();
        assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(2))));
    }
}

#[test]
fn manual_qos2_is_not_acknowledged_by_a_resend_before_the_application_acks() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.ack_mode = AckMode::Manual;
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(incoming("q", QoS::ExactlyOnce, 5));
    let token = message(&mut h).ack.unwrap();
    let mut dup = incoming("q", QoS::ExactlyOnce, 5);
    dup.dup = true;
    h.deliver(dup);
    h.expect_no_event();
    h.expect_nothing_sent();
    h.session.ack(token, h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(5))));
}

/// Topic aliases from the server: the first use sets the alias, later ones
/// leave the topic empty; an alias above our maximum or never set is a
/// protocol error 0x94 (spec §3.3.2.3.4).
#[test]
fn incoming_topic_aliases_resolve_and_are_checked() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.properties.topic_alias_maximum = Some(4);
    let mut h = Harness::connected_with(config.clone(), ConnAck::new(false));
    let mut first = incoming("sensors/long/topic", QoS::AtMostOnce, 0);
    first.properties.topic_alias = NonZeroU16::new(2);
    h.deliver(first);
    assert_eq!(message(&mut h).publish.topic, "sensors/long/topic");
    let mut again = incoming("", QoS::AtMostOnce, 0);
    again.properties.topic_alias = NonZeroU16::new(2);
    h.deliver(again);
    assert_eq!(message(&mut h).publish.topic, "sensors/long/topic");

    let mut unknown = incoming("", QoS::AtMostOnce, 0);
    unknown.properties.topic_alias = NonZeroU16::new(3);
    h.deliver(unknown);
    assert_eq!(
        h.expect_disconnected(),
        ConnectionError::Protocol(ProtocolError::TopicAliasInvalid(3))
    );
    let Packet::Disconnect(d) = h.expect_sent() else {
        panic!("expected DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::TopicAliasInvalid);

    let mut h = Harness::connected_with(config, ConnAck::new(false));
    let mut too_high = incoming("x", QoS::AtMostOnce, 0);
    too_high.properties.topic_alias = NonZeroU16::new(5);
    h.deliver(too_high);
    assert_eq!(
        h.expect_disconnected(),
        ConnectionError::Protocol(ProtocolError::TopicAliasInvalid(5))
    );
}

/// 5.0 lets the application refuse a message with a reason code; on PUBREC
/// a failure ends the flow, so the identifier is free again at once.
#[test]
fn manual_ack_can_refuse_with_a_reason_code() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.ack_mode = AckMode::Manual;
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(incoming("a", QoS::AtLeastOnce, 1));
    h.deliver(incoming("b", QoS::ExactlyOnce, 2));
    let t1 = message(&mut h).ack.unwrap();
    let t2 = message(&mut h).ack.unwrap();
    h.session
        .ack_with(t1, ReasonCode::NotAuthorized, h.now)
        .unwrap();
    h.session
        .ack_with(t2, ReasonCode::PayloadFormatInvalid, h.now)
        .unwrap();
    h.drain();
    let mut refused = ack(pid(1));
    refused.reason_code = ReasonCode::NotAuthorized;
    assert_eq!(h.expect_sent(), Packet::PubAck(refused));
    let mut refused = ack(pid(2));
    refused.reason_code = ReasonCode::PayloadFormatInvalid;
    assert_eq!(h.expect_sent(), Packet::PubRec(refused));
    // The flow is over: the identifier carries a new message.
    h.deliver(incoming("c", QoS::ExactlyOnce, 2));
    assert_eq!(message(&mut h).publish.topic, "c");

    // 3.1.1 cannot say why.
    let mut config = Harness::config(ProtocolVersion::V3_1_1);
    config.ack_mode = AckMode::Manual;
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.deliver(incoming("a", QoS::AtLeastOnce, 1));
    let token = message(&mut h).ack.unwrap();
    assert!(
        h.session
            .ack_with(token, ReasonCode::NotAuthorized, h.now)
            .is_err()
    );
    h.session.ack(token, h.now).unwrap();
}
