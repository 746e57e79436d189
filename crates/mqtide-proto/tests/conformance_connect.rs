//! Conformance: the client's side of CONNECT and of the session's life
//! across connections, one test per normative statement (or group of
//! them) that `docs/conformance/manifest.toml` lists. Statement ids are
//! cited as `[MQTT-x.y.z-n]`, numbered as in MQTT 5.0 unless marked 3.1.1.

mod harness;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{
    Auth, AuthProperties, ConnAck, Connect, ConnectionError, EncodeError, Event, LastWill, Packet,
    ProtocolVersion, QoS, ReasonCode, RequestError, SubscriptionOptions, TopicError, TopicFilter,
    WillProperties,
};

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

each_version! {
    /// [MQTT-3.1.0-1]: whatever the application queued while offline, the
    /// first packet on a new connection is CONNECT, and nothing follows it
    /// before CONNACK.
    fn connect_is_the_first_packet(version: ProtocolVersion) {
        let mut h = Harness::new(Harness::config(version));
        let qos1 = h.publish("queued/1", b"x", QoS::AtLeastOnce);
        let qos0 = h.publish("queued/0", b"x", QoS::AtMostOnce);
        h.session
            .subscribe(vec![(filter("a/#"), SubscriptionOptions::new(QoS::AtLeastOnce))], Default::default(), h.now)
            .unwrap();
        h.drain();
        h.expect_nothing_sent();

        h.session.handle_connected(h.now);
        h.drain();
        assert!(matches!(h.expect_sent(), Packet::Connect(_)));
        h.expect_nothing_sent();
        h.advance(Duration::from_secs(5));
        h.expect_nothing_sent();

        h.deliver(ConnAck::new(false));
        assert!(matches!(h.expect_event(), Event::Connected(_)));
        let first = h.expect_publish();
        assert_eq!((first.topic.as_ref(), first.qos), ("queued/1", QoS::AtLeastOnce));
        assert_eq!(h.expect_publish().topic, "queued/0");
        assert!(matches!(h.expect_sent(), Packet::Subscribe(_)));
        h.expect_completed(qos0).unwrap();
        h.deliver(Packet::PubAck(ack(first.packet_id.unwrap())));
        h.expect_completed(qos1).unwrap();
    }
}

/// [MQTT-3.1.2-30]: with an Authentication Method in CONNECT, only AUTH
/// (or DISCONNECT) may go out before CONNACK: queued publishes, the
/// subscription and the keep-alive ping all wait.
#[test]
fn nothing_but_auth_before_connack_v5() {
    let method = || Some("SCRAM-SHA-1".into());
    let mut config = Harness::config(ProtocolVersion::V5);
    config.keep_alive = 5;
    config.properties.authentication_method = method();
    let mut h = Harness::new(config);
    h.publish("queued", b"x", QoS::AtLeastOnce);
    h.publish("queued", b"y", QoS::AtMostOnce);
    h.session
        .subscribe(
            vec![(filter("a"), SubscriptionOptions::new(QoS::AtMostOnce))],
            Default::default(),
            h.now,
        )
        .unwrap();
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.expect_sent(), Packet::Connect(_)));
    h.expect_nothing_sent();

    let mut challenge = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default(),
    };
    challenge.properties.authentication_method = method();
    h.deliver(challenge.clone());
    assert_eq!(h.expect_event(), Event::Auth(challenge.clone()));
    h.expect_nothing_sent();
    h.session.auth(challenge.clone(), h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(challenge));
    // Past the keep-alive interval: still no PINGREQ before CONNACK.
    h.advance(Duration::from_secs(6));
    h.expect_nothing_sent();
    h.expect_no_event();

    let mut connack = ConnAck::new(false);
    connack.properties.authentication_method = method();
    h.deliver(connack);
    assert!(matches!(h.expect_event(), Event::Connected(_)));
    assert_eq!(h.expect_publish().payload, Bytes::from_static(b"x"));
    assert_eq!(h.expect_publish().payload, Bytes::from_static(b"y"));
    assert!(matches!(h.expect_sent(), Packet::Subscribe(_)));
}

/// A QoS 1 and a QoS 2 publish in flight and one incoming QoS 2 message
/// not yet released, then the connection drops and the next CONNACK says
/// no session is present: nothing of the old session may be used again.
/// The QoS 1 publish goes out again as a new message (DUP clear), not as a
/// resend of one the server holds.
fn old_session_is_discarded(version: ProtocolVersion, clean_start: bool) {
    let mut config = Harness::config(version);
    config.clean_start = clean_start;
    if version.is_v5() && !clean_start {
        config.properties.session_expiry_interval = Some(600);
    }
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    let again = h.publish("out/1", b"x", QoS::AtLeastOnce);
    let first = h.expect_publish();
    let lost = h.publish("out/2", b"y", QoS::ExactlyOnce);
    h.expect_publish();
    h.deliver(incoming("in", QoS::ExactlyOnce, 5));
    assert!(matches!(h.expect_event(), Event::Message(_)));
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(5))));
    h.lose_connection();
    assert_eq!(h.expect_disconnected(), ConnectionError::ConnectionLost);

    let connected = h.open(ConnAck::new(false));
    assert!(!connected.session_present);
    // The QoS 2 publish is reported lost, not resent as if new.
    assert_eq!(h.expect_completed(lost), Err(RequestError::SessionLost));
    // The QoS 1 one is a new message to the new session.
    let resent = h.expect_publish();
    assert_eq!((resent.topic.as_ref(), resent.dup), ("out/1", false));
    assert_eq!(resent.payload, first.payload);
    h.expect_nothing_sent();
    // The incoming exactly-once state went too: identifier 5 now carries
    // a new message, delivered and acknowledged as such.
    let mut fresh = incoming("in/new", QoS::ExactlyOnce, 5);
    fresh.dup = true;
    h.deliver(fresh);
    match h.expect_event() {
        Event::Message(m) => assert_eq!(m.publish.topic, "in/new"),
        other => panic!("expected Message, got {other:?}"),
    }
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(5))));
    h.deliver(Packet::PubAck(ack(resent.packet_id.unwrap())));
    h.expect_completed(again).unwrap();
}

each_version! {
    /// [MQTT-3.1.2-4] (3.1.1 [MQTT-3.1.2-6]): a clean start discards the
    /// client's session state; none of it is reused.
    fn clean_start_discards_the_session(version: ProtocolVersion) {
        old_session_is_discarded(version, true);
    }
}

each_version! {
    /// [MQTT-3.2.2-5]: a client that asked to resume but is told no session
    /// is present discards its own session state and carries on.
    fn session_not_present_discards_the_session(version: ProtocolVersion) {
        old_session_is_discarded(version, false);
    }
}

each_version! {
    /// [MQTT-3.1.3-2] (3.1.1 [MQTT-3.1.3-2]): the client identifier names
    /// the session state, so every reconnect presents the same one.
    fn reconnect_presents_the_same_client_id(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.client_id = "device-17".into();
        config.clean_start = false;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        for _ in 0..2 {
            h.lose_connection();
            h.take_events();
            h.session.handle_connected(h.now);
            h.drain();
            let Packet::Connect(connect) = h.expect_sent() else { panic!("expected CONNECT") };
            assert_eq!(connect.client_id, "device-17");
            h.deliver(ConnAck::new(true));
            assert!(matches!(h.expect_event(), Event::Connected(_)));
        }
    }
}

/// [MQTT-3.1.3-2]: an identifier the server assigned (5.0) is the one the
/// session's state belongs to, so the next CONNECT carries it.
#[test]
fn assigned_client_id_is_presented_on_reconnect_v5() {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.client_id = "".into();
    let mut connack = ConnAck::new(false);
    connack.properties.assigned_client_identifier = Some("server-made-9".into());
    let mut h = Harness::connected_with(config, connack);
    h.lose_connection();
    h.take_events();
    h.session.handle_connected(h.now);
    h.drain();
    let Packet::Connect(connect) = h.expect_sent() else {
        panic!("expected CONNECT")
    };
    assert_eq!(connect.client_id, "server-made-9");
}

each_version! {
    /// [MQTT-3.14.4-1] (3.1.1 [MQTT-3.14.4-2]): once our DISCONNECT is
    /// written the connection is over: no publish, subscription or ping
    /// follows it, and input after it is not read.
    fn nothing_is_sent_after_disconnect(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.keep_alive = 5;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        h.session.disconnect(ReasonCode::Success, Default::default(), h.now).unwrap();
        h.drain();
        assert!(matches!(h.expect_sent(), Packet::Disconnect(_)));
        assert_eq!(h.expect_disconnected(), ConnectionError::Disconnected);

        h.publish("late", b"x", QoS::AtMostOnce);
        h.publish("late", b"x", QoS::AtLeastOnce);
        h.session
            .subscribe(vec![(filter("late"), SubscriptionOptions::new(QoS::AtMostOnce))], Default::default(), h.now)
            .unwrap();
        h.drain();
        h.advance(Duration::from_secs(30));
        h.expect_nothing_sent();
        // A PINGRESP arriving afterwards is left unread.
        let mut wire = BytesMut::new();
        Packet::PingResp.encode(version, &mut wire).unwrap();
        h.feed(&wire);
        h.expect_nothing_sent();
        h.expect_no_event();
        assert_eq!(h.session.queued(), 3);
    }
}

each_version! {
    /// 3.1.1 [MQTT-3.1.3-10], 5.0 [MQTT-3.1.3-11]: the will topic is a
    /// topic name, so U+0000 (like a wildcard) cannot be written.
    fn will_topic_with_a_null_character_is_not_encoded(version: ProtocolVersion) {
        let mut connect = Connect::new(version, "c");
        connect.will = Some(LastWill {
            topic: "status/\0".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        });
        let packet = Packet::from(connect);
        let mut buf = BytesMut::new();
        assert_eq!(
            packet.encode(version, &mut buf),
            Err(EncodeError::InvalidTopic(TopicError::NullCharacter))
        );
        assert!(buf.is_empty());
    }
}
