//! Conformance: every MQTT UTF-8 string the client writes obeys the rules
//! its receiver enforces. U+0000 (and a string longer than 65,535 bytes)
//! is refused by the encoder in any string, not only in topics, and the
//! session's commands surface that as a `UsageError` with nothing sent; a
//! Response Topic is a topic name, so it has no wildcards. Statement ids
//! are cited as `[MQTT-x.y.z-n]`, numbered as in MQTT 5.0 unless marked
//! 3.1.1.

mod harness;

use bytes::{Bytes, BytesMut};
use harness::Harness;
use mqtide_proto::{
    Auth, AuthProperties, ConnAck, Connect, ConnectionError, Disconnect, EncodeError, Event,
    LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode, Secret, SubscriptionOptions,
    TopicError, TopicFilter, UsageError, WillProperties,
};

/// Encodes `packet` under `version`, expecting `expected` and an untouched
/// buffer; `encoded_len` must agree.
fn refused(packet: impl Into<Packet>, version: ProtocolVersion, expected: &EncodeError) {
    let packet = packet.into();
    let mut buf = BytesMut::from(&b"keep"[..]);
    assert_eq!(
        packet.encode(version, &mut buf).as_ref(),
        Err(expected),
        "{packet:?}"
    );
    assert_eq!(&buf[..], b"keep", "a refused packet writes nothing");
    assert_eq!(packet.encoded_len(version).as_ref(), Err(expected));
}

fn null(what: &'static str) -> EncodeError {
    EncodeError::NullCharacter { what }
}

each_version! {
    /// 3.1.1 [MQTT-1.5.3-2], [MQTT-3.1.3-4], [MQTT-3.1.3-11]; 5.0
    /// [MQTT-1.5.4-2], [MQTT-3.1.3-4], [MQTT-3.1.3-12]: the client
    /// identifier and the user name are UTF-8 strings, so U+0000 in either
    /// (at any position, in short and word-sized strings) is not written.
    fn null_character_in_connect_strings_is_not_encoded(version: ProtocolVersion) {
        for bad in ["\0", "a\0b", "client-\0", "\0-twelve-bytes", "a-much-longer-client-id-\0-x"] {
            refused(Connect::new(version, bad), version, &null("client identifier"));
            let mut connect = Connect::new(version, "c");
            connect.username = Some(bad.into());
            connect.password = Some(Secret::new("p"));
            refused(connect, version, &null("user name"));
        }
        // The same strings without U+0000 are written.
        let mut connect = Connect::new(version, "a-much-longer-client-id-x");
        connect.username = Some("user".into());
        let mut buf = BytesMut::new();
        Packet::from(connect).encode(version, &mut buf).unwrap();
    }
}

each_version! {
    /// 3.1.1 [MQTT-1.5.3-2], 5.0 [MQTT-1.5.4-2]: a PUBLISH topic name
    /// holding U+0000, or a wildcard ([MQTT-3.3.2-2]), is refused by the
    /// encoder, as our decoder refuses it.
    fn publish_topic_with_a_null_or_wildcard_is_not_encoded(version: ProtocolVersion) {
        let mut qos1 = Publish::new("sensors/\0/t", "x");
        qos1.qos = QoS::AtLeastOnce;
        qos1.packet_id = std::num::NonZeroU16::new(1);
        refused(qos1, version, &EncodeError::InvalidTopic(TopicError::NullCharacter));
        for topic in ["a/+", "#", "long/topic/name/with/#"] {
            refused(
                Publish::new(topic, "x"),
                version,
                &EncodeError::InvalidTopic(TopicError::WildcardInTopicName),
            );
        }
    }
}

/// 5.0 [MQTT-1.5.4-2], [MQTT-1.5.7-1], [MQTT-3.3.2-13], [MQTT-3.3.2-19]:
/// U+0000 in a string property (Content Type, Response Topic, Reason
/// String, Authentication Method, …) or in either half of a User Property
/// is refused by the encoder, in every packet that carries one.
#[test]
fn null_character_in_v5_properties_is_not_encoded() {
    let v5 = ProtocolVersion::V5;
    let bad = || "text/\0plain".into();

    let mut publish = Publish::new("t", "x");
    publish.properties.content_type = Some(bad());
    refused(publish, v5, &null("content type"));
    let mut publish = Publish::new("t", "x");
    publish.properties.response_topic = Some(bad());
    refused(publish, v5, &null("response topic"));
    let mut publish = Publish::new("t", "x");
    publish.properties.user_properties.push((bad(), "v".into()));
    refused(publish, v5, &null("user property name"));
    let mut publish = Publish::new("t", "x");
    publish.properties.user_properties.push(("k".into(), bad()));
    refused(publish, v5, &null("user property value"));

    let mut connect = Connect::new(v5, "c");
    connect.properties.authentication_method = Some(bad());
    refused(connect, v5, &null("authentication method"));
    let mut connect = Connect::new(v5, "c");
    connect.will = Some(LastWill {
        topic: "status".into(),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    if let Some(will) = connect.will.as_mut() {
        will.properties.content_type = Some(bad());
    }
    refused(connect, v5, &null("content type"));

    let mut disconnect = Disconnect::new(ReasonCode::Success);
    disconnect.properties.reason_string = Some(bad());
    refused(disconnect, v5, &null("reason string"));
    let mut auth = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties::default(),
    };
    auth.properties.authentication_method = Some("m".into());
    auth.properties.user_properties.push(("k".into(), bad()));
    refused(auth, v5, &null("user property value"));
    let mut connack = ConnAck::new(false);
    connack.properties.assigned_client_identifier = Some(bad());
    refused(connack, v5, &null("assigned client identifier"));
}

/// The session measures every command's packet before queueing it, so a
/// string the encoder refuses is a `UsageError` and nothing goes out
/// (5.0 [MQTT-1.5.4-2], [MQTT-1.5.7-1], [MQTT-3.3.2-19]).
#[test]
fn session_commands_with_a_null_character_are_usage_errors_v5() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let mut publish = Publish::new("t", "x");
    publish.qos = QoS::AtLeastOnce;
    publish.properties.content_type = Some("a\0".into());
    assert_eq!(
        h.session.publish(publish, h.now),
        Err(UsageError::Encode(null("content type")))
    );
    let mut properties = mqtide_proto::SubscribeProperties::default();
    properties.user_properties.push(("k\0".into(), "v".into()));
    let filter = TopicFilter::new("a/#").unwrap();
    assert_eq!(
        h.session.subscribe(
            vec![(filter.clone(), SubscriptionOptions::new(QoS::AtMostOnce))],
            properties,
            h.now
        ),
        Err(UsageError::Encode(null("user property name")))
    );
    let mut properties = mqtide_proto::UnsubscribeProperties::default();
    properties.user_properties.push(("k".into(), "\0".into()));
    assert_eq!(
        h.session.unsubscribe(vec![filter], properties, h.now),
        Err(UsageError::Encode(null("user property value")))
    );
    let properties = mqtide_proto::DisconnectProperties {
        reason_string: Some("bye\0".into()),
        ..Default::default()
    };
    assert_eq!(
        h.session.disconnect(ReasonCode::Success, properties, h.now),
        Err(UsageError::Encode(null("reason string")))
    );
    h.drain();
    h.expect_nothing_sent();
    h.expect_no_event();
    assert_eq!(h.session.queued(), 0);
    assert!(h.session.is_connected());
}

/// Authentication Data without an Authentication Method is a protocol
/// error to its receiver (5.0 §3.1.2.11.10, §3.15.2.2.3), which our
/// decoder enforces; the encoder refuses to write it too.
#[test]
fn auth_data_without_a_method_is_not_encoded_v5() {
    let v5 = ProtocolVersion::V5;
    let data = || Some(Secret::new("token"));
    let mut connect = Connect::new(v5, "c");
    connect.properties.authentication_data = data();
    refused(connect, v5, &EncodeError::AuthDataWithoutMethod);
    let mut auth = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default(),
    };
    auth.properties.authentication_data = data();
    refused(auth, v5, &EncodeError::AuthDataWithoutMethod);
    let mut connack = ConnAck::new(false);
    connack.properties.authentication_data = data();
    refused(connack, v5, &EncodeError::AuthDataWithoutMethod);
}

/// 5.0 [MQTT-3.3.2-14]: a Response Topic is a topic name, so `+`, `#` and
/// an empty one are refused, in a publish and in the will, before anything
/// is sent.
#[test]
fn response_topic_is_a_topic_name_v5() {
    let v5 = ProtocolVersion::V5;
    let mut h = Harness::connected(v5);
    for (topic, error) in [
        ("reply/+", TopicError::WildcardInTopicName),
        ("reply/#", TopicError::WildcardInTopicName),
        ("+", TopicError::WildcardInTopicName),
        ("", TopicError::Empty),
    ] {
        let mut publish = Publish::new("request", "x");
        publish.qos = QoS::AtLeastOnce;
        publish.properties.response_topic = Some(topic.into());
        assert_eq!(
            h.session.publish(publish, h.now),
            Err(UsageError::InvalidResponseTopic(error)),
            "{topic:?}"
        );
    }
    h.drain();
    h.expect_nothing_sent();
    let mut fine = Publish::new("request", "x");
    fine.properties.response_topic = Some("reply/7".into());
    h.session.publish(fine, h.now).unwrap();
    h.drain();
    let sent = h.expect_publish();
    assert_eq!(sent.properties.response_topic.as_deref(), Some("reply/7"));

    // The will's Response Topic: the session refuses to connect with it.
    let mut config = Harness::config(v5);
    let properties = WillProperties {
        response_topic: Some("replies/#".into()),
        ..Default::default()
    };
    config.will = Some(LastWill {
        topic: "status".into(),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties,
    });
    let error = UsageError::InvalidResponseTopic(TopicError::WildcardInTopicName);
    assert_eq!(config.validate(), Err(error.clone()));
    let mut h = Harness::new(config);
    h.session.handle_connected(h.now);
    h.drain();
    h.expect_nothing_sent();
    assert_eq!(
        h.expect_event(),
        Event::Disconnected(ConnectionError::InvalidConfig(error))
    );
}
