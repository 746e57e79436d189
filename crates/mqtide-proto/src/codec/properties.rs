//! MQTT 5.0 properties (spec §2.2.2): one struct per packet kind, holding
//! exactly the properties that packet may carry.
//!
//! Each property's Rust type decides its wire encoding and its range check
//! ([`PropValue`]): `NonZeroU16` for Receive Maximum makes 0 a protocol
//! error, `bool` accepts only 0 and 1, and so on. A property outside its
//! packet's list, a repeated single-valued property and an unknown
//! identifier are all typed [`DecodeError`]s. Empty structs cost nothing to
//! decode or encode and allocate nothing.

use alloc::vec::Vec;
use core::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::error::{DecodeError, EncodeError};
use super::subscription_id::{SubscriptionId, SubscriptionIds};
use super::wire::{Reader, field_len, put_binary, put_var_int, string_len};
use super::{ProtocolVersion, QoS, Secret};

macro_rules! property_ids {
    ($( $(#[$doc:meta])* $name:ident = $value:literal => $label:literal, )*) => {
        /// The identifier of a 5.0 property (spec §2.2.2.2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum PropertyId {
            $( $(#[$doc])* $name = $value, )*
        }

        impl PropertyId {
            /// The property with this identifier, if the spec defines one.
            pub const fn from_u32(value: u32) -> Option<Self> {
                match value {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }

            /// The property's name, for error messages.
            pub(crate) const fn label(self) -> &'static str {
                match self {
                    $( Self::$name => $label, )*
                }
            }
        }
    };
}

property_ids! {
    /// Payload Format Indicator (byte).
    PayloadFormatIndicator = 0x01 => "payload format indicator",
    /// Message Expiry Interval (four-byte integer, seconds).
    MessageExpiryInterval = 0x02 => "message expiry interval",
    /// Content Type (UTF-8 string).
    ContentType = 0x03 => "content type",
    /// Response Topic (UTF-8 string).
    ResponseTopic = 0x08 => "response topic",
    /// Correlation Data (binary).
    CorrelationData = 0x09 => "correlation data",
    /// Subscription Identifier (variable byte integer).
    SubscriptionIdentifier = 0x0B => "subscription identifier",
    /// Session Expiry Interval (four-byte integer, seconds).
    SessionExpiryInterval = 0x11 => "session expiry interval",
    /// Assigned Client Identifier (UTF-8 string).
    AssignedClientIdentifier = 0x12 => "assigned client identifier",
    /// Server Keep Alive (two-byte integer, seconds).
    ServerKeepAlive = 0x13 => "server keep alive",
    /// Authentication Method (UTF-8 string).
    AuthenticationMethod = 0x15 => "authentication method",
    /// Authentication Data (binary).
    AuthenticationData = 0x16 => "authentication data",
    /// Request Problem Information (byte).
    RequestProblemInformation = 0x17 => "request problem information",
    /// Will Delay Interval (four-byte integer, seconds).
    WillDelayInterval = 0x18 => "will delay interval",
    /// Request Response Information (byte).
    RequestResponseInformation = 0x19 => "request response information",
    /// Response Information (UTF-8 string).
    ResponseInformation = 0x1A => "response information",
    /// Server Reference (UTF-8 string).
    ServerReference = 0x1C => "server reference",
    /// Reason String (UTF-8 string).
    ReasonString = 0x1F => "reason string",
    /// Receive Maximum (two-byte integer, not 0).
    ReceiveMaximum = 0x21 => "receive maximum",
    /// Topic Alias Maximum (two-byte integer).
    TopicAliasMaximum = 0x22 => "topic alias maximum",
    /// Topic Alias (two-byte integer, not 0).
    TopicAlias = 0x23 => "topic alias",
    /// Maximum QoS (byte, 0 or 1).
    MaximumQoS = 0x24 => "maximum QoS",
    /// Retain Available (byte).
    RetainAvailable = 0x25 => "retain available",
    /// User Property (UTF-8 string pair); may repeat.
    UserProperty = 0x26 => "user property",
    /// Maximum Packet Size (four-byte integer, not 0).
    MaximumPacketSize = 0x27 => "maximum packet size",
    /// Wildcard Subscription Available (byte).
    WildcardSubscriptionAvailable = 0x28 => "wildcard subscription available",
    /// Subscription Identifier Available (byte).
    SubscriptionIdentifierAvailable = 0x29 => "subscription identifier available",
    /// Shared Subscription Available (byte).
    SharedSubscriptionAvailable = 0x2A => "shared subscription available",
}

/// How a property value is read, sized and written. The type carries the
/// range rules, so a decoded struct never holds an out-of-range value.
pub(crate) trait PropValue: Sized {
    /// Reads the value of property `id`.
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError>;
    /// The encoded size of the value (without the identifier byte), or
    /// why it cannot be written; `what` names the property in errors.
    fn value_len(&self, what: &'static str) -> Result<usize, EncodeError>;
    /// Appends the value.
    fn write(&self, buf: &mut BytesMut);
}

pub(super) fn invalid(property: PropertyId, value: u32) -> DecodeError {
    DecodeError::InvalidPropertyValue { property, value }
}

impl PropValue for bool {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(invalid(id, other.into())),
        }
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u8(u8::from(*self));
    }
}

/// Maximum QoS is the only QoS-valued property, and may only be 0 or 1.
impl PropValue for QoS {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Self::AtMostOnce),
            1 => Ok(Self::AtLeastOnce),
            other => Err(invalid(id, other.into())),
        }
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u8(*self as u8);
    }
}

impl PropValue for u16 {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.u16()
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(2)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u16(*self);
    }
}

impl PropValue for NonZeroU16 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        Self::new(r.u16()?).ok_or_else(|| invalid(id, 0))
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(2)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u16(self.get());
    }
}

impl PropValue for u32 {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.u32()
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(4)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u32(*self);
    }
}

impl PropValue for NonZeroU32 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        Self::new(r.u32()?).ok_or_else(|| invalid(id, 0))
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(4)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u32(self.get());
    }
}

impl PropValue for ByteString {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.string()
    }
    fn value_len(&self, what: &'static str) -> Result<usize, EncodeError> {
        string_len(self, what)
    }
    fn write(&self, buf: &mut BytesMut) {
        put_binary(buf, self.as_bytes());
    }
}

impl PropValue for Bytes {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.binary()
    }
    fn value_len(&self, what: &'static str) -> Result<usize, EncodeError> {
        field_len(self, what)
    }
    fn write(&self, buf: &mut BytesMut) {
        put_binary(buf, self);
    }
}

impl PropValue for Secret {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.binary().map(Self::new)
    }
    fn value_len(&self, what: &'static str) -> Result<usize, EncodeError> {
        field_len(self.expose(), what)
    }
    fn write(&self, buf: &mut BytesMut) {
        put_binary(buf, self.expose());
    }
}

impl PropValue for (ByteString, ByteString) {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, DecodeError> {
        r.string_pair()
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(
            string_len(&self.0, "user property name")?
                + string_len(&self.1, "user property value")?,
        )
    }
    fn write(&self, buf: &mut BytesMut) {
        put_binary(buf, self.0.as_bytes());
        put_binary(buf, self.1.as_bytes());
    }
}

/// Declares a property struct: `once` fields are `Option`s (a repeat is a
/// protocol error), `many` fields are `Vec`s.
/// The type of a repeatable property's field: a `Vec` of its values, or
/// the list type named after `as`.
macro_rules! list_of {
    ($item:ty) => { Vec<$item> };
    ($item:ty, $list:ty) => { $list };
}

macro_rules! properties {
    (
        $(#[$doc:meta])*
        $name:ident in $packet:literal {
            $( $(#[$fdoc:meta])* $field:ident: $ty:ty = $id:ident, )*
        }
        many {
            $( $(#[$mdoc:meta])* $mfield:ident: $mty:ty $(as $list:ty)? = $mid:ident, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: Option<$ty>, )*
            $( $(#[$mdoc])* pub $mfield: list_of!($mty $(, $list)?), )*
        }

        impl $name {
            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* $( && self.$mfield.is_empty() )*
            }

            /// The identifiers of the properties set, in wire order (a
            /// repeated property once per value): what a packet log names,
            /// without the values.
            #[allow(dead_code, reason = "generated for every struct; a will's properties are not logged")]
            pub(crate) fn ids(&self) -> Vec<PropertyId> {
                let mut ids = Vec::new();
                $( if self.$field.is_some() { ids.push(PropertyId::$id); } )*
                $( ids.extend(self.$mfield.iter().map(|_| PropertyId::$mid)); )*
                ids
            }

            /// Reads the property length and the properties it covers.
            pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
                let len = r.var_int()? as usize;
                let mut r = r.sub_reader(len)?;
                let mut props = Self::default();
                while !r.is_empty() {
                    let id = r.var_int()?;
                    match PropertyId::from_u32(id) {
                        $( Some(PropertyId::$id) => {
                            let value = <$ty as PropValue>::read(&mut r, PropertyId::$id)?;
                            if props.$field.replace(value).is_some() {
                                return Err(DecodeError::DuplicateProperty(PropertyId::$id));
                            }
                        } )*
                        $( Some(PropertyId::$mid) => {
                            props.$mfield.push(<$mty as PropValue>::read(&mut r, PropertyId::$mid)?);
                        } )*
                        Some(property) => {
                            return Err(DecodeError::PropertyNotAllowed { property, packet: $packet });
                        }
                        None => return Err(DecodeError::UnknownProperty(id)),
                    }
                }
                Ok(props)
            }

            /// Reads the properties under 5.0; older versions have none.
            #[allow(dead_code, reason = "generated for every struct; not every packet reads this way")]
            pub(crate) fn decode_for(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
                if version.is_v5() { Self::decode(r) } else { Ok(Self::default()) }
            }

            /// The size of the properties (without the length prefix) as
            /// sent under `version`: older versions have no room for any.
            #[allow(dead_code, reason = "generated for every struct; not every packet writes this way")]
            pub(crate) fn len_for(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
                if version.is_v5() {
                    self.encoded_len()
                } else if self.is_empty() {
                    Ok(0)
                } else {
                    Err(EncodeError::NotInVersion { what: concat!($packet, " properties"), version })
                }
            }

            /// The size of the properties, without the length prefix.
            pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
                let mut len = 0;
                $( if let Some(value) = &self.$field {
                    len += 1 + PropValue::value_len(value, PropertyId::$id.label())?;
                } )*
                $( for value in &self.$mfield {
                    len += 1 + PropValue::value_len(value, PropertyId::$mid.label())?;
                } )*
                Ok(len)
            }

            /// Appends the length prefix `len` (from `encoded_len`) and the
            /// properties.
            pub(crate) fn write(&self, len: usize, buf: &mut BytesMut) {
                put_var_int(buf, len);
                $( if let Some(value) = &self.$field {
                    buf.put_u8(PropertyId::$id as u8);
                    value.write(buf);
                } )*
                $( for value in &self.$mfield {
                    buf.put_u8(PropertyId::$mid as u8);
                    value.write(buf);
                } )*
            }
        }
    };
}

/// A user property: a name and a value, both UTF-8 strings. Names may
/// repeat and order is kept.
pub type UserProperty = (ByteString, ByteString);

/// Whether a payload is unspecified bytes or UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadFormat {
    /// Unspecified bytes (0).
    #[default]
    Unspecified,
    /// UTF-8 encoded character data (1).
    Utf8,
}

impl PropValue for PayloadFormat {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, DecodeError> {
        Ok(if bool::read(r, id)? {
            Self::Utf8
        } else {
            Self::Unspecified
        })
    }
    fn value_len(&self, _: &'static str) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write(&self, buf: &mut BytesMut) {
        buf.put_u8(u8::from(*self == Self::Utf8));
    }
}

properties! {
    /// Properties of a CONNECT packet (spec §3.1.2.11).
    ConnectProperties in "CONNECT" {
        /// Seconds the session outlives the connection; `u32::MAX` is never.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// How many QoS 1/2 publications the client accepts at once.
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// The largest packet the client accepts.
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// The highest topic alias the client accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Asks for Response Information in CONNACK.
        request_response_information: bool = RequestResponseInformation,
        /// Whether the server may send reason strings and user properties on
        /// failures.
        request_problem_information: bool = RequestProblemInformation,
        /// The enhanced-authentication method.
        authentication_method: ByteString = AuthenticationMethod,
        /// The enhanced-authentication data.
        authentication_data: Secret = AuthenticationData,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of a will message, in CONNECT (spec §3.1.3.2).
    WillProperties in "the will" {
        /// Seconds the server waits before publishing the will.
        will_delay_interval: u32 = WillDelayInterval,
        /// Whether the will payload is UTF-8.
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Lifetime of the will message in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// The will payload's content type.
        content_type: ByteString = ContentType,
        /// The topic for a response to the will.
        response_topic: ByteString = ResponseTopic,
        /// Data correlating a response with the will.
        correlation_data: Bytes = CorrelationData,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of a CONNACK packet (spec §3.2.2.3).
    ConnAckProperties in "CONNACK" {
        /// The session expiry the server will use.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// How many QoS 1/2 publications the server accepts at once.
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// The highest QoS the server supports (absent means 2).
        maximum_qos: QoS = MaximumQoS,
        /// Whether the server supports retained messages.
        retain_available: bool = RetainAvailable,
        /// The largest packet the server accepts.
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// The client identifier the server assigned.
        assigned_client_identifier: ByteString = AssignedClientIdentifier,
        /// The highest topic alias the server accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// A human-readable diagnostic.
        reason_string: ByteString = ReasonString,
        /// Whether wildcard subscriptions are supported.
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// Whether subscription identifiers are supported.
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// Whether shared subscriptions are supported.
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// The keep-alive the client must use instead of its own.
        server_keep_alive: u16 = ServerKeepAlive,
        /// The basis for building response topics.
        response_information: ByteString = ResponseInformation,
        /// Another server to use.
        server_reference: ByteString = ServerReference,
        /// The enhanced-authentication method.
        authentication_method: ByteString = AuthenticationMethod,
        /// The enhanced-authentication data.
        authentication_data: Secret = AuthenticationData,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of a PUBLISH packet (spec §3.3.2.3).
    PublishProperties in "PUBLISH" {
        /// Whether the payload is UTF-8.
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Lifetime of the message in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// An alias standing for the topic name.
        topic_alias: NonZeroU16 = TopicAlias,
        /// The topic for a response.
        response_topic: ByteString = ResponseTopic,
        /// Data correlating a response with its request.
        correlation_data: Bytes = CorrelationData,
        /// The payload's content type.
        content_type: ByteString = ContentType,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
        /// The identifiers of the subscriptions that matched (server to
        /// client only).
        subscription_identifiers: SubscriptionId as SubscriptionIds = SubscriptionIdentifier,
    }
}

properties! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
    AckProperties in "an acknowledgement" {
        /// A human-readable diagnostic.
        reason_string: ByteString = ReasonString,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of a SUBSCRIBE packet (spec §3.8.2.1).
    SubscribeProperties in "SUBSCRIBE" {
        /// The identifier echoed in PUBLISH packets matching these filters.
        subscription_identifier: SubscriptionId = SubscriptionIdentifier,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of an UNSUBSCRIBE packet (spec §3.10.2.1).
    UnsubscribeProperties in "UNSUBSCRIBE" {
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of a DISCONNECT packet (spec §3.14.2.2).
    DisconnectProperties in "DISCONNECT" {
        /// A new session expiry (client to server only).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// A human-readable diagnostic.
        reason_string: ByteString = ReasonString,
        /// Another server to use.
        server_reference: ByteString = ServerReference,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

properties! {
    /// Properties of an AUTH packet (spec §3.15.2.2).
    AuthProperties in "AUTH" {
        /// The enhanced-authentication method.
        authentication_method: ByteString = AuthenticationMethod,
        /// The enhanced-authentication data.
        authentication_data: Secret = AuthenticationData,
        /// A human-readable diagnostic.
        reason_string: ByteString = ReasonString,
    }
    many {
        /// User properties.
        user_properties: UserProperty = UserProperty,
    }
}

/// Authentication data without a method is a protocol error (spec
/// §3.1.2.11.10, §3.2.2.3.18).
pub(crate) fn check_auth(
    method: Option<&ByteString>,
    data: Option<&Secret>,
) -> Result<(), DecodeError> {
    if data.is_some() && method.is_none() {
        Err(DecodeError::AuthDataWithoutMethod)
    } else {
        Ok(())
    }
}

/// [`check_auth`] for a packet we write.
pub(crate) fn check_auth_to_send(
    method: Option<&ByteString>,
    data: Option<&Secret>,
) -> Result<(), EncodeError> {
    check_auth(method, data).map_err(|_| EncodeError::AuthDataWithoutMethod)
}
