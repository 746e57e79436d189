//! Session errors, one enum per fault: the broker broke the protocol
//! ([`ProtocolError`]), the caller misused the API ([`UsageError`]), a
//! request failed ([`RequestError`]), the connection ended
//! ([`ConnectionError`]).

use alloc::boxed::Box;
use alloc::string::String;

use crate::{
    ConnAckProperties, DecodeError, DisconnectProperties, EncodeError, PacketType, QoS, ReasonCode,
    TopicError,
};

/// The server broke the protocol. The session answers with a DISCONNECT
/// carrying [`reason_code`](Self::reason_code) (5.0) and ends the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes were not a well-formed packet.
    #[error("malformed packet from the server: {0}")]
    Decode(#[from] DecodeError),
    /// A packet a server may not send, or not in this state.
    #[error("the server sent {packet:?} {when}")]
    UnexpectedPacket {
        /// What arrived.
        packet: PacketType,
        /// When (e.g. "before CONNACK").
        when: &'static str,
    },
    /// An acknowledgement for a packet identifier not in flight.
    #[error(
        "the server sent {packet:?} for packet identifier {id}, which matches no flow of ours at a stage that {packet:?} can answer (nothing in flight under that identifier, or a flow at another QoS or stage, such as PUBACK for a QoS 2 publish)"
    )]
    UnknownPacketId {
        /// The acknowledgement.
        packet: PacketType,
        /// The identifier.
        id: u16,
    },
    /// More unacknowledged QoS 1/2 messages than our Receive Maximum.
    #[error("the server exceeded our receive maximum of {0} [MQTT-3.3.4-9]")]
    ReceiveMaximumExceeded(u16),
    /// A topic alias of 0, above our maximum, or never defined.
    #[error(
        "the server used topic alias {0}, which is 0, above our maximum [MQTT-3.3.2-11] or never set"
    )]
    TopicAliasInvalid(u16),
    /// CONNACK with session present although we asked for a clean session.
    #[error(
        "CONNACK says a session is present although a clean session was requested [MQTT-3.2.2-4]"
    )]
    SessionPresentOnCleanStart,
    /// CONNACK refusing with session present set.
    #[error("CONNACK refuses the connection but sets session present [MQTT-3.2.2-6]")]
    SessionPresentOnRefusal,
    /// CONNACK or AUTH whose Authentication Method is not the one our
    /// CONNECT named (or is there when CONNECT named none).
    #[error(
        "the server's {0:?} carries another authentication method than our CONNECT [MQTT-4.12.0-5] [MQTT-4.12.0-6]"
    )]
    AuthenticationMethodMismatch(PacketType),
    /// AUTH with a reason code a server may not send now: Re-authenticate,
    /// or Success before CONNACK.
    #[error("the server sent AUTH with {0}, which it may not send now [MQTT-4.12.0-2]")]
    UnexpectedAuthReason(ReasonCode),
    /// SUBACK or UNSUBACK with a different number of results than filters.
    #[error("{packet:?} carries {got} results for {expected} topic filters")]
    ResultCountMismatch {
        /// SUBACK or UNSUBACK.
        packet: PacketType,
        /// Filters sent.
        expected: usize,
        /// Results received.
        got: usize,
    },
}

impl ProtocolError {
    /// The 5.0 reason code for the DISCONNECT that ends the connection.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Decode(e) => e.reason_code(),
            Self::ReceiveMaximumExceeded(_) => ReasonCode::ReceiveMaximumExceeded,
            Self::TopicAliasInvalid(_) => ReasonCode::TopicAliasInvalid,
            _ => ReasonCode::ProtocolError,
        }
    }
}

/// The caller asked for something the session cannot do; the message says
/// what to do instead. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The topic name is not valid.
    #[error("invalid topic name: {0}")]
    InvalidTopic(TopicError),
    /// A Response Topic (of a publish or of the will) that is not a valid
    /// topic name.
    #[error("invalid response topic: {0}; a response topic is a topic name [MQTT-3.3.2-14]")]
    InvalidResponseTopic(TopicError),
    /// QoS above the server's maximum with [`QoSPolicy::Refuse`](super::QoSPolicy::Refuse).
    #[error(
        "the server accepts QoS up to {maximum:?}; publish at that QoS or set QoSPolicy::Downgrade"
    )]
    QoSNotSupported {
        /// What was asked for.
        requested: QoS,
        /// The server's Maximum QoS.
        maximum: QoS,
    },
    /// A retained publish to a server without retain support.
    #[error("the server does not support retained messages; publish with retain = false")]
    RetainNotSupported,
    /// The packet exceeds the server's maximum packet size.
    #[error(
        "the packet is {size} bytes but the server accepts at most {maximum}; send a smaller payload"
    )]
    PacketTooLarge {
        /// The encoded size.
        size: usize,
        /// The server's limit.
        maximum: u32,
    },
    /// The packet cannot be encoded (a field too long, 5.0 properties under
    /// 3.1.1, …).
    #[error("the packet cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The queue of waiting requests is full.
    #[error("{0} requests are already waiting; wait for completions before sending more")]
    QueueFull(usize),
    /// A SUBSCRIBE or UNSUBSCRIBE without filters.
    #[error("subscribe and unsubscribe need at least one topic filter")]
    NoFilters,
    /// A feature the server said it does not support.
    #[error("the server does not support {0}")]
    NotSupported(&'static str),
    /// Something a client may not send.
    #[error("{0}")]
    NotAllowed(&'static str),
    /// No Local on a shared subscription.
    #[error("no_local cannot be set on a shared subscription [MQTT-3.8.3-4]")]
    NoLocalOnSharedSubscription,
    /// An acknowledgement token that is unknown or already used.
    #[error("this message was already acknowledged, or its connection's state was discarded")]
    UnknownAckToken,
    /// AUTH without enhanced authentication configured, or under 3.1.1.
    #[error(
        "enhanced authentication needs MQTT 5.0 and an authentication method in the CONNECT properties"
    )]
    NoAuthentication,
    /// Under 3.1 / 3.1.1, an empty client identifier without a clean
    /// session: the server has no name to keep the session under.
    #[error(
        "an empty client identifier needs clean_start = true before MQTT 5.0 [MQTT-3.1.3-7]; set a client identifier to resume sessions"
    )]
    EmptyClientIdNeedsCleanStart,
    /// AUTH with an Authentication Method other than the CONNECT's.
    #[error(
        "an AUTH must carry the authentication method of the CONNECT [MQTT-4.12.0-5] [MQTT-4.12.1-1]"
    )]
    AuthenticationMethodMismatch,
    /// AUTH with a reason code the exchange does not allow now.
    #[error(
        "AUTH with {0} is not allowed now: answer a server's AUTH with Continue authentication (0x18) [MQTT-4.12.0-3], or re-authenticate with Re-authenticate (0x19) once connected [MQTT-4.12.1-1]"
    )]
    UnexpectedAuth(ReasonCode),
    /// The session is not connected (for commands that need a connection).
    #[error("not connected")]
    NotConnected,
}

/// Why a request ended without success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The server answered with a failure reason code.
    #[error("the server refused it: {reason_code}")]
    Rejected {
        /// The failure code.
        reason_code: ReasonCode,
        /// The reason string, if any.
        reason_string: Option<String>,
    },
    /// The session state it was part of was discarded (the server did not
    /// resume the session, or a clean session was requested) while the
    /// publish was in flight, and it was not sent again.
    ///
    /// Its outcome is **indeterminate**: the old session may have delivered
    /// it once, or not at all; it was not delivered twice. This is how a
    /// QoS 2 publish in flight ends when the session is lost, since a
    /// second copy could break exactly once (and a QoS 1 publish, with
    /// [`SessionConfig::resend_qos1_on_session_loss`](super::SessionConfig::resend_qos1_on_session_loss)
    /// off). Publish it again only if a duplicate is harmless.
    #[error(
        "the session was lost while the publish was in flight, and it was not sent again: its outcome is indeterminate (delivered once, or not at all)"
    )]
    SessionLost,
    /// The connection ended before the answer (subscribe / unsubscribe;
    /// those are not resent).
    #[error("the connection ended before the server answered")]
    ConnectionLost,
    /// The server's limits, learnt after the request was queued, do not
    /// allow it (Maximum QoS with [`QoSPolicy::Refuse`](super::QoSPolicy::Refuse),
    /// retain, maximum packet size, …).
    #[error("the server's limits do not allow it: {0}")]
    NotAllowed(UsageError),
    /// A publish in flight could not be resent on a new connection: the
    /// limits that server gave at CONNACK refuse it (Maximum Packet Size).
    /// The first attempt may or may not have been delivered.
    #[error(
        "the publish could not be resent within the new server's limits ({0}); it may or may not have been delivered"
    )]
    NotResent(UsageError),
    /// A poison publish: it was the oldest publish in flight when each of
    /// the last `connections` connections was lost
    /// ([`SessionConfig::poison_threshold`](super::SessionConfig::poison_threshold)
    /// in a row), so the server is taken to refuse it by closing the
    /// connection, and the session gave up on it. It may or may not have
    /// been delivered; sending it again as it is will likely fail again.
    #[error(
        "gave up on publish #{seq} to {topic:?}: it was the oldest in flight when {connections} connections in a row were lost (a broker that closes the connection on it, for its size or its topic?); it may or may not have been delivered"
    )]
    Poisoned {
        /// Its acceptance number (see [`Session::last_accepted`](super::Session::last_accepted)).
        seq: u64,
        /// Its topic.
        topic: bytestring::ByteString,
        /// How many connections in a row were lost with it in flight.
        connections: u32,
    },
}

impl RequestError {
    /// Whether trying again later may succeed. After
    /// [`SessionLost`](Self::SessionLost) a retry may deliver the message
    /// a second time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Rejected { reason_code, .. } => matches!(
                reason_code,
                ReasonCode::QuotaExceeded
                    | ReasonCode::ServerBusy
                    | ReasonCode::ImplementationSpecificError
                    | ReasonCode::PacketIdentifierInUse
            ),
            Self::SessionLost | Self::ConnectionLost => true,
            Self::NotAllowed(_) | Self::NotResent(_) | Self::Poisoned { .. } => false,
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The server refused the CONNECT.
    #[error("the server refused the connection: {reason_code}")]
    Refused {
        /// The reason (3.1.1 return codes are mapped onto 5.0 codes).
        reason_code: ReasonCode,
        /// The CONNACK's properties (reason string, server reference, …).
        properties: Box<ConnAckProperties>,
    },
    /// The server sent DISCONNECT.
    #[error("the server disconnected: {reason_code}")]
    ServerDisconnect {
        /// Its reason.
        reason_code: ReasonCode,
        /// Its properties (reason string, server reference, …).
        properties: Box<DisconnectProperties>,
    },
    /// The server broke the protocol; we sent DISCONNECT and closed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// No CONNACK within the connect timeout.
    #[error("no CONNACK within the connect timeout")]
    ConnectTimeout,
    /// The server stayed silent after a PINGREQ.
    #[error("no answer to PINGREQ within the ping timeout")]
    KeepAliveTimeout,
    /// The transport went away (reported by the driver).
    #[error("the connection was lost")]
    ConnectionLost,
    /// The application disconnected.
    #[error("disconnected by the application")]
    Disconnected,
    /// The session's configuration cannot make a valid CONNECT (see
    /// [`SessionConfig::validate`](super::SessionConfig::validate)), so
    /// nothing was sent. Fix the configuration; reconnecting cannot help.
    #[error("the session configuration cannot be used: {0}")]
    InvalidConfig(UsageError),
}

impl ConnectionError {
    /// Whether reconnecting may help (not for refusals like bad
    /// credentials, nor for a deliberate disconnect).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Refused { reason_code, .. } => reason_code.is_transient_refusal(),
            Self::Disconnected | Self::InvalidConfig(_) => false,
            _ => true,
        }
    }
}
