//! Resuming a session on a new connection: what is resent, in which order,
//! and what fails when the server kept nothing.

mod harness;

use harness::{Harness, ack};
use mqtide_proto::{ConnAck, Packet, ProtocolVersion, QoS, RequestError};

fn persistent(version: ProtocolVersion) -> Harness {
    let mut config = Harness::config(version);
    config.clean_start = false;
    if version.is_v5() {
        config.properties.session_expiry_interval = Some(600);
    }
    Harness::connected_with(config, ConnAck::new(false))
}

each_version! {
    /// [MQTT-4.4.0-1]: on a resumed session, unacknowledged PUBLISHes are
    /// resent with DUP set and PUBRELs for those past PUBREC, in their
    /// original order, before anything new.
    fn resumed_session_resends_in_order_with_dup(version: ProtocolVersion) {
        let mut h = persistent(version);
        let a = h.publish("a", b"1", QoS::AtLeastOnce);
        let b = h.publish("b", b"2", QoS::ExactlyOnce);
        let c = h.publish("c", b"3", QoS::ExactlyOnce);
        let (pa, pb, pc) = (h.expect_publish(), h.expect_publish(), h.expect_publish());
        h.deliver(Packet::PubRec(ack(pb.packet_id.unwrap())));
        assert!(matches!(h.expect_sent(), Packet::PubRel(_)));
        h.lose_connection();
        assert!(matches!(h.expect_disconnected(), mqtide_proto::ConnectionError::ConnectionLost));
        // Published while disconnected: waits behind the resends.
        let d = h.publish("d", b"4", QoS::AtLeastOnce);
        h.expect_nothing_sent();

        let connected = h.open(ConnAck::new(true));
        assert!(connected.session_present);
        let resent_a = h.expect_publish();
        assert!(resent_a.dup);
        assert_eq!((resent_a.topic.as_ref(), resent_a.packet_id), ("a", pa.packet_id));
        assert_eq!(h.expect_sent(), Packet::PubRel(ack(pb.packet_id.unwrap())));
        let resent_c = h.expect_publish();
        assert!(resent_c.dup);
        assert_eq!(resent_c.packet_id, pc.packet_id);
        let new_d = h.expect_publish();
        assert_eq!((new_d.topic.as_ref(), new_d.dup), ("d", false));

        h.deliver(Packet::PubAck(ack(pa.packet_id.unwrap())));
        h.expect_completed(a).unwrap();
        h.deliver(Packet::PubComp(ack(pb.packet_id.unwrap())));
        h.expect_completed(b).unwrap();
        h.deliver(Packet::PubRec(ack(pc.packet_id.unwrap())));
        h.expect_sent();
        h.deliver(Packet::PubComp(ack(pc.packet_id.unwrap())));
        h.expect_completed(c).unwrap();
        h.deliver(Packet::PubAck(ack(new_d.packet_id.unwrap())));
        h.expect_completed(d).unwrap();
    }
}

each_version! {
    /// When the server kept no session, a QoS 2 publish in flight is
    /// reported failed, never resent as a new message: resending a QoS 2
    /// message the subscriber may already have is how duplicates happen. A
    /// QoS 1 publish in flight is sent again as a new message, ahead of
    /// what was queued, and completes with the new acknowledgement.
    fn session_not_present_fails_qos2_and_sends_qos1_again(version: ProtocolVersion) {
        let mut h = persistent(version);
        let a = h.publish("a", b"1", QoS::AtLeastOnce);
        let b = h.publish("b", b"2", QoS::ExactlyOnce);
        h.expect_publish();
        h.expect_publish();
        h.lose_connection();
        h.expect_disconnected();
        let queued = h.publish("c", b"3", QoS::AtLeastOnce);
        let connected = h.open(ConnAck::new(false));
        assert!(!connected.session_present);
        assert_eq!(h.expect_completed(b), Err(RequestError::SessionLost));
        let again = h.expect_publish();
        assert_eq!((again.topic.as_ref(), again.dup), ("a", false));
        // Never sent before, so not affected: it goes out now, after it.
        let c = h.expect_publish();
        assert_eq!((c.topic.as_ref(), c.dup), ("c", false));
        h.expect_nothing_sent();
        h.deliver(Packet::PubAck(ack(again.packet_id.unwrap())));
        h.expect_completed(a).unwrap();
        h.deliver(Packet::PubAck(ack(c.packet_id.unwrap())));
        h.expect_completed(queued).unwrap();
    }
}

each_version! {
    /// Subscription changes awaiting an answer are not resent: they fail
    /// when the connection goes.
    fn pending_subscribe_fails_on_connection_loss(version: ProtocolVersion) {
        use mqtide_proto::{SubscriptionOptions, TopicFilter};
        let mut h = persistent(version);
        let id = h
            .session
            .subscribe(vec![(TopicFilter::new("x/#").unwrap(), SubscriptionOptions::new(QoS::AtLeastOnce))], Default::default(), h.now)
            .unwrap();
        h.drain();
        assert!(matches!(h.expect_sent(), Packet::Subscribe(_)));
        h.lose_connection();
        assert_eq!(h.expect_completed(id), Err(RequestError::ConnectionLost));
        h.expect_disconnected();
    }
}
