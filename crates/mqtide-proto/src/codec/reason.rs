//! MQTT 5.0 reason codes (spec §2.4), with the 3.1.1 CONNACK and SUBACK
//! return codes mapped onto the same values.

use super::PacketType;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, )*) => {
        /// A reason code: the outcome of an operation, carried by CONNACK,
        /// PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and
        /// AUTH. Values below 0x80 are successes, the rest failures.
        ///
        /// 0x00 has three names in the spec: Success, Normal disconnection
        /// (DISCONNECT) and Granted QoS 0 (SUBACK); here it is `Success`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ReasonCode {
            /// The reason code with this value, if the spec defines one.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    /// Success; also Normal disconnection and Granted QoS 0.
    Success = 0x00,
    /// The subscription is accepted with maximum QoS 1.
    GrantedQoS1 = 0x01,
    /// The subscription is accepted with maximum QoS 2.
    GrantedQoS2 = 0x02,
    /// Disconnect, and have the server publish the will message.
    DisconnectWithWill = 0x04,
    /// The message is accepted but nobody is subscribed to it.
    NoMatchingSubscribers = 0x10,
    /// No subscription matched the filter being unsubscribed.
    NoSubscriptionExisted = 0x11,
    /// Continue the authentication with another step.
    ContinueAuthentication = 0x18,
    /// Start a re-authentication.
    ReAuthenticate = 0x19,
    /// A failure the sender does not want to detail.
    UnspecifiedError = 0x80,
    /// A packet could not be parsed according to the spec.
    MalformedPacket = 0x81,
    /// A well-formed packet broke the protocol.
    ProtocolError = 0x82,
    /// Valid, but not accepted by this implementation.
    ImplementationSpecificError = 0x83,
    /// The server does not speak the requested protocol version.
    UnsupportedProtocolVersion = 0x84,
    /// The client identifier is valid but not allowed.
    ClientIdentifierNotValid = 0x85,
    /// The user name or password was not accepted.
    BadUserNameOrPassword = 0x86,
    /// Not authorized.
    NotAuthorized = 0x87,
    /// The server is not available.
    ServerUnavailable = 0x88,
    /// The server is busy; try again later.
    ServerBusy = 0x89,
    /// This client is banned.
    Banned = 0x8A,
    /// The server is shutting down.
    ServerShuttingDown = 0x8B,
    /// The authentication method is not supported or does not match.
    BadAuthenticationMethod = 0x8C,
    /// Nothing was received within 1.5 times the keep-alive.
    KeepAliveTimeout = 0x8D,
    /// Another connection using the same client identifier took over.
    SessionTakenOver = 0x8E,
    /// The topic filter is well formed but not accepted.
    TopicFilterInvalid = 0x8F,
    /// The topic name is well formed but not accepted.
    TopicNameInvalid = 0x90,
    /// The packet identifier is already in use.
    PacketIdentifierInUse = 0x91,
    /// The packet identifier is not known.
    PacketIdentifierNotFound = 0x92,
    /// More QoS > 0 publications were in flight than Receive Maximum allows.
    ReceiveMaximumExceeded = 0x93,
    /// The topic alias is invalid.
    TopicAliasInvalid = 0x94,
    /// The packet exceeded the maximum permissible size.
    PacketTooLarge = 0x95,
    /// The received data rate is too high.
    MessageRateTooHigh = 0x96,
    /// An implementation or administrative quota was exceeded.
    QuotaExceeded = 0x97,
    /// The connection is closed by an administrator.
    AdministrativeAction = 0x98,
    /// The payload does not match its payload format indicator.
    PayloadFormatInvalid = 0x99,
    /// The server does not support retained messages.
    RetainNotSupported = 0x9A,
    /// The QoS is above the server's maximum QoS.
    QoSNotSupported = 0x9B,
    /// Temporarily use another server.
    UseAnotherServer = 0x9C,
    /// Permanently use another server.
    ServerMoved = 0x9D,
    /// The server does not support shared subscriptions.
    SharedSubscriptionsNotSupported = 0x9E,
    /// The connection rate limit has been exceeded.
    ConnectionRateExceeded = 0x9F,
    /// The maximum connection time for this connection has passed.
    MaximumConnectTime = 0xA0,
    /// The server does not support subscription identifiers.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// The server does not support wildcard subscriptions.
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// The code's value on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether the code reports a failure (0x80 and above).
    pub const fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// Whether this code may appear in a packet of type `packet` (spec
    /// 5.0 §3.x reason code tables).
    pub fn is_valid_for(self, packet: PacketType) -> bool {
        match packet {
            PacketType::ConnAck => matches!(
                self,
                Self::Success
                    | Self::UnspecifiedError
                    | Self::MalformedPacket
                    | Self::ProtocolError
                    | Self::ImplementationSpecificError
                    | Self::UnsupportedProtocolVersion
                    | Self::ClientIdentifierNotValid
                    | Self::BadUserNameOrPassword
                    | Self::NotAuthorized
                    | Self::ServerUnavailable
                    | Self::ServerBusy
                    | Self::Banned
                    | Self::BadAuthenticationMethod
                    | Self::TopicNameInvalid
                    | Self::PacketTooLarge
                    | Self::QuotaExceeded
                    | Self::PayloadFormatInvalid
                    | Self::RetainNotSupported
                    | Self::QoSNotSupported
                    | Self::UseAnotherServer
                    | Self::ServerMoved
                    | Self::ConnectionRateExceeded
            ),
            PacketType::PubAck | PacketType::PubRec => matches!(
                self,
                Self::Success
                    | Self::NoMatchingSubscribers
                    | Self::UnspecifiedError
                    | Self::ImplementationSpecificError
                    | Self::NotAuthorized
                    | Self::TopicNameInvalid
                    | Self::PacketIdentifierInUse
                    | Self::QuotaExceeded
                    | Self::PayloadFormatInvalid
            ),
            PacketType::PubRel | PacketType::PubComp => {
                matches!(self, Self::Success | Self::PacketIdentifierNotFound)
            }
            PacketType::SubAck => matches!(
                self,
                Self::Success
                    | Self::GrantedQoS1
                    | Self::GrantedQoS2
                    | Self::UnspecifiedError
                    | Self::ImplementationSpecificError
                    | Self::NotAuthorized
                    | Self::TopicFilterInvalid
                    | Self::PacketIdentifierInUse
                    | Self::QuotaExceeded
                    | Self::SharedSubscriptionsNotSupported
                    | Self::SubscriptionIdentifiersNotSupported
                    | Self::WildcardSubscriptionsNotSupported
            ),
            PacketType::UnsubAck => matches!(
                self,
                Self::Success
                    | Self::NoSubscriptionExisted
                    | Self::UnspecifiedError
                    | Self::ImplementationSpecificError
                    | Self::NotAuthorized
                    | Self::TopicFilterInvalid
                    | Self::PacketIdentifierInUse
            ),
            PacketType::Disconnect => !matches!(
                self,
                Self::GrantedQoS1
                    | Self::GrantedQoS2
                    | Self::NoMatchingSubscribers
                    | Self::NoSubscriptionExisted
                    | Self::ContinueAuthentication
                    | Self::ReAuthenticate
                    | Self::UnsupportedProtocolVersion
                    | Self::ClientIdentifierNotValid
                    | Self::BadUserNameOrPassword
                    | Self::ServerUnavailable
                    | Self::Banned
                    | Self::BadAuthenticationMethod
                    | Self::PacketIdentifierInUse
                    | Self::PacketIdentifierNotFound
            ),
            PacketType::Auth => {
                matches!(
                    self,
                    Self::Success | Self::ContinueAuthentication | Self::ReAuthenticate
                )
            }
            _ => false,
        }
    }

    /// Reads a 5.0 reason code for `packet`, rejecting values the spec does
    /// not define or does not allow there.
    pub(crate) fn decode(packet: PacketType, value: u8) -> Result<Self, super::DecodeError> {
        match Self::from_u8(value) {
            Some(code) if code.is_valid_for(packet) => Ok(code),
            _ => Err(super::DecodeError::InvalidReasonCode {
                packet,
                code: value,
            }),
        }
    }

    /// Whether a CONNACK refusal with this code may go away by itself, so
    /// that connecting again later can succeed (the server is busy or
    /// moving), unlike bad credentials or a ban.
    pub const fn is_transient_refusal(self) -> bool {
        matches!(
            self,
            Self::ServerUnavailable
                | Self::ServerBusy
                | Self::UseAnotherServer
                | Self::ConnectionRateExceeded
                | Self::QuotaExceeded
        )
    }

    /// Checks this code may be sent in `packet`, for the encoder.
    pub(crate) fn check_for(self, packet: PacketType) -> Result<(), super::EncodeError> {
        if self.is_valid_for(packet) {
            Ok(())
        } else {
            Err(super::EncodeError::InvalidReasonCode { packet, code: self })
        }
    }

    /// Maps a 3.1 / 3.1.1 CONNACK return code onto its 5.0 equivalent.
    pub const fn from_v3_connack(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::UnsupportedProtocolVersion,
            2 => Self::ClientIdentifierNotValid,
            3 => Self::ServerUnavailable,
            4 => Self::BadUserNameOrPassword,
            5 => Self::NotAuthorized,
            _ => return None,
        })
    }

    /// The 3.1 / 3.1.1 CONNACK return code for this outcome, if there is one.
    pub const fn to_v3_connack(self) -> Option<u8> {
        Some(match self {
            Self::Success => 0,
            Self::UnsupportedProtocolVersion => 1,
            Self::ClientIdentifierNotValid => 2,
            Self::ServerUnavailable => 3,
            Self::BadUserNameOrPassword => 4,
            Self::NotAuthorized => 5,
            _ => return None,
        })
    }

    /// The QoS granted by a SUBACK success code.
    pub const fn granted_qos(self) -> Option<super::QoS> {
        match self {
            Self::Success => Some(super::QoS::AtMostOnce),
            Self::GrantedQoS1 => Some(super::QoS::AtLeastOnce),
            Self::GrantedQoS2 => Some(super::QoS::ExactlyOnce),
            _ => None,
        }
    }
}

impl core::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{self:?} ({:#04x})", self.as_u8())
    }
}
