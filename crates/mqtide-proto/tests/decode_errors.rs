//! Every way decoding and encoding can fail, each reached by a minimal
//! hand-written byte string (or packet) and checked for the exact variant.
//!
//! Sections are cited as in the specifications: `3.1.1 §x` (OASIS MQTT 3.1.1,
//! 2014), `5.0 §x` (OASIS MQTT 5.0, 2019), normative statements as
//! `[MQTT-x.y.z-n]`.

mod common;

use common::{cat, hex};
use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtide_proto::ProtocolVersion::{V3_1, V3_1_1, V5};
use mqtide_proto::{
    Ack, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, DecodeError, Disconnect, EncodeError, LastWill, MAX_PACKET_SIZE, Packet,
    PacketId, PacketType, PropertyId, ProtocolVersion, Publish, PublishProperties, QoS, ReasonCode,
    RetainHandling, Secret, SubAck, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, TopicError, UnsubAck, Unsubscribe, UnsubscribeProperties, VAR_INT_MAX,
    WillProperties,
};

const ALL: [ProtocolVersion; 3] = [V3_1, V3_1_1, V5];

/// Decodes `wire` with the largest maximum packet size.
fn decode(version: ProtocolVersion, wire: &[u8]) -> Result<Option<Packet>, DecodeError> {
    Packet::decode(&mut BytesMut::from(wire), version, MAX_PACKET_SIZE)
}

/// Decodes `wire`, which must fail.
fn decode_err(version: ProtocolVersion, wire: &[u8]) -> DecodeError {
    match decode(version, wire) {
        Err(e) => e,
        Ok(p) => panic!(
            "{} ({version}) decoded to {p:?}, expected an error",
            hex(wire)
        ),
    }
}

/// Decodes `wire` under `version` and asserts the error matches `pattern`.
macro_rules! assert_decode_err {
    ($version:expr, $wire:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {{
        let version: ProtocolVersion = $version;
        let wire: &[u8] = &$wire;
        let err = decode_err(version, wire);
        assert!(
            matches!(err, $pattern $(if $guard)?),
            "{} ({version}): got {err:?}",
            hex(wire)
        );
        err
    }};
}

/// The first bytes of a CONNECT body for `version`: protocol name and level.
fn protocol(version: ProtocolVersion) -> &'static [u8] {
    match version {
        V3_1 => &[0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03],
        V3_1_1 => &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04],
        V5 => &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05],
    }
}

fn pid(id: u16) -> PacketId {
    PacketId::new(id).unwrap()
}

// ---------------------------------------------------------------------------
// Framing: incomplete input, oversize packets, the remaining length
// ---------------------------------------------------------------------------

/// Valid packets of several shapes, for the prefix test.
fn valid_packets() -> Vec<(ProtocolVersion, Vec<u8>)> {
    vec![
        (V3_1_1, vec![0xC0, 0x00]),             // PINGREQ
        (V3_1_1, vec![0x40, 0x02, 0x00, 0x0A]), // PUBACK id 10
        (
            V3_1_1,
            cat(&[
                &[0x10, 0x0C], // CONNECT
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C],
                &[0x00, 0x00],
            ]),
        ),
        (
            V3_1,
            cat(&[
                &[0x82, 0x06],             // SUBSCRIBE
                &[0x00, 0x01],             // id 1
                &[0x00, 0x01, b'a', 0x01], // "a", QoS 1
            ]),
        ),
        (
            V5,
            cat(&[
                &[0x32, 0x0E],                   // PUBLISH QoS 1
                &[0x00, 0x01, b't', 0x00, 0x07], // "t", id 7
                &[0x03, 0x23, 0x00, 0x05],       // Topic Alias 5
                b"hello",
            ]),
        ),
        (
            V5,
            // PUBLISH whose remaining length takes two bytes: 203 = 0xCB 0x01
            cat(&[&[0x30, 0xCB, 0x01], &[0x00, 0x01, b'a', 0x00], &[b'x'; 199]]),
        ),
        (
            V5,
            cat(&[
                &[0x10, 0x2B], // CONNECT, 5.0 Figure 3-6 variable header
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xCE, 0x00, 0x0A],
                &[0x05, 0x11, 0x00, 0x00, 0x00, 0x0A], // Session Expiry 10
                &[0x00, 0x02, b'i', b'd', 0x00],       // client id, no will props
                &[0x00, 0x03, b'w', b'/', b't', 0x00, 0x03, b'b', b'y', b'e'],
                &[
                    0x00, 0x04, b'u', b's', b'e', b'r', 0x00, 0x04, b'p', b'a', b's', b's',
                ],
            ]),
        ),
        (V5, vec![0xE0, 0x01, 0x04]), // DISCONNECT with Will
        (V5, vec![0xF0, 0x01, 0x18]), // AUTH continue
    ]
}

/// A packet that has not fully arrived decodes to `None` and leaves the
/// buffer exactly as it was, for every prefix of every packet.
#[test]
fn incomplete_packet_is_none_and_consumes_nothing() {
    for (version, wire) in valid_packets() {
        for len in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..len]);
            let got = Packet::decode(&mut buf, version, MAX_PACKET_SIZE);
            assert!(
                matches!(got, Ok(None)),
                "prefix {} of {} ({version}): {got:?}",
                hex(&wire[..len]),
                hex(&wire)
            );
            assert_eq!(&buf[..], &wire[..len], "prefix must not be consumed");
        }
        let mut buf = BytesMut::from(&wire[..]);
        assert!(
            Packet::decode(&mut buf, version, MAX_PACKET_SIZE)
                .unwrap()
                .is_some(),
            "{} ({version})",
            hex(&wire)
        );
        assert!(buf.is_empty());
    }
}

/// The maximum packet size is checked as soon as the fixed header can be
/// read: the body is never waited for (5.0 §3.1.2.11.4, §4.13).
#[test]
fn packet_too_large_as_soon_as_the_fixed_header_is_readable() {
    // PUBLISH announcing remaining length 10: a packet of 12 bytes. Only the
    // fixed header has arrived.
    let header = [0x30, 0x0A];
    let mut buf = BytesMut::from(&header[..]);
    let err = Packet::decode(&mut buf, V3_1_1, 11).unwrap_err();
    assert!(
        matches!(err, DecodeError::PacketTooLarge { size: 12, max: 11 }),
        "{err:?}"
    );
    // Exactly at the limit it is fine: wait for the body.
    let mut buf = BytesMut::from(&header[..]);
    assert_eq!(Packet::decode(&mut buf, V3_1_1, 12), Ok(None));
    assert_eq!(&buf[..], &header[..]);

    // A two-byte remaining length (0x80 0x01 = 128) arriving one byte at a
    // time: incomplete until the second byte, then too large at once.
    let mut buf = BytesMut::from(&[0x30, 0x80][..]);
    assert_eq!(Packet::decode(&mut buf, V5, 100), Ok(None));
    buf.extend_from_slice(&[0x01]);
    let err = Packet::decode(&mut buf, V5, 100).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::PacketTooLarge {
                size: 131,
                max: 100
            }
        ),
        "{err:?}"
    );

    // The largest remaining length (0xFF 0xFF 0xFF 0x7F = 268 435 455): a
    // packet of MAX_PACKET_SIZE bytes, allowed at that limit and one byte
    // over any smaller one.
    let largest = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    assert_eq!(decode(V5, &largest), Ok(None));
    let err =
        Packet::decode(&mut BytesMut::from(&largest[..]), V5, MAX_PACKET_SIZE - 1).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::PacketTooLarge { size: 268_435_460, max } if max == MAX_PACKET_SIZE - 1
        ),
        "{err:?}"
    );

    // A complete packet over the limit is refused too.
    let err = Packet::decode(&mut BytesMut::from(&[0xC0, 0x00][..]), V3_1_1, 1).unwrap_err();
    assert!(
        matches!(err, DecodeError::PacketTooLarge { size: 2, max: 1 }),
        "{err:?}"
    );
}

/// 3.1.1 §2.2.3, 5.0 §1.5.5: at most four bytes of remaining length.
#[test]
fn five_byte_remaining_length_errors() {
    for version in ALL {
        // 0x80 0x80 0x80 0x80 0x01: the value 2^28, one past the largest.
        assert_decode_err!(
            version,
            [0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
            DecodeError::MalformedVarInt
        );
        // A non-minimal five-byte encoding of 0 is no better.
        assert_decode_err!(
            version,
            [0xC0, 0x80, 0x80, 0x80, 0x80, 0x00],
            DecodeError::MalformedVarInt
        );
        // The error comes as soon as the fourth byte still has its
        // continuation bit: the fifth need not arrive.
        assert_decode_err!(
            version,
            [0x30, 0xFF, 0xFF, 0xFF, 0xFF],
            DecodeError::MalformedVarInt
        );
        // Three continuation bytes are merely incomplete.
        assert_eq!(decode(version, &[0x30, 0xFF, 0xFF, 0xFF]), Ok(None));
    }
}

// ---------------------------------------------------------------------------
// One test per DecodeError variant
// ---------------------------------------------------------------------------

#[test]
fn malformed_var_int() {
    // In the fixed header: see also five_byte_remaining_length_errors.
    assert_decode_err!(
        V3_1_1,
        [0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
        DecodeError::MalformedVarInt
    );
    // A Property Length of five bytes (5.0 §2.2.2.1).
    assert_decode_err!(
        V5,
        cat(&[
            &[0x40, 0x08],                   // PUBACK, remaining length 8
            &[0x00, 0x01, 0x10],             // id 1, reason 0x10
            &[0x80, 0x80, 0x80, 0x80, 0x01], // Property Length: 5 bytes
        ]),
        DecodeError::MalformedVarInt
    );
    // A Subscription Identifier of five bytes (5.0 §3.3.2.3.8).
    assert_decode_err!(
        V5,
        cat(&[
            &[0x30, 0x0A],                         // PUBLISH, remaining length 10
            &[0x00, 0x01, b't'],                   // topic "t"
            &[0x06],                               // Property Length 6
            &[0x0B, 0x80, 0x80, 0x80, 0x80, 0x01], // Subscription Identifier
        ]),
        DecodeError::MalformedVarInt
    );
}

#[test]
fn packet_too_large() {
    let err = Packet::decode(&mut BytesMut::from(&[0x30, 0x0A][..]), V5, 11).unwrap_err();
    assert!(
        matches!(err, DecodeError::PacketTooLarge { size: 12, max: 11 }),
        "{err:?}"
    );
}

#[test]
fn reserved_packet_type() {
    // 3.1.1 Table 2.1, 5.0 Table 2-1: type 0 is reserved (forbidden).
    for version in ALL {
        assert_decode_err!(version, [0x00, 0x00], DecodeError::ReservedPacketType(0));
    }
}

#[test]
fn invalid_header_flags() {
    // 3.1.1 Table 2.2, 5.0 Table 2-2: the fixed flags of each type
    // [MQTT-2.1.3-1]. One wrong value per type.
    let cases: &[(ProtocolVersion, u8, PacketType, u8)] = &[
        (V3_1_1, 0x11, PacketType::Connect, 0b0001),
        (V3_1_1, 0x22, PacketType::ConnAck, 0b0010),
        (V3_1_1, 0x41, PacketType::PubAck, 0b0001),
        (V3_1_1, 0x58, PacketType::PubRec, 0b1000),
        (V3_1_1, 0x60, PacketType::PubRel, 0b0000), // PUBREL needs 0010
        (V3_1_1, 0x63, PacketType::PubRel, 0b0011),
        (V3_1_1, 0x6A, PacketType::PubRel, 0b1010), // DUP is reserved since 3.1.1
        (V5, 0x6A, PacketType::PubRel, 0b1010),
        (V3_1_1, 0x74, PacketType::PubComp, 0b0100),
        (V3_1_1, 0x80, PacketType::Subscribe, 0b0000), // SUBSCRIBE needs 0010
        (V5, 0x8A, PacketType::Subscribe, 0b1010),
        (V3_1_1, 0x92, PacketType::SubAck, 0b0010),
        (V3_1_1, 0xA0, PacketType::Unsubscribe, 0b0000), // needs 0010
        (V3_1_1, 0xB1, PacketType::UnsubAck, 0b0001),
        (V3_1_1, 0xC8, PacketType::PingReq, 0b1000),
        (V3_1_1, 0xD1, PacketType::PingResp, 0b0001),
        (V5, 0xE2, PacketType::Disconnect, 0b0010),
        (V5, 0xF1, PacketType::Auth, 0b0001),
        // 3.1 allows DUP on a retried PUBREL/SUBSCRIBE/UNSUBSCRIBE, but
        // nothing else.
        (V3_1, 0x6B, PacketType::PubRel, 0b1011),
        (V3_1, 0x4A, PacketType::PubAck, 0b1010),
    ];
    for &(version, first, packet_type, bits) in cases {
        assert_decode_err!(
            version,
            [first, 0x00],
            DecodeError::InvalidHeaderFlags { packet, flags }
                if packet == packet_type && flags == bits
        );
    }
}

#[test]
fn invalid_qos() {
    for version in ALL {
        // PUBLISH with both QoS bits set [MQTT-3.3.1-4].
        assert_decode_err!(version, [0x36, 0x00], DecodeError::InvalidQoS);
        assert_decode_err!(version, [0x3F, 0x00], DecodeError::InvalidQoS);
        // A will with QoS 3 [MQTT-3.1.2-14]: Connect Flags 0001 1110.
        assert_decode_err!(
            version,
            cat(&[
                &[0x10, 0x11],
                protocol(V3_1_1),
                &[0x1E, 0x00, 0x3C], // Will QoS 11, Will Flag, Clean
                &[0x00, 0x00],       // client id ""
                &[0x00, 0x01, b't'], // will topic "t"
                &[0x00, 0x00],       // will message
            ]),
            DecodeError::InvalidQoS
        );
    }
}

#[test]
fn dup_with_qos0() {
    // [MQTT-3.3.1-2]: DUP must be 0 for QoS 0.
    for version in ALL {
        assert_decode_err!(
            version,
            [0x38, 0x04, 0x00, 0x01, b'a', b'x'],
            DecodeError::DupWithQoS0
        );
        assert_decode_err!(version, [0x39, 0x00], DecodeError::DupWithQoS0);
    }
}

#[test]
fn truncated() {
    // 3.1.1 PUBACK with only one byte of packet identifier.
    assert_decode_err!(
        V3_1_1,
        [0x40, 0x01, 0x00],
        DecodeError::Truncated { packet: "PUBACK" }
    );
    // A topic whose length prefix promises more than the packet holds.
    assert_decode_err!(
        V3_1_1,
        [0x30, 0x04, 0x00, 0x05, b'a', b'b'],
        DecodeError::Truncated { packet: "PUBLISH" }
    );
    // A QoS 1 PUBLISH that ends inside its packet identifier.
    assert_decode_err!(
        V3_1_1,
        [0x32, 0x04, 0x00, 0x01, b'a', 0x00],
        DecodeError::Truncated { .. }
    );
    // A Property Length of 5 with nothing after it.
    assert_decode_err!(
        V5,
        [0x40, 0x04, 0x00, 0x01, 0x10, 0x05],
        DecodeError::Truncated { .. }
    );
    // A property whose value is cut short: Session Expiry needs four bytes.
    assert_decode_err!(
        V5,
        [0xE0, 0x05, 0x00, 0x03, 0x11, 0x00, 0x00],
        DecodeError::Truncated { .. }
    );
    // 5.0 CONNACK without its Property Length (5.0 §3.2.2.3.1).
    assert_decode_err!(V5, [0x20, 0x02, 0x00, 0x00], DecodeError::Truncated { .. });
    // A SUBSCRIBE topic filter without its options byte.
    assert_decode_err!(
        V3_1_1,
        [0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        DecodeError::Truncated { .. }
    );
    // SUBACK without a single return code (3.1.1 §3.9.3).
    assert_decode_err!(
        V3_1_1,
        [0x90, 0x02, 0x00, 0x01],
        DecodeError::Truncated { packet: "SUBACK" }
    );
    // 5.0 UNSUBACK without a single reason code (5.0 §3.11.3).
    assert_decode_err!(
        V5,
        [0xB0, 0x03, 0x00, 0x01, 0x00],
        DecodeError::Truncated { packet: "UNSUBACK" }
    );
    // CONNECT whose User Name Flag promises a user name that is not there.
    assert_decode_err!(
        V3_1_1,
        cat(&[
            &[0x10, 0x0C],
            protocol(V3_1_1),
            &[0x82, 0x00, 0x3C], // User Name Flag, Clean Session
            &[0x00, 0x00],       // client id ""
        ]),
        DecodeError::Truncated { packet: "CONNECT" }
    );
}

#[test]
fn trailing_bytes() {
    // 3.1.1 acknowledgements have remaining length 2 exactly.
    assert_decode_err!(
        V3_1_1,
        [0x40, 0x03, 0x00, 0x01, 0x00],
        DecodeError::TrailingBytes {
            packet: "PUBACK",
            extra: 1
        }
    );
    assert_decode_err!(
        V3_1_1,
        [0xB0, 0x04, 0x00, 0x01, 0x00, 0x00],
        DecodeError::TrailingBytes {
            packet: "UNSUBACK",
            extra: 2
        }
    );
    // 3.1.1 CONNACK has remaining length 2 (3.1.1 §3.2.1).
    assert_decode_err!(
        V3_1_1,
        [0x20, 0x03, 0x00, 0x00, 0x00],
        DecodeError::TrailingBytes {
            packet: "CONNACK",
            extra: 1
        }
    );
    // PINGREQ has no body in any version; DISCONNECT none before 5.0.
    for version in ALL {
        assert_decode_err!(
            version,
            [0xC0, 0x01, 0x00],
            DecodeError::TrailingBytes {
                packet: "PINGREQ",
                extra: 1
            }
        );
    }
    assert_decode_err!(
        V3_1_1,
        [0xE0, 0x01, 0x00],
        DecodeError::TrailingBytes {
            packet: "DISCONNECT",
            extra: 1
        }
    );
    // 5.0 PUBACK with a byte after its (empty) properties.
    assert_decode_err!(
        V5,
        [0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0xFF],
        DecodeError::TrailingBytes {
            packet: "PUBACK",
            extra: 1
        }
    );
    // CONNECT with a byte after its last field.
    assert_decode_err!(
        V3_1_1,
        cat(&[
            &[0x10, 0x0D],
            protocol(V3_1_1),
            &[0x02, 0x00, 0x3C],
            &[0x00, 0x00],
            &[0x00],
        ]),
        DecodeError::TrailingBytes {
            packet: "CONNECT",
            extra: 1
        }
    );
}

#[test]
fn invalid_utf8() {
    // [MQTT-1.5.4-1]: ill-formed UTF-8, surrogates included.
    for bad in [
        &[0xC3, 0x28][..],       // a lead byte followed by a non-continuation
        &[0xED, 0xA0, 0x80][..], // U+D800, a surrogate
        &[0xC0, 0xAF][..],       // an overlong encoding of '/'
        &[0xFF][..],             // never valid in UTF-8
    ] {
        let len = u8::try_from(bad.len()).unwrap();
        // As a topic name.
        assert_decode_err!(
            V3_1_1,
            cat(&[&[0x30, 2 + len, 0x00, len], bad]),
            DecodeError::InvalidUtf8
        );
        // As a user property value (5.0 §1.5.7 [MQTT-1.5.7-1]).
        assert_decode_err!(
            V5,
            cat(&[
                &[0x40, 10 + len, 0x00, 0x01, 0x10], // PUBACK, id 1, reason 0x10
                &[6 + len],                          // Property Length
                &[0x26, 0x00, 0x01, b'k', 0x00, len],
                bad,
            ]),
            DecodeError::InvalidUtf8
        );
    }
}

#[test]
fn null_character() {
    // [MQTT-1.5.4-2]: U+0000 is not allowed in any UTF-8 string.
    assert_decode_err!(
        V3_1_1,
        [0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'],
        DecodeError::NullCharacter
    );
    // In a client identifier.
    assert_decode_err!(
        V3_1_1,
        cat(&[
            &[0x10, 0x0D],
            protocol(V3_1_1),
            &[0x02, 0x00, 0x3C],
            &[0x00, 0x01, 0x00],
        ]),
        DecodeError::NullCharacter
    );
    // In a user property name.
    assert_decode_err!(
        V5,
        [
            0x40, 0x0B, 0x00, 0x01, 0x10, 0x07, 0x26, 0x00, 0x01, 0x00, 0x00, 0x01, b'v'
        ],
        DecodeError::NullCharacter
    );
}

#[test]
fn zero_packet_id() {
    // [MQTT-2.2.1-3]: packet identifiers are non-zero.
    for version in ALL {
        assert_decode_err!(version, [0x40, 0x02, 0x00, 0x00], DecodeError::ZeroPacketId);
        assert_decode_err!(version, [0x62, 0x02, 0x00, 0x00], DecodeError::ZeroPacketId);
        // QoS 1 PUBLISH to "a" with packet identifier 0.
        assert_decode_err!(
            version,
            [0x32, 0x06, 0x00, 0x01, b'a', 0x00, 0x00, 0x00],
            DecodeError::ZeroPacketId
        );
        // SUBSCRIBE with packet identifier 0.
        assert_decode_err!(
            version,
            [0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00],
            DecodeError::ZeroPacketId
        );
    }
}

#[test]
fn invalid_protocol_name() {
    // [MQTT-3.1.2-1]: "MQTT" (or "MQIsdp" at level 3).
    for name_and_level in [
        &[0x00, 0x04, b'M', b'Q', b'T', b'X', 0x04][..], // not MQTT
        &[0x00, 0x04, b'm', b'q', b't', b't', 0x04][..], // case matters
        &[0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x04][..], // 3.1 name, level 4
        &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x03][..], // 3.1.1 name, level 3
    ] {
        let len = u8::try_from(name_and_level.len()).unwrap();
        assert_decode_err!(
            V3_1_1,
            cat(&[
                &[0x10, len + 5],
                name_and_level,
                &[0x02, 0x00, 0x3C, 0x00, 0x00]
            ]),
            DecodeError::InvalidProtocolName
        );
    }
}

#[test]
fn unsupported_protocol_level() {
    // [MQTT-3.1.2-2]: only levels 3, 4 and 5 exist here.
    for level in [0x00, 0x02, 0x06, 0xFF] {
        let err = assert_decode_err!(
            V3_1_1,
            cat(&[
                &[0x10, 0x0C],
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', level],
                &[0x02, 0x00, 0x3C, 0x00, 0x00],
            ]),
            DecodeError::UnsupportedProtocolLevel(_)
        );
        assert_eq!(err, DecodeError::UnsupportedProtocolLevel(level));
    }
}

#[test]
fn connect_reserved_flag() {
    // [MQTT-3.1.2-3]: bit 0 of the Connect Flags is reserved.
    for version in ALL {
        let extra: &[u8] = if version.is_v5() { &[0x00] } else { &[] };
        let body = cat(&[
            protocol(version),
            &[0x03, 0x00, 0x3C],
            extra,
            &[0x00, 0x01, b'c'],
        ]);
        let len = u8::try_from(body.len()).unwrap();
        assert_decode_err!(
            version,
            cat(&[&[0x10, len], &body]),
            DecodeError::ConnectReservedFlag
        );
    }
}

#[test]
fn will_flags_without_will() {
    // [MQTT-3.1.2-11] (3.1.1 -13), [MQTT-3.1.2-13] (3.1.1 -15): Will QoS and
    // Will Retain must be 0 when the Will Flag is 0.
    for flags in [0x0A, 0x12, 0x22] {
        assert_decode_err!(
            V3_1_1,
            cat(&[
                &[0x10, 0x0C],
                protocol(V3_1_1),
                &[flags, 0x00, 0x3C, 0x00, 0x00]
            ]),
            DecodeError::WillFlagsWithoutWill
        );
    }
}

#[test]
fn password_without_username() {
    // 3.1.1 [MQTT-3.1.2-22]: Password Flag needs the User Name Flag (5.0
    // dropped the rule; see golden_vectors).
    for version in [V3_1, V3_1_1] {
        let body = cat(&[
            protocol(version),
            &[0x42, 0x00, 0x3C],       // Password Flag, Clean Session
            &[0x00, 0x01, b'c'],       // client id "c"
            &[0x00, 0x02, b'p', b'w'], // password
        ]);
        let len = u8::try_from(body.len()).unwrap();
        assert_decode_err!(
            version,
            cat(&[&[0x10, len], &body]),
            DecodeError::PasswordWithoutUsername
        );
    }
}

#[test]
fn invalid_connack_flags() {
    // 3.1.1 §3.2.2.1, [MQTT-3.2.2-1] (5.0): bits 7-1 are reserved.
    assert_decode_err!(
        V3_1_1,
        [0x20, 0x02, 0x02, 0x00],
        DecodeError::InvalidConnAckFlags(0x02)
    );
    assert_decode_err!(
        V5,
        [0x20, 0x03, 0x80, 0x00, 0x00],
        DecodeError::InvalidConnAckFlags(0x80)
    );
}

#[test]
fn invalid_reason_code() {
    let cases: &[(ProtocolVersion, &[u8], PacketType, u8)] = &[
        // 3.1.1 Table 3.1: return codes 6-255 are reserved.
        (V3_1_1, &[0x20, 0x02, 0x00, 0x06], PacketType::ConnAck, 0x06),
        (V3_1, &[0x20, 0x02, 0x00, 0x80], PacketType::ConnAck, 0x80),
        // 5.0 Table 3-1: 0x01 and 0x04 are no CONNACK reason codes.
        (
            V5,
            &[0x20, 0x03, 0x00, 0x01, 0x00],
            PacketType::ConnAck,
            0x01,
        ),
        (
            V5,
            &[0x20, 0x03, 0x00, 0x04, 0x00],
            PacketType::ConnAck,
            0x04,
        ),
        // 5.0 Table 3-4: 0x92 belongs to PUBREL/PUBCOMP, not PUBACK.
        (
            V5,
            &[0x40, 0x03, 0x00, 0x01, 0x92],
            PacketType::PubAck,
            0x92,
        ),
        (
            V5,
            &[0x50, 0x03, 0x00, 0x01, 0x8F],
            PacketType::PubRec,
            0x8F,
        ),
        // 5.0 Tables 3-6, 3-7: PUBREL and PUBCOMP know only 0x00 and 0x92.
        (
            V5,
            &[0x62, 0x03, 0x00, 0x01, 0x10],
            PacketType::PubRel,
            0x10,
        ),
        (
            V5,
            &[0x70, 0x03, 0x00, 0x01, 0x80],
            PacketType::PubComp,
            0x80,
        ),
        // 3.1.1 §3.9.3 [MQTT-3.9.3-2]: SUBACK return codes 0, 1, 2, 0x80.
        (
            V3_1_1,
            &[0x90, 0x03, 0x00, 0x01, 0x03],
            PacketType::SubAck,
            0x03,
        ),
        // 5.0 Table 3-8 and 3-9.
        (
            V5,
            &[0x90, 0x04, 0x00, 0x01, 0x00, 0x11],
            PacketType::SubAck,
            0x11,
        ),
        (
            V5,
            &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x02],
            PacketType::UnsubAck,
            0x02,
        ),
        // 5.0 Table 3-10: 0x05 is undefined, 0x8C is no DISCONNECT code.
        (V5, &[0xE0, 0x01, 0x05], PacketType::Disconnect, 0x05),
        (V5, &[0xE0, 0x01, 0x8C], PacketType::Disconnect, 0x8C),
        // 5.0 Table 3-13: AUTH knows 0x00, 0x18, 0x19.
        (V5, &[0xF0, 0x01, 0x87], PacketType::Auth, 0x87),
    ];
    for &(version, wire, packet_type, value) in cases {
        assert_decode_err!(
            version,
            wire,
            DecodeError::InvalidReasonCode { packet, code }
                if packet == packet_type && code == value
        );
    }
}

// ---------------------------------------------------------------------------
// Topics: DecodeError::InvalidTopic, one test per reachable TopicError
// ---------------------------------------------------------------------------

/// A 3.1.1 SUBSCRIBE (id 1) of `filter` at QoS 0.
fn subscribe_to(filter: &[u8]) -> Vec<u8> {
    let len = u8::try_from(filter.len()).unwrap();
    cat(&[&[0x82, 5 + len, 0x00, 0x01, 0x00, len], filter, &[0x00]])
}

/// A 3.1.1 UNSUBSCRIBE (id 1) of `filter`.
fn unsubscribe_from(filter: &[u8]) -> Vec<u8> {
    let len = u8::try_from(filter.len()).unwrap();
    cat(&[&[0xA2, 4 + len, 0x00, 0x01, 0x00, len], filter])
}

/// A 3.1.1 CONNECT with a will on `topic`.
fn connect_with_will(topic: &[u8]) -> Vec<u8> {
    let len = u8::try_from(topic.len()).unwrap();
    cat(&[
        &[0x10, 16 + len],
        protocol(V3_1_1),
        &[0x06, 0x00, 0x3C], // Will Flag, Clean Session
        &[0x00, 0x00],       // client id ""
        &[0x00, len],
        topic,
        &[0x00, 0x00], // will message
    ])
}

#[test]
fn topic_empty() {
    // [MQTT-4.7.3-1]: topic filters and will topics are at least one
    // character long.
    assert_decode_err!(
        V3_1_1,
        subscribe_to(b""),
        DecodeError::InvalidTopic(TopicError::Empty)
    );
    assert_decode_err!(
        V3_1_1,
        unsubscribe_from(b""),
        DecodeError::InvalidTopic(TopicError::Empty)
    );
    assert_decode_err!(
        V3_1_1,
        connect_with_will(b""),
        DecodeError::InvalidTopic(TopicError::Empty)
    );
}

#[test]
fn topic_wildcard_in_topic_name() {
    // [MQTT-3.3.2-2]: no wildcards in a PUBLISH topic name.
    for topic in [&b"a/+"[..], b"#", b"a/#"] {
        let len = u8::try_from(topic.len()).unwrap();
        for version in ALL {
            let props: &[u8] = if version.is_v5() { &[0x00] } else { &[] };
            let body = cat(&[&[0x00, len], topic, props]);
            let rl = u8::try_from(body.len()).unwrap();
            assert_decode_err!(
                version,
                cat(&[&[0x30, rl], &body]),
                DecodeError::InvalidTopic(TopicError::WildcardInTopicName)
            );
        }
        // Nor in a will topic [MQTT-3.1.3-11] (5.0).
        assert_decode_err!(
            V3_1_1,
            connect_with_will(topic),
            DecodeError::InvalidTopic(TopicError::WildcardInTopicName)
        );
    }
}

#[test]
fn topic_misplaced_multi_level_wildcard() {
    // [MQTT-4.7.1-1]: '#' alone in the last level.
    for filter in [&b"a/#/b"[..], b"a#", b"#/", b"a/b#"] {
        assert_decode_err!(
            V3_1_1,
            subscribe_to(filter),
            DecodeError::InvalidTopic(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_decode_err!(
            V3_1_1,
            unsubscribe_from(filter),
            DecodeError::InvalidTopic(TopicError::MisplacedMultiLevelWildcard)
        );
    }
}

#[test]
fn topic_misplaced_single_level_wildcard() {
    // [MQTT-4.7.1-2]: '+' fills a whole level.
    for filter in [&b"a+"[..], b"+a/b", b"a/b+", b"a/++"] {
        assert_decode_err!(
            V3_1_1,
            subscribe_to(filter),
            DecodeError::InvalidTopic(TopicError::MisplacedSingleLevelWildcard)
        );
        assert_decode_err!(
            V3_1_1,
            unsubscribe_from(filter),
            DecodeError::InvalidTopic(TopicError::MisplacedSingleLevelWildcard)
        );
    }
}

#[test]
fn topic_invalid_shared_subscription() {
    // 5.0 §4.8.2 [MQTT-4.8.2-1], [MQTT-4.8.2-2]: $share/{ShareName}/{filter},
    // ShareName at least one character and free of '/', '+', '#'.
    for filter in [
        &b"$share//x"[..], // empty ShareName
        b"$share/g",       // no filter
        b"$share/g/",      // empty filter
        b"$share/g+/x",    // wildcard in ShareName
        b"$share/#/x",
    ] {
        let len = u8::try_from(filter.len()).unwrap();
        assert_decode_err!(
            V5,
            // SUBSCRIBE id 1, Property Length 0, the filter at QoS 0
            cat(&[
                &[0x82, 6 + len, 0x00, 0x01, 0x00, 0x00, len],
                filter,
                &[0x00]
            ]),
            DecodeError::InvalidTopic(TopicError::InvalidSharedSubscription)
        );
    }
}

/// `TopicError::TooLong` and `TopicError::NullCharacter` cannot come out of
/// decoding: a string's length prefix cannot exceed 65 535, and U+0000 is
/// refused as `DecodeError::NullCharacter` when the string is read, before
/// any topic rule runs.
#[test]
fn topic_errors_unreachable_through_decoding() {
    assert_decode_err!(V3_1_1, subscribe_to(b"a/\0"), DecodeError::NullCharacter);
    // The longest possible filter is fine.
    let filter = vec![b'a'; 65_535];
    let wire = cat(&[
        &[0x82, 0x84, 0x80, 0x04], // SUBSCRIBE, remaining length 65 540
        &[0x00, 0x01],             // id 1
        &[0xFF, 0xFF],             // filter length 65 535
        &filter,
        &[0x00], // QoS 0
    ]);
    assert!(matches!(
        decode(V3_1_1, &wire),
        Ok(Some(Packet::Subscribe(_)))
    ));
}

#[test]
fn empty_topic_name() {
    // 3.1.1 [MQTT-4.7.3-1]; 5.0 §3.3.2.1: "It is a Protocol Error if the
    // Topic Name is zero length and there is no Topic Alias."
    for version in [V3_1, V3_1_1] {
        assert_decode_err!(
            version,
            [0x30, 0x03, 0x00, 0x00, b'x'],
            DecodeError::EmptyTopicName
        );
    }
    assert_decode_err!(
        V5,
        [0x30, 0x04, 0x00, 0x00, 0x00, b'x'],
        DecodeError::EmptyTopicName
    );
    // Other properties do not stand in for the alias.
    assert_decode_err!(
        V5,
        [0x30, 0x06, 0x00, 0x00, 0x02, 0x01, 0x01, b'x'],
        DecodeError::EmptyTopicName
    );
}

#[test]
fn no_topic_filters() {
    // [MQTT-3.8.3-3] (3.1.1), [MQTT-3.10.3-2]: at least one filter.
    for version in [V3_1, V3_1_1] {
        assert_decode_err!(
            version,
            [0x82, 0x02, 0x00, 0x01],
            DecodeError::NoTopicFilters(PacketType::Subscribe)
        );
        assert_decode_err!(
            version,
            [0xA2, 0x02, 0x00, 0x01],
            DecodeError::NoTopicFilters(PacketType::Unsubscribe)
        );
    }
    assert_decode_err!(
        V5,
        [0x82, 0x03, 0x00, 0x01, 0x00],
        DecodeError::NoTopicFilters(PacketType::Subscribe)
    );
    assert_decode_err!(
        V5,
        [0xA2, 0x03, 0x00, 0x01, 0x00],
        DecodeError::NoTopicFilters(PacketType::Unsubscribe)
    );
}

#[test]
fn invalid_subscription_options() {
    // 3.1.1 [MQTT-3.8.3-4]: the upper six bits are reserved, QoS 3 invalid.
    for byte in [0x03, 0x04, 0x10, 0x80] {
        assert_decode_err!(
            V3_1_1,
            [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', byte],
            DecodeError::InvalidSubscriptionOptions(b) if b == byte
        );
    }
    // 5.0 §3.8.3.1: bits 7-6 reserved [MQTT-3.8.3-5]; QoS 3 and Retain
    // Handling 3 are errors.
    for byte in [0x40, 0x80, 0x03, 0x30] {
        assert_decode_err!(
            V5,
            [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', byte],
            DecodeError::InvalidSubscriptionOptions(b) if b == byte
        );
    }
}

/// A 5.0 PUBACK (id 1, reason 0x10) carrying the property bytes `props`.
fn puback_with(props: &[u8]) -> Vec<u8> {
    let len = u8::try_from(props.len()).unwrap();
    cat(&[&[0x40, 4 + len, 0x00, 0x01, 0x10, len], props])
}

/// A 5.0 QoS 0 PUBLISH to "t" carrying the property bytes `props`.
fn publish_with(props: &[u8]) -> Vec<u8> {
    let len = u8::try_from(props.len()).unwrap();
    cat(&[&[0x30, 4 + len, 0x00, 0x01, b't', len], props])
}

/// A 5.0 CONNECT (client id "c") carrying the property bytes `props`.
fn connect_with(props: &[u8]) -> Vec<u8> {
    let len = u8::try_from(props.len()).unwrap();
    cat(&[
        &[0x10, 14 + len],
        protocol(V5),
        &[0x02, 0x00, 0x3C, len],
        props,
        &[0x00, 0x01, b'c'],
    ])
}

#[test]
fn unknown_property() {
    // 5.0 §2.2.2.2 Table 2-4 defines no property 0x00, 0x05 or 0x80.
    assert_decode_err!(
        V5,
        puback_with(&[0x05, 0x00]),
        DecodeError::UnknownProperty(0x05)
    );
    assert_decode_err!(V5, puback_with(&[0x00]), DecodeError::UnknownProperty(0x00));
    // The identifier is a Variable Byte Integer: 0x80 0x01 is 128.
    assert_decode_err!(
        V5,
        puback_with(&[0x80, 0x01, 0x00]),
        DecodeError::UnknownProperty(128)
    );
}

#[test]
fn property_not_allowed() {
    // 5.0 §2.2.2.2: an identifier not valid for the packet type.
    assert_decode_err!(
        V5,
        publish_with(&[0x11, 0x00, 0x00, 0x00, 0x0A]), // Session Expiry in PUBLISH
        DecodeError::PropertyNotAllowed {
            property: PropertyId::SessionExpiryInterval,
            packet: "PUBLISH"
        }
    );
    assert_decode_err!(
        V5,
        connect_with(&[0x23, 0x00, 0x01]), // Topic Alias in CONNECT
        DecodeError::PropertyNotAllowed {
            property: PropertyId::TopicAlias,
            packet: "CONNECT"
        }
    );
    assert_decode_err!(
        V5,
        puback_with(&[0x03, 0x00, 0x01, b'x']), // Content Type in PUBACK
        DecodeError::PropertyNotAllowed {
            property: PropertyId::ContentType,
            ..
        }
    );
    // Subscription Identifier in the will properties (5.0 §3.1.3.2).
    assert_decode_err!(
        V5,
        cat(&[
            &[0x10, 0x15],
            protocol(V5),
            &[0x06, 0x00, 0x3C, 0x00], // Will Flag, Clean Start; no properties
            &[0x00, 0x00],             // client id ""
            &[0x02, 0x0B, 0x01],       // Will Properties: Subscription Identifier 1
            &[0x00, 0x01, b't'],       // will topic "t"
            &[0x00, 0x00],             // will payload
        ]),
        DecodeError::PropertyNotAllowed {
            property: PropertyId::SubscriptionIdentifier,
            packet: "the will"
        }
    );
    // Subscription Identifier in UNSUBSCRIBE (5.0 §3.10.2.1).
    assert_decode_err!(
        V5,
        [0xA2, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x01, 0x00, 0x01, b'a'],
        DecodeError::PropertyNotAllowed {
            property: PropertyId::SubscriptionIdentifier,
            packet: "UNSUBSCRIBE"
        }
    );
}

#[test]
fn duplicate_property() {
    // "It is a Protocol Error to include the Topic Alias value more than
    // once" (5.0 §3.3.2.3.4), and likewise for every single-valued property.
    assert_decode_err!(
        V5,
        publish_with(&[0x23, 0x00, 0x01, 0x23, 0x00, 0x02]),
        DecodeError::DuplicateProperty(PropertyId::TopicAlias)
    );
    assert_decode_err!(
        V5,
        connect_with(&[0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x01]),
        DecodeError::DuplicateProperty(PropertyId::SessionExpiryInterval)
    );
    assert_decode_err!(
        V5,
        puback_with(&[0x1F, 0x00, 0x01, b'a', 0x1F, 0x00, 0x01, b'b']),
        DecodeError::DuplicateProperty(PropertyId::ReasonString)
    );
    // SUBSCRIBE takes one Subscription Identifier (5.0 §3.8.2.1.2).
    assert_decode_err!(
        V5,
        [
            0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, b'a', 0x00
        ],
        DecodeError::DuplicateProperty(PropertyId::SubscriptionIdentifier)
    );
}

#[test]
fn invalid_property_value() {
    let cases: &[(Vec<u8>, PropertyId, u32)] = &[
        // "It is a Protocol Error ... for it to have the value 0" (5.0
        // §3.1.2.11.3, §3.1.2.11.4).
        (
            connect_with(&[0x21, 0x00, 0x00]),
            PropertyId::ReceiveMaximum,
            0,
        ),
        (
            connect_with(&[0x27, 0x00, 0x00, 0x00, 0x00]),
            PropertyId::MaximumPacketSize,
            0,
        ),
        // "... a value other than 0 or 1" (5.0 §3.1.2.11.6, §3.1.2.11.7).
        (
            connect_with(&[0x19, 0x02]),
            PropertyId::RequestResponseInformation,
            2,
        ),
        (
            connect_with(&[0x17, 0xFF]),
            PropertyId::RequestProblemInformation,
            255,
        ),
        // Topic Alias 0 [MQTT-3.3.2-8]; Payload Format Indicator is 0 or 1.
        (publish_with(&[0x23, 0x00, 0x00]), PropertyId::TopicAlias, 0),
        (
            publish_with(&[0x01, 0x02]),
            PropertyId::PayloadFormatIndicator,
            2,
        ),
        // Subscription Identifier 0 in a PUBLISH (5.0 §3.3.2.3.8).
        (
            publish_with(&[0x0B, 0x00]),
            PropertyId::SubscriptionIdentifier,
            0,
        ),
        // CONNACK Maximum QoS 0 or 1, Retain Available 0 or 1 (5.0
        // §3.2.2.3.4, §3.2.2.3.5).
        (
            vec![0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
            PropertyId::MaximumQoS,
            2,
        ),
        (
            vec![0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x03],
            PropertyId::RetainAvailable,
            3,
        ),
    ];
    for (wire, expected_property, expected_value) in cases {
        assert_decode_err!(
            V5,
            wire[..],
            DecodeError::InvalidPropertyValue { property, value }
                if property == *expected_property && value == *expected_value
        );
    }
    // A Subscription Identifier of 0 in SUBSCRIBE (5.0 §3.8.2.1.2).
    assert_decode_err!(
        V5,
        [
            0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, b'a', 0x00
        ],
        DecodeError::InvalidPropertyValue {
            property: PropertyId::SubscriptionIdentifier,
            value: 0
        }
    );
}

#[test]
fn auth_data_without_method() {
    // "It is a Protocol Error to include Authentication Data if there is no
    // Authentication Method" (5.0 §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3).
    assert_decode_err!(
        V5,
        connect_with(&[0x16, 0x00, 0x01, 0x07]),
        DecodeError::AuthDataWithoutMethod
    );
    assert_decode_err!(
        V5,
        [0x20, 0x07, 0x00, 0x00, 0x04, 0x16, 0x00, 0x01, 0x07],
        DecodeError::AuthDataWithoutMethod
    );
    assert_decode_err!(
        V5,
        [0xF0, 0x06, 0x18, 0x04, 0x16, 0x00, 0x01, 0x07],
        DecodeError::AuthDataWithoutMethod
    );
}

#[test]
fn not_in_version() {
    // AUTH (type 15) is reserved before 5.0 (3.1.1 Table 2.1).
    for version in [V3_1, V3_1_1] {
        assert_decode_err!(
            version,
            [0xF0, 0x00],
            DecodeError::NotInVersion {
                packet: PacketType::Auth,
                version: v
            } if v == version
        );
    }
}

// ---------------------------------------------------------------------------
// DecodeError::reason_code
// ---------------------------------------------------------------------------

#[test]
fn reason_codes_for_the_disconnect() {
    let cases: Vec<(DecodeError, ReasonCode)> = vec![
        // 5.0 §4.13: 0x95 Packet too large
        (
            Packet::decode(&mut BytesMut::from(&[0x30, 0x0A][..]), V5, 11).unwrap_err(),
            ReasonCode::PacketTooLarge,
        ),
        // Malformed Packet: a broken variable byte integer (5.0 §1.5.5), bad
        // UTF-8 [MQTT-1.5.4-1], invalid flags (5.0 §2.1.3), a property
        // not valid for the packet (5.0 §2.2.2.2), the CONNECT reserved flag
        // (5.0 §3.1.2.3), QoS 3 [MQTT-3.3.1-4]
        (
            decode_err(V5, &[0x30, 0x80, 0x80, 0x80, 0x80]),
            ReasonCode::MalformedPacket,
        ),
        (
            decode_err(V5, &[0x30, 0x04, 0x00, 0x01, 0xFF, 0x00]),
            ReasonCode::MalformedPacket,
        ),
        (decode_err(V5, &[0x41, 0x00]), ReasonCode::MalformedPacket),
        (
            decode_err(V5, &publish_with(&[0x11, 0x00, 0x00, 0x00, 0x0A])),
            ReasonCode::MalformedPacket,
        ),
        (
            decode_err(
                V5,
                &cat(&[
                    &[0x10, 0x0D],
                    protocol(V5),
                    &[0x03, 0x00, 0x3C, 0x00, 0x00, 0x00],
                ]),
            ),
            ReasonCode::MalformedPacket,
        ),
        (decode_err(V5, &[0x36, 0x00]), ReasonCode::MalformedPacket),
        // Protocol Error: a repeated property, Receive Maximum 0, Auth Data
        // without Auth Method, SUBSCRIBE without filters, an empty topic
        // without a Topic Alias (5.0 §3.3.2.1)
        (
            decode_err(V5, &publish_with(&[0x23, 0x00, 0x01, 0x23, 0x00, 0x01])),
            ReasonCode::ProtocolError,
        ),
        (
            decode_err(V5, &connect_with(&[0x21, 0x00, 0x00])),
            ReasonCode::ProtocolError,
        ),
        (
            decode_err(V5, &connect_with(&[0x16, 0x00, 0x00])),
            ReasonCode::ProtocolError,
        ),
        (
            decode_err(V5, &[0x82, 0x03, 0x00, 0x01, 0x00]),
            ReasonCode::ProtocolError,
        ),
        (
            decode_err(V5, &[0x30, 0x04, 0x00, 0x00, 0x00, b'x']),
            ReasonCode::ProtocolError,
        ),
    ];
    for (err, expected) in cases {
        assert_eq!(err.reason_code(), expected, "{err:?}");
    }
}

// ---------------------------------------------------------------------------
// EncodeError
// ---------------------------------------------------------------------------

/// Encodes `packet`, which must fail, and checks that `encoded_len` fails
/// the same way and that the buffer is left as it was.
fn encode_err(packet: impl Into<Packet>, version: ProtocolVersion) -> EncodeError {
    let packet = packet.into();
    let mut buf = BytesMut::from(&b"keep"[..]);
    let Err(err) = packet.encode(version, &mut buf) else {
        panic!("{packet:?} ({version}) encoded to {}", hex(&buf));
    };
    assert_eq!(&buf[..], b"keep", "a failed encode must write nothing");
    assert_eq!(packet.encoded_len(version), Err(err.clone()));
    err
}

fn subscribe(filters: Vec<(&str, SubscriptionOptions)>) -> Subscribe {
    Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: filters.into_iter().map(|(f, o)| (f.into(), o)).collect(),
    }
}

#[test]
fn encode_field_too_long() {
    // 3.1.1 §1.5.3, 5.0 §1.5.4 and §1.5.6: strings and binary data carry a
    // two-byte length, so 65 535 bytes at most.
    let long = "a".repeat(65_536);
    for version in ALL {
        let err = encode_err(Publish::new(long.as_str(), ""), version);
        assert!(
            matches!(
                err,
                EncodeError::FieldTooLong {
                    what: "topic name",
                    len: 65_536
                }
            ),
            "{err:?}"
        );
        // 65 535 is fine.
        let ok = Packet::from(Publish::new(&long[1..], ""));
        assert!(ok.encoded_len(version).is_ok());

        let err = encode_err(Connect::new(version, long.as_str()), version);
        assert!(
            matches!(err, EncodeError::FieldTooLong { len: 65_536, .. }),
            "{err:?}"
        );

        let mut connect = Connect::new(version, "c");
        connect.username = Some("u".into());
        connect.password = Some(Secret::new(Bytes::from(vec![0u8; 65_536])));
        let err = encode_err(connect, version);
        assert!(
            matches!(err, EncodeError::FieldTooLong { len: 65_536, .. }),
            "{err:?}"
        );

        let mut connect = Connect::new(version, "c");
        connect.will = Some(LastWill {
            topic: "t".into(),
            payload: Bytes::from(vec![0u8; 65_536]),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        });
        let err = encode_err(connect, version);
        assert!(
            matches!(err, EncodeError::FieldTooLong { len: 65_536, .. }),
            "{err:?}"
        );

        // A filter is checked as a topic filter first, which includes
        // the length rule [MQTT-4.7.3-3].
        let err = encode_err(
            subscribe(vec![(long.as_str(), SubscriptionOptions::default())]),
            version,
        );
        assert!(
            matches!(err, EncodeError::InvalidTopic(TopicError::TooLong(65_536))),
            "{err:?}"
        );
    }
    // In a 5.0 property.
    let mut publish = Publish::new("t", "");
    publish
        .properties
        .user_properties
        .push(("k".into(), long.as_str().into()));
    let err = encode_err(publish, V5);
    assert!(
        matches!(err, EncodeError::FieldTooLong { len: 65_536, .. }),
        "{err:?}"
    );
}

#[test]
fn encode_packet_id_mismatch() {
    // [MQTT-2.2.1-2]: no packet identifier at QoS 0; one at QoS 1 and 2.
    for version in ALL {
        let mut with_id = Publish::new("t", "");
        with_id.packet_id = Some(pid(1));
        assert!(matches!(
            encode_err(with_id, version),
            EncodeError::PacketIdMismatch
        ));
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut without = Publish::new("t", "");
            without.qos = qos;
            assert!(matches!(
                encode_err(without, version),
                EncodeError::PacketIdMismatch
            ));
        }
    }
}

#[test]
fn encode_not_in_version() {
    for version in [V3_1, V3_1_1] {
        let cases: Vec<Packet> = vec![
            // AUTH exists only in 5.0.
            Auth {
                reason_code: ReasonCode::Success,
                properties: AuthProperties::default(),
            }
            .into(),
            // Properties of any packet.
            Publish {
                properties: PublishProperties {
                    message_expiry_interval: Some(1),
                    ..PublishProperties::default()
                },
                ..Publish::new("t", "")
            }
            .into(),
            Connect {
                properties: ConnectProperties {
                    receive_maximum: NonZeroU16::new(1),
                    ..ConnectProperties::default()
                },
                ..Connect::new(version, "c")
            }
            .into(),
            Connect {
                will: Some(LastWill {
                    topic: "t".into(),
                    payload: Bytes::new(),
                    qos: QoS::AtMostOnce,
                    retain: false,
                    properties: WillProperties {
                        will_delay_interval: Some(1),
                        ..WillProperties::default()
                    },
                }),
                ..Connect::new(version, "c")
            }
            .into(),
            ConnAck {
                properties: ConnAckProperties {
                    maximum_packet_size: NonZeroU32::new(1000),
                    ..ConnAckProperties::default()
                },
                ..ConnAck::new(false)
            }
            .into(),
            Packet::PubAck(Ack {
                properties: AckProperties {
                    reason_string: Some("r".into()),
                    user_properties: Vec::new(),
                },
                ..Ack::new(pid(1))
            }),
            Subscribe {
                properties: SubscribeProperties {
                    subscription_identifier: SubscriptionId::new(1),
                    user_properties: Vec::new(),
                },
                ..subscribe(vec![("a", SubscriptionOptions::default())])
            }
            .into(),
            Unsubscribe {
                packet_id: pid(1),
                properties: UnsubscribeProperties {
                    user_properties: vec![("k".into(), "v".into())],
                },
                filters: vec!["a".into()],
            }
            .into(),
            // Reason codes where 3.x has none, or no equivalent.
            Packet::PubAck(Ack {
                reason_code: ReasonCode::NoMatchingSubscribers,
                ..Ack::new(pid(1))
            }),
            Packet::PubRel(Ack {
                reason_code: ReasonCode::PacketIdentifierNotFound,
                ..Ack::new(pid(1))
            }),
            Disconnect::new(ReasonCode::DisconnectWithWill).into(),
            ConnAck {
                reason_code: ReasonCode::BadAuthenticationMethod,
                ..ConnAck::new(false)
            }
            .into(),
            UnsubAck {
                packet_id: pid(1),
                properties: AckProperties::default(),
                reason_codes: vec![ReasonCode::Success],
            }
            .into(),
            // 5.0 subscription options.
            subscribe(vec![(
                "a",
                SubscriptionOptions {
                    no_local: true,
                    ..SubscriptionOptions::default()
                },
            )])
            .into(),
            subscribe(vec![(
                "a",
                SubscriptionOptions {
                    retain_as_published: true,
                    ..SubscriptionOptions::default()
                },
            )])
            .into(),
            subscribe(vec![(
                "a",
                SubscriptionOptions {
                    retain_handling: RetainHandling::DoNotSend,
                    ..SubscriptionOptions::default()
                },
            )])
            .into(),
            // A password without a user name [MQTT-3.1.2-22] (3.1.1).
            Connect {
                password: Some(Secret::new(Bytes::from_static(b"p"))),
                ..Connect::new(version, "c")
            }
            .into(),
        ];
        for packet in cases {
            let err = encode_err(packet.clone(), version);
            assert!(
                matches!(err, EncodeError::NotInVersion { version: v, .. } if v == version),
                "{packet:?} ({version}): {err:?}"
            );
        }
    }
    // Under 5.0, a reason code the packet's table does not list (5.0 Table
    // 3-6: PUBREL takes only 0x00 and 0x92).
    let err = encode_err(
        Packet::PubRel(Ack {
            reason_code: ReasonCode::NoMatchingSubscribers,
            ..Ack::new(pid(1))
        }),
        V5,
    );
    assert!(
        matches!(
            err,
            EncodeError::InvalidReasonCode {
                packet: PacketType::PubRel,
                code: ReasonCode::NoMatchingSubscribers
            }
        ),
        "{err:?}"
    );
}

#[test]
fn encode_empty() {
    for version in ALL {
        // [MQTT-3.8.3-3] (3.1.1), [MQTT-3.10.3-2]: at least one filter.
        let err = encode_err(subscribe(Vec::new()), version);
        assert!(
            matches!(err, EncodeError::Empty(PacketType::Subscribe)),
            "{err:?}"
        );
        let err = encode_err(
            Unsubscribe {
                packet_id: pid(1),
                properties: UnsubscribeProperties::default(),
                filters: Vec::new(),
            },
            version,
        );
        assert!(
            matches!(err, EncodeError::Empty(PacketType::Unsubscribe)),
            "{err:?}"
        );
        // SUBACK answers each filter with a code (3.1.1 §3.9.3, 5.0 §3.9.3).
        let err = encode_err(
            SubAck {
                packet_id: pid(1),
                properties: AckProperties::default(),
                reason_codes: Vec::new(),
            },
            version,
        );
        assert!(
            matches!(err, EncodeError::Empty(PacketType::SubAck)),
            "{err:?}"
        );
    }
    // 5.0 UNSUBACK answers each filter with a code (5.0 §3.11.3).
    let err = encode_err(
        UnsubAck {
            packet_id: pid(1),
            properties: AckProperties::default(),
            reason_codes: Vec::new(),
        },
        V5,
    );
    assert!(
        matches!(err, EncodeError::Empty(PacketType::UnsubAck)),
        "{err:?}"
    );
}

#[test]
fn encode_packet_too_large() {
    // The remaining length cannot exceed 268 435 455 (3.1.1 §2.2.3, 5.0
    // §1.5.5). A QoS 0 PUBLISH to "a" has 3 bytes of topic under 3.x, so a
    // payload of VAR_INT_MAX - 3 bytes fills it exactly. `vec![0; n]` is
    // allocated zeroed and never written here, so it costs no memory.
    let limit = VAR_INT_MAX as usize;
    let exact = Packet::from(Publish::new("a", Bytes::from(vec![0u8; limit - 3])));
    assert_eq!(
        exact.encoded_len(V3_1_1),
        Ok(MAX_PACKET_SIZE as usize),
        "exactly the largest packet"
    );
    let over = Publish::new("a", Bytes::from(vec![0u8; limit - 2]));
    let err = encode_err(over, V3_1_1);
    assert!(
        matches!(err, EncodeError::PacketTooLarge(n) if n == limit + 1),
        "{err:?}"
    );
}

/// The encoder refuses what our decoder would refuse, so a packet we send
/// never breaks the rules we enforce on others.
#[test]
fn encode_rejects_what_decode_would_refuse() {
    let mut dup0 = Publish::new("t", Bytes::new());
    dup0.dup = true;
    assert_eq!(encode_err(dup0, V3_1_1), EncodeError::DupWithQoS0);

    for version in [V3_1_1, V5] {
        let empty = Publish::new("", Bytes::new());
        assert_eq!(
            encode_err(empty, version),
            EncodeError::InvalidTopic(TopicError::Empty)
        );
        let err = encode_err(
            subscribe(vec![("a/#/b", SubscriptionOptions::default())]),
            version,
        );
        assert_eq!(
            err,
            EncodeError::InvalidTopic(TopicError::MisplacedMultiLevelWildcard)
        );
        let mut connect = Connect::new(version, "c");
        connect.will = Some(LastWill {
            topic: "will/+".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        });
        assert_eq!(
            encode_err(connect, version),
            EncodeError::InvalidTopic(TopicError::WildcardInTopicName)
        );
    }

    let cases: Vec<(Packet, PacketType, ReasonCode)> = vec![
        (
            Disconnect::new(ReasonCode::GrantedQoS1).into(),
            PacketType::Disconnect,
            ReasonCode::GrantedQoS1,
        ),
        (
            Auth {
                reason_code: ReasonCode::NotAuthorized,
                properties: AuthProperties::default(),
            }
            .into(),
            PacketType::Auth,
            ReasonCode::NotAuthorized,
        ),
        (
            SubAck {
                packet_id: pid(1),
                properties: AckProperties::default(),
                reason_codes: vec![ReasonCode::NoSubscriptionExisted],
            }
            .into(),
            PacketType::SubAck,
            ReasonCode::NoSubscriptionExisted,
        ),
        (
            ConnAck {
                session_present: false,
                reason_code: ReasonCode::GrantedQoS2,
                properties: ConnAckProperties::default(),
            }
            .into(),
            PacketType::ConnAck,
            ReasonCode::GrantedQoS2,
        ),
    ];
    for (packet, packet_type, code) in cases {
        assert_eq!(
            encode_err(packet, V5),
            EncodeError::InvalidReasonCode {
                packet: packet_type,
                code
            }
        );
    }
}
