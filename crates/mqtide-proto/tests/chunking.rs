//! Streaming: packets arrive from a socket in arbitrary pieces, and the
//! decoder must reassemble them, never consume a partial packet, and never
//! panic or over-read whatever bytes it is given.

mod common;

use bytes::BytesMut;
use common::config;
use common::strategies::{packet_stream, version, versioned_packet};
use mqtide_proto::{MAX_PACKET_SIZE, Packet, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

/// Encodes `packets` back to back.
fn encode_all(version: ProtocolVersion, packets: &[Packet]) -> Result<Vec<u8>, TestCaseError> {
    let mut wire = BytesMut::new();
    for packet in packets {
        packet
            .encode(version, &mut wire)
            .map_err(|e| TestCaseError::fail(format!("encode failed: {e}")))?;
    }
    Ok(wire.to_vec())
}

/// The size of the frame at the front of `bytes` as its fixed header
/// announces it, or `None` if the header is incomplete or malformed. An
/// independent reading of spec §2.1.4 to check the decoder against.
fn announced_frame_len(bytes: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for (i, &byte) in bytes.get(1..)?.iter().take(4).enumerate() {
        remaining += usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(1 + (i + 1) + remaining);
        }
    }
    None
}

/// Decodes every whole packet in `read` into `out`, as a connection's read
/// loop does after each read, and checks what each call consumes: exactly
/// the packet's encoded length, or nothing at all on `Ok(None)`.
fn decode_available(
    read: &mut BytesMut,
    version: ProtocolVersion,
    out: &mut Vec<Packet>,
) -> Result<(), TestCaseError> {
    loop {
        let (ptr, len) = (read.as_ptr(), read.len());
        match Packet::decode(read, version, MAX_PACKET_SIZE) {
            Ok(Some(packet)) => {
                let expected = packet
                    .encoded_len(version)
                    .map_err(|e| TestCaseError::fail(format!("encoded_len failed: {e}")))?;
                prop_assert_eq!(len - read.len(), expected, "consumed != encoded_len");
                out.push(packet);
            }
            Ok(None) => {
                prop_assert_eq!(read.len(), len, "Ok(None) must consume nothing");
                prop_assert_eq!(read.as_ptr(), ptr, "Ok(None) must consume nothing");
                return Ok(());
            }
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "a valid stream failed to decode: {e}"
                )));
            }
        }
    }
}

/// Feeds `wire` to a decoder in chunks of the given sizes (cycled), and
/// checks that exactly `packets` come out, in order.
fn check_chunked(
    version: ProtocolVersion,
    packets: &[Packet],
    wire: &[u8],
    chunk_sizes: &[usize],
) -> Result<(), TestCaseError> {
    let mut read = BytesMut::new();
    let mut out = Vec::with_capacity(packets.len());
    let mut sizes = chunk_sizes.iter().cycle();
    let mut rest = wire;
    while !rest.is_empty() {
        let n = sizes.next().map_or(1, |&n| n.clamp(1, rest.len()));
        read.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        decode_available(&mut read, version, &mut out)?;
        // Every packet that is complete by now has come out.
        let fed = wire.len() - rest.len();
        let mut complete = 0;
        let mut at = 0;
        while let Some(frame) = announced_frame_len(&wire[at..fed]) {
            if at + frame > fed {
                break;
            }
            at += frame;
            complete += 1;
        }
        prop_assert_eq!(out.len(), complete, "a complete packet was not decoded");
    }
    prop_assert!(read.is_empty(), "bytes left over after the last packet");
    prop_assert_eq!(out.as_slice(), packets);
    Ok(())
}

/// Chunk sizes: mostly tiny, sometimes larger than most packets.
fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(
        prop_oneof![4 => 1..=3usize, 4 => 1..=64usize, 1 => 1..=4096usize],
        1..12,
    )
}

/// Runs the decoder over arbitrary bytes the way a read loop would, until
/// it stops, checking it never panics and never over-reads: `Ok(None)`
/// consumes nothing, `Ok(Some)` consumes exactly the frame its header
/// announced, and whatever it accepts re-encodes and decodes to itself.
fn check_decode_is_total(
    version: ProtocolVersion,
    bytes: &[u8],
    max_packet_size: u32,
) -> Result<(), TestCaseError> {
    let mut read = BytesMut::from(bytes);
    loop {
        let (ptr, len) = (read.as_ptr(), read.len());
        let frame = announced_frame_len(&read);
        match Packet::decode(&mut read, version, max_packet_size) {
            Ok(Some(packet)) => {
                let consumed = len - read.len();
                prop_assert!(consumed > 0 && consumed <= len);
                prop_assert_eq!(Some(consumed), frame, "consumed != announced frame");
                check_reencodes(version, &packet)?;
            }
            Ok(None) => {
                prop_assert_eq!(read.len(), len, "Ok(None) must consume nothing");
                prop_assert_eq!(read.as_ptr(), ptr, "Ok(None) must consume nothing");
                return Ok(());
            }
            Err(_) => {
                prop_assert!(read.len() <= len);
                return Ok(());
            }
        }
    }
}

/// A packet the decoder accepted can be written back, and reads back as
/// itself: the decoder never produces a packet the encoder refuses.
fn check_reencodes(version: ProtocolVersion, packet: &Packet) -> Result<(), TestCaseError> {
    let len = packet.encoded_len(version).map_err(|e| {
        TestCaseError::fail(format!(
            "decoded packet cannot be measured: {e}: {packet:?}"
        ))
    })?;
    let mut wire = BytesMut::new();
    packet.encode(version, &mut wire).map_err(|e| {
        TestCaseError::fail(format!("decoded packet cannot be encoded: {e}: {packet:?}"))
    })?;
    prop_assert_eq!(wire.len(), len);
    prop_assert_eq!(
        Packet::decode(&mut wire, version, MAX_PACKET_SIZE),
        Ok(Some(packet.clone()))
    );
    prop_assert!(wire.is_empty());
    Ok(())
}

/// First bytes of every packet type with its legal flags, so that random
/// bodies reach the body parsers instead of failing on the header.
const FIRST_BYTES: &[u8] = &[
    0x10, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x3a, 0x3b, 0x3c, 0x3d, 0x40, 0x50, 0x62, 0x70,
    0x82, 0x90, 0xa2, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0,
];

/// A frame with a plausible first byte, a correct remaining length and a
/// random body: random bytes where the parser looks deepest.
fn framed_garbage() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![3 => proptest::sample::select(FIRST_BYTES), 1 => any::<u8>()],
        vec(any::<u8>(), 0..48),
    )
        .prop_map(|(first, body)| {
            let mut frame = vec![first];
            let mut len = body.len();
            loop {
                let byte = (len & 0x7f) as u8;
                len >>= 7;
                if len == 0 {
                    frame.push(byte);
                    break;
                }
                frame.push(byte | 0x80);
            }
            frame.extend_from_slice(&body);
            frame
        })
}

/// A maximum packet size: usually the protocol's, sometimes tiny.
fn max_packet_size() -> impl Strategy<Value = u32> {
    prop_oneof![3 => Just(MAX_PACKET_SIZE), 1 => 0..300u32]
}

/// One edit to a valid encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=u8::MAX).prop_map(|(i, mask)| Mutation::Flip(i, mask)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
        vec(any::<u8>(), 1..16).prop_map(Mutation::Extend),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::Extend(tail) => bytes.extend_from_slice(tail),
        Mutation::Insert(i, v) => {
            bytes.insert(i.index(len + 1), *v);
        }
        _ if bytes.is_empty() => {}
        Mutation::Flip(i, mask) => bytes[i.index(len)] ^= mask,
        Mutation::Set(i, v) => bytes[i.index(len)] = *v,
        Mutation::Remove(i) => {
            bytes.remove(i.index(len));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
    }
}

proptest! {
    #![proptest_config(config())]

    /// A stream of valid packets, split at random points, decodes to the
    /// same packets in order; each packet comes out as soon as its last
    /// byte arrives, and `Ok(None)` never consumes anything.
    #[test]
    fn stream_split_at_random_points_decodes_in_order(
        (version, packets) in packet_stream(1..8),
        sizes in chunk_sizes(),
    ) {
        let wire = encode_all(version, &packets)?;
        check_chunked(version, &packets, &wire, &sizes)?;
    }

    /// The same, one byte at a time: every proper prefix of a packet is
    /// `Ok(None)`.
    #[test]
    fn stream_fed_one_byte_at_a_time_decodes_in_order(
        (version, packets) in packet_stream(1..4),
    ) {
        let wire = encode_all(version, &packets)?;
        check_chunked(version, &packets, &wire, &[1])?;
    }

    /// Arbitrary bytes never make the decoder panic or over-read.
    #[test]
    fn arbitrary_bytes_never_panic(
        decode_as in version(),
        bytes in vec(any::<u8>(), 0..256),
        max in max_packet_size(),
    ) {
        check_decode_is_total(decode_as, &bytes, max)?;
    }

    /// Well-framed random bodies (so the body parsers see the garbage)
    /// never make the decoder panic or over-read.
    #[test]
    fn framed_garbage_never_panics(
        decode_as in version(),
        frames in vec(framed_garbage(), 1..4),
        max in max_packet_size(),
    ) {
        check_decode_is_total(decode_as, &frames.concat(), max)?;
    }

    /// Valid encodings with bytes flipped, set, inserted or removed,
    /// truncated or extended, decoded under any version, never make the
    /// decoder panic or over-read.
    #[test]
    fn mutated_encodings_never_panic(
        (version, packet) in versioned_packet(),
        decode_as in prop_oneof![3 => Just(None), 1 => version().prop_map(Some)],
        mutations in vec(mutation(), 1..4),
        max in max_packet_size(),
    ) {
        let mut bytes = encode_all(version, std::slice::from_ref(&packet))?;
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        check_decode_is_total(decode_as.unwrap_or(version), &bytes, max)?;
    }
}
