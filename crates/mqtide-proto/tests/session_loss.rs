//! A session the server did not keep (Session Present 0): QoS 1 publishes
//! in flight are sent again as new messages and complete with the new
//! acknowledgement (at least once, by default); QoS 2 ones fail as
//! indeterminate; and a durable store stays consistent across crashes in
//! between.

mod harness;

use std::num::{NonZeroU16, NonZeroU32};

use harness::{Harness, ack};
use mqtide_proto::{
    AckMode, ConnAck, Event, Packet, ProtocolVersion, QoS, RequestError, Session, SessionConfig,
    StoreChange, StoredSession, UsageError,
};

fn persistent(version: ProtocolVersion) -> SessionConfig {
    let mut config = Harness::config(version);
    config.clean_start = false;
    if version.is_v5() {
        config.properties.session_expiry_interval = Some(600);
    }
    config
}

fn durable(version: ProtocolVersion) -> SessionConfig {
    let mut config = persistent(version);
    config.durable = true;
    config.ack_mode = AckMode::Manual;
    config
}

/// A CONNACK without a session, with a send window of `window` (5.0).
fn no_session(version: ProtocolVersion, window: u16) -> ConnAck {
    let mut connack = ConnAck::new(false);
    if version.is_v5() {
        connack.properties.receive_maximum = NonZeroU16::new(window);
    }
    connack
}

fn persist(h: &mut Harness, store: &mut StoredSession) {
    for change in h.session.drain_store_changes() {
        store.apply(&change);
    }
}

each_version! {
    /// With the default clean start, every reconnect loses the session: a
    /// QoS 1 publish in flight still completes, with the acknowledgement
    /// of its second copy.
    fn clean_start_reconnects_send_qos1_again(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let id = h.publish("a", b"1", QoS::AtLeastOnce);
        let first = h.expect_publish();
        for _ in 0..3 {
            h.lose_connection();
            h.expect_disconnected();
            h.open(ConnAck::new(false));
            let again = h.expect_publish();
            assert_eq!((again.topic.as_ref(), again.dup), ("a", false));
            assert_eq!(again.payload, first.payload);
            h.expect_no_event();
        }
        let again = h.session.inflight();
        assert_eq!(again, 1);
        h.deliver(Packet::PubAck(ack(first.packet_id.unwrap())));
        assert!(h.expect_completed(id).is_ok());
        assert_eq!(h.session.inflight(), 0);
    }
}

each_version! {
    /// `resend_qos1_on_session_loss` off: the behaviour before it existed,
    /// QoS 1 fails with `SessionLost` like QoS 2.
    fn the_switch_off_fails_qos1_as_indeterminate(version: ProtocolVersion) {
        let mut config = persistent(version);
        config.resend_qos1_on_session_loss = false;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        let a = h.publish("a", b"1", QoS::AtLeastOnce);
        h.expect_publish();
        h.lose_connection();
        h.expect_disconnected();
        h.open(ConnAck::new(false));
        let error = h.expect_completed(a).unwrap_err();
        assert_eq!(error, RequestError::SessionLost);
        assert!(error.to_string().contains("indeterminate"), "{error}");
        h.expect_nothing_sent();
    }
}

each_version! {
    /// The publishes sent again wait for the new server's window, in their
    /// first order and ahead of what was queued behind them, and each
    /// keeps the packet identifier it holds (the new session uses none).
    fn sent_again_in_order_within_the_new_window(version: ProtocolVersion) {
        let mut config = persistent(version);
        config.v3_inflight = 2;
        let mut connack = ConnAck::new(false);
        if version.is_v5() {
            connack.properties.receive_maximum = NonZeroU16::new(2);
        }
        let mut h = Harness::connected_with(config, connack);
        let requests: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|topic| h.publish(topic, b"x", QoS::AtLeastOnce))
            .collect();
        let (a, b) = (h.expect_publish(), h.expect_publish());
        h.expect_nothing_sent();
        h.lose_connection();
        h.expect_disconnected();
        // 5.0: the new server takes one at a time.
        let window = if version.is_v5() { 1 } else { 2 };
        h.open(no_session(version, 1));
        let again_a = h.expect_publish();
        assert_eq!((again_a.topic.as_ref(), again_a.packet_id, again_a.dup), ("a", a.packet_id, false));
        if window == 2 {
            let again_b = h.expect_publish();
            assert_eq!((again_b.topic.as_ref(), again_b.packet_id), ("b", b.packet_id));
        }
        h.expect_nothing_sent();
        h.deliver(Packet::PubAck(ack(a.packet_id.unwrap())));
        assert!(h.expect_completed(requests[0]).is_ok());
        if window == 1 {
            let again_b = h.expect_publish();
            assert_eq!((again_b.topic.as_ref(), again_b.packet_id), ("b", b.packet_id));
            h.expect_nothing_sent();
        }
        h.deliver(Packet::PubAck(ack(b.packet_id.unwrap())));
        assert!(h.expect_completed(requests[1]).is_ok());
        let c = h.expect_publish();
        assert_eq!((c.topic.as_ref(), c.dup), ("c", false));
        h.deliver(Packet::PubAck(ack(c.packet_id.unwrap())));
        assert!(h.expect_completed(requests[2]).is_ok());
        h.expect_no_event();
    }
}

/// 5.0: a publish sent again meets the new server's limits, as any queued
/// publish does: one above its Maximum Packet Size fails with `NotAllowed`,
/// and nothing of it is left in flight or queued.
#[test]
fn sent_again_within_the_new_servers_limits() {
    let version = ProtocolVersion::V5;
    let mut h = Harness::connected_with(persistent(version), ConnAck::new(false));
    let big = h.publish("a", &[b'x'; 200], QoS::AtLeastOnce);
    h.expect_publish();
    h.lose_connection();
    h.expect_disconnected();
    let mut connack = ConnAck::new(false);
    connack.properties.maximum_packet_size = NonZeroU32::new(100);
    h.open(connack);
    match h.expect_completed(big) {
        Err(RequestError::NotAllowed(UsageError::PacketTooLarge { maximum: 100, .. })) => {}
        other => panic!("expected PacketTooLarge, got {other:?}"),
    }
    h.expect_nothing_sent();
    assert_eq!((h.session.inflight(), h.session.queued()), (0, 0));
    let next = h.publish("b", b"small", QoS::AtLeastOnce);
    let b = h.expect_publish();
    h.deliver(Packet::PubAck(ack(b.packet_id.unwrap())));
    assert!(h.expect_completed(next).is_ok());
}

each_version! {
    /// With a store: a QoS 1 publish sent again keeps its record (same
    /// acceptance number, same identifier), and the store is forgotten only
    /// at the new acknowledgement. A crash before it went out again
    /// resumes it as a publish in flight; a crash while others wait for the
    /// window never finds two flows under one identifier.
    fn sent_again_keeps_its_store_record(version: ProtocolVersion) {
        let mut store = StoredSession::default();
        let mut config = durable(version);
        config.v3_inflight = 2;
        let mut h = Harness::connected_with(config.clone(), no_session(version, 2));
        h.publish("a", b"1", QoS::AtLeastOnce);
        h.publish("b", b"2", QoS::AtLeastOnce);
        h.publish("q2", b"3", QoS::ExactlyOnce);
        let (a, b) = (h.expect_publish(), h.expect_publish());
        persist(&mut h, &mut store);
        assert_eq!(store.outgoing.len(), 3);
        assert_eq!(store.last_seq, 3);
        h.lose_connection();
        h.expect_disconnected();
        // The new server takes one at a time (5.0), and the QoS 2 publish
        // that waited in the queue goes out behind them as new.
        h.open(no_session(version, 1));
        let changes: Vec<StoreChange> = h.session.drain_store_changes().collect();
        for change in &changes {
            assert!(
                !matches!(change, StoreChange::PublishDone { .. } | StoreChange::PublishAccepted { .. }),
                "a publish sent again keeps its record: {changes:?}"
            );
            store.apply(change);
        }
        let again = h.expect_publish();
        assert_eq!((again.topic.as_ref(), again.packet_id), ("a", a.packet_id));
        let v5 = version.is_v5();
        if !v5 {
            assert_eq!(h.expect_publish().packet_id, b.packet_id);
        }
        h.expect_nothing_sent();
        assert_eq!(store.outgoing[&1].packet_id, a.packet_id);
        assert_eq!(store.outgoing[&2].packet_id, b.packet_id);
        assert_eq!(store.last_seq, 3);

        // A crash now: both come back in flight under their identifiers.
        let mut restored = Harness::new(config.clone());
        restored.session = Session::restore(config.clone(), store.clone()).unwrap();
        assert_eq!(restored.session.inflight(), 2);
        assert_eq!(restored.session.last_accepted(), 3);
        // Resumed by a server that has a session now: resent with DUP.
        restored.open(ConnAck::new(true));
        let resent = restored.expect_publish();
        assert_eq!((resent.topic.as_ref(), resent.dup, resent.packet_id), ("a", true, a.packet_id));

        // Back to the first process: each acknowledgement ends its record.
        h.deliver(Packet::PubAck(ack(a.packet_id.unwrap())));
        persist(&mut h, &mut store);
        assert!(!store.outgoing.contains_key(&1));
        assert_eq!(h.sent_topics(), if v5 { ["b"] } else { ["q2"] });
        h.deliver(Packet::PubAck(ack(b.packet_id.unwrap())));
        persist(&mut h, &mut store);
        assert!(!store.outgoing.contains_key(&2));
        let rest: Vec<String> = h.sent_topics();
        assert_eq!(rest, if v5 { vec!["q2"] } else { Vec::<&str>::new() });
        assert_eq!(h.take_events().len(), 2);
        assert_eq!(store.outgoing.keys().copied().collect::<Vec<_>>(), [3]);
        assert!(Session::<std::time::Instant>::restore(config, store.clone()).is_ok());
    }
}

each_version! {
    /// After a restart from the store, a server without a session: QoS 1
    /// is sent again and completes; QoS 2 fails as indeterminate and is
    /// forgotten.
    fn restored_flights_meet_a_lost_session(version: ProtocolVersion) {
        let mut store = StoredSession::default();
        let config = durable(version);
        let mut h = Harness::connected_with(config.clone(), ConnAck::new(false));
        h.publish("a", b"1", QoS::AtLeastOnce);
        h.publish("b", b"2", QoS::ExactlyOnce);
        h.expect_publish();
        h.expect_publish();
        persist(&mut h, &mut store);
        drop(h);

        let mut h = Harness::new(config.clone());
        h.session = Session::restore(config, store.clone()).unwrap();
        h.open(ConnAck::new(false));
        let events = h.take_events();
        let failed: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::Completed { outcome: Err(RequestError::SessionLost), .. }))
            .collect();
        assert_eq!(failed.len(), 1, "{events:?}");
        let again = h.expect_publish();
        assert_eq!((again.topic.as_ref(), again.dup), ("a", false));
        h.expect_nothing_sent();
        persist(&mut h, &mut store);
        assert_eq!(store.outgoing.keys().copied().collect::<Vec<_>>(), [1]);
        h.deliver(Packet::PubAck(ack(again.packet_id.unwrap())));
        assert!(matches!(h.expect_event(), Event::Completed { outcome: Ok(_), .. }));
        persist(&mut h, &mut store);
        assert!(store.outgoing.is_empty(), "{store:?}");
    }
}
