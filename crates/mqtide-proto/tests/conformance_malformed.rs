//! Conformance: what the client does with strings and fixed headers it
//! receives. Ill-formed input ends the connection through the session (a
//! typed error, our DISCONNECT with 0x81 under 5.0, nothing more read);
//! well-formed but unusual input (U+FEFF) is passed on untouched.
//!
//! The session is sans-IO: "closing the Network Connection" is the session
//! ending the connection (`Event::Disconnected`, after which it reads and
//! sends nothing); the tokio driver shuts the transport on that event.

mod harness;

use bytes::{Bytes, BytesMut};
use harness::Harness;
use mqtide_proto::{
    ConnectionError, DecodeError, Disconnect, Event, Packet, PacketType, ProtocolError,
    ProtocolVersion, Publish, QoS, ReasonCode,
};

/// A QoS 0 PUBLISH whose topic is the raw bytes `topic`.
fn publish_with_topic(version: ProtocolVersion, topic: &[u8]) -> Vec<u8> {
    let len = u8::try_from(topic.len()).unwrap();
    let props: &[u8] = if version.is_v5() { &[0x00] } else { &[] };
    let remaining = 2 + len + u8::try_from(props.len()).unwrap() + 1;
    let mut wire = vec![0x30, remaining, 0x00, len];
    wire.extend_from_slice(topic);
    wire.extend_from_slice(props);
    wire.push(b'p');
    wire
}

/// Feeds `wire` to a connected session and checks the connection ended on
/// `expected`, with DISCONNECT 0x81 under 5.0 and nothing after it.
fn expect_malformed(version: ProtocolVersion, wire: &[u8], expected: &DecodeError) {
    let mut h = Harness::connected(version);
    h.feed(wire);
    assert_eq!(
        h.expect_disconnected(),
        ConnectionError::Protocol(ProtocolError::Decode(expected.clone())),
        "{wire:02x?} ({version})"
    );
    if version.is_v5() {
        assert_eq!(
            h.expect_sent(),
            Packet::Disconnect(Disconnect::new(ReasonCode::MalformedPacket))
        );
    }
    h.expect_nothing_sent();
    // Nothing more is read from this connection.
    let mut ping = BytesMut::new();
    Packet::PingResp.encode(version, &mut ping).unwrap();
    h.feed(&ping);
    h.expect_no_event();
}

each_version! {
    /// 3.1.1 [MQTT-1.5.3-1], 5.0 [MQTT-1.5.4-1]: ill-formed UTF-8 (a
    /// surrogate, a broken sequence, an overlong form) ends the connection.
    fn ill_formed_utf8_ends_the_connection(version: ProtocolVersion) {
        for bad in [&[0xED, 0xA0, 0x80][..], &[b'a', 0xC3, 0x28][..], &[0xC0, 0xAF][..]] {
            expect_malformed(version, &publish_with_topic(version, bad), &DecodeError::InvalidUtf8);
        }
    }
}

each_version! {
    /// 3.1.1 [MQTT-1.5.3-2], 5.0 [MQTT-1.5.4-2]: U+0000 in a received string
    /// ends the connection.
    fn null_character_ends_the_connection(version: ProtocolVersion) {
        expect_malformed(version, &publish_with_topic(version, b"a\0b"), &DecodeError::NullCharacter);
    }
}

/// A user property whose value carries U+0000 (5.0 [MQTT-1.5.7-1]).
#[test]
fn null_character_in_a_string_pair_ends_the_connection_v5() {
    // PUBLISH "t", Property Length 7: User Property "k" = "\0".
    let wire = [
        0x30, 0x0C, 0x00, 0x01, b't', 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, 0x00, b'p',
    ];
    expect_malformed(ProtocolVersion::V5, &wire, &DecodeError::NullCharacter);
}

each_version! {
    /// 3.1.1 [MQTT-2.2.2-2], 5.0 [MQTT-2.1.3-1]: a packet from the server
    /// with reserved flag bits set otherwise than listed ends the
    /// connection. Under 5.0 that includes DISCONNECT ([MQTT-3.14.1-1]) and
    /// AUTH ([MQTT-3.15.1-1]).
    fn reserved_flag_bits_end_the_connection(version: ProtocolVersion) {
        let mut cases = vec![
            (0x41, PacketType::PubAck),
            (0x58, PacketType::PubRec),
            (0x60, PacketType::PubRel),
            (0x6A, PacketType::PubRel),
            (0x71, PacketType::PubComp),
            (0x92, PacketType::SubAck),
            (0xB1, PacketType::UnsubAck),
            (0xD1, PacketType::PingResp),
        ];
        if version.is_v5() {
            cases.push((0xE2, PacketType::Disconnect));
            cases.push((0xF1, PacketType::Auth));
        }
        for (first, packet) in cases {
            let flags = first & 0x0F;
            expect_malformed(version, &[first, 0x00], &DecodeError::InvalidHeaderFlags { packet, flags });
        }
    }
}

each_version! {
    /// 3.1.1 [MQTT-1.5.3-3], 5.0 [MQTT-1.5.4-3]: the bytes EF BB BF are
    /// U+FEFF wherever they appear; the client neither skips nor strips
    /// them, receiving or sending.
    fn zero_width_no_break_space_is_kept(version: ProtocolVersion) {
        let topic = "\u{FEFF}sensors/\u{FEFF}";
        // Received: the topic reaches the application unchanged.
        let mut h = Harness::connected(version);
        let mut message = Publish::new(topic, Bytes::from_static(b"p"));
        if version.is_v5() {
            message.properties.user_properties.push(("\u{FEFF}k".into(), "v\u{FEFF}".into()));
        }
        h.deliver(message.clone());
        match h.expect_event() {
            Event::Message(m) => assert_eq!(m.publish, message),
            other => panic!("expected Message, got {other:?}"),
        }
        // Sent: the bytes go out as given.
        h.publish(topic, b"p", QoS::AtMostOnce);
        let sent = h.expect_publish();
        assert_eq!(sent.topic, topic);
        let mut wire = BytesMut::new();
        Packet::Publish(sent).encode(version, &mut wire).unwrap();
        // Fixed header (2 bytes), topic length (2 bytes), then the topic.
        assert_eq!(&wire[4..7], [0xEF, 0xBB, 0xBF]);
        assert_eq!(&wire[4..4 + topic.len()], topic.as_bytes());
    }
}
