//! PUBLISH (spec §3.3): the packet on the hot path.
//!
//! Decoding allocates nothing: the topic and the payload are slices of the
//! read buffer, and the property lists stay empty `Vec`s unless the broker
//! sent user properties or subscription identifiers.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::ack::{packet_id, props_block};
use super::header::{Body, Sizes};
use super::properties::PublishProperties;
use super::wire::{Reader, put_binary, topic_name_len};
use super::{DecodeError, EncodeError, PacketId, ProtocolVersion, QoS};
use crate::topic::TopicError;

/// An application message on its way to or from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Set when this is a redelivery of an earlier attempt.
    pub dup: bool,
    /// The quality of service.
    pub qos: QoS,
    /// Whether the broker should retain the message (or, inbound, whether
    /// it was retained).
    pub retain: bool,
    /// The topic name. Empty only under 5.0 when a topic alias stands in.
    pub topic: ByteString,
    /// Present exactly when `qos` is above 0.
    pub packet_id: Option<PacketId>,
    /// 5.0 properties.
    pub properties: PublishProperties,
    /// The application payload.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message with no properties.
    pub fn new(topic: impl Into<ByteString>, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: PublishProperties::default(),
            payload: payload.into(),
        }
    }

    /// The number of bytes this PUBLISH takes on the wire under `version`,
    /// or why it cannot be encoded.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::header::total_len(self.measure(version)?.body)
    }

    /// Appends this PUBLISH to `buf`, encoded for `version`: the same
    /// bytes as [`Packet::encode`](super::Packet::encode) of it, without
    /// moving it into a [`Packet`](super::Packet). On error nothing is
    /// written.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        super::header::encode_body(self, self.first_byte(), version, buf)
    }

    /// The first byte of the fixed header: type and DUP/QoS/RETAIN flags.
    pub(super) fn first_byte(&self) -> u8 {
        0x30 | (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    #[inline(always)]
    pub(super) fn decode(
        r: &mut Reader,
        flags: u8,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        // The header check already refused QoS 3 and DUP on QoS 0.
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let topic = r.topic_name()?;
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => Some(packet_id(r)?),
        };
        let properties = PublishProperties::decode_for(r, version)?;
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicName);
        }
        Ok(Self {
            dup: flags & 0b1000 != 0,
            qos,
            retain: flags & 0b0001 != 0,
            topic,
            packet_id,
            properties,
            payload: r.rest(),
        })
    }
}

impl Body for Publish {
    // Inlined into `encode_body`: returned through memory, the sizes cost a
    // store-forwarding stall that was a fifth of a PUBLISH encode.
    #[inline(always)]
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        if (self.qos == QoS::AtMostOnce) != self.packet_id.is_none() {
            return Err(EncodeError::PacketIdMismatch);
        }
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQoS0);
        }
        if self.topic.is_empty() && (!version.is_v5() || self.properties.topic_alias.is_none()) {
            return Err(TopicError::Empty.into());
        }
        let topic = topic_name_len(&self.topic)?;
        let props = self.properties.len_for(version)?;
        let body = topic
            + if self.packet_id.is_some() { 2 } else { 0 }
            + props_block(version, props)
            + self.payload.len();
        Ok(Sizes {
            body,
            props,
            extra: 0,
        })
    }

    #[inline(always)]
    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        put_binary(buf, self.topic.as_bytes());
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            self.properties.write(sizes.props, buf);
        }
        buf.put_slice(&self.payload);
    }
}
