//! A session configuration that cannot make a valid CONNECT is a typed
//! error, reported once per connection attempt, and never a panic or a
//! CONNECT silently dropped: `handle_connected` checks the CONNECT before
//! queueing it and ends the connection with
//! `ConnectionError::InvalidConfig`; `SessionConfig::validate` gives the
//! same answer up front.

mod harness;

use bytes::Bytes;
use harness::Harness;
use mqtide_proto::{
    ConnAck, ConnectionError, EncodeError, Event, LastWill, Packet, ProtocolVersion, QoS,
    TopicError, UsageError, WillProperties,
};

fn will(topic: &str) -> LastWill {
    LastWill {
        topic: topic.into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    }
}

/// Brings a transport up for `h` and expects the connection to end at
/// once with `error`, reported once, with nothing written.
fn expect_refused_config(h: &mut Harness, error: &UsageError) {
    h.session.handle_connected(h.now);
    h.drain();
    h.expect_nothing_sent();
    assert_eq!(
        h.take_events(),
        vec![Event::Disconnected(ConnectionError::InvalidConfig(
            error.clone()
        ))]
    );
    assert!(!h.session.is_connected());
    assert_eq!(h.session.poll_timeout(), None, "no connect timeout armed");
    // The driver closes the transport: no second report.
    h.session.handle_connection_lost(h.now);
    h.drain();
    h.expect_no_event();
}

each_version! {
    /// A will topic with a wildcard set directly in `SessionConfig` used to
    /// reach `poll_transmit` unchecked (a debug assertion in debug builds,
    /// a CONNECT silently dropped in release). Now every attempt ends with
    /// the typed error, and a fixed configuration connects.
    fn unencodable_config_is_a_typed_error_not_a_panic(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.will = Some(will("devices/+/status"));
        let error = UsageError::Encode(EncodeError::InvalidTopic(TopicError::WildcardInTopicName));
        assert_eq!(config.validate(), Err(error.clone()));
        let mut h = Harness::new(config);
        // Commands still queue while the configuration is wrong.
        h.publish("queued", b"x", QoS::AtLeastOnce);
        for _ in 0..2 {
            expect_refused_config(&mut h, &error);
        }
        assert!(!ConnectionError::InvalidConfig(error).is_retryable());
        assert_eq!(h.session.queued(), 1);

        // With the configuration fixed, the next transport connects and the
        // queued publish goes out.
        let mut fixed = Harness::config(version);
        fixed.will = Some(will("devices/7/status"));
        assert_eq!(fixed.validate(), Ok(()));
        let mut h = Harness::new(fixed);
        h.publish("queued", b"x", QoS::AtLeastOnce);
        h.open(ConnAck::new(false));
        assert_eq!(h.expect_publish().topic, "queued");
    }
}

each_version! {
    /// U+0000 in the configured client identifier or user name: the same
    /// typed error, naming the field (3.1.1 [MQTT-3.1.3-4], 5.0
    /// [MQTT-3.1.3-4]).
    fn null_character_in_the_config_is_a_typed_error(version: ProtocolVersion) {
        let mut config = Harness::config(version);
        config.client_id = "dev\0ice".into();
        let mut h = Harness::new(config);
        expect_refused_config(
            &mut h,
            &UsageError::Encode(EncodeError::NullCharacter { what: "client identifier" }),
        );
        let mut config = Harness::config(version);
        config.username = Some("user\0".into());
        let mut h = Harness::new(config);
        expect_refused_config(
            &mut h,
            &UsageError::Encode(EncodeError::NullCharacter { what: "user name" }),
        );
    }
}

/// 5.0 properties in a 3.1.1 configuration cannot be written either.
#[test]
fn v5_properties_under_3_1_1_are_a_typed_error() {
    let mut config = Harness::config(ProtocolVersion::V3_1_1);
    config.properties.session_expiry_interval = Some(60);
    let mut h = Harness::new(config);
    h.session.handle_connected(h.now);
    h.drain();
    h.expect_nothing_sent();
    match h.expect_event() {
        Event::Disconnected(ConnectionError::InvalidConfig(UsageError::Encode(
            EncodeError::NotInVersion { .. },
        ))) => {}
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    // A valid configuration still connects with CONNECT first.
    let mut h = Harness::new(Harness::config(ProtocolVersion::V3_1_1));
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.expect_sent(), Packet::Connect(_)));
}

/// 3.1.1 [MQTT-3.1.3-7]: a client that sends an empty ClientId sets
/// CleanSession to 1. A session configured with an empty identifier and
/// no clean session sends nothing and says why; with a clean session it
/// connects with the empty identifier; 5.0 allows both (the server assigns
/// an identifier and may keep the session).
#[test]
fn empty_client_id_needs_a_clean_session_v3_1_1() {
    let mut config = Harness::config(ProtocolVersion::V3_1_1);
    config.client_id = "".into();
    config.clean_start = false;
    assert_eq!(
        config.validate(),
        Err(UsageError::EmptyClientIdNeedsCleanStart)
    );
    let mut h = Harness::new(config);
    expect_refused_config(&mut h, &UsageError::EmptyClientIdNeedsCleanStart);

    // Turning clean start on (as a driver may between connections) fixes it.
    h.session.set_clean_start(true);
    h.session.handle_connected(h.now);
    h.drain();
    let Packet::Connect(connect) = h.expect_sent() else {
        panic!("expected CONNECT")
    };
    assert!(connect.client_id.is_empty() && connect.clean_start);
    // And turning it off again is refused again.
    h.lose_connection();
    h.take_events();
    h.session.set_clean_start(false);
    expect_refused_config(&mut h, &UsageError::EmptyClientIdNeedsCleanStart);

    let mut v5 = Harness::config(ProtocolVersion::V5);
    v5.client_id = "".into();
    v5.clean_start = false;
    assert_eq!(v5.validate(), Ok(()));
}
