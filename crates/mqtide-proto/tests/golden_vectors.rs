//! Golden byte vectors for all fifteen MQTT control packets, in every protocol
//! version that has them.
//!
//! The bytes were written by hand from the specifications' packet layouts, not
//! produced by our encoder:
//!
//! - MQTT 3.1 (IBM/Eurotech "MQTT V3.1 Protocol Specification", v3r1),
//! - MQTT 3.1.1 (OASIS Standard, 29 October 2014; sections cited as `3.1.1 §x`),
//! - MQTT 5.0 (OASIS Standard, 07 March 2019; sections cited as `5.0 §x`).
//!
//! Where a specification gives a worked example (the CONNECT variable header of
//! 3.1.1 Figure 3.6 and 5.0 Figure 3-6, the PUBLISH of 3.1.1 Figure 3.11, the
//! SUBSCRIBE/SUBACK/UNSUBSCRIBE payloads of 3.1.1 Figures 3.23, 3.27 and 3.30,
//! the remaining-length table 3.1.1 Table 2.4 / 5.0 Table 1-1), the vector uses
//! it verbatim.
//!
//! Every vector is checked in both directions for each version it lists:
//! decoding the bytes gives the expected packet and consumes exactly the packet
//! (a PINGREQ placed after it is left in the buffer), and, for `Canonical`
//! vectors, encoding the packet gives exactly the bytes and `encoded_len` agrees.
//! `DecodeOnly` vectors are valid encodings our encoder does not produce
//! because it always picks the shortest 5.0 form. The encoder writes properties
//! in the order of the property struct's fields; canonical vectors list them in
//! that order (the specification gives order no significance, 5.0 §2.2.2.2).

mod common;

use common::{cat, hex};
use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtide_proto::ProtocolVersion::{V3_1, V3_1_1, V5};
use mqtide_proto::{
    Ack, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, Disconnect, DisconnectProperties, LastWill, MAX_PACKET_SIZE, Packet,
    PacketId, PayloadFormat, ProtocolVersion, Publish, PublishProperties, QoS, ReasonCode,
    RetainHandling, Secret, SubAck, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties, VAR_INT_MAX, WillProperties,
};

// ---------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------

/// The versions of MQTT before 5.0.
const V3: &[ProtocolVersion] = &[V3_1, V3_1_1];
/// Every version.
const ALL: &[ProtocolVersion] = &[V3_1, V3_1_1, V5];
/// MQTT 3.1 only.
const ONLY_V3_1: &[ProtocolVersion] = &[V3_1];
/// MQTT 3.1.1 only.
const ONLY_V3_1_1: &[ProtocolVersion] = &[V3_1_1];
/// MQTT 5.0 only.
const ONLY_V5: &[ProtocolVersion] = &[V5];

/// A PINGREQ (3.1.1 §3.12.1, 5.0 §3.12.1), valid in every version: placed after
/// each vector to check that decoding takes exactly the packet and no more.
const NEXT: &[u8] = &[0xC0, 0x00];

/// Whether our encoder is expected to produce the vector's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Decode and encode: the encoder writes exactly these bytes.
    Canonical,
    /// Decode only: valid on the wire, but the encoder picks a shorter form.
    DecodeOnly,
}

use Form::{Canonical, DecodeOnly};

/// One golden vector: what the bytes are, which versions they are valid in,
/// the bytes themselves and the packet they stand for.
#[derive(Debug)]
struct Vector {
    what: &'static str,
    versions: &'static [ProtocolVersion],
    form: Form,
    wire: Vec<u8>,
    packet: Packet,
}

fn vector(
    what: &'static str,
    versions: &'static [ProtocolVersion],
    form: Form,
    wire: Vec<u8>,
    packet: impl Into<Packet>,
) -> Vector {
    Vector {
        what,
        versions,
        form,
        wire,
        packet: packet.into(),
    }
}

fn check(v: &Vector) {
    for &version in v.versions {
        let what = v.what;
        let mut buf = BytesMut::from(&v.wire[..]);
        buf.extend_from_slice(NEXT);
        let decoded = Packet::decode(&mut buf, version, MAX_PACKET_SIZE)
            .unwrap_or_else(|e| panic!("{what} ({version}): decode failed: {e} ({e:?})"))
            .unwrap_or_else(|| panic!("{what} ({version}): decode says incomplete"));
        assert_eq!(decoded, v.packet, "{what} ({version}): decoded packet");
        assert_eq!(
            &buf[..],
            NEXT,
            "{what} ({version}): decode must consume exactly the packet"
        );

        if v.form == Canonical {
            let mut out = BytesMut::new();
            v.packet
                .encode(version, &mut out)
                .unwrap_or_else(|e| panic!("{what} ({version}): encode failed: {e}"));
            assert_eq!(hex(&out), hex(&v.wire), "{what} ({version}): encoded bytes");
            assert_eq!(
                v.packet.encoded_len(version).unwrap(),
                v.wire.len(),
                "{what} ({version}): encoded_len"
            );
        }
    }
}

fn check_all(vectors: &[Vector]) {
    assert!(!vectors.is_empty());
    for v in vectors {
        check(v);
    }
}

fn pid(id: u16) -> PacketId {
    PacketId::new(id).unwrap()
}

fn ack(id: u16, reason_code: ReasonCode, properties: AckProperties) -> Ack {
    Ack {
        packet_id: pid(id),
        reason_code,
        properties,
    }
}

fn user(
    name: &'static str,
    value: &'static str,
) -> (bytestring::ByteString, bytestring::ByteString) {
    (name.into(), value.into())
}

fn sub_id(id: u32) -> SubscriptionId {
    SubscriptionId::new(id).unwrap()
}

// ---------------------------------------------------------------------------
// Remaining length (3.1.1 §2.2.3 Table 2.4, 5.0 §1.5.5 Table 1-1)
// ---------------------------------------------------------------------------

/// The examples of the remaining-length table: each boundary value and its
/// encoding.
const REMAINING_LENGTHS: &[(usize, &[u8])] = &[
    (0, &[0x00]),
    (127, &[0x7F]),
    (128, &[0x80, 0x01]),
    (16_383, &[0xFF, 0x7F]),
    (16_384, &[0x80, 0x80, 0x01]),
    (2_097_151, &[0xFF, 0xFF, 0x7F]),
    (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
    (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
];

/// Remaining length 0: the packets that are nothing but a fixed header.
#[test]
fn remaining_length_zero() {
    let (value, encoding) = REMAINING_LENGTHS[0];
    assert_eq!(value, 0);
    check_all(&[
        // PINGREQ: type 12, flags 0000 (3.1.1 Figure 3.33)
        vector(
            "PINGREQ",
            ALL,
            Canonical,
            cat(&[&[0xC0], encoding]),
            Packet::PingReq,
        ),
        // PINGRESP: type 13 (3.1.1 Figure 3.34)
        vector(
            "PINGRESP",
            ALL,
            Canonical,
            cat(&[&[0xD0], encoding]),
            Packet::PingResp,
        ),
        // DISCONNECT: type 14 (3.1.1 Figure 3.35; 5.0 §3.14.2.1: remaining
        // length 0 means Normal disconnection, no properties)
        vector(
            "DISCONNECT",
            ALL,
            Canonical,
            cat(&[&[0xE0], encoding]),
            Disconnect::default(),
        ),
    ]);
}

/// Every other row of the table as the remaining length of a QoS 0 PUBLISH to
/// topic "a", the payload (zeros) filling the rest.
#[test]
fn remaining_length_table() {
    for &(remaining, encoding) in &REMAINING_LENGTHS[1..] {
        for &version in ALL {
            // Topic "a" (3 bytes), then under 5.0 a property length of 0.
            let (head, head_len): (&[u8], usize) = if version.is_v5() {
                (&[0x00, 0x01, b'a', 0x00], 4)
            } else {
                (&[0x00, 0x01, b'a'], 3)
            };
            let payload_len = remaining - head_len;
            // `zeroed` and `vec![0; n]` allocate zeroed memory, so the 256 MiB
            // case costs address space, not memory, until something writes it.
            let mut buf = BytesMut::zeroed(1 + encoding.len() + remaining);
            buf[0] = 0x30; // PUBLISH, DUP 0, QoS 0, RETAIN 0
            buf[1..=encoding.len()].copy_from_slice(encoding);
            buf[1 + encoding.len()..][..head_len].copy_from_slice(head);
            let expected = Packet::Publish(Publish::new("a", Bytes::from(vec![0u8; payload_len])));

            let decoded = Packet::decode(&mut buf, version, MAX_PACKET_SIZE)
                .unwrap()
                .unwrap_or_else(|| panic!("remaining length {remaining}: incomplete"));
            assert!(buf.is_empty(), "remaining length {remaining}: consumed all");
            assert!(
                decoded == expected,
                "remaining length {remaining} ({version})"
            );

            let total = 1 + encoding.len() + remaining;
            assert_eq!(expected.encoded_len(version).unwrap(), total);
            // Encoding the largest packet would touch 256 MiB; its header is
            // covered by `encoded_len` above and by the decode.
            if remaining < 1 << 24 {
                let mut out = BytesMut::new();
                expected.encode(version, &mut out).unwrap();
                assert_eq!(out.len(), total);
                assert_eq!(
                    hex(&out[..1 + encoding.len() + head_len]),
                    hex(&cat(&[&[0x30], encoding, head])),
                    "remaining length {remaining} ({version}): header"
                );
            }
        }
    }
    assert_eq!(REMAINING_LENGTHS.last().unwrap().0, VAR_INT_MAX as usize);
}

// ---------------------------------------------------------------------------
// CONNECT (3.1.1 §3.1, 5.0 §3.1; 3.1 §3.1 "CONNECT")
// ---------------------------------------------------------------------------

/// The payload shared by the 3.x CONNECT examples: client identifier "id",
/// will topic "w/t", will message "bye", user name "user", password "pass".
const V3_CONNECT_PAYLOAD: &[u8] = &[
    0x00, 0x02, b'i', b'd', // Client Identifier "id"
    0x00, 0x03, b'w', b'/', b't', // Will Topic "w/t"
    0x00, 0x03, b'b', b'y', b'e', // Will Message "bye"
    0x00, 0x04, b'u', b's', b'e', b'r', // User Name "user"
    0x00, 0x04, b'p', b'a', b's', b's', // Password "pass"
];

/// The CONNECT of the spec examples: flags 0xCE, keep alive 10.
fn spec_example_connect(protocol: ProtocolVersion, properties: ConnectProperties) -> Connect {
    Connect {
        protocol,
        clean_start: true,
        keep_alive: 10,
        client_id: "id".into(),
        will: Some(LastWill {
            topic: "w/t".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        username: Some("user".into()),
        password: Some(Secret::new(Bytes::from_static(b"pass"))),
        properties,
    }
}

#[test]
fn connect_v3() {
    check_all(&[
        vector(
            "3.1.1 CONNECT, variable header of 3.1.1 Figure 3.6",
            ONLY_V3_1_1,
            Canonical,
            cat(&[
                &[0x10, 0x24],                         // CONNECT, remaining length 36
                &[0x00, 0x04, b'M', b'Q', b'T', b'T'], // Protocol Name "MQTT"
                &[0x04],                               // Protocol Level 4
                // Connect Flags 1100 1110: User Name 1, Password 1, Will
                // Retain 0, Will QoS 01, Will Flag 1, Clean Session 1,
                // Reserved 0
                &[0xCE],
                &[0x00, 0x0A], // Keep Alive 10
                V3_CONNECT_PAYLOAD,
            ]),
            spec_example_connect(V3_1_1, ConnectProperties::default()),
        ),
        vector(
            "3.1 CONNECT, the same fields under protocol name MQIsdp",
            ONLY_V3_1,
            Canonical,
            cat(&[
                &[0x10, 0x26],                                     // CONNECT, remaining length 38
                &[0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p'], // "MQIsdp"
                &[0x03],                                           // Protocol Version 3
                &[0xCE],                                           // the flags of the 3.1.1 example
                &[0x00, 0x0A],                                     // Keep Alive 10
                V3_CONNECT_PAYLOAD,
            ]),
            spec_example_connect(V3_1, ConnectProperties::default()),
        ),
        vector(
            "3.1.1 minimal CONNECT: clean session, empty client identifier",
            ONLY_V3_1_1,
            Canonical,
            cat(&[
                &[0x10, 0x0C],                               // CONNECT, remaining length 12
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04], // "MQTT", level 4
                &[0x02],                                     // Connect Flags: Clean Session only
                &[0x00, 0x3C],                               // Keep Alive 60
                &[0x00, 0x00], // Client Identifier "" (3.1.1 §3.1.3.1)
            ]),
            Connect::new(V3_1_1, ""),
        ),
        vector(
            "3.1 minimal CONNECT: clean session, client identifier c",
            ONLY_V3_1,
            Canonical,
            cat(&[
                &[0x10, 0x0F],                                           // CONNECT, remaining length 15
                &[0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03], // "MQIsdp", 3
                &[0x02],             // Connect Flags: Clean Session only
                &[0x00, 0x3C],       // Keep Alive 60
                &[0x00, 0x01, b'c'], // Client Identifier "c"
            ]),
            Connect::new(V3_1, "c"),
        ),
        vector(
            "3.1.1 CONNECT: will QoS 2, will retain, persistent session",
            ONLY_V3_1_1,
            Canonical,
            cat(&[
                &[0x10, 0x12],                               // CONNECT, remaining length 18
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04], // "MQTT", level 4
                // Connect Flags 0011 0100: Will Retain 1, Will QoS 10, Will
                // Flag 1, Clean Session 0
                &[0x34],
                &[0x00, 0x00],       // Keep Alive 0 (off)
                &[0x00, 0x01, b'c'], // Client Identifier "c"
                &[0x00, 0x01, b't'], // Will Topic "t"
                &[0x00, 0x00],       // Will Message: zero bytes
            ]),
            Connect {
                clean_start: false,
                keep_alive: 0,
                will: Some(LastWill {
                    topic: "t".into(),
                    payload: Bytes::new(),
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    properties: WillProperties::default(),
                }),
                ..Connect::new(V3_1_1, "c")
            },
        ),
    ]);
}

#[test]
fn connect_v5() {
    check_all(&[
        vector(
            "5.0 CONNECT, variable header of 5.0 Figure 3-6",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x10, 0x2B],                         // CONNECT, remaining length 43
                &[0x00, 0x04, b'M', b'Q', b'T', b'T'], // Protocol Name "MQTT"
                &[0x05],                               // Protocol Version 5
                // Connect Flags 1100 1110: User Name 1, Password 1, Will
                // Retain 0, Will QoS 01, Will Flag 1, Clean Start 1, Reserved 0
                &[0xCE],
                &[0x00, 0x0A],                   // Keep Alive 10
                &[0x05],                         // Properties Length 5
                &[0x11, 0x00, 0x00, 0x00, 0x0A], // Session Expiry Interval 10
                // Payload (5.0 §3.1.3)
                &[0x00, 0x02, b'i', b'd'],       // Client Identifier "id"
                &[0x00],                         // Will Properties Length 0
                &[0x00, 0x03, b'w', b'/', b't'], // Will Topic "w/t"
                &[0x00, 0x03, b'b', b'y', b'e'], // Will Payload "bye"
                &[0x00, 0x04, b'u', b's', b'e', b'r'], // User Name "user"
                &[0x00, 0x04, b'p', b'a', b's', b's'], // Password "pass"
            ]),
            spec_example_connect(
                V5,
                ConnectProperties {
                    session_expiry_interval: Some(10),
                    ..ConnectProperties::default()
                },
            ),
        ),
        vector(
            "5.0 CONNECT with every CONNECT property and every will property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x10, 0x7D],                               // CONNECT, remaining length 125
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05], // "MQTT", version 5
                // Connect Flags 1111 0110: User Name 1, Password 1, Will
                // Retain 1, Will QoS 10, Will Flag 1, Clean Start 1
                &[0xF6],
                &[0x01, 0x2C],                                     // Keep Alive 300
                &[0x2E],                               // Properties Length 46 (5.0 §3.1.2.11)
                &[0x11, 0x00, 0x00, 0x0E, 0x10],       // Session Expiry Interval 3600
                &[0x21, 0x00, 0x14],                   // Receive Maximum 20
                &[0x27, 0x00, 0x00, 0x10, 0x00],       // Maximum Packet Size 4096
                &[0x22, 0x00, 0x0A],                   // Topic Alias Maximum 10
                &[0x19, 0x01],                         // Request Response Information 1
                &[0x17, 0x00],                         // Request Problem Information 0
                &[0x15, 0x00, 0x03, b't', b'o', b'k'], // Authentication Method "tok"
                &[0x16, 0x00, 0x02, 0x01, 0x02],       // Authentication Data 01 02
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property k=v
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x02, b'v', b'2'], // User Property k=v2
                // Payload
                &[0x00, 0x06, b'c', b'l', b'i', b'e', b'n', b't'], // Client Identifier
                &[0x25],                         // Will Properties Length 37 (5.0 §3.1.3.2)
                &[0x18, 0x00, 0x00, 0x00, 0x05], // Will Delay Interval 5
                &[0x01, 0x01],                   // Payload Format Indicator 1 (UTF-8)
                &[0x02, 0x00, 0x00, 0x00, 0x78], // Message Expiry Interval 120
                &[0x03, 0x00, 0x04, b't', b'e', b'x', b't'], // Content Type "text"
                &[0x08, 0x00, 0x03, b'r', b'/', b't'], // Response Topic "r/t"
                &[0x09, 0x00, 0x02, 0xAB, 0xCD], // Correlation Data AB CD
                &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b'], // User Property a=b
                &[0x00, 0x03, b'w', b'/', b't'], // Will Topic "w/t"
                &[0x00, 0x03, b'b', b'y', b'e'], // Will Payload "bye"
                &[0x00, 0x04, b'u', b's', b'e', b'r'], // User Name "user"
                &[0x00, 0x04, b'p', b'a', b's', b's'], // Password "pass"
            ]),
            Connect {
                protocol: V5,
                clean_start: true,
                keep_alive: 300,
                client_id: "client".into(),
                will: Some(LastWill {
                    topic: "w/t".into(),
                    payload: Bytes::from_static(b"bye"),
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    properties: WillProperties {
                        will_delay_interval: Some(5),
                        payload_format_indicator: Some(PayloadFormat::Utf8),
                        message_expiry_interval: Some(120),
                        content_type: Some("text".into()),
                        response_topic: Some("r/t".into()),
                        correlation_data: Some(Bytes::from_static(&[0xAB, 0xCD])),
                        user_properties: vec![user("a", "b")],
                    },
                }),
                username: Some("user".into()),
                password: Some(Secret::new(Bytes::from_static(b"pass"))),
                properties: ConnectProperties {
                    session_expiry_interval: Some(3600),
                    receive_maximum: NonZeroU16::new(20),
                    maximum_packet_size: NonZeroU32::new(4096),
                    topic_alias_maximum: Some(10),
                    request_response_information: Some(true),
                    request_problem_information: Some(false),
                    authentication_method: Some("tok".into()),
                    authentication_data: Some(Secret::new(Bytes::from_static(&[0x01, 0x02]))),
                    user_properties: vec![user("k", "v"), user("k", "v2")],
                },
            },
        ),
        vector(
            "5.0 CONNECT: password without user name (allowed since 5.0)",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x10, 0x12],                               // CONNECT, remaining length 18
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05], // "MQTT", version 5
                &[0x42],                         // Connect Flags: Password 1, Clean Start 1
                &[0x00, 0x00],                   // Keep Alive 0
                &[0x00],                         // Properties Length 0
                &[0x00, 0x00],                   // Client Identifier ""
                &[0x00, 0x03, b'p', b'w', b'd'], // Password "pwd"
            ]),
            Connect {
                keep_alive: 0,
                password: Some(Secret::new(Bytes::from_static(b"pwd"))),
                ..Connect::new(V5, "")
            },
        ),
    ]);
}

/// CONNECT is read at the protocol level it names: the version the caller
/// passes (none is negotiated yet) does not change the result.
#[test]
fn connect_decodes_at_its_own_level() {
    let v3_1_1 = cat(&[
        &[0x10, 0x0C],
        &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04],
        &[0x02, 0x00, 0x3C, 0x00, 0x00],
    ]);
    let v5 = cat(&[
        &[0x10, 0x0D],
        &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05],
        &[0x02, 0x00, 0x3C, 0x00, 0x00, 0x00],
    ]);
    for &version in ALL {
        for (wire, level) in [(&v3_1_1, V3_1_1), (&v5, V5)] {
            let mut buf = BytesMut::from(&wire[..]);
            let packet = Packet::decode(&mut buf, version, MAX_PACKET_SIZE).unwrap();
            assert_eq!(packet, Some(Connect::new(level, "").into()));
            // And the CONNECT's own protocol decides how it is written.
            let mut out = BytesMut::new();
            Packet::from(Connect::new(level, ""))
                .encode(version, &mut out)
                .unwrap();
            assert_eq!(hex(&out), hex(wire));
        }
    }
}

// ---------------------------------------------------------------------------
// CONNACK (3.1.1 §3.2, 5.0 §3.2)
// ---------------------------------------------------------------------------

/// 3.1.1 Table 3.1 (and the same codes in 3.1): the Connect Return codes and
/// the 5.0 reason codes they stand for.
const V3_CONNACK_CODES: &[(u8, ReasonCode)] = &[
    (0x00, ReasonCode::Success),                    // Connection Accepted
    (0x01, ReasonCode::UnsupportedProtocolVersion), // unacceptable protocol version
    (0x02, ReasonCode::ClientIdentifierNotValid),   // identifier rejected
    (0x03, ReasonCode::ServerUnavailable),          // Server unavailable
    (0x04, ReasonCode::BadUserNameOrPassword),      // bad user name or password
    (0x05, ReasonCode::NotAuthorized),              // not authorized
];

fn connack(
    session_present: bool,
    reason_code: ReasonCode,
    properties: ConnAckProperties,
) -> ConnAck {
    ConnAck {
        session_present,
        reason_code,
        properties,
    }
}

#[test]
fn connack_v3_return_codes() {
    let vectors: Vec<Vector> = V3_CONNACK_CODES
        .iter()
        .map(|&(code, reason)| {
            vector(
                "3.x CONNACK return code",
                V3,
                Canonical,
                // CONNACK, remaining length 2; Acknowledge Flags 0; Return code
                vec![0x20, 0x02, 0x00, code],
                connack(false, reason, ConnAckProperties::default()),
            )
        })
        .collect();
    check_all(&vectors);
    check_all(&[vector(
        "3.1.1 CONNACK with Session Present (3.1.1 §3.2.2.2)",
        ONLY_V3_1_1,
        Canonical,
        // CONNACK, remaining length 2; Acknowledge Flags: SP 1; Accepted
        vec![0x20, 0x02, 0x01, 0x00],
        connack(true, ReasonCode::Success, ConnAckProperties::default()),
    )]);
}

#[test]
fn connack_v5() {
    check_all(&[
        vector(
            "5.0 CONNACK: Success, no properties",
            ONLY_V5,
            Canonical,
            // CONNACK, remaining length 3; Acknowledge Flags 0; Reason Code
            // 0x00; Properties Length 0 (5.0 §3.2.2.3.1: always present)
            vec![0x20, 0x03, 0x00, 0x00, 0x00],
            connack(false, ReasonCode::Success, ConnAckProperties::default()),
        ),
        vector(
            "5.0 CONNACK: Session Present",
            ONLY_V5,
            Canonical,
            vec![0x20, 0x03, 0x01, 0x00, 0x00],
            connack(true, ReasonCode::Success, ConnAckProperties::default()),
        ),
        vector(
            "5.0 CONNACK: 0x84 Unsupported Protocol Version",
            ONLY_V5,
            Canonical,
            vec![0x20, 0x03, 0x00, 0x84, 0x00],
            connack(
                false,
                ReasonCode::UnsupportedProtocolVersion,
                ConnAckProperties::default(),
            ),
        ),
        vector(
            "5.0 CONNACK: 0x9F Connection rate exceeded",
            ONLY_V5,
            Canonical,
            vec![0x20, 0x03, 0x00, 0x9F, 0x00],
            connack(
                false,
                ReasonCode::ConnectionRateExceeded,
                ConnAckProperties::default(),
            ),
        ),
        vector(
            "5.0 CONNACK with every CONNACK property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x20, 0x48],                               // CONNACK, remaining length 72
                &[0x00],                                     // Acknowledge Flags 0
                &[0x00],                                     // Reason Code 0x00 Success
                &[0x45],                                     // Properties Length 69 (5.0 §3.2.2.3)
                &[0x11, 0x00, 0x00, 0x00, 0x3C],             // Session Expiry Interval 60
                &[0x21, 0x00, 0x0A],                         // Receive Maximum 10
                &[0x24, 0x01],                               // Maximum QoS 1
                &[0x25, 0x00],                               // Retain Available 0
                &[0x27, 0x00, 0x01, 0x00, 0x00],             // Maximum Packet Size 65536
                &[0x12, 0x00, 0x03, b'a', b'b', b'c'],       // Assigned Client Identifier
                &[0x22, 0x00, 0x05],                         // Topic Alias Maximum 5
                &[0x1F, 0x00, 0x02, b'o', b'k'],             // Reason String "ok"
                &[0x28, 0x01],                               // Wildcard Subscription Available 1
                &[0x29, 0x00],                               // Subscription Identifiers Available 0
                &[0x2A, 0x01],                               // Shared Subscription Available 1
                &[0x13, 0x00, 0x1E],                         // Server Keep Alive 30
                &[0x1A, 0x00, 0x04, b'r', b'e', b's', b'p'], // Response Information
                &[0x1C, 0x00, 0x02, b's', b'2'],             // Server Reference "s2"
                &[0x15, 0x00, 0x03, b't', b'o', b'k'],       // Authentication Method "tok"
                &[0x16, 0x00, 0x01, 0x07],                   // Authentication Data 07
                &[0x26, 0x00, 0x01, b'x', 0x00, 0x01, b'y'], // User Property x=y
            ]),
            connack(
                false,
                ReasonCode::Success,
                ConnAckProperties {
                    session_expiry_interval: Some(60),
                    receive_maximum: NonZeroU16::new(10),
                    maximum_qos: Some(QoS::AtLeastOnce),
                    retain_available: Some(false),
                    maximum_packet_size: NonZeroU32::new(65_536),
                    assigned_client_identifier: Some("abc".into()),
                    topic_alias_maximum: Some(5),
                    reason_string: Some("ok".into()),
                    wildcard_subscription_available: Some(true),
                    subscription_identifier_available: Some(false),
                    shared_subscription_available: Some(true),
                    server_keep_alive: Some(30),
                    response_information: Some("resp".into()),
                    server_reference: Some("s2".into()),
                    authentication_method: Some("tok".into()),
                    authentication_data: Some(Secret::new(Bytes::from_static(&[0x07]))),
                    user_properties: vec![user("x", "y")],
                },
            ),
        ),
    ]);
}

// ---------------------------------------------------------------------------
// PUBLISH (3.1.1 §3.3, 5.0 §3.3)
// ---------------------------------------------------------------------------

fn publish(
    qos: QoS,
    dup: bool,
    retain: bool,
    topic: &'static str,
    packet_id: Option<u16>,
    properties: PublishProperties,
    payload: &'static [u8],
) -> Publish {
    Publish {
        dup,
        qos,
        retain,
        topic: topic.into(),
        packet_id: packet_id.map(pid),
        properties,
        payload: Bytes::from_static(payload),
    }
}

#[test]
fn publish_v3() {
    check_all(&[
        vector(
            "3.x PUBLISH, variable header of 3.1.1 Figure 3.11 (topic a/b, id 10)",
            V3,
            Canonical,
            cat(&[
                &[0x32, 0x0C], // PUBLISH, DUP 0, QoS 01, RETAIN 0; remaining length 12
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
                &[0x00, 0x0A], // Packet Identifier 10
                b"hello",      // Payload
            ]),
            publish(
                QoS::AtLeastOnce,
                false,
                false,
                "a/b",
                Some(10),
                PublishProperties::default(),
                b"hello",
            ),
        ),
        vector(
            "3.x PUBLISH QoS 0: no packet identifier (3.1.1 §3.3.2.2)",
            V3,
            Canonical,
            cat(&[
                &[0x30, 0x06],                   // PUBLISH, QoS 0; remaining length 6
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
                b"x",                            // Payload
            ]),
            publish(
                QoS::AtMostOnce,
                false,
                false,
                "a/b",
                None,
                PublishProperties::default(),
                b"x",
            ),
        ),
        vector(
            "3.x PUBLISH QoS 2, DUP, RETAIN, empty payload",
            V3,
            Canonical,
            cat(&[
                &[0x3D, 0x07],                   // PUBLISH 0011, DUP 1, QoS 10, RETAIN 1; length 7
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
                &[0x12, 0x34],                   // Packet Identifier 0x1234
            ]),
            publish(
                QoS::ExactlyOnce,
                true,
                true,
                "a/b",
                Some(0x1234),
                PublishProperties::default(),
                b"",
            ),
        ),
    ]);
}

#[test]
fn publish_v5() {
    check_all(&[
        vector(
            "5.0 PUBLISH: topic a/b, id 10, Properties Length 0",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x32, 0x0D],                   // PUBLISH, QoS 1; remaining length 13
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
                &[0x00, 0x0A],                   // Packet Identifier 10
                &[0x00],                         // Properties Length 0
                b"hello",                        // Payload
            ]),
            publish(
                QoS::AtLeastOnce,
                false,
                false,
                "a/b",
                Some(10),
                PublishProperties::default(),
                b"hello",
            ),
        ),
        vector(
            "5.0 PUBLISH QoS 0",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x30, 0x07],                   // PUBLISH, QoS 0; remaining length 7
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
                &[0x00],                         // Properties Length 0
                b"x",                            // Payload
            ]),
            publish(
                QoS::AtMostOnce,
                false,
                false,
                "a/b",
                None,
                PublishProperties::default(),
                b"x",
            ),
        ),
        vector(
            "5.0 PUBLISH QoS 2, DUP, RETAIN, empty payload",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x3D, 0x08],                   // PUBLISH, DUP 1, QoS 10, RETAIN 1; length 8
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
                &[0x12, 0x34],                   // Packet Identifier 0x1234
                &[0x00],                         // Properties Length 0
            ]),
            publish(
                QoS::ExactlyOnce,
                true,
                true,
                "a/b",
                Some(0x1234),
                PublishProperties::default(),
                b"",
            ),
        ),
        vector(
            "5.0 PUBLISH with every PUBLISH property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x33, 0x3E],                   // PUBLISH, QoS 1, RETAIN 1; remaining length 62
                &[0x00, 0x01, b't'],             // Topic Name "t"
                &[0x00, 0x07],                   // Packet Identifier 7
                &[0x36],                         // Properties Length 54 (5.0 §3.3.2.3)
                &[0x01, 0x01],                   // Payload Format Indicator 1 (UTF-8)
                &[0x02, 0x00, 0x00, 0x00, 0x1E], // Message Expiry Interval 30
                &[0x23, 0x00, 0x05],             // Topic Alias 5
                &[0x08, 0x00, 0x05, b'r', b'e', b'p', b'l', b'y'], // Response Topic
                &[0x09, 0x00, 0x03, 0x01, 0x02, 0x03], // Correlation Data 01 02 03
                &[0x03, 0x00, 0x0A],             // Content Type, length 10:
                b"text/plain",
                &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b'], // User Property a=b
                // Subscription Identifiers, each a Variable Byte Integer
                // (5.0 §3.3.2.3.8) at the boundaries of 5.0 Table 1-1:
                &[0x0B, 0x01],                   // 1
                &[0x0B, 0x80, 0x01],             // 128
                &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F], // 268 435 455
                b"{}",                           // Payload
            ]),
            publish(
                QoS::AtLeastOnce,
                false,
                true,
                "t",
                Some(7),
                PublishProperties {
                    payload_format_indicator: Some(PayloadFormat::Utf8),
                    message_expiry_interval: Some(30),
                    topic_alias: NonZeroU16::new(5),
                    response_topic: Some("reply".into()),
                    correlation_data: Some(Bytes::from_static(&[1, 2, 3])),
                    content_type: Some("text/plain".into()),
                    user_properties: vec![user("a", "b")],
                    subscription_identifiers: [sub_id(1), sub_id(128), sub_id(268_435_455)].into(),
                },
                b"{}",
            ),
        ),
        vector(
            "5.0 PUBLISH: empty topic name with a Topic Alias (5.0 §3.3.2.3.4)",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x30, 0x07],       // PUBLISH, QoS 0; remaining length 7
                &[0x00, 0x00],       // Topic Name "" (zero length)
                &[0x03],             // Properties Length 3
                &[0x23, 0x00, 0x05], // Topic Alias 5
                b"p",                // Payload
            ]),
            publish(
                QoS::AtMostOnce,
                false,
                false,
                "",
                None,
                PublishProperties {
                    topic_alias: NonZeroU16::new(5),
                    ..PublishProperties::default()
                },
                b"p",
            ),
        ),
        vector(
            "5.0 PUBLISH: Payload Format Indicator 0 written explicitly",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x30, 0x07],       // PUBLISH, QoS 0; remaining length 7
                &[0x00, 0x01, b't'], // Topic Name "t"
                &[0x02],             // Properties Length 2
                &[0x01, 0x00],       // Payload Format Indicator 0 (unspecified)
                &[0xFF],             // Payload: one byte, not UTF-8
            ]),
            publish(
                QoS::AtMostOnce,
                false,
                false,
                "t",
                None,
                PublishProperties {
                    payload_format_indicator: Some(PayloadFormat::Unspecified),
                    ..PublishProperties::default()
                },
                &[0xFF],
            ),
        ),
    ]);
}

// ---------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP (3.1.1 §3.4-3.7, 5.0 §3.4-3.7)
// ---------------------------------------------------------------------------

/// The four acknowledgements: first byte (type and fixed flags) and the
/// `Packet` variant that holds the body.
/// Wraps an acknowledgement body in its `Packet` variant.
type AckVariant = fn(Ack) -> Packet;

const ACKS: &[(&str, u8, AckVariant)] = &[
    ("PUBACK", 0x40, Packet::PubAck),   // type 4, flags 0000
    ("PUBREC", 0x50, Packet::PubRec),   // type 5, flags 0000
    ("PUBREL", 0x62, Packet::PubRel),   // type 6, flags 0010 (3.1.1 §3.6.1)
    ("PUBCOMP", 0x70, Packet::PubComp), // type 7, flags 0000
];

#[test]
fn acks_remaining_length_2_in_every_version() {
    // 3.x: remaining length 2, the Packet Identifier alone. 5.0 §3.4.2.1:
    // "The Reason Code and Property Length can be omitted if the Reason
    // Code is 0x00 (Success) and there are no Properties", and the encoder
    // picks that form, so the same bytes are canonical in every version.
    for &(name, first, variant) in ACKS {
        check(&vector(
            name,
            ALL,
            Canonical,
            vec![first, 0x02, 0x00, 0x0A], // fixed header, length 2; id 10
            variant(Ack::new(pid(10))),
        ));
    }
}

#[test]
fn acks_v5_short_forms() {
    // One failure reason valid in each packet (5.0 Tables 3-4, 3-5, 3-6, 3-7).
    let failures = [
        ReasonCode::NoMatchingSubscribers,    // PUBACK 0x10
        ReasonCode::UnspecifiedError,         // PUBREC 0x80
        ReasonCode::PacketIdentifierNotFound, // PUBREL 0x92
        ReasonCode::PacketIdentifierNotFound, // PUBCOMP 0x92
    ];
    for (&(name, first, variant), code) in ACKS.iter().zip(failures) {
        check_all(&[
            vector(
                name,
                ONLY_V5,
                Canonical,
                // remaining length 3: id 10, Reason Code; no Property Length
                // ("If the Remaining Length is less than 4 there is no
                // Property Length and the value of 0 is used", 5.0 §3.4.2.2.1)
                vec![first, 0x03, 0x00, 0x0A, code.as_u8()],
                variant(ack(10, code, AckProperties::default())),
            ),
            vector(
                name,
                ONLY_V5,
                DecodeOnly,
                // remaining length 3 with Reason Code 0x00 Success: the
                // encoder leaves the code out instead
                vec![first, 0x03, 0x00, 0x0A, 0x00],
                variant(Ack::new(pid(10))),
            ),
            vector(
                name,
                ONLY_V5,
                DecodeOnly,
                // remaining length 4: Reason Code 0x00 and Property Length 0
                vec![first, 0x04, 0x00, 0x0A, 0x00, 0x00],
                variant(Ack::new(pid(10))),
            ),
            vector(
                name,
                ONLY_V5,
                DecodeOnly,
                // remaining length 4: a failure and Property Length 0
                vec![first, 0x04, 0x00, 0x0A, code.as_u8(), 0x00],
                variant(ack(10, code, AckProperties::default())),
            ),
        ]);
    }
}

#[test]
fn acks_v5_with_properties() {
    check_all(&[
        vector(
            "5.0 PUBACK 0x87 Not authorized, reason string and user property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x40, 0x14],                                           // PUBACK, remaining length 20
                &[0x00, 0x0A],                                           // Packet Identifier 10
                &[0x87], // Reason Code 0x87 Not authorized
                &[0x10], // Properties Length 16
                &[0x1F, 0x00, 0x06, b'd', b'e', b'n', b'i', b'e', b'd'], // Reason String
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property k=v
            ]),
            Packet::PubAck(ack(
                10,
                ReasonCode::NotAuthorized,
                AckProperties {
                    reason_string: Some("denied".into()),
                    user_properties: vec![user("k", "v")],
                },
            )),
        ),
        vector(
            "5.0 PUBREL 0x92 Packet Identifier not found, reason string",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x62, 0x09],                   // PUBREL (flags 0010), remaining length 9
                &[0x00, 0x0A],                   // Packet Identifier 10
                &[0x92],                         // Reason Code 0x92
                &[0x05],                         // Properties Length 5
                &[0x1F, 0x00, 0x02, b'n', b'o'], // Reason String "no"
            ]),
            Packet::PubRel(ack(
                10,
                ReasonCode::PacketIdentifierNotFound,
                AckProperties {
                    reason_string: Some("no".into()),
                    user_properties: Vec::new(),
                },
            )),
        ),
        vector(
            "5.0 PUBCOMP Success with properties: the code must be written",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x70, 0x09],                   // PUBCOMP, remaining length 9
                &[0x00, 0x0A],                   // Packet Identifier 10
                &[0x00],                         // Reason Code 0x00 Success
                &[0x05],                         // Properties Length 5
                &[0x1F, 0x00, 0x02, b'o', b'k'], // Reason String "ok"
            ]),
            Packet::PubComp(ack(
                10,
                ReasonCode::Success,
                AckProperties {
                    reason_string: Some("ok".into()),
                    user_properties: Vec::new(),
                },
            )),
        ),
        vector(
            "5.0 PUBREC whose Property Length and remaining length take two bytes",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x50, 0x85, 0x01], // PUBREC, remaining length 133 (0x85 0x01)
                &[0x00, 0x0A],       // Packet Identifier 10
                &[0x97],             // Reason Code 0x97 Quota exceeded
                &[0x80, 0x01],       // Properties Length 128 (0x80 0x01)
                &[0x1F, 0x00, 0x7D], // Reason String of 125 bytes:
                "r".repeat(125).as_bytes(),
            ]),
            Packet::PubRec(ack(
                10,
                ReasonCode::QuotaExceeded,
                AckProperties {
                    reason_string: Some("r".repeat(125).into()),
                    user_properties: Vec::new(),
                },
            )),
        ),
    ]);
}

/// MQTT 3.1 sets the DUP flag on a retried PUBREL, SUBSCRIBE or UNSUBSCRIBE
/// (v3r1 §2.1 "DUP": "This flag is set when the client or server attempts to
/// re-deliver a PUBLISH, PUBREL, SUBSCRIBE or UNSUBSCRIBE message"). 3.1.1
/// made those bits reserved, so this is 3.1 only; the encoder never sets it.
#[test]
fn v3_1_dup_on_retried_acknowledged_packets() {
    check_all(&[
        vector(
            "3.1 PUBREL retry",
            ONLY_V3_1,
            DecodeOnly,
            // PUBREL 0110, DUP 1, QoS 01; remaining length 2; id 10
            vec![0x6A, 0x02, 0x00, 0x0A],
            Packet::PubRel(Ack::new(pid(10))),
        ),
        vector(
            "3.1 SUBSCRIBE retry",
            ONLY_V3_1,
            DecodeOnly,
            cat(&[
                &[0x8A, 0x06],             // SUBSCRIBE 1000, DUP 1, QoS 01; remaining length 6
                &[0x00, 0x0A],             // Message ID 10
                &[0x00, 0x01, b'a', 0x01], // Topic "a", requested QoS 1
            ]),
            Subscribe {
                packet_id: pid(10),
                properties: SubscribeProperties::default(),
                filters: vec![("a".into(), SubscriptionOptions::new(QoS::AtLeastOnce))],
            },
        ),
        vector(
            "3.1 UNSUBSCRIBE retry",
            ONLY_V3_1,
            DecodeOnly,
            cat(&[
                &[0xAA, 0x05],       // UNSUBSCRIBE 1010, DUP 1, QoS 01; remaining length 5
                &[0x00, 0x0A],       // Message ID 10
                &[0x00, 0x01, b'a'], // Topic "a"
            ]),
            Unsubscribe {
                packet_id: pid(10),
                properties: UnsubscribeProperties::default(),
                filters: vec!["a".into()],
            },
        ),
    ]);
}

// ---------------------------------------------------------------------------
// SUBSCRIBE and SUBACK (3.1.1 §3.8-3.9, 5.0 §3.8-3.9)
// ---------------------------------------------------------------------------

/// The filters of 3.1.1 Table 3.5: "a/b" at QoS 1 and "c/d" at QoS 2.
fn spec_example_filters() -> Vec<(bytestring::ByteString, SubscriptionOptions)> {
    vec![
        ("a/b".into(), SubscriptionOptions::new(QoS::AtLeastOnce)),
        ("c/d".into(), SubscriptionOptions::new(QoS::ExactlyOnce)),
    ]
}

/// The payload of 3.1.1 Figure 3.23.
const SPEC_SUBSCRIBE_PAYLOAD: &[u8] = &[
    0x00, 0x03, b'a', b'/', b'b', // Topic Filter "a/b"
    0x01, // Requested QoS 1
    0x00, 0x03, b'c', b'/', b'd', // Topic Filter "c/d"
    0x02, // Requested QoS 2
];

#[test]
fn subscribe() {
    check_all(&[
        vector(
            "3.x SUBSCRIBE: 3.1.1 Figures 3.21 and 3.23",
            V3,
            Canonical,
            cat(&[
                &[0x82, 0x0E], // SUBSCRIBE, flags 0010; remaining length 14
                &[0x00, 0x0A], // Packet Identifier 10
                SPEC_SUBSCRIBE_PAYLOAD,
            ]),
            Subscribe {
                packet_id: pid(10),
                properties: SubscribeProperties::default(),
                filters: spec_example_filters(),
            },
        ),
        vector(
            "5.0 SUBSCRIBE: the same filters, Properties Length 0",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x82, 0x0F], // SUBSCRIBE; remaining length 15
                &[0x00, 0x0A], // Packet Identifier 10
                &[0x00],       // Properties Length 0
                SPEC_SUBSCRIBE_PAYLOAD,
            ]),
            Subscribe {
                packet_id: pid(10),
                properties: SubscribeProperties::default(),
                filters: spec_example_filters(),
            },
        ),
        vector(
            "5.0 SUBSCRIBE: properties and every subscription option",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x82, 0x23],                               // SUBSCRIBE; remaining length 35
                &[0x00, 0x01],                               // Packet Identifier 1
                &[0x09],                                     // Properties Length 9 (5.0 §3.8.2.1)
                &[0x0B, 0x0A],                               // Subscription Identifier 10
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property k=v
                // Subscription Options (5.0 §3.8.3.1): bits 7-6 reserved,
                // 5-4 Retain Handling, 3 Retain As Published, 2 No Local,
                // 1-0 Maximum QoS
                &[0x00, 0x03, b'a', b'/', b'+'], // Topic Filter "a/+"
                &[0x1D],                         // 0001 1101: Retain Handling 1, RAP 1, NL 1, QoS 1
                &[0x00, 0x01, b'#'],             // Topic Filter "#"
                &[0x20],                         // 0010 0000: Retain Handling 2, QoS 0
                &[0x00, 0x0A],                   // Topic Filter "$share/g/x" (5.0 §4.8.2)
                b"$share/g/x",
                &[0x02], // QoS 2
            ]),
            Subscribe {
                packet_id: pid(1),
                properties: SubscribeProperties {
                    subscription_identifier: SubscriptionId::new(10),
                    user_properties: vec![user("k", "v")],
                },
                filters: vec![
                    (
                        "a/+".into(),
                        SubscriptionOptions {
                            qos: QoS::AtLeastOnce,
                            no_local: true,
                            retain_as_published: true,
                            retain_handling: RetainHandling::SendIfNew,
                        },
                    ),
                    (
                        "#".into(),
                        SubscriptionOptions {
                            qos: QoS::AtMostOnce,
                            no_local: false,
                            retain_as_published: false,
                            retain_handling: RetainHandling::DoNotSend,
                        },
                    ),
                    (
                        "$share/g/x".into(),
                        SubscriptionOptions::new(QoS::ExactlyOnce),
                    ),
                ],
            },
        ),
    ]);
}

fn suback_packet(id: u16, properties: AckProperties, reason_codes: Vec<ReasonCode>) -> SubAck {
    SubAck {
        packet_id: pid(id),
        properties,
        reason_codes,
    }
}

#[test]
fn suback() {
    check_all(&[
        vector(
            "3.1.1 SUBACK: 3.1.1 Figure 3.27 (QoS 0, QoS 2, 0x80 Failure)",
            ONLY_V3_1_1,
            Canonical,
            cat(&[
                &[0x90, 0x05],       // SUBACK; remaining length 5
                &[0x00, 0x0A],       // Packet Identifier 10
                &[0x00, 0x02, 0x80], // Success QoS 0, Success QoS 2, Failure
            ]),
            suback_packet(
                10,
                AckProperties::default(),
                vec![
                    ReasonCode::Success,
                    ReasonCode::GrantedQoS2,
                    ReasonCode::UnspecifiedError,
                ],
            ),
        ),
        vector(
            "3.x SUBACK: granted QoS 0, 1, 2",
            V3,
            Canonical,
            cat(&[
                &[0x90, 0x05],       // SUBACK; remaining length 5
                &[0x00, 0x0B],       // Packet Identifier 11
                &[0x00, 0x01, 0x02], // granted QoS 0, 1, 2
            ]),
            suback_packet(
                11,
                AckProperties::default(),
                vec![
                    ReasonCode::Success,
                    ReasonCode::GrantedQoS1,
                    ReasonCode::GrantedQoS2,
                ],
            ),
        ),
        vector(
            "5.0 SUBACK: every SUBACK reason code (5.0 Table 3-8)",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x90, 0x0F], // SUBACK; remaining length 15
                &[0x00, 0x0A], // Packet Identifier 10
                &[0x00],       // Properties Length 0
                &[
                    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
                ],
            ]),
            suback_packet(
                10,
                AckProperties::default(),
                vec![
                    ReasonCode::Success,
                    ReasonCode::GrantedQoS1,
                    ReasonCode::GrantedQoS2,
                    ReasonCode::UnspecifiedError,
                    ReasonCode::ImplementationSpecificError,
                    ReasonCode::NotAuthorized,
                    ReasonCode::TopicFilterInvalid,
                    ReasonCode::PacketIdentifierInUse,
                    ReasonCode::QuotaExceeded,
                    ReasonCode::SharedSubscriptionsNotSupported,
                    ReasonCode::SubscriptionIdentifiersNotSupported,
                    ReasonCode::WildcardSubscriptionsNotSupported,
                ],
            ),
        ),
        vector(
            "5.0 SUBACK with a reason string",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0x90, 0x09],                   // SUBACK; remaining length 9
                &[0x00, 0x0B],                   // Packet Identifier 11
                &[0x05],                         // Properties Length 5
                &[0x1F, 0x00, 0x02, b'n', b'o'], // Reason String "no"
                &[0x80],                         // Unspecified error
            ]),
            suback_packet(
                11,
                AckProperties {
                    reason_string: Some("no".into()),
                    user_properties: Vec::new(),
                },
                vec![ReasonCode::UnspecifiedError],
            ),
        ),
    ]);
}

// ---------------------------------------------------------------------------
// UNSUBSCRIBE and UNSUBACK (3.1.1 §3.10-3.11, 5.0 §3.10-3.11)
// ---------------------------------------------------------------------------

#[test]
fn unsubscribe() {
    check_all(&[
        vector(
            "3.x UNSUBSCRIBE: 3.1.1 Figure 3.30 (a/b, c/d)",
            V3,
            Canonical,
            cat(&[
                &[0xA2, 0x0C],                   // UNSUBSCRIBE, flags 0010; remaining length 12
                &[0x00, 0x0A],                   // Packet Identifier 10
                &[0x00, 0x03, b'a', b'/', b'b'], // Topic Filter "a/b"
                &[0x00, 0x03, b'c', b'/', b'd'], // Topic Filter "c/d"
            ]),
            Unsubscribe {
                packet_id: pid(10),
                properties: UnsubscribeProperties::default(),
                filters: vec!["a/b".into(), "c/d".into()],
            },
        ),
        vector(
            "5.0 UNSUBSCRIBE with a user property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0xA2, 0x0F],                               // UNSUBSCRIBE; remaining length 15
                &[0x00, 0x0A],                               // Packet Identifier 10
                &[0x07],                                     // Properties Length 7
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property k=v
                &[0x00, 0x03, b'a', b'/', b'b'],             // Topic Filter "a/b"
            ]),
            Unsubscribe {
                packet_id: pid(10),
                properties: UnsubscribeProperties {
                    user_properties: vec![user("k", "v")],
                },
                filters: vec!["a/b".into()],
            },
        ),
    ]);
}

#[test]
fn unsuback() {
    check_all(&[
        vector(
            "3.x UNSUBACK: the Packet Identifier alone (3.1.1 §3.11)",
            V3,
            Canonical,
            vec![0xB0, 0x02, 0x00, 0x0A], // UNSUBACK; length 2; id 10
            UnsubAck {
                packet_id: pid(10),
                properties: AckProperties::default(),
                reason_codes: Vec::new(),
            },
        ),
        vector(
            "5.0 UNSUBACK: every UNSUBACK reason code (5.0 Table 3-9)",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0xB0, 0x0A], // UNSUBACK; remaining length 10
                &[0x00, 0x0A], // Packet Identifier 10
                &[0x00],       // Properties Length 0
                &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
            ]),
            UnsubAck {
                packet_id: pid(10),
                properties: AckProperties::default(),
                reason_codes: vec![
                    ReasonCode::Success,
                    ReasonCode::NoSubscriptionExisted,
                    ReasonCode::UnspecifiedError,
                    ReasonCode::ImplementationSpecificError,
                    ReasonCode::NotAuthorized,
                    ReasonCode::TopicFilterInvalid,
                    ReasonCode::PacketIdentifierInUse,
                ],
            },
        ),
        vector(
            "5.0 UNSUBACK with a reason string",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0xB0, 0x09],                   // UNSUBACK; remaining length 9
                &[0x00, 0x0A],                   // Packet Identifier 10
                &[0x05],                         // Properties Length 5
                &[0x1F, 0x00, 0x02, b'o', b'k'], // Reason String "ok"
                &[0x11],                         // No subscription existed
            ]),
            UnsubAck {
                packet_id: pid(10),
                properties: AckProperties {
                    reason_string: Some("ok".into()),
                    user_properties: Vec::new(),
                },
                reason_codes: vec![ReasonCode::NoSubscriptionExisted],
            },
        ),
    ]);
}

// ---------------------------------------------------------------------------
// DISCONNECT (3.1.1 §3.14, 5.0 §3.14) and AUTH (5.0 §3.15)
// ---------------------------------------------------------------------------

#[test]
fn disconnect_v5() {
    check_all(&[
        vector(
            "5.0 DISCONNECT, remaining length 1: 0x04 Disconnect with Will",
            ONLY_V5,
            Canonical,
            // 5.0 §3.14.2.2.1: "If the Remaining Length is less than 2, a
            // value of 0 is used" for the Property Length
            vec![0xE0, 0x01, 0x04],
            Disconnect::new(ReasonCode::DisconnectWithWill),
        ),
        vector(
            "5.0 DISCONNECT, remaining length 1: 0x00 Normal disconnection",
            ONLY_V5,
            DecodeOnly,
            vec![0xE0, 0x01, 0x00],
            Disconnect::default(),
        ),
        vector(
            "5.0 DISCONNECT, remaining length 2: reason and Property Length 0",
            ONLY_V5,
            DecodeOnly,
            vec![0xE0, 0x02, 0x8E, 0x00], // 0x8E Session taken over
            Disconnect::new(ReasonCode::SessionTakenOver),
        ),
        vector(
            "5.0 DISCONNECT with every DISCONNECT property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0xE0, 0x1C],                                     // DISCONNECT; remaining length 28
                &[0x9C],                               // Reason Code 0x9C Use another server
                &[0x1A],                               // Properties Length 26 (5.0 §3.14.2.2)
                &[0x11, 0x00, 0x00, 0x00, 0x00],       // Session Expiry Interval 0
                &[0x1F, 0x00, 0x03, b'b', b'y', b'e'], // Reason String "bye"
                &[0x1C, 0x00, 0x05, b'h', b'o', b's', b't', b'2'], // Server Reference
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property k=v
            ]),
            Disconnect {
                reason_code: ReasonCode::UseAnotherServer,
                properties: DisconnectProperties {
                    session_expiry_interval: Some(0),
                    reason_string: Some("bye".into()),
                    server_reference: Some("host2".into()),
                    user_properties: vec![user("k", "v")],
                },
            },
        ),
    ]);
}

#[test]
fn auth() {
    check_all(&[
        vector(
            "5.0 AUTH, remaining length 0: Success, no properties (5.0 §3.15.2.1)",
            ONLY_V5,
            Canonical,
            vec![0xF0, 0x00], // AUTH, type 15, flags 0000; remaining length 0
            Auth {
                reason_code: ReasonCode::Success,
                properties: AuthProperties::default(),
            },
        ),
        vector(
            "5.0 AUTH, remaining length 1: 0x18 Continue authentication",
            ONLY_V5,
            Canonical,
            vec![0xF0, 0x01, 0x18],
            Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties: AuthProperties::default(),
            },
        ),
        vector(
            "5.0 AUTH, remaining length 1: 0x00 Success",
            ONLY_V5,
            DecodeOnly,
            vec![0xF0, 0x01, 0x00],
            Auth {
                reason_code: ReasonCode::Success,
                properties: AuthProperties::default(),
            },
        ),
        vector(
            "5.0 AUTH, remaining length 2: 0x18 and Property Length 0",
            ONLY_V5,
            DecodeOnly,
            vec![0xF0, 0x02, 0x18, 0x00],
            Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties: AuthProperties::default(),
            },
        ),
        vector(
            "5.0 AUTH 0x19 Re-authenticate with every AUTH property",
            ONLY_V5,
            Canonical,
            cat(&[
                &[0xF0, 0x1C],                                     // AUTH; remaining length 28
                &[0x19], // Reason Code 0x19 Re-authenticate
                &[0x1A], // Properties Length 26 (5.0 §3.15.2.2)
                &[0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M'], // Authentication Method
                &[0x16, 0x00, 0x03, 0x01, 0x02, 0x03], // Authentication Data 01 02 03
                &[0x1F, 0x00, 0x02, b'r', b'e'], // Reason String "re"
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property k=v
            ]),
            Auth {
                reason_code: ReasonCode::ReAuthenticate,
                properties: AuthProperties {
                    authentication_method: Some("SCRAM".into()),
                    authentication_data: Some(Secret::new(Bytes::from_static(&[1, 2, 3]))),
                    reason_string: Some("re".into()),
                    user_properties: vec![user("k", "v")],
                },
            },
        ),
    ]);
}
