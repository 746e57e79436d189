//! SUBSCRIBE (spec §3.8) and UNSUBSCRIBE (spec §3.10).

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use super::ack::{packet_id, props_block, v5_only};
use super::header::{Body, Sizes};
use super::properties::{SubscribeProperties, UnsubscribeProperties};
use super::wire::{Reader, field_len, put_binary};
use super::{DecodeError, EncodeError, PacketId, PacketType, ProtocolVersion, QoS};
use crate::topic::{check_decoded_filter, check_topic_filter};

/// When the broker sends retained messages for a new subscription (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// Send retained messages at subscribe time (0; the 3.1.1 behaviour).
    #[default]
    SendAtSubscribe,
    /// Send them only if the subscription did not exist yet (1).
    SendIfNew,
    /// Never send them for this subscription (2).
    DoNotSend,
}

/// The options byte of one topic filter in SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// The highest QoS the broker may use for matching messages.
    pub qos: QoS,
    /// 5.0: do not send this client its own publications.
    pub no_local: bool,
    /// 5.0: keep the RETAIN flag as published instead of clearing it.
    pub retain_as_published: bool,
    /// 5.0: when retained messages are sent.
    pub retain_handling: RetainHandling,
}

/// Options with this QoS and 5.0 defaults ([`SubscriptionOptions::new`]).
impl From<QoS> for SubscriptionOptions {
    fn from(qos: QoS) -> Self {
        Self::new(qos)
    }
}

impl SubscriptionOptions {
    /// Options with this QoS and 5.0 defaults.
    pub fn new(qos: QoS) -> Self {
        Self {
            qos,
            ..Self::default()
        }
    }

    /// 5.0: whether the broker withholds this client's own publications.
    #[must_use]
    pub fn no_local(mut self, no_local: bool) -> Self {
        self.no_local = no_local;
        self
    }

    /// 5.0: whether the RETAIN flag is kept as published.
    #[must_use]
    pub fn retain_as_published(mut self, keep: bool) -> Self {
        self.retain_as_published = keep;
        self
    }

    /// 5.0: when retained messages are sent.
    #[must_use]
    pub fn retain_handling(mut self, handling: RetainHandling) -> Self {
        self.retain_handling = handling;
        self
    }

    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let invalid = DecodeError::InvalidSubscriptionOptions(byte);
        // 3.1.1 reserves bits 2-7 [MQTT-3.8.3-4 (3.1.1)]; 5.0 bits 6-7.
        let reserved = if version.is_v5() { 0xc0 } else { 0xfc };
        if byte & reserved != 0 {
            return Err(invalid);
        }
        Ok(Self {
            qos: QoS::from_u8(byte & 0b11).ok_or(invalid.clone())?,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling: match (byte >> 4) & 0b11 {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNew,
                2 => RetainHandling::DoNotSend,
                _ => return Err(invalid),
            },
        })
    }

    fn encode(self, version: ProtocolVersion) -> Result<u8, EncodeError> {
        let extended = (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4);
        v5_only(
            version,
            version.is_v5() || extended == 0,
            "5.0 subscription options",
        )?;
        Ok(self.qos as u8 | extended)
    }
}

/// SUBSCRIBE: one or more topic filters with their options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The packet identifier the SUBACK will carry.
    pub packet_id: PacketId,
    /// 5.0 properties (subscription identifier, user properties).
    pub properties: SubscribeProperties,
    /// The filters, in order; SUBACK answers them in the same order.
    pub filters: Vec<(ByteString, SubscriptionOptions)>,
}

impl Subscribe {
    /// The number of bytes this SUBSCRIBE takes on the wire under `version`,
    /// or why it cannot be encoded.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::header::total_len(self.measure(version)?.body)
    }

    pub(super) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r)?;
        let properties = SubscribeProperties::decode_for(r, version)?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            check_decoded_filter(&filter)?;
            filters.push((filter, SubscriptionOptions::decode(r.u8()?, version)?));
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Subscribe));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}

impl Body for Subscribe {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(PacketType::Subscribe));
        }
        let props = self.properties.len_for(version)?;
        let mut body = 2 + props_block(version, props);
        for (filter, options) in &self.filters {
            check_topic_filter(filter)?;
            options.encode(version)?;
            body += field_len(filter.as_bytes(), "topic filter")? + 1;
        }
        Ok(Sizes {
            body,
            props,
            extra: 0,
        })
    }

    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(sizes.props, buf);
        }
        for (filter, options) in &self.filters {
            put_binary(buf, filter.as_bytes());
            // `measure` has checked the options fit this version.
            buf.put_u8(options.encode(version).unwrap_or(options.qos as u8));
        }
    }
}

/// UNSUBSCRIBE: one or more topic filters to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The packet identifier the UNSUBACK will carry.
    pub packet_id: PacketId,
    /// 5.0 properties (user properties).
    pub properties: UnsubscribeProperties,
    /// The filters, in order.
    pub filters: Vec<ByteString>,
}

impl Unsubscribe {
    /// The number of bytes this UNSUBSCRIBE takes on the wire under `version`,
    /// or why it cannot be encoded.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::header::total_len(self.measure(version)?.body)
    }

    pub(super) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r)?;
        let properties = UnsubscribeProperties::decode_for(r, version)?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            check_decoded_filter(&filter)?;
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}

impl Body for Unsubscribe {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(PacketType::Unsubscribe));
        }
        let props = self.properties.len_for(version)?;
        let mut body = 2 + props_block(version, props);
        for filter in &self.filters {
            check_topic_filter(filter)?;
            body += field_len(filter.as_bytes(), "topic filter")?;
        }
        Ok(Sizes {
            body,
            props,
            extra: 0,
        })
    }

    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.write(sizes.props, buf);
        }
        for filter in &self.filters {
            put_binary(buf, filter.as_bytes());
        }
    }
}
