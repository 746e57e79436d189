//! The packet codec: all fifteen MQTT control packets of protocol levels 3
//! (3.1), 4 (3.1.1) and 5 (5.0), in one [`Packet`] model.
//!
//! The protocol version is a parameter of [`Packet::decode`] and
//! [`Packet::encode`], not a separate tree of types: fields that only 5.0
//! has (properties, reason codes on acknowledgements) are simply empty or
//! `Success` under 3.1.1.
//!
//! Decoding reads from a `BytesMut` that holds what the socket delivered.
//! An incomplete packet is `Ok(None)` and consumes nothing; a complete one
//! is split off the front. Strings and payloads are zero-copy slices of the
//! read buffer. The remaining length is checked against the caller's
//! maximum packet size as soon as the fixed header is complete, before the
//! body is waited for, so an oversized packet never makes us buffer it.

mod ack;
mod connect;
mod disconnect;
mod error;
mod header;
mod properties;
mod publish;
mod reason;
mod subscribe;
mod subscription_id;
mod summary;
mod wire;

use alloc::boxed::Box;
use core::fmt;
use core::num::NonZeroU16;

use bytes::Bytes;

pub use ack::{Ack, SubAck, UnsubAck};
pub use connect::{ConnAck, Connect, LastWill};
pub use disconnect::{Auth, Disconnect};
pub use error::{DecodeError, EncodeError};
pub use header::PacketType;
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormat, PropertyId, PublishProperties, SubscribeProperties, UnsubscribeProperties,
    UserProperty, WillProperties,
};
pub use publish::Publish;
pub use reason::ReasonCode;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions, Unsubscribe};
pub use subscription_id::{SubscriptionId, SubscriptionIds};
pub use summary::{Direction, PacketSummary};
pub use wire::VAR_INT_MAX;
pub(crate) use wire::{has_null, has_null_or_wildcard};

/// A packet identifier: never 0 ([MQTT-2.2.1-3]).
pub type PacketId = NonZeroU16;

/// The largest packet MQTT can express: a five-byte fixed header and a
/// remaining length of 268,435,455 bytes.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + VAR_INT_MAX;

/// The MQTT protocol version (the protocol level byte of CONNECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1, protocol name "MQIsdp", level 3.
    V3_1,
    /// MQTT 3.1.1, level 4.
    V3_1_1,
    /// MQTT 5.0, level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte.
    pub const fn level(self) -> u8 {
        match self {
            Self::V3_1 => 3,
            Self::V3_1_1 => 4,
            Self::V5 => 5,
        }
    }

    /// The version with this protocol level.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            3 => Some(Self::V3_1),
            4 => Some(Self::V3_1_1),
            5 => Some(Self::V5),
            _ => None,
        }
    }

    /// The protocol name CONNECT carries.
    pub const fn protocol_name(self) -> &'static str {
        match self {
            Self::V3_1 => "MQIsdp",
            Self::V3_1_1 | Self::V5 => "MQTT",
        }
    }

    /// Whether this is MQTT 5.0 (properties, reason codes, AUTH).
    pub const fn is_v5(self) -> bool {
        matches!(self, Self::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3_1 => "3.1",
            Self::V3_1_1 => "3.1.1",
            Self::V5 => "5.0",
        })
    }
}

/// Quality of service: how hard the protocol works to deliver a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, acknowledged by PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, a four-packet handshake.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this value (0, 1 or 2).
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

/// Bytes that must not be logged: passwords and authentication data. Its
/// `Debug` shows only the length.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Bytes);

impl Secret {
    /// Wraps sensitive bytes.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// The secret bytes. Named so that every use stands out in review.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// One MQTT control packet, of any protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT: client asks to connect.
    Connect(Box<Connect>),
    /// CONNACK: the server's answer to CONNECT.
    ConnAck(Box<ConnAck>),
    /// PUBLISH: an application message.
    Publish(Publish),
    /// PUBACK: QoS 1 publish acknowledgement.
    PubAck(Ack),
    /// PUBREC: QoS 2 publish received (part 1).
    PubRec(Ack),
    /// PUBREL: QoS 2 publish release (part 2).
    PubRel(Ack),
    /// PUBCOMP: QoS 2 publish complete (part 3).
    PubComp(Ack),
    /// SUBSCRIBE: client subscribes to topic filters.
    Subscribe(Subscribe),
    /// SUBACK: the per-filter results of a SUBSCRIBE.
    SubAck(SubAck),
    /// UNSUBSCRIBE: client unsubscribes from topic filters.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK: the per-filter results of an UNSUBSCRIBE.
    UnsubAck(UnsubAck),
    /// PINGREQ: keep-alive request.
    PingReq,
    /// PINGRESP: keep-alive response.
    PingResp,
    /// DISCONNECT: the connection is ending.
    Disconnect(Disconnect),
    /// AUTH: an enhanced-authentication exchange (5.0 only).
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }
}

impl From<Connect> for Packet {
    fn from(p: Connect) -> Self {
        Self::Connect(Box::new(p))
    }
}

impl From<ConnAck> for Packet {
    fn from(p: ConnAck) -> Self {
        Self::ConnAck(Box::new(p))
    }
}

impl From<Publish> for Packet {
    fn from(p: Publish) -> Self {
        Self::Publish(p)
    }
}

impl From<Subscribe> for Packet {
    fn from(p: Subscribe) -> Self {
        Self::Subscribe(p)
    }
}

impl From<SubAck> for Packet {
    fn from(p: SubAck) -> Self {
        Self::SubAck(p)
    }
}

impl From<Unsubscribe> for Packet {
    fn from(p: Unsubscribe) -> Self {
        Self::Unsubscribe(p)
    }
}

impl From<UnsubAck> for Packet {
    fn from(p: UnsubAck) -> Self {
        Self::UnsubAck(p)
    }
}

impl From<Disconnect> for Packet {
    fn from(p: Disconnect) -> Self {
        Self::Disconnect(p)
    }
}

impl From<Auth> for Packet {
    fn from(p: Auth) -> Self {
        Self::Auth(p)
    }
}
