//! A durable session: the changes it records, and a session restored from
//! them after a "crash" (the old session dropped at any point) resuming
//! every flow without losing an accepted publish or delivering an
//! acknowledged QoS 2 message twice.

mod harness;

use std::time::Instant;

use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{
    AckMode, AckToken, ConnAck, Event, IncomingState, Packet, ProtocolVersion, QoS, RequestError,
    RestoreError, Session, SessionConfig, StoreChange, StoredPublish, StoredSession,
};

fn durable_config(version: ProtocolVersion) -> SessionConfig {
    let mut config = Harness::config(version);
    config.clean_start = false;
    config.durable = true;
    config.ack_mode = AckMode::Manual;
    if version.is_v5() {
        config.properties.session_expiry_interval = Some(600);
    }
    config
}

/// Applies every change recorded so far to `store`, as a driver must
/// before writing the bytes of the same step.
fn persist(h: &mut Harness, store: &mut StoredSession) {
    for change in h.session.drain_store_changes() {
        store.apply(&change);
    }
}

/// The acknowledgement tokens of the messages delivered so far, in order.
fn ack_tokens(h: &mut Harness) -> Vec<AckToken> {
    h.take_events()
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m.ack.unwrap(),
            other => panic!("expected a message, got {other:?}"),
        })
        .collect()
}

/// A new process: a session restored from `store`, not yet connected.
fn restart(version: ProtocolVersion, store: &StoredSession) -> Harness {
    let mut h = Harness::new(durable_config(version));
    h.session = Session::<Instant>::restore(durable_config(version), store.clone()).unwrap();
    h
}

each_version! {
    /// Each outgoing flow is resumed from where the store left it: an
    /// unacknowledged QoS 1 and an unreceived QoS 2 as PUBLISH with DUP and
    /// their packet identifiers, a QoS 2 past PUBREC as PUBREL only (a
    /// second PUBLISH would be a duplicate), and one never sent as new.
    fn outgoing_flows_resume_where_the_store_left_them(version: ProtocolVersion) {
        let mut store = StoredSession::default();
        let mut h = Harness::connected_with(durable_config(version), ConnAck::new(false));
        h.publish("a", b"1", QoS::AtLeastOnce);
        h.publish("b", b"2", QoS::ExactlyOnce);
        h.publish("c", b"3", QoS::ExactlyOnce);
        persist(&mut h, &mut store);
        let (pa, pb, pc) = (h.expect_publish(), h.expect_publish(), h.expect_publish());
        h.deliver(Packet::PubRec(ack(pc.packet_id.unwrap())));
        persist(&mut h, &mut store);
        assert!(matches!(h.expect_sent(), Packet::PubRel(_)));
        h.lose_connection();
        h.publish("d", b"4", QoS::AtLeastOnce);
        persist(&mut h, &mut store);
        assert_eq!(store.last_seq, 4);
        assert_eq!(store.outgoing.len(), 4);
        drop(h);

        let mut h = restart(version, &store);
        assert_eq!(h.session.inflight(), 3);
        assert_eq!(h.session.queued(), 1);
        h.open(ConnAck::new(true));
        let resent_a = h.expect_publish();
        assert!(resent_a.dup);
        assert_eq!((resent_a.topic.as_ref(), resent_a.packet_id), ("a", pa.packet_id));
        let resent_b = h.expect_publish();
        assert!(resent_b.dup);
        assert_eq!((resent_b.payload.as_ref(), resent_b.packet_id), (&b"2"[..], pb.packet_id));
        match h.expect_sent() {
            Packet::PubRel(rel) => assert_eq!(Some(rel.packet_id), pc.packet_id),
            other => panic!("expected PUBREL for c, got {other:?}"),
        }
        let d = h.expect_publish();
        assert!(!d.dup);
        assert_eq!(&*d.topic, "d");
        h.expect_nothing_sent();
        persist(&mut h, &mut store);

        // Every flow completes; the store ends empty but for the count.
        h.deliver(Packet::PubAck(ack(pa.packet_id.unwrap())));
        h.deliver(Packet::PubRec(ack(pb.packet_id.unwrap())));
        assert!(matches!(h.expect_sent(), Packet::PubRel(_)));
        h.deliver(Packet::PubComp(ack(pb.packet_id.unwrap())));
        h.deliver(Packet::PubComp(ack(pc.packet_id.unwrap())));
        h.deliver(Packet::PubAck(ack(d.packet_id.unwrap())));
        persist(&mut h, &mut store);
        assert!(store.outgoing.is_empty(), "{store:?}");
        assert_eq!(store.last_seq, 4);
        // The next publish goes on from the stored count.
        h.publish("e", b"5", QoS::AtLeastOnce);
        persist(&mut h, &mut store);
        assert_eq!(store.last_seq, 5);
    }
}

each_version! {
    /// An incoming QoS 2 message the application acknowledged before the
    /// crash is answered, never delivered again, when the server resends
    /// it; one it never acknowledged is delivered again.
    fn incoming_qos2_is_delivered_again_only_if_never_acknowledged(version: ProtocolVersion) {
        let mut store = StoredSession::default();
        let mut h = Harness::connected_with(durable_config(version), ConnAck::new(false));
        h.deliver(incoming("t", QoS::ExactlyOnce, 7));
        h.deliver(incoming("t", QoS::ExactlyOnce, 8));
        let tokens = ack_tokens(&mut h);
        h.session.ack(tokens[0], h.now).unwrap();
        h.drain();
        persist(&mut h, &mut store);
        assert!(matches!(h.expect_sent(), Packet::PubRec(_)));
        assert_eq!(store.incoming.get(&7), Some(&IncomingState::Acknowledged));
        assert_eq!(store.incoming.get(&8), Some(&IncomingState::Received));
        drop(h);

        let mut h = restart(version, &store);
        h.open(ConnAck::new(true));
        let mut resent_7 = incoming("t", QoS::ExactlyOnce, 7);
        resent_7.dup = true;
        h.deliver(resent_7);
        assert!(matches!(h.expect_sent(), Packet::PubRec(r) if r.packet_id == pid(7)));
        h.expect_no_event();
        let mut resent_8 = incoming("t", QoS::ExactlyOnce, 8);
        resent_8.dup = true;
        h.deliver(resent_8.clone());
        h.expect_nothing_sent();
        let token = match h.expect_event() {
            Event::Message(m) => m.ack.unwrap(),
            other => panic!("expected the redelivery, got {other:?}"),
        };
        // A second resend while the application holds it is not delivered.
        h.deliver(resent_8);
        h.expect_no_event();
        h.session.ack(token, h.now).unwrap();
        h.drain();
        assert!(matches!(h.expect_sent(), Packet::PubRec(r) if r.packet_id == pid(8)));
        h.deliver(Packet::PubRel(ack(pid(7))));
        h.deliver(Packet::PubRel(ack(pid(8))));
        assert!(matches!(h.expect_sent(), Packet::PubComp(_)));
        assert!(matches!(h.expect_sent(), Packet::PubComp(_)));
        persist(&mut h, &mut store);
        assert!(store.incoming.is_empty(), "{store:?}");
    }
}

each_version! {
    /// An acknowledgement is stored when the application gives it, even
    /// when its PUBREC must wait: behind an earlier unacknowledged message,
    /// or for a connection.
    fn an_acknowledgement_is_stored_before_its_pubrec_can_go(version: ProtocolVersion) {
        let mut store = StoredSession::default();
        let mut h = Harness::connected_with(durable_config(version), ConnAck::new(false));
        for id in [7, 8, 9] {
            h.deliver(incoming("t", QoS::ExactlyOnce, id));
        }
        let tokens = ack_tokens(&mut h);
        // Out of order: 8's PUBREC waits for 7's.
        h.session.ack(tokens[1], h.now).unwrap();
        h.drain();
        h.expect_nothing_sent();
        persist(&mut h, &mut store);
        assert_eq!(store.incoming.get(&8), Some(&IncomingState::Acknowledged));
        // Offline: nothing can be sent, the acknowledgement is stored.
        h.session.handle_connection_lost(h.now);
        h.drain();
        h.session.ack(tokens[2], h.now).unwrap();
        persist(&mut h, &mut store);
        assert_eq!(store.incoming.get(&9), Some(&IncomingState::Acknowledged));
        assert_eq!(store.incoming.get(&7), Some(&IncomingState::Received));
    }
}

each_version! {
    /// When the server kept no session, resumed flows fail with
    /// `SessionLost` (not resent as new) and the store forgets them.
    fn a_lost_server_session_empties_the_store(version: ProtocolVersion) {
        let mut store = StoredSession::default();
        let mut h = Harness::connected_with(durable_config(version), ConnAck::new(false));
        h.publish("a", b"1", QoS::ExactlyOnce);
        h.deliver(incoming("t", QoS::ExactlyOnce, 3));
        persist(&mut h, &mut store);
        drop(h);

        let mut h = restart(version, &store);
        h.open(ConnAck::new(false));
        let failed = h.take_events();
        assert!(
            failed.iter().any(|e| matches!(
                e,
                Event::Completed { outcome: Err(RequestError::SessionLost), .. }
            )),
            "{failed:?}"
        );
        h.expect_nothing_sent();
        persist(&mut h, &mut store);
        assert!(store.outgoing.is_empty() && store.incoming.is_empty(), "{store:?}");
    }
}

/// Without `durable`, nothing is recorded.
#[test]
fn a_session_that_is_not_durable_records_nothing() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.durable = false;
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    h.publish("a", b"1", QoS::ExactlyOnce);
    h.deliver(incoming("t", QoS::ExactlyOnce, 3));
    assert!(!h.session.has_store_changes());
}

/// QoS 0 publishes are never stored; a QoS 1 publish refused before it
/// went out leaves no trace.
#[test]
fn qos0_is_not_stored_and_refused_publishes_are_forgotten() {
    let mut store = StoredSession::default();
    let mut config = durable_config(ProtocolVersion::V5);
    config.ack_mode = AckMode::Auto;
    let mut h = Harness::new(config);
    h.publish("a", b"0", QoS::AtMostOnce);
    h.publish("b", b"1", QoS::AtLeastOnce);
    persist(&mut h, &mut store);
    assert_eq!(store.outgoing.len(), 1);
    // The server allows only QoS 0: the queued QoS 1 publish is refused.
    let mut connack = ConnAck::new(false);
    connack.properties.maximum_qos = Some(QoS::AtMostOnce);
    h.session.handle_connected(h.now);
    h.drain();
    let _connect = h.expect_sent();
    h.deliver(connack);
    persist(&mut h, &mut store);
    assert!(store.outgoing.is_empty(), "{store:?}");
}

/// A store that contradicts itself is refused with a typed error, never
/// resumed into a broken session.
#[test]
fn inconsistent_stores_are_refused() {
    let config = durable_config(ProtocolVersion::V5);
    let mut publish = mqtide_proto::Publish::new("a", "x");
    publish.qos = QoS::AtLeastOnce;
    let flight = |seq, packet_id, released| StoredPublish {
        seq,
        publish: publish.clone(),
        packet_id,
        released,
    };
    let mut store = StoredSession {
        last_seq: 2,
        ..Default::default()
    };
    store.outgoing.insert(1, flight(1, Some(pid(5)), false));
    store.outgoing.insert(2, flight(2, Some(pid(5)), false));
    assert_eq!(
        Session::<Instant>::restore(config.clone(), store.clone()).unwrap_err(),
        RestoreError::DuplicatePacketId(5)
    );
    store.outgoing.remove(&2);
    store.outgoing.insert(1, flight(1, Some(pid(5)), true));
    assert_eq!(
        Session::<Instant>::restore(config.clone(), store.clone()).unwrap_err(),
        RestoreError::BadRelease(1)
    );
    store.outgoing.insert(1, flight(1, None, false));
    store.last_seq = 0;
    assert!(matches!(
        Session::<Instant>::restore(config.clone(), store.clone()).unwrap_err(),
        RestoreError::SeqAboveLast { seq: 1, last: 0 }
    ));
    store.last_seq = 1;
    assert!(Session::<Instant>::restore(config, store).is_ok());
}

/// An assigned client identifier is stored and reused by the restored
/// session when the configuration leaves the identifier empty.
#[test]
fn an_assigned_client_id_is_kept() {
    let mut store = StoredSession::default();
    let mut config = durable_config(ProtocolVersion::V5);
    config.client_id = "".into();
    let mut connack = ConnAck::new(false);
    connack.properties.assigned_client_identifier = Some("auto-1".into());
    let mut h = Harness::connected_with(config.clone(), connack);
    persist(&mut h, &mut store);
    assert_eq!(store.assigned_client_id.as_deref(), Some("auto-1"));
    let restored = Session::<Instant>::restore(config, store).unwrap();
    assert_eq!(restored.config().client_id, "auto-1");
}

/// Every change has a meaning in `StoredSession::apply`; a change for a
/// flow the store does not hold is ignored rather than invented.
#[test]
fn changes_for_unknown_flows_are_ignored() {
    let mut store = StoredSession::default();
    store.apply(&StoreChange::PublishSent {
        seq: 9,
        packet_id: pid(1),
    });
    store.apply(&StoreChange::PublishReleased { seq: 9 });
    store.apply(&StoreChange::PublishDone { seq: 9 });
    assert!(store.is_empty());
}
