//! Outgoing publishes: QoS 0, 1 and 2 flows, reason codes, packet
//! identifiers, the in-flight window and the bounded queue.

mod harness;

use std::collections::HashSet;
use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use harness::{Harness, ack, pid};
use mqtide_proto::{
    Completion, ConnAck, Event, Packet, ProtocolVersion, Publish, QoS, QoSPolicy, ReasonCode,
    RequestError, SessionConfig, UsageError,
};

fn published(outcome: Result<Completion, RequestError>) -> ReasonCode {
    match outcome {
        Ok(Completion::Published { reason_code, .. }) => reason_code,
        other => panic!("expected Published, got {other:?}"),
    }
}

each_version! {
    /// QoS 0 completes once written; no packet identifier ([MQTT-2.2.1-2]).
    fn qos0_completes_when_written(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let id = h.publish("a/b", b"x", QoS::AtMostOnce);
        let p = h.expect_publish();
        assert_eq!((p.qos, p.packet_id, p.dup), (QoS::AtMostOnce, None, false));
        assert_eq!(published(h.expect_completed(id)), ReasonCode::Success);
    }
}

each_version! {
    /// QoS 1 completes on PUBACK, not before (spec §4.3.2).
    fn qos1_completes_on_puback(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let id = h.publish("a/b", b"x", QoS::AtLeastOnce);
        let p = h.expect_publish();
        assert_eq!(p.qos, QoS::AtLeastOnce);
        let packet_id = p.packet_id.expect("QoS 1 carries a packet identifier");
        h.expect_no_event();
        h.deliver(Packet::PubAck(ack(packet_id)));
        assert_eq!(published(h.expect_completed(id)), ReasonCode::Success);
        assert_eq!(h.session.inflight(), 0);
    }
}

each_version! {
    /// The PUBLISH of a flight is encoded from the flight when it is
    /// written. A broken broker that acknowledges it before then completes
    /// it, and the answered message is not written after its answer.
    fn a_flight_answered_before_it_is_written_is_not_written(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let mut p = Publish::new("a/b", Bytes::from_static(b"x"));
        p.qos = QoS::AtLeastOnce;
        let id = h.session.publish(p, h.now).unwrap();
        h.deliver(Packet::PubAck(ack(pid(1))));
        assert_eq!(published(h.expect_completed(id)), ReasonCode::Success);
        h.expect_nothing_sent();
        assert_eq!(h.session.inflight(), 0);
    }
}

each_version! {
    /// QoS 2: PUBLISH, PUBREC, PUBREL, PUBCOMP; completes on PUBCOMP only
    /// (spec §4.3.3).
    fn qos2_completes_on_pubcomp(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let id = h.publish("a/b", b"x", QoS::ExactlyOnce);
        let packet_id = h.expect_publish().packet_id.unwrap();
        h.deliver(Packet::PubRec(ack(packet_id)));
        assert_eq!(h.expect_sent(), Packet::PubRel(ack(packet_id)));
        h.expect_no_event();
        h.deliver(Packet::PubComp(ack(packet_id)));
        assert_eq!(published(h.expect_completed(id)), ReasonCode::Success);
    }
}

#[test]
fn v5_ack_reason_codes_reach_the_completion() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let ok = h.publish("a", b"x", QoS::AtLeastOnce);
    let refused = h.publish("b", b"x", QoS::AtLeastOnce);
    let (p1, p2) = (
        h.expect_publish().packet_id.unwrap(),
        h.expect_publish().packet_id.unwrap(),
    );
    let mut a1 = ack(p1);
    a1.reason_code = ReasonCode::NoMatchingSubscribers;
    let mut a2 = ack(p2);
    a2.reason_code = ReasonCode::NotAuthorized;
    a2.properties.reason_string = Some("acl".into());
    h.deliver(Packet::PubAck(a1));
    h.deliver(Packet::PubAck(a2));
    assert_eq!(
        published(h.expect_completed(ok)),
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        h.expect_completed(refused),
        Err(RequestError::Rejected {
            reason_code: ReasonCode::NotAuthorized,
            reason_string: Some("acl".into())
        })
    );
}

#[test]
fn v5_pubrec_with_an_error_ends_the_flow_without_pubrel() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let id = h.publish("a", b"x", QoS::ExactlyOnce);
    let packet_id = h.expect_publish().packet_id.unwrap();
    let mut rec = ack(packet_id);
    rec.reason_code = ReasonCode::QuotaExceeded;
    h.deliver(Packet::PubRec(rec));
    h.expect_nothing_sent();
    let outcome = h.expect_completed(id);
    assert!(
        matches!(&outcome, Err(e @ RequestError::Rejected { reason_code: ReasonCode::QuotaExceeded, .. }) if e.is_retryable())
    );
    // The identifier is free again and the window has room.
    assert_eq!(h.session.inflight(), 0);
}

each_version! {
    /// Packet identifiers are never reused while in flight ([MQTT-2.2.1-3]).
    fn packet_ids_are_unique_while_in_flight(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.v3_inflight = 100;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        let mut seen = HashSet::new();
        for _ in 0..100 {
            h.publish("t", b"x", QoS::AtLeastOnce);
            assert!(seen.insert(h.expect_publish().packet_id.unwrap()));
        }
        // Handed out in rising order from 1.
        assert_eq!(seen, (1..=100).map(pid).collect());
        // Completing one frees its identifier; the next publish may not
        // take any identifier still in flight.
        let first = pid(1);
        h.deliver(Packet::PubAck(ack(first)));
        h.expect_event();
        h.publish("t", b"x", QoS::AtLeastOnce);
        let next = h.expect_publish().packet_id.unwrap();
        assert!(next == first || !seen.contains(&next));
    }
}

/// The server's Receive Maximum (5.0) or the configured 3.1.1 window caps
/// what is in flight; the rest waits, in order ([MQTT-3.3.4-7]).
#[test]
fn window_honours_receive_maximum_and_keeps_order() {
    for (version, window) in [(ProtocolVersion::V5, 2u16), (ProtocolVersion::V3_1_1, 2)] {
        let mut config = Harness::config(version);
        config.v3_inflight = window;
        let mut connack = ConnAck::new(false);
        if version.is_v5() {
            connack.properties.receive_maximum = NonZeroU16::new(window);
        }
        let mut h = Harness::connected_with(config, connack);
        let ids: Vec<_> = ["m1", "m2", "m3", "m4"]
            .iter()
            .map(|t| h.publish(t, b"x", QoS::ExactlyOnce))
            .collect();
        let first = h.expect_publish();
        let second = h.expect_publish();
        h.expect_nothing_sent();
        assert_eq!((h.session.inflight(), h.session.queued()), (2, 2));
        // A QoS 0 publish queues behind them too: order is kept.
        let q0 = h.publish("m5", b"x", QoS::AtMostOnce);
        h.expect_nothing_sent();
        // PUBREC does not free a slot; PUBCOMP does.
        h.deliver(Packet::PubRec(ack(first.packet_id.unwrap())));
        assert!(matches!(h.expect_sent(), Packet::PubRel(_)));
        h.expect_nothing_sent();
        h.deliver(Packet::PubComp(ack(first.packet_id.unwrap())));
        h.expect_completed(ids[0]).unwrap();
        assert_eq!(h.expect_publish().topic, "m3");
        h.expect_nothing_sent();
        h.deliver(Packet::PubRec(ack(second.packet_id.unwrap())));
        h.expect_sent();
        h.deliver(Packet::PubComp(ack(second.packet_id.unwrap())));
        h.expect_completed(ids[1]).unwrap();
        assert_eq!(h.expect_publish().topic, "m4");
        assert_eq!(h.expect_publish().topic, "m5");
        h.expect_completed(q0).unwrap();
    }
}

#[test]
fn the_queue_is_bounded() {
    let mut config = Harness::config(ProtocolVersion::V3_1_1);
    config.queue_capacity = 3;
    let mut h = Harness::new(config);
    for _ in 0..3 {
        h.publish("offline", b"x", QoS::AtLeastOnce);
    }
    let p = Publish::new("offline", Bytes::from_static(b"x"));
    assert_eq!(h.session.publish(p, h.now), Err(UsageError::QueueFull(3)));
    assert_eq!(h.session.queue_space(), 0);
    // Connecting drains the queue into flight.
    h.open(ConnAck::new(false));
    for _ in 0..3 {
        h.expect_publish();
    }
    assert_eq!(h.session.queue_space(), 3);
}

#[test]
fn maximum_qos_is_refused_or_downgraded_as_configured() {
    let mut connack = ConnAck::new(false);
    connack.properties.maximum_qos = Some(QoS::AtMostOnce);
    let mut h = Harness::connected_with(Harness::config(ProtocolVersion::V5), connack.clone());
    let mut p = Publish::new("a", Bytes::from_static(b"x"));
    p.qos = QoS::ExactlyOnce;
    assert_eq!(
        h.session.publish(p.clone(), h.now),
        Err(UsageError::QoSNotSupported {
            requested: QoS::ExactlyOnce,
            maximum: QoS::AtMostOnce
        })
    );
    h.expect_nothing_sent();

    let mut config = Harness::config(ProtocolVersion::V5);
    config.qos_policy = QoSPolicy::Downgrade;
    let mut h = Harness::connected_with(config, connack);
    h.session.publish(p, h.now).unwrap();
    h.drain();
    let sent = h.expect_publish();
    assert_eq!((sent.qos, sent.packet_id), (QoS::AtMostOnce, None));
}

#[test]
fn limits_learnt_after_queueing_fail_the_request() {
    let mut h = Harness::new(SessionConfig::new(ProtocolVersion::V5, "late"));
    let id = h.publish("a", b"x", QoS::ExactlyOnce);
    let mut connack = ConnAck::new(false);
    connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    h.open(connack);
    assert!(matches!(
        h.expect_completed(id),
        Err(RequestError::NotAllowed(UsageError::QoSNotSupported { .. }))
    ));
    h.expect_nothing_sent();
}

/// A publish waiting for the window was checked under one connection's
/// limits; the next connection's limits check it again before it goes.
#[test]
fn a_publish_waiting_for_the_window_is_checked_again_under_new_limits() {
    let mut connack = ConnAck::new(false);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    let mut h = Harness::connected_with(Harness::config(ProtocolVersion::V5), connack);
    h.publish("first", b"x", QoS::ExactlyOnce);
    let waiting = h.publish("second", b"x", QoS::ExactlyOnce);
    assert_eq!(h.expect_publish().topic, "first");
    h.expect_nothing_sent();
    assert_eq!(h.session.queued(), 1);
    h.lose_connection();
    h.take_events();

    let mut connack = ConnAck::new(false);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.expect_sent(), Packet::Connect(_)));
    h.deliver(connack);
    let refused = h.take_events().into_iter().any(|event| {
        matches!(
            event,
            Event::Completed {
                id,
                outcome: Err(RequestError::NotAllowed(UsageError::QoSNotSupported { .. })),
            } if id == waiting
        )
    });
    assert!(
        refused,
        "the waiting QoS 2 publish is refused under maximum QoS 1"
    );
    assert_eq!(h.session.queued(), 0);
}

#[test]
fn retain_and_packet_size_limits_are_usage_errors() {
    let mut connack = ConnAck::new(false);
    connack.properties.retain_available = Some(false);
    connack.properties.maximum_packet_size = NonZeroU32::new(64);
    let mut h = Harness::connected_with(Harness::config(ProtocolVersion::V5), connack);
    let mut retained = Publish::new("a", Bytes::from_static(b"x"));
    retained.retain = true;
    assert_eq!(
        h.session.publish(retained, h.now),
        Err(UsageError::RetainNotSupported)
    );
    let big = Publish::new("a", Bytes::from(vec![0u8; 100]));
    assert!(matches!(
        h.session.publish(big, h.now),
        Err(UsageError::PacketTooLarge { maximum: 64, .. })
    ));
    h.expect_nothing_sent();
}

each_version! {
    /// Bad topics and hand-set protocol fields are refused up front.
    fn invalid_publishes_are_usage_errors(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        for topic in ["", "a/+", "a/#"] {
            let p = Publish::new(topic, Bytes::new());
            assert!(matches!(h.session.publish(p, h.now), Err(UsageError::InvalidTopic(_))), "{topic:?}");
        }
        let mut p = Publish::new("a", Bytes::new());
        p.properties.topic_alias = NonZeroU16::new(1);
        assert!(matches!(h.session.publish(p, h.now), Err(UsageError::NotAllowed(_))));
        if !version.is_v5() {
            let mut p = Publish::new("a", Bytes::new());
            p.properties.message_expiry_interval = Some(5);
            assert!(matches!(h.session.publish(p, h.now), Err(UsageError::Encode(_))));
        }
        h.expect_nothing_sent();
    }
}

/// Outgoing topic aliases within the server's Topic Alias Maximum (5.0
/// §3.3.2.3.4): assigned on first use, the topic left out afterwards, the
/// least recently used replaced, per-message opt-out, and never carried
/// over to a new connection.
#[test]
fn outgoing_topic_aliases() {
    use mqtide_proto::TopicAliasUse;
    let mut connack = ConnAck::new(false);
    connack.properties.topic_alias_maximum = Some(1);
    let mut config = Harness::config(ProtocolVersion::V5);
    config.clean_start = false;
    let mut h = Harness::connected_with(config, connack.clone());
    let sent = |h: &mut Harness| {
        let p = h.expect_publish();
        (
            p.topic.to_string(),
            p.properties.topic_alias.map(NonZeroU16::get),
        )
    };
    h.publish("long/topic/a", b"1", QoS::AtMostOnce);
    assert_eq!(sent(&mut h), ("long/topic/a".into(), Some(1)));
    h.publish("long/topic/a", b"2", QoS::AtLeastOnce);
    assert_eq!(sent(&mut h), (String::new(), Some(1)));
    // Opted out: full topic, table untouched.
    let p = Publish::new("long/topic/b", Bytes::from_static(b"3"));
    h.session
        .publish_with(p, TopicAliasUse::Never, h.now)
        .unwrap();
    h.drain();
    assert_eq!(sent(&mut h), ("long/topic/b".into(), None));
    h.publish("long/topic/a", b"4", QoS::AtMostOnce);
    assert_eq!(sent(&mut h), (String::new(), Some(1)));
    // Only one alias: a new topic takes it over.
    h.publish("long/topic/c", b"5", QoS::AtMostOnce);
    assert_eq!(sent(&mut h), ("long/topic/c".into(), Some(1)));

    // The QoS 1 message is resent on the next connection with its full
    // topic: aliases die with the connection.
    h.lose_connection();
    h.take_events();
    let mut resumed = connack;
    resumed.session_present = true;
    h.open(resumed);
    let resent = h.expect_publish();
    assert_eq!(
        (
            resent.topic.as_ref(),
            resent.properties.topic_alias,
            resent.dup
        ),
        ("long/topic/a", None, true)
    );
}

/// `outgoing_alias_maximum` caps the aliases we use below the server's
/// maximum; 0 turns them off.
#[test]
fn the_outgoing_alias_policy_caps_what_the_server_allows() {
    for (ours, expected) in [(0, None), (1, Some(1))] {
        let mut connack = ConnAck::new(false);
        connack.properties.topic_alias_maximum = Some(10);
        let mut config = Harness::config(ProtocolVersion::V5);
        config.outgoing_alias_maximum = ours;
        let mut h = Harness::connected_with(config, connack);
        h.publish("long/topic/a", b"1", QoS::AtMostOnce);
        assert_eq!(
            h.expect_publish()
                .properties
                .topic_alias
                .map(NonZeroU16::get),
            expected
        );
        // With one alias, a second topic takes it over; with none, none.
        h.publish("long/topic/b", b"2", QoS::AtMostOnce);
        assert_eq!(
            h.expect_publish()
                .properties
                .topic_alias
                .map(NonZeroU16::get),
            expected
        );
    }
}
