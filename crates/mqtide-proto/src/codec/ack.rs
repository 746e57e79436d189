//! Acknowledgements: PUBACK, PUBREC, PUBREL and PUBCOMP (one shape, [`Ack`]),
//! SUBACK and UNSUBACK.

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::header::{Body, Sizes};
use super::properties::AckProperties;
use super::wire::{Reader, var_int_len};
use super::{DecodeError, EncodeError, PacketId, PacketType, ProtocolVersion, ReasonCode};

/// PUBACK, PUBREC, PUBREL or PUBCOMP: which one is the [`Packet`](super::Packet)
/// variant that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The packet identifier of the flow being acknowledged.
    pub packet_id: PacketId,
    /// The outcome (5.0; always `Success` under 3.1.1).
    pub reason_code: ReasonCode,
    /// 5.0 properties.
    pub properties: AckProperties,
}

impl Ack {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }

    pub(super) fn with(&self, packet: PacketType) -> TypedAck<'_> {
        TypedAck { ack: self, packet }
    }

    pub(super) fn decode(
        r: &mut Reader,
        packet: PacketType,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r)?;
        let mut ack = Self::new(packet_id);
        // 5.0 §3.4.2.1: the reason code and the property length may be
        // left out; then the reason is Success and there are no properties.
        if version.is_v5() && !r.is_empty() {
            ack.reason_code = ReasonCode::decode(packet, r.u8()?)?;
            if !r.is_empty() {
                ack.properties = AckProperties::decode(r)?;
            }
        }
        Ok(ack)
    }
}

/// An [`Ack`] with the packet type it is sent as, which decides the valid
/// reason codes.
pub(super) struct TypedAck<'a> {
    ack: &'a Ack,
    packet: PacketType,
}

impl Body for TypedAck<'_> {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        let ack = self.ack;
        if !version.is_v5() {
            v5_only(
                version,
                ack.reason_code == ReasonCode::Success,
                "a failure reason code",
            )?;
            v5_only(version, ack.properties.is_empty(), "properties")?;
            return Ok(Sizes {
                body: 2,
                ..Sizes::default()
            });
        }
        ack.reason_code.check_for(self.packet)?;
        let props = ack.properties.encoded_len()?;
        let body = match (ack.reason_code, props) {
            (ReasonCode::Success, 0) => 2,
            (_, 0) => 3,
            (_, props) => 3 + var_int_len(props) + props,
        };
        Ok(Sizes {
            body,
            props,
            extra: 0,
        })
    }

    fn write(&self, _: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        buf.put_u16(self.ack.packet_id.get());
        if sizes.body > 2 {
            buf.put_u8(self.ack.reason_code.as_u8());
        }
        if sizes.body > 3 {
            self.ack.properties.write(sizes.props, buf);
        }
    }
}

/// SUBACK: one reason code per topic filter of the SUBSCRIBE, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// 5.0 properties.
    pub properties: AckProperties,
    /// Granted QoS or failure, per filter. Under 3.1.1 a failure (0x80) is
    /// `UnspecifiedError`.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(super) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r)?;
        let properties = AckProperties::decode_for(r, version)?;
        if r.is_empty() {
            return Err(DecodeError::Truncated { packet: "SUBACK" });
        }
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8()?;
            reason_codes.push(if version.is_v5() {
                ReasonCode::decode(PacketType::SubAck, code)?
            } else {
                match code {
                    0..=2 | 0x80 => {
                        ReasonCode::from_u8(code).unwrap_or(ReasonCode::UnspecifiedError)
                    }
                    _ => {
                        return Err(DecodeError::InvalidReasonCode {
                            packet: PacketType::SubAck,
                            code,
                        });
                    }
                }
            });
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

impl Body for SubAck {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(PacketType::SubAck));
        }
        for code in &self.reason_codes {
            code.check_for(PacketType::SubAck)?;
        }
        let props = self.properties.len_for(version)?;
        Ok(Sizes {
            body: 2 + props_block(version, props) + self.reason_codes.len(),
            props,
            extra: 0,
        })
    }

    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(sizes.props, buf);
        }
        for code in &self.reason_codes {
            buf.put_u8(match (version.is_v5(), code.granted_qos()) {
                (true, _) => code.as_u8(),
                (false, Some(qos)) => qos as u8,
                (false, None) => 0x80,
            });
        }
    }
}

/// UNSUBACK: under 5.0, one reason code per topic filter of the UNSUBSCRIBE;
/// under 3.1.1 only the packet identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// 5.0 properties.
    pub properties: AckProperties,
    /// The per-filter results (5.0; empty under 3.1.1).
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(super) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r)?;
        let mut ack = Self {
            packet_id,
            properties: AckProperties::default(),
            reason_codes: Vec::new(),
        };
        if version.is_v5() {
            ack.properties = AckProperties::decode(r)?;
            if r.is_empty() {
                return Err(DecodeError::Truncated { packet: "UNSUBACK" });
            }
            ack.reason_codes.reserve(r.remaining());
            while !r.is_empty() {
                ack.reason_codes
                    .push(ReasonCode::decode(PacketType::UnsubAck, r.u8()?)?);
            }
        }
        Ok(ack)
    }
}

impl Body for UnsubAck {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        if !version.is_v5() {
            v5_only(
                version,
                self.reason_codes.is_empty(),
                "UNSUBACK reason codes",
            )?;
        } else if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(PacketType::UnsubAck));
        }
        for code in &self.reason_codes {
            code.check_for(PacketType::UnsubAck)?;
        }
        let props = self.properties.len_for(version)?;
        Ok(Sizes {
            body: 2 + props_block(version, props) + self.reason_codes.len(),
            props,
            extra: 0,
        })
    }

    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(sizes.props, buf);
            for code in &self.reason_codes {
                buf.put_u8(code.as_u8());
            }
        }
    }
}

/// Reads a packet identifier, rejecting 0.
pub(super) fn packet_id(r: &mut Reader) -> Result<PacketId, DecodeError> {
    PacketId::new(r.u16()?).ok_or(DecodeError::ZeroPacketId)
}

/// Fails with `NotInVersion` when `ok` is false: something only 5.0 can
/// carry is present in a packet for an older version.
pub(super) fn v5_only(
    version: ProtocolVersion,
    ok: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    if ok {
        Ok(())
    } else {
        Err(EncodeError::NotInVersion { what, version })
    }
}

/// The room a property block of `len` bytes takes with its length prefix,
/// or nothing before 5.0.
pub(super) fn props_block(version: ProtocolVersion, len: usize) -> usize {
    if version.is_v5() {
        var_int_len(len) + len
    } else {
        0
    }
}
