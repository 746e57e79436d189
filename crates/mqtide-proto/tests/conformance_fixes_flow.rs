//! Conformance: what a full send window holds back. 5.0 [MQTT-3.3.4-8]
//! says the receive maximum limits only QoS 1/2 PUBLISH packets; the
//! client must not delay any other packet because of it. SUBSCRIBE and
//! UNSUBSCRIBE therefore pass publishes waiting for the window, while
//! publishes keep the order they were accepted in, whatever their QoS.

mod harness;

use std::num::NonZeroU16;

use harness::{Harness, ack};
use mqtide_proto::{ConnAck, Packet, ProtocolVersion, QoS, SubscriptionOptions, TopicFilter};

/// A session whose send window holds one publish: the server's Receive
/// Maximum under 5.0, `v3_inflight` under 3.1.1.
fn window_of_one(version: ProtocolVersion) -> Harness {
    let mut config = Harness::config(version);
    config.v3_inflight = 1;
    let mut connack = ConnAck::new(false);
    if version.is_v5() {
        connack.properties.receive_maximum = NonZeroU16::new(1);
    }
    Harness::connected_with(config, connack)
}

fn subscribe(h: &mut Harness, filter: &str) -> mqtide_proto::RequestId {
    let filter = TopicFilter::new(filter).unwrap();
    let id = h
        .session
        .subscribe(
            vec![(filter, SubscriptionOptions::new(QoS::AtLeastOnce))],
            Default::default(),
            h.now,
        )
        .unwrap();
    h.drain();
    id
}

fn unsubscribe(h: &mut Harness, filter: &str) -> mqtide_proto::RequestId {
    let filter = TopicFilter::new(filter).unwrap();
    let id = h
        .session
        .unsubscribe(vec![filter], Default::default(), h.now)
        .unwrap();
    h.drain();
    id
}

each_version! {
    /// [MQTT-3.3.4-8]: with the window full and publishes waiting for it,
    /// a SUBSCRIBE and an UNSUBSCRIBE go out at once, in their order; the
    /// waiting publishes (QoS 0 included) follow in theirs as the window
    /// opens.
    fn control_packets_pass_publishes_held_by_the_window(version: ProtocolVersion) {
        let mut h = window_of_one(version);
        let one = h.publish("t", b"1", QoS::AtLeastOnce);
        let first = h.expect_publish();
        h.publish("t", b"2", QoS::ExactlyOnce);
        let qos0 = h.publish("t", b"3", QoS::AtMostOnce);
        h.expect_nothing_sent();

        let sub = subscribe(&mut h, "a/#");
        let unsub = unsubscribe(&mut h, "b/#");
        let Packet::Subscribe(subscribe) = h.expect_sent() else { panic!("expected SUBSCRIBE") };
        assert_eq!(subscribe.filters[0].0, "a/#");
        let Packet::Unsubscribe(unsubscribe) = h.expect_sent() else { panic!("expected UNSUBSCRIBE") };
        assert_eq!(unsubscribe.filters[0], "b/#");
        h.expect_nothing_sent();
        assert_eq!(h.session.queued(), 2, "both publishes still wait");

        // Their answers complete them while the publishes still wait.
        h.deliver(mqtide_proto::SubAck {
            packet_id: subscribe.packet_id,
            properties: Default::default(),
            reason_codes: vec![mqtide_proto::ReasonCode::GrantedQoS1],
        });
        assert!(h.expect_completed(sub).is_ok());
        let codes = if version.is_v5() { vec![mqtide_proto::ReasonCode::Success] } else { vec![] };
        h.deliver(mqtide_proto::UnsubAck {
            packet_id: unsubscribe.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        });
        assert!(h.expect_completed(unsub).is_ok());
        h.expect_nothing_sent();

        // The window opens: the QoS 2 publish, then the QoS 0 one behind it.
        h.deliver(Packet::PubAck(ack(first.packet_id.unwrap())));
        assert!(h.expect_completed(one).is_ok());
        let second = h.expect_publish();
        assert_eq!((second.payload.as_ref(), second.qos), (&b"2"[..], QoS::ExactlyOnce));
        let third = h.expect_publish();
        assert_eq!((third.payload.as_ref(), third.qos), (&b"3"[..], QoS::AtMostOnce));
        assert!(h.expect_completed(qos0).is_ok());
        h.expect_nothing_sent();
    }
}

each_version! {
    /// Requests queued while offline: at CONNACK the window admits one
    /// publish; the subscription queued behind the others still goes out
    /// at once, and the publishes keep their order.
    fn control_packets_queued_offline_pass_held_publishes(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.v3_inflight = 1;
        let mut h = Harness::new(config);
        h.publish("t", b"1", QoS::AtLeastOnce);
        h.publish("t", b"2", QoS::AtLeastOnce);
        h.publish("t", b"3", QoS::AtMostOnce);
        subscribe(&mut h, "replies/#");
        let mut connack = ConnAck::new(false);
        if version.is_v5() {
            connack.properties.receive_maximum = NonZeroU16::new(1);
        }
        h.open(connack);
        let first = h.expect_publish();
        assert_eq!(first.payload.as_ref(), b"1");
        assert!(matches!(h.expect_sent(), Packet::Subscribe(_)));
        h.expect_nothing_sent();
        h.deliver(Packet::PubAck(ack(first.packet_id.unwrap())));
        assert_eq!(h.expect_publish().payload.as_ref(), b"2");
        assert_eq!(h.expect_publish().payload.as_ref(), b"3");
        h.expect_nothing_sent();
    }
}
