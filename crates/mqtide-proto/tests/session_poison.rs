//! Poison publishes: a server that closes the connection whenever a
//! certain publish reaches it would have it resent for ever. After
//! `poison_threshold` connections in a row lost with the same publish the
//! oldest in flight, the session fails it with `RequestError::Poisoned`
//! and goes on with the others.

mod harness;

use std::time::Duration;

use harness::{Harness, ack};
use mqtide_proto::{
    ConnAck, ConnectionError, Event, Packet, ProtocolVersion, QoS, RequestError, SessionConfig,
    StoreChange,
};

fn persistent(version: ProtocolVersion, threshold: u32) -> SessionConfig {
    let mut config = Harness::config(version);
    config.clean_start = false;
    config.poison_threshold = threshold;
    if version.is_v5() {
        config.properties.session_expiry_interval = Some(600);
    }
    config
}

/// The connection is lost (its `Disconnected` is checked) and a new one
/// comes up; returns what the session sent on it.
fn bounce(h: &mut Harness, session_present: bool) -> Vec<Packet> {
    h.lose_connection();
    assert_eq!(h.expect_disconnected(), ConnectionError::ConnectionLost);
    h.open(ConnAck::new(session_present));
    h.take_sent()
}

fn topics(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.topic.to_string()),
            _ => None,
        })
        .collect()
}

each_version! {
    /// The default threshold is 5. Whether the server resumes the session
    /// (the publish is resent with DUP) or not (sent again as new), the
    /// fifth loss fails the oldest publish, naming it, and the next one
    /// goes out on its own.
    fn the_fifth_loss_fails_the_oldest_publish(version: ProtocolVersion) {
        for resumed in [true, false] {
            let mut h = Harness::connected_with(persistent(version, 5), ConnAck::new(false));
            let poison = h.publish("poison", b"x", QoS::AtLeastOnce);
            let good = h.publish("good", b"y", QoS::AtLeastOnce);
            assert_eq!(topics(&h.take_sent()), ["poison", "good"]);
            for _ in 0..4 {
                let sent = bounce(&mut h, resumed);
                assert_eq!(topics(&sent), ["poison", "good"], "resumed: {resumed}");
                h.expect_no_event();
            }
            h.lose_connection();
            let outcome = h.expect_completed(poison);
            let expected = RequestError::Poisoned {
                seq: 1,
                topic: "poison".into(),
                connections: 5,
            };
            assert_eq!(outcome, Err(expected.clone()), "resumed: {resumed}");
            assert!(expected.to_string().contains("\"poison\""));
            assert!(!expected.is_retryable());
            h.expect_disconnected();
            h.open(ConnAck::new(resumed));
            let sent = h.take_sent();
            assert_eq!(topics(&sent), ["good"], "resumed: {resumed}");
            let Packet::Publish(good_publish) = &sent[0] else { unreachable!() };
            h.deliver(Packet::PubAck(ack(good_publish.packet_id.unwrap())));
            assert!(h.expect_completed(good).is_ok());
            assert_eq!(h.session.inflight(), 0);
        }
    }
}

each_version! {
    /// The strikes are consecutive losses with the *same* publish the
    /// oldest: once it is acknowledged, the next one starts from none.
    fn the_count_starts_again_for_a_new_oldest(version: ProtocolVersion) {
        let mut h = Harness::connected_with(persistent(version, 3), ConnAck::new(true));
        let a = h.publish("a", b"1", QoS::AtLeastOnce);
        let b = h.publish("b", b"2", QoS::AtLeastOnce);
        h.take_sent();
        let mut sent = Vec::new();
        for _ in 0..2 {
            sent = bounce(&mut h, true);
        }
        // A third loss would give up on `a`: it is acknowledged instead.
        let Packet::Publish(pa) = sent.remove(0) else { panic!() };
        h.deliver(Packet::PubAck(ack(pa.packet_id.unwrap())));
        assert!(h.expect_completed(a).is_ok());
        for _ in 0..2 {
            bounce(&mut h, true);
            h.expect_no_event();
        }
        h.lose_connection();
        assert!(matches!(
            h.expect_completed(b),
            Err(RequestError::Poisoned { seq: 2, connections: 3, .. })
        ));
    }
}

each_version! {
    /// Only connections that got past CONNACK and were lost count: our own
    /// DISCONNECT does not, nor does a connection the server never
    /// answered (the publish was not sent on it).
    fn our_disconnect_and_unanswered_connects_do_not_count(version: ProtocolVersion) {
        let mut h = Harness::connected_with(persistent(version, 2), ConnAck::new(true));
        let poison = h.publish("poison", b"x", QoS::AtLeastOnce);
        h.take_sent();
        h.lose_connection(); // 1
        h.take_events();
        // No CONNACK within the connect timeout.
        h.session.handle_connected(h.now);
        h.drain();
        h.advance(Duration::from_secs(60));
        assert_eq!(h.expect_disconnected(), ConnectionError::ConnectTimeout);
        h.lose_connection();
        // Our own DISCONNECT.
        h.open(ConnAck::new(true));
        h.session
            .disconnect(mqtide_proto::ReasonCode::Success, Default::default(), h.now)
            .unwrap();
        h.drain();
        assert_eq!(h.expect_disconnected(), ConnectionError::Disconnected);
        h.lose_connection();
        h.take_events();
        // The next loss is the second that counts.
        h.open(ConnAck::new(true));
        h.take_sent();
        h.lose_connection();
        assert!(matches!(
            h.expect_completed(poison),
            Err(RequestError::Poisoned { connections: 2, .. })
        ));
    }
}

each_version! {
    /// A QoS 2 poison publish is released rather than forgotten: the
    /// server may hold its packet identifier from an attempt, so the next
    /// resumed connection sends PUBREL for it (never the PUBLISH), and its
    /// PUBCOMP ends the flow with nobody waiting. The store records the
    /// release, then the end.
    fn a_qos2_poison_publish_is_released(version: ProtocolVersion) {
        let mut config = persistent(version, 2);
        config.durable = true;
        let mut h = Harness::connected_with(config, ConnAck::new(true));
        let poison = h.publish("poison", b"x", QoS::ExactlyOnce);
        let Packet::Publish(first) = h.expect_sent() else { panic!() };
        let id = first.packet_id.unwrap();
        bounce(&mut h, true);
        h.take_events();
        h.session.drain_store_changes().for_each(drop);
        h.lose_connection();
        assert!(matches!(h.expect_completed(poison), Err(RequestError::Poisoned { .. })));
        let changes: Vec<_> = h.session.drain_store_changes().collect();
        assert_eq!(changes, [StoreChange::PublishReleased { seq: 1 }]);
        h.take_events();
        h.open(ConnAck::new(true));
        assert_eq!(h.take_sent(), [Packet::PubRel(ack(id))]);
        h.deliver(Packet::PubComp(ack(id)));
        h.expect_no_event();
        assert_eq!(h.session.inflight(), 0);
        let changes: Vec<_> = h.session.drain_store_changes().collect();
        assert_eq!(changes, [StoreChange::PublishDone { seq: 1 }]);
    }
}

/// A threshold of 0 never gives up.
#[test]
fn a_threshold_of_zero_never_gives_up() {
    let mut h = Harness::connected_with(persistent(ProtocolVersion::V5, 0), ConnAck::new(true));
    let id = h.publish("poison", b"x", QoS::AtLeastOnce);
    h.take_sent();
    for _ in 0..50 {
        assert_eq!(topics(&bounce(&mut h, true)), ["poison"]);
        assert!(
            !h.take_events()
                .iter()
                .any(|e| matches!(e, Event::Completed { id: got, .. } if *got == id))
        );
    }
}
