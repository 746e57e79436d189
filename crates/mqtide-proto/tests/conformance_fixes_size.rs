//! Conformance: nothing the client sends exceeds the server's Maximum
//! Packet Size (5.0 [MQTT-3.2.2-15]), whatever the packet and whenever the
//! limit became known: DISCONNECT and AUTH leave out their Reason String
//! and User Properties when those would make them too large
//! ([MQTT-3.14.2-3], [MQTT-3.14.2-4], [MQTT-3.15.2-2], [MQTT-3.15.2-3]);
//! subscription changes queued before CONNACK are measured when they
//! leave the queue; publishes resent on a new connection are measured
//! against that server's limit.

mod harness;

use std::num::NonZeroU32;

use bytes::Bytes;
use harness::{Harness, ack};
use mqtide_proto::{
    Auth, AuthProperties, ConnAck, ConnectionError, Disconnect, DisconnectProperties, Event,
    Packet, ProtocolVersion, Publish, QoS, ReasonCode, RequestError, SubscriptionOptions,
    TopicFilter, UsageError,
};

const V5: ProtocolVersion = ProtocolVersion::V5;

fn limited(maximum: u32) -> ConnAck {
    let mut connack = ConnAck::new(false);
    connack.properties.maximum_packet_size = NonZeroU32::new(maximum);
    connack
}

fn user_properties(n: usize) -> Vec<(bytestring::ByteString, bytestring::ByteString)> {
    (0..n)
        .map(|i| (format!("key-{i}").into(), "value".into()))
        .collect()
}

/// The size of `packet` as encoded under 5.0.
fn size(packet: impl Into<Packet>) -> usize {
    packet.into().encoded_len(V5).unwrap()
}

/// [MQTT-3.14.2-3], [MQTT-3.14.2-4]: a DISCONNECT whose Reason String and
/// User Properties would exceed the server's limit goes out without the
/// Reason String, then without as many User Properties (from the last) as
/// it takes; what fits is kept, and so is the Session Expiry Interval.
#[test]
fn disconnect_leaves_out_what_does_not_fit_v5() {
    let mut config = Harness::config(V5);
    config.properties.session_expiry_interval = Some(60);
    let mut properties = DisconnectProperties {
        session_expiry_interval: Some(30),
        reason_string: Some("shutting down for maintenance until tomorrow".into()),
        ..Default::default()
    };
    properties.user_properties = user_properties(4);
    let full = Disconnect {
        reason_code: ReasonCode::Success,
        properties: properties.clone(),
    };
    let mut without_reason = full.clone();
    without_reason.properties.reason_string = None;
    let mut two_left = without_reason.clone();
    two_left.properties.user_properties.truncate(2);
    let maximum = u32::try_from(size(two_left.clone())).unwrap();
    assert!(size(without_reason) > maximum as usize);

    let mut h = Harness::connected_with(config, limited(maximum));
    h.session
        .disconnect(ReasonCode::Success, properties, h.now)
        .unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Disconnect(two_left));
    assert_eq!(h.expect_disconnected(), ConnectionError::Disconnected);

    // A DISCONNECT that fits is sent whole.
    let mut config = Harness::config(V5);
    config.properties.session_expiry_interval = Some(60);
    let mut h = Harness::connected_with(config, limited(1024));
    h.session
        .disconnect(ReasonCode::Success, full.properties.clone(), h.now)
        .unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Disconnect(full));
}

/// A DISCONNECT that does not fit even bare is refused, nothing sent, and
/// the connection stays up.
#[test]
fn disconnect_that_cannot_fit_is_refused_v5() {
    let mut config = Harness::config(V5);
    config.properties.session_expiry_interval = Some(60);
    let mut h = Harness::connected_with(config, limited(4));
    let properties = DisconnectProperties {
        session_expiry_interval: Some(30),
        ..Default::default()
    };
    assert!(matches!(
        h.session.disconnect(ReasonCode::Success, properties, h.now),
        Err(UsageError::PacketTooLarge { maximum: 4, .. })
    ));
    h.drain();
    h.expect_nothing_sent();
    assert!(h.session.is_connected());
}

/// [MQTT-3.15.2-2], [MQTT-3.15.2-3]: the same for AUTH, whose method and
/// data stay; if those alone do not fit, the AUTH is refused unsent.
#[test]
fn auth_leaves_out_what_does_not_fit_v5() {
    let method = || Some("SCRAM-SHA-1".into());
    let mut config = Harness::config(V5);
    config.properties.authentication_method = method();
    let mut connack = limited(0);
    connack.properties.authentication_method = method();
    let mut reauth = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties::default(),
    };
    reauth.properties.authentication_method = method();
    reauth.properties.authentication_data = Some(mqtide_proto::Secret::new("client-first"));
    let mut one_left = reauth.clone();
    one_left.properties.user_properties = user_properties(1);
    let mut full = one_left.clone();
    full.properties.user_properties = user_properties(3);
    full.properties.reason_string = Some("re-authenticating after key rotation".into());
    let maximum = u32::try_from(size(one_left.clone())).unwrap();
    connack.properties.maximum_packet_size = NonZeroU32::new(maximum);
    let mut h = Harness::connected_with(config, connack);

    h.session.auth(full, h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(one_left));

    let mut too_big = reauth;
    too_big.properties.authentication_data =
        Some(mqtide_proto::Secret::new(vec![b'x'; maximum as usize]));
    assert!(matches!(
        h.session.auth(too_big, h.now),
        Err(UsageError::PacketTooLarge { .. })
    ));
    h.drain();
    h.expect_nothing_sent();
}

/// [MQTT-3.2.2-15]: SUBSCRIBE and UNSUBSCRIBE queued before CONNACK met no
/// limit; when the CONNACK brings one they are measured again, and those
/// that do not fit fail with a typed error instead of being sent. The
/// same holds for features the server turns out not to support.
#[test]
fn subscriptions_queued_before_connack_are_measured_v5() {
    let mut h = Harness::new(Harness::config(V5));
    let long = format!("sensors/{}/#", "x".repeat(100));
    let filter = |f: &str| TopicFilter::new(f).unwrap();
    let options = SubscriptionOptions::new(QoS::AtLeastOnce);
    let big_sub = h
        .session
        .subscribe(vec![(filter(&long), options)], Default::default(), h.now)
        .unwrap();
    let shared = h
        .session
        .subscribe(
            vec![(filter("$share/g/jobs"), options)],
            Default::default(),
            h.now,
        )
        .unwrap();
    let big_unsub = h
        .session
        .unsubscribe(vec![filter(&long)], Default::default(), h.now)
        .unwrap();
    let small = h
        .session
        .subscribe(vec![(filter("a/#"), options)], Default::default(), h.now)
        .unwrap();
    h.drain();

    let mut connack = limited(64);
    connack.properties.shared_subscription_available = Some(false);
    h.open(connack);
    let Packet::Subscribe(sent) = h.expect_sent() else {
        panic!("expected the small SUBSCRIBE")
    };
    assert_eq!(sent.filters[0].0, "a/#");
    h.expect_nothing_sent();
    for (id, maximum) in [(big_sub, true), (shared, false), (big_unsub, true)] {
        match h.expect_completed(id) {
            Err(RequestError::NotAllowed(UsageError::PacketTooLarge { maximum: 64, .. }))
                if maximum => {}
            Err(RequestError::NotAllowed(UsageError::NotSupported("shared subscriptions")))
                if !maximum => {}
            other => panic!("{id:?}: {other:?}"),
        }
    }
    h.deliver(mqtide_proto::SubAck {
        packet_id: sent.packet_id,
        properties: Default::default(),
        reason_codes: vec![ReasonCode::GrantedQoS1],
    });
    assert!(h.expect_completed(small).is_ok());
}

/// [MQTT-3.2.2-15]: publishes in flight are resent on the next connection
/// only if they fit that server's limit. A QoS 1 one that no longer fits
/// fails; a QoS 2 one fails too and is released (PUBREL) so the server
/// frees its identifier, whose PUBCOMP completes nothing; one that fits is
/// resent with DUP, in the original order.
#[test]
fn resends_that_no_longer_fit_fail_v5() {
    let mut h = Harness::connected(V5);
    let big = Bytes::from(vec![b'x'; 200]);
    let publish = |h: &mut Harness, payload: Bytes, qos| {
        let mut p = Publish::new("t", payload);
        p.qos = qos;
        let id = h.session.publish(p, h.now).unwrap();
        h.drain();
        (id, h.expect_publish().packet_id.unwrap())
    };
    let (big1, _) = publish(&mut h, big.clone(), QoS::AtLeastOnce);
    let (small, small_pid) = publish(&mut h, Bytes::from_static(b"s"), QoS::AtLeastOnce);
    let (big2, big2_pid) = publish(&mut h, big, QoS::ExactlyOnce);
    h.lose_connection();
    h.take_events();

    let mut connack = limited(64);
    connack.session_present = true;
    h.session.set_clean_start(false);
    h.open(connack);
    assert!(matches!(
        h.expect_completed(big1),
        Err(RequestError::NotResent(UsageError::PacketTooLarge {
            maximum: 64,
            ..
        }))
    ));
    let resent = h.expect_publish();
    assert!(resent.dup && resent.packet_id == Some(small_pid));
    assert!(matches!(
        h.expect_completed(big2),
        Err(RequestError::NotResent(UsageError::PacketTooLarge { .. }))
    ));
    assert_eq!(h.expect_sent(), Packet::PubRel(ack(big2_pid)));
    h.expect_nothing_sent();
    assert_eq!(h.session.inflight(), 2, "the small one and the release");

    // The release ends quietly; the small publish completes as usual.
    h.deliver(Packet::PubComp(ack(big2_pid)));
    h.expect_no_event();
    h.deliver(Packet::PubAck(ack(small_pid)));
    assert!(h.expect_completed(small).is_ok());
    assert_eq!(h.session.inflight(), 0);

    // Nothing is left to resend on the next connection.
    h.lose_connection();
    h.take_events();
    let mut connack = ConnAck::new(true);
    connack.properties.maximum_packet_size = NonZeroU32::new(64);
    h.open(connack);
    h.expect_nothing_sent();
    h.expect_no_event();
}

/// A released-but-abandoned QoS 2 flow lost with the next connection and
/// not resumed by the server is dropped without a second report.
#[test]
fn abandoned_release_is_not_reported_twice_v5() {
    let mut h = Harness::connected(V5);
    let mut p = Publish::new("t", Bytes::from(vec![b'x'; 200]));
    p.qos = QoS::ExactlyOnce;
    let id = h.session.publish(p, h.now).unwrap();
    h.drain();
    h.expect_publish();
    h.lose_connection();
    h.take_events();
    let mut connack = limited(64);
    connack.session_present = true;
    h.session.set_clean_start(false);
    h.open(connack);
    assert!(matches!(
        h.expect_completed(id),
        Err(RequestError::NotResent(_))
    ));
    assert!(matches!(h.expect_sent(), Packet::PubRel(_)));
    h.lose_connection();
    assert!(matches!(
        h.expect_event(),
        Event::Disconnected(ConnectionError::ConnectionLost)
    ));
    h.open(ConnAck::new(false));
    h.expect_no_event();
    h.expect_nothing_sent();
    assert_eq!(h.session.inflight(), 0);
}
