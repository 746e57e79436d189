//! The checks behind the fuzz targets in `fuzz_targets/`, shared so the
//! 3.1.1 and 5.0 targets run exactly the same logic.
//!
//! * [`check_decode`]: arbitrary bytes into `Packet::decode`, packet after
//!   packet, under several maximum packet sizes. Nothing may panic, and the
//!   framing contract must hold: `Ok(None)` consumes nothing, `Ok(Some)`
//!   consumes exactly one frame (as an independent parse of the fixed header
//!   measures it) and never more than the input or the maximum, every strict
//!   prefix of a decoded frame is `Ok(None)`, and a smaller maximum changes
//!   nothing but where `PacketTooLarge` stops the stream.
//! * [`check_roundtrip`]: every packet that decodes must encode again under
//!   the same version, with `encoded_len` equal to the bytes written, and the
//!   encoding must decode to an equal packet and re-encode to the very same
//!   bytes. Encoding it under the other versions must either fail the same
//!   way in `encoded_len` and `encode` (writing nothing) or produce bytes
//!   that decode under that version to the same packet (modulo the one
//!   documented lossy mapping: SUBACK failure codes become 0x80 before 5.0).
//!
//! CONNECT needs no special case: it is decoded at the protocol level it
//! names and encoded at its own `protocol`, whatever version is passed, so
//! the same-version round trip holds for it too (and it is version
//! independent across versions).

use bytes::{Bytes, BytesMut};
use mqtide_proto::{DecodeError, MAX_PACKET_SIZE, Packet, ProtocolVersion, ReasonCode};

/// The "modest" maximum packet size a client would configure.
pub const SMALL_MAX: u32 = 64 * 1024;

/// A tiny maximum, so that `PacketTooLarge` is reached by ordinary inputs.
pub const TINY_MAX: u32 = 16;

const ALL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// Bytes put in front of every encode buffer: `encode` must append after
/// them, and leave them alone when it fails.
const SENTINEL: &[u8] = b"\xde\xad\xbe";

/// How a stream of packets ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `Ok(None)`: the rest of the input is an incomplete packet (or empty).
    Incomplete,
    /// A decode error.
    Error(DecodeError),
}

/// What decoding a whole input gave: the packets with the exact bytes each
/// consumed, then how it ended.
#[derive(Debug)]
pub struct Stream {
    /// Decoded packets and their frames.
    pub packets: Vec<(Packet, Bytes)>,
    /// Why decoding stopped.
    pub end: End,
}

/// What an independent reading of the fixed header says about `buf`.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// Not enough bytes to know the frame length.
    LengthIncomplete,
    /// The remaining length does not end within four bytes.
    MalformedLength,
    /// The frame is `total` bytes long, header included.
    Total(usize),
}

/// Reference parse of the fixed header, written from the spec (§2.1.4,
/// §1.5.5) independently of the codec.
fn frame_len(buf: &[u8]) -> Frame {
    if buf.len() < 2 {
        return Frame::LengthIncomplete;
    }
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Frame::LengthIncomplete;
        };
        remaining += usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Frame::Total(1 + (i + 1) + remaining);
        }
    }
    Frame::MalformedLength
}

/// Decodes packets from `data` until `Ok(None)` or an error, checking the
/// framing contract at every step.
pub fn decode_stream(data: &[u8], version: ProtocolVersion, max: u32) -> Stream {
    let mut buf = BytesMut::from(data);
    let mut offset = 0;
    let mut packets = Vec::new();
    loop {
        let before = buf.len();
        assert_eq!(before, data.len() - offset);
        let rest = &data[offset..];
        let result = Packet::decode(&mut buf, version, max);
        let reference = frame_len(rest);
        match result {
            Ok(None) => {
                assert_eq!(&buf[..], rest, "Ok(None) must consume nothing");
                match reference {
                    Frame::LengthIncomplete => {}
                    Frame::Total(total) => assert!(
                        total > rest.len() && total <= max as usize,
                        "Ok(None) for a complete frame of {total} bytes \
                         ({} available, max {max})",
                        rest.len()
                    ),
                    Frame::MalformedLength => panic!("Ok(None) for a malformed remaining length"),
                }
                return Stream {
                    packets,
                    end: End::Incomplete,
                };
            }
            Ok(Some(packet)) => {
                let consumed = before - buf.len();
                assert!(consumed <= before, "consumed more than the input");
                assert!(consumed <= max as usize, "consumed more than the maximum");
                assert_eq!(
                    reference,
                    Frame::Total(consumed),
                    "consumed bytes differ from the frame the fixed header announces"
                );
                let frame = Bytes::copy_from_slice(&rest[..consumed]);
                assert_eq!(
                    packet.packet_type() as u8,
                    frame[0] >> 4,
                    "packet type differs from the first byte"
                );
                // Any strict prefix of a frame that decodes is incomplete.
                for k in [0, 1, 2, consumed / 2, consumed - 1] {
                    if k < consumed {
                        let mut prefix = BytesMut::from(&frame[..k]);
                        let got = Packet::decode(&mut prefix, version, max);
                        assert_eq!(got, Ok(None), "prefix of {k}/{consumed} bytes");
                        assert_eq!(&prefix[..], &frame[..k], "prefix was consumed");
                    }
                }
                offset += consumed;
                packets.push((packet, frame));
            }
            Err(err) => {
                // Formatting and mapping an error must not panic either.
                let _ = err.to_string();
                let _ = err.reason_code();
                let first_byte_error = matches!(
                    err,
                    DecodeError::ReservedPacketType(_)
                        | DecodeError::InvalidHeaderFlags { .. }
                        | DecodeError::InvalidQoS
                        | DecodeError::DupWithQoS0
                        | DecodeError::NotInVersion { .. }
                );
                let whole_frame = matches!(
                    reference,
                    Frame::Total(t) if t <= rest.len() && t <= max as usize
                );
                match (&err, reference) {
                    (DecodeError::PacketTooLarge { size, max: m }, Frame::Total(total)) => {
                        assert_eq!(*m, max);
                        assert_eq!(*size, total);
                        assert!(total > max as usize);
                    }
                    (DecodeError::PacketTooLarge { .. }, other) => {
                        panic!("PacketTooLarge but the reference frame is {other:?}")
                    }
                    // A remaining length that does not end within four
                    // bytes (or a variable byte integer inside a body).
                    (DecodeError::MalformedVarInt, Frame::MalformedLength) => {}
                    // The first byte is checked before anything else.
                    _ if first_byte_error => {}
                    // Any other error is about the body, so the whole
                    // frame must have been there.
                    _ => assert!(whole_frame, "{err:?} before the frame was complete"),
                }
                return Stream {
                    packets,
                    end: End::Error(err),
                };
            }
        }
    }
}

/// Checks that the stream decoded under the smaller maximum `small` agrees
/// with the one decoded under `MAX_PACKET_SIZE`: the same packets up to the
/// first one larger than `small`, where `small` stops with `PacketTooLarge`.
fn compare_limits(small_max: u32, small: &Stream, full: &Stream) {
    assert!(small.packets.len() <= full.packets.len());
    for (i, (a, b)) in small.packets.iter().zip(&full.packets).enumerate() {
        assert_eq!(a, b, "packet {i} differs between maximum sizes");
    }
    match &small.end {
        End::Error(DecodeError::PacketTooLarge { size, .. }) => {
            assert!(*size > small_max as usize);
            if let Some((_, frame)) = full.packets.get(small.packets.len()) {
                assert_eq!(frame.len(), *size);
            }
        }
        other => {
            assert_eq!(small.packets.len(), full.packets.len());
            assert_eq!(other, &full.end, "stream end differs between maximum sizes");
        }
    }
}

/// A stream end with the version an error may name (`NotInVersion`) set to
/// 3.1.1, so that ends under 3.1 and 3.1.1 compare.
fn without_version(end: &End) -> End {
    match end {
        End::Error(DecodeError::NotInVersion { packet, .. }) => {
            End::Error(DecodeError::NotInVersion {
                packet: *packet,
                version: ProtocolVersion::V3_1_1,
            })
        }
        other => other.clone(),
    }
}

/// Checks that 3.1 and 3.1.1 read the same bytes the same way, except that
/// 3.1 also accepts the DUP bit on PUBREL, SUBSCRIBE and UNSUBSCRIBE (which
/// 3.1.1 reserves): there the 3.1.1 stream stops with `InvalidHeaderFlags`
/// and the 3.1 one may go on.
fn compare_v31(v31: &Stream, v311: &Stream) {
    for (i, (a, b)) in v31.packets.iter().zip(&v311.packets).enumerate() {
        assert_eq!(a, b, "packet {i} differs between 3.1 and 3.1.1");
    }
    let n = v311.packets.len();
    match &v311.end {
        End::Error(DecodeError::InvalidHeaderFlags { flags, .. })
            if v31.packets.len() > n || without_version(&v31.end) != without_version(&v311.end) =>
        {
            assert_eq!(*flags, 0b1010, "3.1 accepted flags 3.1.1 refuses");
            if let Some((_, frame)) = v31.packets.get(n) {
                assert!(matches!(frame[0], 0x6a | 0x8a | 0xaa));
            }
        }
        end => {
            assert_eq!(
                v31.packets.len(),
                n,
                "3.1 and 3.1.1 stop at different packets"
            );
            assert_eq!(
                without_version(&v31.end),
                without_version(end),
                "3.1 and 3.1.1 stop differently"
            );
        }
    }
}

/// The decode target: never panic, and keep the framing contract. Under
/// 3.1.1 the same bytes are also read as 3.1, which differs only in the
/// DUP bit of PUBREL, SUBSCRIBE and UNSUBSCRIBE.
pub fn check_decode(data: &[u8], version: ProtocolVersion) {
    let full = decode_stream(data, version, MAX_PACKET_SIZE);
    for max in [SMALL_MAX, TINY_MAX] {
        let small = decode_stream(data, version, max);
        compare_limits(max, &small, &full);
    }
    if version == ProtocolVersion::V3_1_1 {
        let v31 = decode_stream(data, ProtocolVersion::V3_1, MAX_PACKET_SIZE);
        compare_v31(&v31, &full);
    }
}

/// Encodes `packet` under `version` after the sentinel, checking
/// `encoded_len` against what `encode` does. Returns the encoding, or the
/// error both agreed on.
fn encode_checked(packet: &Packet, version: ProtocolVersion) -> Result<Bytes, String> {
    let len = packet.encoded_len(version);
    let mut buf = BytesMut::from(SENTINEL);
    let result = packet.encode(version, &mut buf);
    assert_eq!(
        &buf[..SENTINEL.len()],
        SENTINEL,
        "encode overwrote the buffer"
    );
    match (len, result) {
        (Ok(len), Ok(())) => {
            assert_eq!(
                buf.len() - SENTINEL.len(),
                len,
                "encoded_len differs from the bytes encode wrote ({version})"
            );
            Ok(buf.freeze().slice(SENTINEL.len()..))
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "encoded_len and encode fail differently ({version})");
            assert_eq!(buf.len(), SENTINEL.len(), "a failed encode wrote bytes");
            Err(a.to_string())
        }
        (len, result) => {
            panic!("encoded_len says {len:?} but encode says {result:?} ({version}) for {packet:?}")
        }
    }
}

/// Decodes `bytes`, which must be exactly one packet.
fn decode_one(bytes: &Bytes, version: ProtocolVersion) -> Packet {
    let mut buf = BytesMut::from(&bytes[..]);
    let packet = match Packet::decode(&mut buf, version, MAX_PACKET_SIZE) {
        Ok(Some(packet)) => packet,
        other => panic!("our own {version} encoding {bytes:02x?} decodes to {other:?}"),
    };
    assert!(buf.is_empty(), "our own encoding has trailing bytes");
    packet
}

/// What `packet` becomes after a trip through `version`, where the encoding
/// is knowingly lossy: before 5.0 every SUBACK failure is 0x80.
fn expected_after(packet: &Packet, version: ProtocolVersion) -> Packet {
    match packet {
        Packet::SubAck(ack) if !version.is_v5() => {
            let mut ack = ack.clone();
            for code in &mut ack.reason_codes {
                if code.granted_qos().is_none() {
                    *code = ReasonCode::UnspecifiedError;
                }
            }
            Packet::SubAck(ack)
        }
        other => other.clone(),
    }
}

/// The round-trip oracle.
pub fn check_roundtrip(data: &[u8], version: ProtocolVersion) {
    let stream = decode_stream(data, version, MAX_PACKET_SIZE);
    for (packet, wire) in &stream.packets {
        // A packet we decoded must be writable again in the same version.
        let encoded = match encode_checked(packet, version) {
            Ok(encoded) => encoded,
            Err(err) => panic!("decoded {packet:?} from {wire:02x?} but cannot encode it: {err}"),
        };
        // Our encoding is canonical: never longer than what we accepted,
        // but for the one leniency of the decoder: a 5.0 CONNACK refusal in
        // the 3.1.1 layout (no properties length, as NATS sends) is read,
        // and written back with its empty properties (one byte more).
        let lenient = usize::from(
            version == ProtocolVersion::V5
                && matches!(packet, Packet::ConnAck(ack) if ack.reason_code.is_error())
                && wire.len() == 4,
        );
        assert!(
            encoded.len() <= wire.len() + lenient,
            "re-encoding grew from {} to {} bytes",
            wire.len(),
            encoded.len()
        );
        let again = decode_one(&encoded, version);
        assert_eq!(&again, packet, "decode(encode(p)) != p");
        let twice = encode_checked(&again, version).expect("encoded once, must encode twice");
        assert_eq!(twice, encoded, "encoding is not deterministic/canonical");

        // Other versions: consistent failure, or a faithful trip.
        for other in ALL_VERSIONS {
            if other == version {
                continue;
            }
            if let Ok(bytes) = encode_checked(packet, other) {
                if let Packet::Connect(_) = packet {
                    assert_eq!(bytes, encoded, "CONNECT encoding depends on the version");
                }
                let back = decode_one(&bytes, other);
                assert_eq!(
                    back,
                    expected_after(packet, other),
                    "trip through {other} changed the packet"
                );
            }
        }
    }
}
