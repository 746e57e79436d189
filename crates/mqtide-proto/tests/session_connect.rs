//! CONNECT from the configuration, and what CONNACK negotiates.

mod harness;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::Bytes;
use harness::Harness;
use mqtide_proto::{
    ConnAck, ConnectionError, Event, LastWill, Packet, ProtocolError, ProtocolVersion, QoS,
    ReasonCode, Secret, SessionConfig, WillProperties,
};

each_version! {
    /// Every configured field reaches CONNECT (spec §3.1).
    fn connect_carries_the_configuration(version: ProtocolVersion) {
        let mut config = SessionConfig::new(version, "client-7");
        config.clean_start = false;
        config.keep_alive = 15;
        config.username = Some("user".into());
        config.password = Some(Secret::new("pass"));
        let mut will_props = WillProperties::default();
        if version.is_v5() {
            will_props.will_delay_interval = Some(30);
            config.properties.session_expiry_interval = Some(3600);
            config.properties.receive_maximum = NonZeroU16::new(10);
            config.properties.topic_alias_maximum = Some(5);
        }
        config.will = Some(LastWill {
            topic: "status/client-7".into(),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: will_props.clone(),
        });
        let mut h = Harness::new(config);
        h.session.handle_connected(h.now);
        h.drain();
        let Packet::Connect(connect) = h.expect_sent() else { panic!("expected CONNECT") };
        assert_eq!(connect.protocol, version);
        assert_eq!(connect.client_id, "client-7");
        assert!(!connect.clean_start);
        assert_eq!(connect.keep_alive, 15);
        assert_eq!(connect.username.as_deref(), Some("user"));
        assert_eq!(connect.password, Some(Secret::new("pass")));
        let will = connect.will.expect("will");
        assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
        assert_eq!(will.properties, will_props);
        if version.is_v5() {
            assert_eq!(connect.properties.session_expiry_interval, Some(3600));
            assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(10));
            // Our incoming limit is announced, so the broker never sends more.
            assert_eq!(connect.properties.maximum_packet_size, NonZeroU32::new(16 * 1024 * 1024));
        }
        h.expect_nothing_sent();
    }
}

#[test]
fn connack_limits_are_reported_and_applied_v5() {
    let mut connack = ConnAck::new(false);
    connack.properties.server_keep_alive = Some(5);
    connack.properties.receive_maximum = NonZeroU16::new(3);
    connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    connack.properties.retain_available = Some(false);
    connack.properties.maximum_packet_size = NonZeroU32::new(1000);
    connack.properties.assigned_client_identifier = Some("auto-42".into());
    let mut config = Harness::config(ProtocolVersion::V5);
    config.client_id = "".into();
    let mut h = Harness::new(config);
    let connected = h.open(connack);
    assert_eq!(connected.client_id, "auto-42");
    assert_eq!(connected.keep_alive, 5);
    assert_eq!(connected.send_window, 3);
    assert_eq!(connected.maximum_qos, QoS::AtLeastOnce);
    assert!(!connected.retain_available);
    assert_eq!(connected.maximum_packet_size, Some(1000));
    // The assigned identifier is the one used from now on.
    assert_eq!(h.session.config().client_id, "auto-42");
    // The server's keep-alive overrides ours (§3.2.2.3.14).
    h.advance(Duration::from_secs(5));
    assert_eq!(h.expect_sent(), Packet::PingReq);
}

each_version! {
    /// A refusal is a typed outcome; 3.1.1 return code 5 and 5.0 reason
    /// 0x87 are both `NotAuthorized`.
    fn refusal_reports_the_reason(version: ProtocolVersion) {
        let mut h = Harness::new(Harness::config(version));
        h.session.handle_connected(h.now);
        h.drain();
        h.expect_sent();
        let mut connack = ConnAck::new(false);
        connack.reason_code = ReasonCode::NotAuthorized;
        h.deliver(connack);
        match h.expect_disconnected() {
            ConnectionError::Refused { reason_code, .. } => assert_eq!(reason_code, ReasonCode::NotAuthorized),
            other => panic!("expected Refused, got {other:?}"),
        }
        assert!(!h.session.is_connected());
        h.expect_nothing_sent();
    }
}

each_version! {
    /// [MQTT-3.2.2-4]: a client that asked for a clean session must close
    /// the connection if the server claims a session is present.
    fn session_present_on_clean_start_is_a_protocol_error(version: ProtocolVersion) {
        let mut h = Harness::new(Harness::config(version));
        h.session.handle_connected(h.now);
        h.drain();
        h.expect_sent();
        h.deliver(ConnAck::new(true));
        assert_eq!(
            h.expect_disconnected(),
            ConnectionError::Protocol(ProtocolError::SessionPresentOnCleanStart)
        );
        if version.is_v5() {
            let Packet::Disconnect(d) = h.expect_sent() else { panic!("expected DISCONNECT") };
            assert_eq!(d.reason_code, ReasonCode::ProtocolError);
        }
        h.expect_nothing_sent();
    }
}

each_version! {
    /// No CONNACK within the connect timeout ends the connection.
    fn missing_connack_times_out(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.connect_timeout = Duration::from_secs(7);
        let mut h = Harness::new(config);
        h.session.handle_connected(h.now);
        h.drain();
        h.expect_sent();
        h.advance(Duration::from_secs(6));
        h.expect_no_event();
        h.advance(Duration::from_secs(1));
        assert_eq!(h.expect_disconnected(), ConnectionError::ConnectTimeout);
        // Reported once, even when the driver then reports the loss.
        h.lose_connection();
        h.expect_no_event();
    }
}

each_version! {
    /// Anything but CONNACK (or AUTH) before CONNACK is a protocol error.
    fn packets_before_connack_are_refused(version: ProtocolVersion) {
        let mut h = Harness::new(Harness::config(version));
        h.session.handle_connected(h.now);
        h.drain();
        h.expect_sent();
        h.deliver(Packet::PingResp);
        assert!(matches!(
            h.expect_disconnected(),
            ConnectionError::Protocol(ProtocolError::UnexpectedPacket { .. })
        ));
    }
}

#[test]
fn auth_challenges_surface_as_events_and_are_answered_v5() {
    use mqtide_proto::{Auth, AuthProperties, UsageError};
    let mut config = Harness::config(ProtocolVersion::V5);
    config.properties.authentication_method = Some("SCRAM-SHA-256".into());
    config.properties.authentication_data = Some(Secret::new("client-first"));
    let mut h = Harness::new(config);
    h.session.handle_connected(h.now);
    h.drain();
    h.expect_sent();
    let mut challenge = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default(),
    };
    challenge.properties.authentication_method = Some("SCRAM-SHA-256".into());
    challenge.properties.authentication_data = Some(Secret::new("server-first"));
    h.deliver(challenge.clone());
    assert_eq!(h.expect_event(), Event::Auth(challenge));
    let mut answer = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default(),
    };
    answer.properties.authentication_method = Some("SCRAM-SHA-256".into());
    answer.properties.authentication_data = Some(Secret::new("client-final"));
    h.session.auth(answer.clone(), h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(answer));
    // A successful CONNACK names the method too [MQTT-4.12.0-5].
    let mut connack = ConnAck::new(false);
    connack.properties.authentication_method = Some("SCRAM-SHA-256".into());
    h.deliver(connack);
    assert!(matches!(h.expect_event(), Event::Connected(_)));

    // Without a method configured, AUTH is refused both ways.
    let mut plain = Harness::connected(ProtocolVersion::V5);
    let auth = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties::default(),
    };
    assert_eq!(
        plain.session.auth(auth.clone(), plain.now),
        Err(UsageError::NoAuthentication)
    );
    plain.deliver(auth);
    assert!(matches!(
        plain.expect_disconnected(),
        ConnectionError::Protocol(_)
    ));
}

/// A broker that speaks only 3.1.1 (NATS) answers a 5.0 CONNECT with a
/// 3.1.1 CONNACK, `20 02 00 01`: a refusal for the protocol version, not
/// a malformed packet.
#[test]
fn a_3_1_1_connack_to_a_5_0_connect_is_a_refusal() {
    let mut h = Harness::new(Harness::config(ProtocolVersion::V5));
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.expect_sent(), Packet::Connect(_)));
    h.deliver_bytes(&[0x20, 0x02, 0x00, 0x01]);
    match h.expect_disconnected() {
        ConnectionError::Refused { reason_code, .. } => {
            assert_eq!(reason_code, ReasonCode::UnsupportedProtocolVersion);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A 5.0 session with an expiry outlives its connection: the first CONNECT
/// may ask for a clean start, every later one resumes ([MQTT-3.1.2-5]), so
/// what was in flight is resent rather than thrown away. Without an expiry
/// the session ends with the connection, and clean start stays as set.
#[test]
fn a_v5_session_with_an_expiry_is_resumed_by_every_reconnect() {
    for (expiry, resumes) in [(Some(3600), true), (Some(0), false), (None, false)] {
        let mut config = Harness::config(ProtocolVersion::V5);
        config.clean_start = true;
        config.properties.session_expiry_interval = expiry;
        let mut h = Harness::new(config);
        h.open(ConnAck::new(false));
        h.lose_connection();
        h.session.handle_connected(h.now);
        h.drain();
        let Packet::Connect(connect) = h.expect_sent() else {
            panic!("expected CONNECT")
        };
        assert_eq!(connect.clean_start, !resumes, "expiry {expiry:?}");
    }
}
