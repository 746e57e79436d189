//! The fixed header (spec §2.1) and the framing around every packet body:
//! [`Packet::decode`], [`Packet::encode`] and [`Packet::encoded_len`].

use alloc::boxed::Box;

use bytes::{Buf, BufMut, BytesMut};

use super::wire::{Reader, VAR_INT_MAX, put_var_int, read_var_int, var_int_len};
use super::{
    Ack, Auth, ConnAck, Connect, DecodeError, Disconnect, EncodeError, Packet, ProtocolVersion,
    Publish, QoS, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

/// The type of a control packet: the high four bits of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// CONNECT (1).
    Connect = 1,
    /// CONNACK (2).
    ConnAck = 2,
    /// PUBLISH (3).
    Publish = 3,
    /// PUBACK (4).
    PubAck = 4,
    /// PUBREC (5).
    PubRec = 5,
    /// PUBREL (6).
    PubRel = 6,
    /// PUBCOMP (7).
    PubComp = 7,
    /// SUBSCRIBE (8).
    Subscribe = 8,
    /// SUBACK (9).
    SubAck = 9,
    /// UNSUBSCRIBE (10).
    Unsubscribe = 10,
    /// UNSUBACK (11).
    UnsubAck = 11,
    /// PINGREQ (12).
    PingReq = 12,
    /// PINGRESP (13).
    PingResp = 13,
    /// DISCONNECT (14).
    Disconnect = 14,
    /// AUTH (15, 5.0 only).
    Auth = 15,
}

impl PacketType {
    /// The packet's name as the spec writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        }
    }

    /// The flag bits the spec fixes for this type (PUBLISH's are variable).
    const fn fixed_flags(self) -> u8 {
        match self {
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => 0b0010,
            _ => 0,
        }
    }

    /// Checks the first byte of a packet: a known type for `version` and the
    /// flags the spec requires.
    fn from_first_byte(first: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet = match first >> 4 {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 if version.is_v5() => Self::Auth,
            15 => {
                return Err(DecodeError::NotInVersion {
                    packet: Self::Auth,
                    version,
                });
            }
            other => return Err(DecodeError::ReservedPacketType(other)),
        };
        let flags = first & 0x0f;
        if packet == Self::Publish {
            let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
            if qos == QoS::AtMostOnce && flags & 0b1000 != 0 {
                return Err(DecodeError::DupWithQoS0);
            }
        } else if flags != packet.fixed_flags()
            // MQTT 3.1 sets DUP on a retried PUBREL, SUBSCRIBE or UNSUBSCRIBE
            // (v3r1 §2.1 "DUP"); 3.1.1 made the bit reserved.
            && !(version == ProtocolVersion::V3_1
                && packet.fixed_flags() != 0
                && flags == packet.fixed_flags() | 0b1000)
        {
            return Err(DecodeError::InvalidHeaderFlags { packet, flags });
        }
        Ok(packet)
    }
}

/// The sizes an encoder works out before writing anything.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sizes {
    /// The remaining length.
    pub(crate) body: usize,
    /// The length of the (first) property block, without its prefix.
    pub(crate) props: usize,
    /// The length of a second property block (will properties in CONNECT).
    pub(crate) extra: usize,
}

/// A packet body: how it is measured (validating everything that could
/// make the write fail) and then written.
pub(crate) trait Body {
    /// Works out the remaining length, or why the packet cannot be written.
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError>;
    /// Writes the body. `sizes` comes from `measure` with the same version.
    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut);
}

/// A body with no bytes at all (PINGREQ, PINGRESP).
struct Empty;

impl Body for Empty {
    fn measure(&self, _: ProtocolVersion) -> Result<Sizes, EncodeError> {
        Ok(Sizes::default())
    }
    fn write(&self, _: ProtocolVersion, _: &Sizes, _: &mut BytesMut) {}
}

impl Packet {
    /// Decodes the first packet in `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not hold a whole packet yet; then
    /// nothing is consumed. On success the packet's bytes are split off the
    /// front of `buf`. A packet whose size exceeds `max_packet_size` is an
    /// error as soon as its fixed header is readable. CONNECT is read at the
    /// protocol level it names, whatever `version` says.
    pub fn decode(
        buf: &mut BytesMut,
        version: ProtocolVersion,
        max_packet_size: u32,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let packet = PacketType::from_first_byte(first, version)?;
        let Some((remaining, len_len)) = read_var_int(&buf[1..])? else {
            return Ok(None);
        };
        let header = 1 + len_len;
        let total = header + remaining as usize;
        if total > max_packet_size as usize {
            return Err(DecodeError::PacketTooLarge {
                size: total,
                max: max_packet_size,
            });
        }
        if buf.len() < total {
            return Ok(None);
        }
        buf.advance(header);
        let frame = buf.split_to(remaining as usize).freeze();
        let body = Reader::new(frame, packet.name());
        decode_body(packet, first & 0x0f, body, version)
    }

    /// Appends the packet to `buf`, encoded for `version`. On error nothing
    /// is written.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Connect(p) => encode_body(p.as_ref(), 0x10, version, buf),
            Self::ConnAck(p) => encode_body(p.as_ref(), 0x20, version, buf),
            Self::Publish(p) => encode_body(p, p.first_byte(), version, buf),
            Self::PubAck(p) => encode_body(&p.with(PacketType::PubAck), 0x40, version, buf),
            Self::PubRec(p) => encode_body(&p.with(PacketType::PubRec), 0x50, version, buf),
            Self::PubRel(p) => encode_body(&p.with(PacketType::PubRel), 0x62, version, buf),
            Self::PubComp(p) => encode_body(&p.with(PacketType::PubComp), 0x70, version, buf),
            Self::Subscribe(p) => encode_body(p, 0x82, version, buf),
            Self::SubAck(p) => encode_body(p, 0x90, version, buf),
            Self::Unsubscribe(p) => encode_body(p, 0xa2, version, buf),
            Self::UnsubAck(p) => encode_body(p, 0xb0, version, buf),
            Self::PingReq => encode_body(&Empty, 0xc0, version, buf),
            Self::PingResp => encode_body(&Empty, 0xd0, version, buf),
            Self::Disconnect(p) => encode_body(p, 0xe0, version, buf),
            Self::Auth(p) => encode_body(p, 0xf0, version, buf),
        }
    }

    /// The number of bytes [`encode`](Self::encode) would write, or why it
    /// would fail. Use it to check a packet against the peer's maximum
    /// packet size before sending.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let body = match self {
            Self::Connect(p) => p.measure(version),
            Self::ConnAck(p) => p.measure(version),
            Self::Publish(p) => p.measure(version),
            Self::PubAck(p) => p.with(PacketType::PubAck).measure(version),
            Self::PubRec(p) => p.with(PacketType::PubRec).measure(version),
            Self::PubRel(p) => p.with(PacketType::PubRel).measure(version),
            Self::PubComp(p) => p.with(PacketType::PubComp).measure(version),
            Self::Subscribe(p) => p.measure(version),
            Self::SubAck(p) => p.measure(version),
            Self::Unsubscribe(p) => p.measure(version),
            Self::UnsubAck(p) => p.measure(version),
            Self::PingReq | Self::PingResp => Ok(Sizes::default()),
            Self::Disconnect(p) => p.measure(version),
            Self::Auth(p) => p.measure(version),
        }?
        .body;
        total_len(body)
    }
}

/// The size of a whole packet whose body is `body` bytes, or an error if
/// the remaining length cannot express it.
pub(crate) fn total_len(body: usize) -> Result<usize, EncodeError> {
    check_remaining(body)?;
    Ok(1 + var_int_len(body) + body)
}

fn check_remaining(body: usize) -> Result<(), EncodeError> {
    if body > VAR_INT_MAX as usize {
        Err(EncodeError::PacketTooLarge(body))
    } else {
        Ok(())
    }
}

/// Measures, then writes header and body in one reserved stretch of `buf`.
#[inline]
pub(super) fn encode_body<B: Body>(
    body: &B,
    first: u8,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let sizes = body.measure(version)?;
    check_remaining(sizes.body)?;
    buf.reserve(1 + var_int_len(sizes.body) + sizes.body);
    buf.put_u8(first);
    put_var_int(buf, sizes.body);
    body.write(version, &sizes, buf);
    Ok(())
}

// Inlined into `Packet::decode` (as is `Publish::decode`), so the decoded
// packet is built in place rather than moved through three `Result` layers:
// a fifth of a PUBLISH decode in `benches/benches/codec.rs`.
#[inline(always)]
fn decode_body(
    packet: PacketType,
    flags: u8,
    mut r: Reader,
    version: ProtocolVersion,
) -> Result<Option<Packet>, DecodeError> {
    let decoded = match packet {
        PacketType::Connect => Packet::Connect(Box::new(Connect::decode(&mut r)?)),
        PacketType::ConnAck => Packet::ConnAck(Box::new(ConnAck::decode(&mut r, version)?)),
        PacketType::Publish => Packet::Publish(Publish::decode(&mut r, flags, version)?),
        PacketType::PubAck => Packet::PubAck(Ack::decode(&mut r, packet, version)?),
        PacketType::PubRec => Packet::PubRec(Ack::decode(&mut r, packet, version)?),
        PacketType::PubRel => Packet::PubRel(Ack::decode(&mut r, packet, version)?),
        PacketType::PubComp => Packet::PubComp(Ack::decode(&mut r, packet, version)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut r, version)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(&mut r, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(&mut r, version)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(&mut r, version)?),
        PacketType::Auth => Packet::Auth(Auth::decode(&mut r)?),
    };
    r.finish()?;
    Ok(Some(decoded))
}
