//! Codec errors: what was wrong with bytes we received ([`DecodeError`]) and
//! why a packet cannot be written ([`EncodeError`]).
//!
//! Where the specification has a normative statement for the rule, the
//! message cites it (`[MQTT-x.y.z-n]`, numbered as in MQTT 5.0 unless marked
//! 3.1.1), so a bug report points straight at the text.

use super::properties::PropertyId;
use super::{PacketType, ProtocolVersion};
use crate::topic::TopicError;

/// The bytes received are not a well-formed MQTT packet.
///
/// A decode error is fatal for the connection: the stream cannot be
/// resynchronised. [`reason_code`](Self::reason_code) gives the 5.0 reason
/// code to put in the DISCONNECT that ends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The remaining length field does not end within four bytes.
    #[error("malformed variable byte integer: more than four bytes [MQTT-1.5.5-1]")]
    MalformedVarInt,
    /// The packet is larger than the configured maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// The size the fixed header announced, header included.
        size: usize,
        /// The configured maximum.
        max: u32,
    },
    /// The first byte names no packet type of this protocol version.
    #[error("packet type {0} is reserved in this protocol version")]
    ReservedPacketType(u8),
    /// The flag bits of the fixed header have values the spec reserves.
    #[error("{packet:?} with invalid fixed-header flags {flags:#06b} [MQTT-2.1.3-1]")]
    InvalidHeaderFlags {
        /// The packet type.
        packet: PacketType,
        /// The low four bits of the first byte.
        flags: u8,
    },
    /// A PUBLISH (or will) with QoS 3.
    #[error("QoS 3 is not a valid quality of service [MQTT-3.3.1-4]")]
    InvalidQoS,
    /// A QoS 0 PUBLISH with the DUP flag set.
    #[error("QoS 0 PUBLISH with the DUP flag set [MQTT-3.3.1-2]")]
    DupWithQoS0,
    /// The packet ended before a field it must contain.
    #[error("{packet} is shorter than its fields require")]
    Truncated {
        /// The packet or field being read.
        packet: &'static str,
    },
    /// The remaining length covers bytes the packet has no use for.
    #[error("{packet} has {extra} bytes beyond its last field")]
    TrailingBytes {
        /// The packet being read.
        packet: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A string is not well-formed UTF-8 (surrogate code points included).
    #[error("string is not well-formed UTF-8 [MQTT-1.5.4-1]")]
    InvalidUtf8,
    /// A string contains U+0000.
    #[error("string contains the null character U+0000 [MQTT-1.5.4-2]")]
    NullCharacter,
    /// A packet identifier of zero.
    #[error("packet identifier 0 is not allowed [MQTT-2.2.1-3]")]
    ZeroPacketId,
    /// CONNECT with a protocol name other than "MQTT" (or "MQIsdp" for 3.1).
    #[error("unknown protocol name in CONNECT [MQTT-3.1.2-1]")]
    InvalidProtocolName,
    /// CONNECT with a protocol level mqtide does not speak.
    #[error("unsupported protocol level {0} [MQTT-3.1.2-2]")]
    UnsupportedProtocolLevel(u8),
    /// CONNECT whose reserved flag bit is set.
    #[error("CONNECT reserved flag is set [MQTT-3.1.2-3]")]
    ConnectReservedFlag,
    /// CONNECT with will QoS or will retain set but no will flag.
    #[error("will QoS or will retain set without the will flag [MQTT-3.1.2-11] [MQTT-3.1.2-13]")]
    WillFlagsWithoutWill,
    /// A 3.1.1 CONNECT with a password but no user name.
    #[error("password flag set without the user name flag [MQTT-3.1.2-22] (3.1.1)")]
    PasswordWithoutUsername,
    /// CONNACK with reserved acknowledge-flag bits set.
    #[error("CONNACK acknowledge flags {0:#04x} set reserved bits [MQTT-3.2.2-1]")]
    InvalidConnAckFlags(u8),
    /// A reason code (or 3.1.1 return code) the packet may not carry.
    #[error("reason code {code:#04x} is not valid in {packet:?}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The code received.
        code: u8,
    },
    /// A topic name or filter that breaks the topic rules.
    #[error(transparent)]
    InvalidTopic(#[from] TopicError),
    /// A PUBLISH with an empty topic and no topic alias.
    #[error("PUBLISH has an empty topic name and no topic alias [MQTT-3.3.2-1]")]
    EmptyTopicName,
    /// SUBSCRIBE or UNSUBSCRIBE without a single topic filter.
    #[error("{0:?} carries no topic filter [MQTT-3.8.3-2] [MQTT-3.10.3-2]")]
    NoTopicFilters(PacketType),
    /// Subscription options with reserved bits set, or retain handling 3.
    #[error("subscription options {0:#04x} set reserved bits [MQTT-3.8.3-5]")]
    InvalidSubscriptionOptions(u8),
    /// A property identifier the spec does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property the packet may not carry.
    #[error("property {property:?} is not allowed in {packet}")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// Where it appeared.
        packet: &'static str,
    },
    /// A property that may appear once appeared twice.
    #[error("property {0:?} appears more than once")]
    DuplicateProperty(PropertyId),
    /// A property whose value is out of its range (Receive Maximum 0, …).
    #[error("property {property:?} has the invalid value {value}")]
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// The value received.
        value: u32,
    },
    /// Authentication Data without an Authentication Method.
    #[error("authentication data without an authentication method")]
    AuthDataWithoutMethod,
    /// A packet that does not exist in the negotiated protocol version.
    #[error("{packet:?} does not exist in MQTT {version}")]
    NotInVersion {
        /// The packet type.
        packet: PacketType,
        /// The version in use.
        version: ProtocolVersion,
    },
}

impl DecodeError {
    /// The MQTT 5.0 reason code for the DISCONNECT this error calls for:
    /// 0x95 (Packet too large) for oversize packets, 0x82 (Protocol Error)
    /// for a well-formed packet that breaks a rule, and 0x81 (Malformed
    /// Packet) for everything else.
    pub fn reason_code(&self) -> super::ReasonCode {
        use super::ReasonCode;
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::DuplicateProperty(_)
            | Self::InvalidPropertyValue { .. }
            | Self::AuthDataWithoutMethod
            | Self::NoTopicFilters(_)
            | Self::EmptyTopicName
            | Self::ReservedPacketType(_)
            | Self::NotInVersion { .. } => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

/// A packet that cannot be written as it stands.
///
/// Encoding never writes a partial packet: when it fails, the buffer is as
/// it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string or binary field longer than 65,535 bytes.
    #[error("{what} is {len} bytes long; MQTT allows at most 65535 [MQTT-1.5.4-1]")]
    FieldTooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A UTF-8 string field holding U+0000, which no MQTT string may
    /// contain and every receiver must refuse.
    #[error("{what} contains the null character U+0000 [MQTT-1.5.4-2] (3.1.1 [MQTT-1.5.3-2])")]
    NullCharacter {
        /// Which field.
        what: &'static str,
    },
    /// Authentication Data without an Authentication Method, which the
    /// receiver treats as a protocol error.
    #[error("authentication data without an authentication method")]
    AuthDataWithoutMethod,
    /// The packet would exceed the largest remaining length MQTT can express.
    #[error("packet body of {0} bytes exceeds the MQTT limit of 268435455")]
    PacketTooLarge(usize),
    /// A 5.0 reason code the packet may not carry.
    #[error("reason code {code} is not valid in {packet:?}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The code.
        code: super::ReasonCode,
    },
    /// A QoS 0 PUBLISH with DUP set.
    #[error("QoS 0 PUBLISH with the DUP flag set [MQTT-3.3.1-2]")]
    DupWithQoS0,
    /// A topic name or filter that breaks the topic rules (will topic,
    /// SUBSCRIBE / UNSUBSCRIBE filters, a PUBLISH topic with U+0000 or a
    /// wildcard, an empty PUBLISH topic without an alias).
    #[error(transparent)]
    InvalidTopic(#[from] TopicError),
    /// QoS 0 with a packet identifier, or QoS 1/2 without one.
    #[error("a PUBLISH needs a packet identifier exactly when its QoS is above 0")]
    PacketIdMismatch,
    /// SUBSCRIBE or UNSUBSCRIBE with no filters, or SUBACK/UNSUBACK with no
    /// reason codes where the version needs them.
    #[error("{0:?} needs at least one topic filter or reason code")]
    Empty(PacketType),
    /// Something the chosen protocol version cannot express.
    #[error("{what} cannot be expressed in MQTT {version}")]
    NotInVersion {
        /// What cannot be written.
        what: &'static str,
        /// The version in use.
        version: ProtocolVersion,
    },
}
