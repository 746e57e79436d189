//! A hostile broker: a scripted TCP broker accepts the client's connection,
//! answers CONNACK, then sends what no broker may — an oversize packet, a
//! five-byte remaining length, broken topics, reserved bits, QoS 3,
//! duplicate properties, an unknown topic alias, acknowledgements for
//! nothing, a second CONNACK, a packet that never ends, more messages than
//! the receive maximum allows.
//!
//! For each the client must report a typed error (the
//! `ConnectionEvent::Disconnected` reason), end the connection the way the
//! protocol says — under 5.0 a DISCONNECT with the right reason code as its
//! last packet [MQTT-4.13.1-1]; under 3.1.1 a close without DISCONNECT
//! (3.1.1 [MQTT-4.8.0-1]; a DISCONNECT there would make the broker discard
//! the will) — reconnect (the scripted broker accepts a second connection),
//! and its event loop must end without a panic. The scripted broker reads
//! the client's answers as raw packets and checks them byte for byte.
//!
//! Each scenario runs under 3.1.1 and 5.0 where the protocol has it.

mod support;

use mqtide::proto::{
    ConnectionError, DecodeError, PacketType, PropertyId, ProtocolError, ReceiveOverrun, TopicError,
};
use mqtide::{ClientBuilder, ProtocolVersion};

use scripted::{
    Closed, Frame, Harness, PINGREQ, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, Peer, ack,
    assert_ended_with, connack, packet, publish, refuses, suback, unsuback, var_int,
};
use support::{VERSIONS, guard};

#[path = "support/scripted_broker.rs"]
mod scripted;

const V5: ProtocolVersion = ProtocolVersion::V5;

/// 5.0 reason codes the client must send.
const MALFORMED_PACKET: u8 = 0x81;
const PROTOCOL_ERROR: u8 = 0x82;
const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
const TOPIC_ALIAS_INVALID: u8 = 0x94;
const PACKET_TOO_LARGE: u8 = 0x95;

fn decode(error: DecodeError) -> ConnectionError {
    ConnectionError::Protocol(ProtocolError::Decode(error))
}

fn same(b: ClientBuilder) -> ClientBuilder {
    b
}

/// A fixed header announcing 200 MB, then bytes streamed behind it: the
/// client must give up on the header alone (it never allocates for the
/// announced length) and close before the broker can push the body
/// through. What the broker manages to write is bounded by the client's
/// maximum packet size plus the kernel's socket buffers on both ends.
#[tokio::test]
async fn remaining_length_beyond_maximum_packet_size() {
    const MAX: u32 = 1 << 20;
    const ANNOUNCED: usize = 200_000_000;
    for version in VERSIONS {
        let mut h = Harness::new(version, "oversize", |b| b.max_packet_size(MAX)).await;
        let peer = h.connect().await;
        let attack = h
            .attack(peer, async |w| {
                let mut header = vec![PUBLISH << 4];
                header.extend(var_int(ANNOUNCED));
                let total = (header.len() + ANNOUNCED) as u64;
                let chunk = vec![b'x'; 64 * 1024];
                let mut result = w.send(&header).await;
                while result.is_ok() && w.written < total {
                    result = w.send(&chunk).await;
                }
                (w.written, total, result.is_err())
            })
            .await;
        let (written, total, stopped) = attack.value;
        assert_eq!(
            attack.error,
            decode(DecodeError::PacketTooLarge {
                size: ANNOUNCED + 5,
                max: MAX,
            })
        );
        assert_ended_with(version, &attack.frames, PACKET_TOO_LARGE, &[]);
        let bound = u64::from(MAX) + kernel_socket_buffers();
        assert!(
            stopped && written <= bound,
            "the broker wrote {written} of {total} bytes before the client closed; \
             the bound is {bound} ({version})"
        );
        println!("{version}: the broker wrote {written} bytes of {total} before the client closed");
        h.reconnects_and_closes().await;
    }
}

/// The most a TCP connection's buffers can hold in flight: the receiver's
/// receive buffer and the sender's send buffer at their autotuning
/// maxima (the third field of `tcp_rmem` / `tcp_wmem`).
fn kernel_socket_buffers() -> u64 {
    let max = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(2)?.parse::<u64>().ok())
            .unwrap_or(32 << 20)
    };
    max("tcp_rmem") + max("tcp_wmem")
}

/// A remaining length whose fourth byte still has its continuation bit.
#[tokio::test]
async fn five_byte_remaining_length() {
    for version in VERSIONS {
        let bytes = [PUBLISH << 4, 0xff, 0xff, 0xff, 0xff, 0x7f];
        let expected = decode(DecodeError::MalformedVarInt);
        refuses(version, "varint", same, &bytes, expected, MALFORMED_PACKET).await;
    }
}

/// Topics that are not well-formed UTF-8: a stray 0xff byte, and an
/// encoded surrogate (U+D800).
#[tokio::test]
async fn invalid_utf8_in_topic() {
    for version in VERSIONS {
        for topic in [&b"a/\xff"[..], b"a/\xed\xa0\x80"] {
            let bytes = publish(version, 0, topic, None, &[], b"x");
            let expected = decode(DecodeError::InvalidUtf8);
            refuses(version, "utf8", same, &bytes, expected, MALFORMED_PACKET).await;
        }
    }
}

/// U+0000 in a topic name.
#[tokio::test]
async fn null_character_in_topic() {
    for version in VERSIONS {
        let bytes = publish(version, 0, b"a\0b", None, &[], b"x");
        let expected = decode(DecodeError::NullCharacter);
        refuses(version, "null", same, &bytes, expected, MALFORMED_PACKET).await;
    }
}

/// Wildcards belong in filters, never in a PUBLISH topic name.
#[tokio::test]
async fn wildcards_in_publish_topic() {
    for version in VERSIONS {
        for topic in ["a/+/c", "a/#", "+"] {
            let bytes = publish(version, 0, topic.as_bytes(), None, &[], b"x");
            let expected = decode(DecodeError::InvalidTopic(TopicError::WildcardInTopicName));
            refuses(
                version,
                "wildcard",
                same,
                &bytes,
                expected,
                MALFORMED_PACKET,
            )
            .await;
        }
    }
}

/// Reserved bits of the fixed header set: PUBACK with flags 0001, PINGRESP
/// with 0010, and a QoS 0 PUBLISH with DUP.
#[tokio::test]
async fn reserved_flag_bits() {
    for version in VERSIONS {
        let cases = [
            (
                packet(PUBACK << 4 | 0b0001, &[0, 7]),
                DecodeError::InvalidHeaderFlags {
                    packet: PacketType::PubAck,
                    flags: 0b0001,
                },
            ),
            (
                vec![0xd2, 0],
                DecodeError::InvalidHeaderFlags {
                    packet: PacketType::PingResp,
                    flags: 0b0010,
                },
            ),
            (
                {
                    let mut p = publish(version, 0, b"a", None, &[], b"x");
                    p[0] |= 0b1000;
                    p
                },
                DecodeError::DupWithQoS0,
            ),
        ];
        for (bytes, error) in cases {
            refuses(
                version,
                "flags",
                same,
                &bytes,
                decode(error),
                MALFORMED_PACKET,
            )
            .await;
        }
    }
}

/// Packet type 0 is reserved in every version, and AUTH (15) does not
/// exist in 3.1.1.
#[tokio::test]
async fn reserved_packet_types() {
    for version in VERSIONS {
        let expected = decode(DecodeError::ReservedPacketType(0));
        refuses(
            version,
            "type0",
            same,
            &[0x00, 0x00],
            expected,
            PROTOCOL_ERROR,
        )
        .await;
    }
    let version = ProtocolVersion::V3_1_1;
    let expected = decode(DecodeError::NotInVersion {
        packet: PacketType::Auth,
        version,
    });
    refuses(
        version,
        "auth",
        same,
        &[0xf0, 0x00],
        expected,
        PROTOCOL_ERROR,
    )
    .await;
}

/// A PUBLISH with both QoS bits set.
#[tokio::test]
async fn qos_3_publish() {
    for version in VERSIONS {
        let bytes = publish(version, 3, b"a", Some(1), &[], b"x");
        refuses(
            version,
            "qos3",
            same,
            &bytes,
            decode(DecodeError::InvalidQoS),
            MALFORMED_PACKET,
        )
        .await;
    }
}

/// 5.0: a property that may appear once, twice — in a PUBLISH and in a
/// PUBACK.
#[tokio::test]
async fn duplicate_properties() {
    let with_aliases = |b: ClientBuilder| b.topic_alias_maximum(10);
    // Payload Format Indicator twice.
    let bytes = publish(V5, 0, b"a", None, &[0x01, 0x00, 0x01, 0x01], b"x");
    let expected = decode(DecodeError::DuplicateProperty(
        PropertyId::PayloadFormatIndicator,
    ));
    refuses(V5, "dup-pfi", same, &bytes, expected, PROTOCOL_ERROR).await;
    // Topic Alias twice.
    let bytes = publish(V5, 0, b"a", None, &[0x23, 0, 1, 0x23, 0, 2], b"x");
    let expected = decode(DecodeError::DuplicateProperty(PropertyId::TopicAlias));
    refuses(
        V5,
        "dup-alias",
        with_aliases,
        &bytes,
        expected,
        PROTOCOL_ERROR,
    )
    .await;
    // Reason String twice in a PUBACK.
    let body = [0, 7, 0x00, 8, 0x1f, 0, 1, b'a', 0x1f, 0, 1, b'b'];
    let bytes = packet(PUBACK << 4, &body);
    let expected = decode(DecodeError::DuplicateProperty(PropertyId::ReasonString));
    refuses(V5, "dup-reason", same, &bytes, expected, PROTOCOL_ERROR).await;
}

/// 5.0: topic aliases the client never agreed to: one never defined, one
/// above the maximum it announced, one when it announced none, and 0.
#[tokio::test]
async fn unknown_topic_alias() {
    let with_aliases = |b: ClientBuilder| b.topic_alias_maximum(10);
    let invalid = |alias| ConnectionError::Protocol(ProtocolError::TopicAliasInvalid(alias));
    let bytes = publish(V5, 0, b"", None, &[0x23, 0, 3], b"x");
    refuses(
        V5,
        "alias-unset",
        with_aliases,
        &bytes,
        invalid(3),
        TOPIC_ALIAS_INVALID,
    )
    .await;
    let bytes = publish(V5, 0, b"a/b", None, &[0x23, 0, 11], b"x");
    refuses(
        V5,
        "alias-above",
        with_aliases,
        &bytes,
        invalid(11),
        TOPIC_ALIAS_INVALID,
    )
    .await;
    let bytes = publish(V5, 0, b"a/b", None, &[0x23, 0, 1], b"x");
    refuses(
        V5,
        "alias-none",
        same,
        &bytes,
        invalid(1),
        TOPIC_ALIAS_INVALID,
    )
    .await;
    // Alias 0 is refused by the decoder as a property out of range, a
    // protocol error ([MQTT-3.3.2-8] forbids sending it).
    let bytes = publish(V5, 0, b"a/b", None, &[0x23, 0, 0], b"x");
    let expected = decode(DecodeError::InvalidPropertyValue {
        property: PropertyId::TopicAlias,
        value: 0,
    });
    refuses(
        V5,
        "alias-zero",
        with_aliases,
        &bytes,
        expected,
        PROTOCOL_ERROR,
    )
    .await;
}

/// Acknowledgements for packet identifier 7 when nothing is in flight
/// (PUBREC and PUBREL have an answer for that instead: see below).
#[tokio::test]
async fn acks_for_unknown_packet_ids() {
    for version in VERSIONS {
        let cases = [
            (ack(PUBACK, 7), PacketType::PubAck),
            (ack(PUBCOMP, 7), PacketType::PubComp),
            (suback(version, 7), PacketType::SubAck),
            (unsuback(version, 7), PacketType::UnsubAck),
        ];
        for (bytes, packet) in cases {
            let expected =
                ConnectionError::Protocol(ProtocolError::UnknownPacketId { packet, id: 7 });
            refuses(
                version,
                "unknown-id",
                same,
                &bytes,
                expected,
                PROTOCOL_ERROR,
            )
            .await;
        }
    }
}

/// PUBREC or PUBREL for an identifier the client does not hold is not an
/// attack: an acknowledgement of ours may have been lost. The client
/// answers so that the broker can forget the identifier — PUBREL for a
/// PUBREC, PUBCOMP for a PUBREL, under 5.0 with 0x92 (Packet Identifier
/// not found) — and stays connected.
#[tokio::test]
async fn pubrec_and_pubrel_for_unknown_ids_are_answered() {
    for version in VERSIONS {
        let mut h = Harness::new(version, "unknown-answered", same).await;
        let Peer {
            mut reader,
            mut writer,
        } = h.connect().await;
        for (sent, answer) in [(PUBREC, PUBREL), (PUBREL, PUBCOMP)] {
            writer.send(&ack(sent, 7)).await.expect("send");
            let frame = guard("the answer", reader.next())
                .await
                .expect("read")
                .expect("the client closed instead of answering");
            let flags = if answer == PUBREL { 0b0010 } else { 0 };
            let body = if version == V5 {
                vec![0, 7, 0x92]
            } else {
                vec![0, 7]
            };
            assert_eq!(
                (frame.first, frame.body),
                (answer << 4 | flags, body),
                "{version}"
            );
        }
        assert!(h.client.state().is_connected());
        guard("disconnect", h.client.disconnect()).await.unwrap();
        let (frames, _) = guard("close", reader.until_closed()).await;
        assert_eq!(
            frames
                .iter()
                .map(Frame::disconnect_reason)
                .collect::<Vec<_>>(),
            [Some(0)]
        );
        let task = h.task.take().expect("the task");
        guard("the event loop ends", task)
            .await
            .expect("the event loop panicked");
    }
}

/// CONNACK after CONNACK.
#[tokio::test]
async fn second_connack() {
    for version in VERSIONS {
        let mut h = Harness::new(version, "connack", same).await;
        let peer = h.connect().await;
        let attack = h
            .attack(peer, async |w| {
                w.send(&connack(version)).await.expect("send");
            })
            .await;
        assert!(
            matches!(
                attack.error,
                ConnectionError::Protocol(ProtocolError::UnexpectedPacket {
                    packet: PacketType::ConnAck,
                    ..
                })
            ),
            "{:?} ({version})",
            attack.error
        );
        assert_ended_with(version, &attack.frames, PROTOCOL_ERROR, &[]);
        h.reconnects_and_closes().await;
    }
}

/// Slowloris: a PUBLISH announcing 1000 bytes whose body then trickles in
/// one byte per 100 ms and never completes. Incomplete bytes do not count
/// as an answer to PINGREQ, so the keep-alive (1 s) and ping timeout (1 s)
/// end the connection: the client closes (a ping timeout has no client
/// reason code to send, so no DISCONNECT) and reconnects.
#[tokio::test]
async fn slowloris_is_ended_by_the_ping_timeout() {
    use std::time::Duration;
    const ANNOUNCED: usize = 1000;
    for version in VERSIONS {
        let mut h = Harness::new(version, "slowloris", |b| {
            b.keep_alive(Duration::from_secs(1))
                .ping_timeout(Duration::from_secs(1))
        })
        .await;
        let peer = h.connect().await;
        let attack = h
            .attack(peer, async |w| {
                let mut start = vec![PUBLISH << 4];
                start.extend(var_int(ANNOUNCED));
                start.extend([0, 3, b'a', b'/', b'b']);
                let mut result = w.send(&start).await;
                let mut sent = 5;
                // One byte short of the whole packet, at most.
                while result.is_ok() && sent < ANNOUNCED - 1 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    result = w.send(b"x").await;
                    sent += 1;
                }
                sent
            })
            .await;
        assert_eq!(attack.error, ConnectionError::KeepAliveTimeout, "{version}");
        assert!(attack.value < ANNOUNCED - 1, "the packet never completed");
        let kinds: Vec<u8> = attack.frames.iter().map(Frame::kind).collect();
        assert_eq!(kinds, [PINGREQ], "one PINGREQ, then a close ({version})");
        assert_eq!(attack.closed, Closed::Eof);
        h.reconnects_and_closes().await;
    }
}

/// 5.0: more unacknowledged QoS 1 messages than the receive maximum (5)
/// the client announced. With manual acknowledgement and an application
/// that acknowledges nothing, a client that tolerates 10 more takes them,
/// and the one after is a violation. (By default it takes any overrun
/// the packet identifiers allow: `receive_maximum_overrun.rs`.)
#[tokio::test]
async fn qos1_flood_beyond_receive_maximum() {
    let mut h = Harness::new(V5, "flood1", |b| {
        b.receive_maximum(5)
            .manual_acks(true)
            .receive_overrun(ReceiveOverrun::Tolerate { margin: 10 })
    })
    .await;
    let _messages = h.client.messages().await.expect("a message stream");
    let peer = h.connect().await;
    let attack = h
        .attack(peer, async |w| {
            let flood: Vec<u8> = (1..=50)
                .flat_map(|id| publish(V5, 1, b"flood", Some(id), &[], b"x"))
                .collect();
            // The client may close before taking it all.
            let _ = w.send(&flood).await;
        })
        .await;
    let expected = ConnectionError::Protocol(ProtocolError::ReceiveMaximumExceeded(5));
    assert_eq!(attack.error, expected);
    assert_ended_with(V5, &attack.frames, RECEIVE_MAXIMUM_EXCEEDED, &[]);
    h.reconnects_and_closes().await;
}

/// 5.0: QoS 2 messages count against the receive maximum until PUBREL;
/// a broker that never releases them and sends a sixth breaks it, however
/// fast the client answers PUBREC, under the strict rule
/// (`ReceiveOverrun::Strict`). By default the client takes such messages,
/// as Mosquitto sends them (`receive_maximum_overrun.rs`).
#[tokio::test]
async fn qos2_flood_beyond_receive_maximum() {
    let mut h = Harness::new(V5, "flood2", |b| {
        b.receive_maximum(5).receive_overrun(ReceiveOverrun::Strict)
    })
    .await;
    let peer = h.connect().await;
    let attack = h
        .attack(peer, async |w| {
            let flood: Vec<u8> = (1..=50)
                .flat_map(|id| publish(V5, 2, b"flood", Some(id), &[], b"x"))
                .collect();
            let _ = w.send(&flood).await;
        })
        .await;
    let expected = ConnectionError::Protocol(ProtocolError::ReceiveMaximumExceeded(5));
    assert_eq!(attack.error, expected);
    assert_ended_with(V5, &attack.frames, RECEIVE_MAXIMUM_EXCEEDED, &[PUBREC]);
    h.reconnects_and_closes().await;
}
