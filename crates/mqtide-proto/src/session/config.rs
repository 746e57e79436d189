//! What a session is configured with: everything CONNECT says, and the
//! client-side limits the protocol leaves to the implementation.

use core::time::Duration;

use bytestring::ByteString;

use super::UsageError;
use crate::{Connect, ConnectProperties, LastWill, Packet, ProtocolVersion, Secret};

/// What to do with a publish above the server's Maximum QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QoSPolicy {
    /// Refuse it with a usage error (or fail the request if the limit is
    /// only learnt after it was queued). Nothing is sent above the limit.
    #[default]
    Refuse,
    /// Send it at the server's maximum instead.
    Downgrade,
}

/// When incoming QoS 1 and QoS 2 messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// As soon as the message is handed to the application (as an event).
    #[default]
    Auto,
    /// Only when the application calls [`Session::ack`](super::Session::ack)
    /// for it: at-least-once processing. Acknowledgements still go out in
    /// the order the messages arrived, as the spec requires.
    Manual,
}

/// What to do when a 5.0 server sends more unacknowledged QoS 1/2
/// messages than our Receive Maximum allows ([MQTT-3.3.4-9]).
///
/// Some servers do. Mosquitto 2.0.11 keeps to a Receive Maximum of 2 for
/// the first few QoS 2 messages, then sends more and more before our
/// acknowledgements: after a few hundred messages, bursts of dozens (130
/// in one read, in 1,000 messages). Ending the connection then loses what
/// it still held for a clean session, on every reconnect alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveOverrun {
    /// The rule as written: the first message beyond the Receive Maximum
    /// ends the connection with Receive Maximum exceeded (0x93).
    Strict,
    /// Take up to `margin` messages beyond the Receive Maximum; one more
    /// ends the connection as under `Strict`. Exactly once is kept as for
    /// any message. Each message taken beyond the Receive Maximum is
    /// counted ([`Session::receive_overruns`](super::Session::receive_overruns)),
    /// and the first on each connection is reported
    /// ([`Event::ReceiveMaximumOverrun`](super::Event::ReceiveMaximumOverrun))
    /// for the driver to log: the server does not honour the flow control
    /// it was asked for.
    ///
    /// What the excess holds stays within the session's bounds: messages
    /// wait as events like any other, up to
    /// [`SessionConfig::event_capacity`], and then the session stops
    /// decoding (the driver stops reading the socket); a QoS 2 message
    /// past PUBREC holds one bit in a map of fixed size. Nothing is
    /// dropped.
    Tolerate {
        /// How many messages beyond the Receive Maximum may be
        /// unacknowledged at once.
        margin: u16,
    },
}

impl Default for ReceiveOverrun {
    /// `Tolerate { margin: 65535 }`: any overrun the packet identifiers
    /// allow (at most 65,535 messages can be unacknowledged at once), since
    /// the session's own bounds keep its memory in check. Set a smaller
    /// margin to stop a server that goes further than a bound of your own.
    fn default() -> Self {
        Self::Tolerate { margin: u16::MAX }
    }
}

/// The configuration of a [`Session`](super::Session).
///
/// Built with [`SessionConfig::new`] and adjusted field by field; the
/// defaults suit a stock Mosquitto.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The protocol version to speak.
    pub protocol: ProtocolVersion,
    /// The client identifier; empty asks the server to assign one (5.0,
    /// or 3.1.1 with a clean session).
    pub client_id: ByteString,
    /// Clean session (3.1.1) / clean start (5.0) on the next CONNECT.
    pub clean_start: bool,
    /// Keep-alive in seconds; 0 turns keep-alive off.
    pub keep_alive: u16,
    /// The will message.
    pub will: Option<LastWill>,
    /// The user name.
    pub username: Option<ByteString>,
    /// The password.
    pub password: Option<Secret>,
    /// 5.0 CONNECT properties: session expiry, receive maximum, maximum
    /// packet size, topic alias maximum, problem/response information, user
    /// properties, authentication method and data.
    pub properties: ConnectProperties,
    /// How long CONNACK may take after CONNECT.
    pub connect_timeout: Duration,
    /// How long the server may stay silent after a PINGREQ.
    pub ping_timeout: Duration,
    /// The most QoS 1/2 publishes in flight under 3.1 / 3.1.1, which have
    /// no receive maximum. Mosquitto's default `max_inflight_messages` is
    /// 20, and it answers the 21st QoS 2 message with "quota exceeded".
    pub v3_inflight: u16,
    /// How many publishes (and subscription changes) may wait for the
    /// in-flight window or for a connection.
    pub queue_capacity: usize,
    /// How many events may wait for the application before the session
    /// stops decoding incoming bytes.
    pub event_capacity: usize,
    /// The largest packet accepted from the server. Under 5.0 it is sent
    /// as Maximum Packet Size unless `properties` already sets one.
    pub max_incoming_packet_size: u32,
    /// What to do with publishes above the server's Maximum QoS.
    pub qos_policy: QoSPolicy,
    /// When incoming messages are acknowledged.
    pub ack_mode: AckMode,
    /// 5.0: the most topic aliases we use towards the server (the server's
    /// Topic Alias Maximum caps it too). 0 never sends an alias; the
    /// default uses as many as the server allows, for the most-used topics
    /// (least recently used aliases are reassigned).
    pub outgoing_alias_maximum: u16,
    /// When the server has no session for us (Session Present 0, after a
    /// clean start or a session it lost), a QoS 1 publish that was in
    /// flight is sent again as a new message and its request completes
    /// with the new acknowledgement: at least once, as QoS 1 promises; the
    /// subscriber may get it twice. On by default. Off, it fails with
    /// [`RequestError::SessionLost`](super::RequestError::SessionLost)
    /// instead, as QoS 2 publishes always do (a second copy would break
    /// exactly once).
    pub resend_qos1_on_session_loss: bool,
    /// After this many connections in a row were lost (after CONNACK, by
    /// anything but our own DISCONNECT) while the same publish was the
    /// oldest one whose PUBLISH was in flight, that publish fails with
    /// [`RequestError::Poisoned`](super::RequestError::Poisoned) and the
    /// others go on: a server that closes the connection on a publish (too
    /// large for it, not authorised, …) would otherwise have it resent for
    /// ever. Default 5; 0 never gives up. A flaky network rarely takes down
    /// five connections in a row before the oldest publish is
    /// acknowledged, but one that does fails that publish too.
    pub poison_threshold: u32,
    /// 5.0: what to do with a server that sends more unacknowledged QoS 1/2
    /// messages than our Receive Maximum allows (default: tolerate it,
    /// within bounds; see [`ReceiveOverrun`]).
    pub receive_overrun: ReceiveOverrun,
    /// Record every change to the durable state for a session store (see
    /// [`Session::drain_store_changes`](super::Session::drain_store_changes)).
    /// Off, nothing is recorded and nothing costs.
    pub durable: bool,
}

impl SessionConfig {
    /// A configuration for `client_id` with a clean start, a 60 s
    /// keep-alive and the default limits.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<ByteString>) -> Self {
        Self {
            protocol,
            client_id: client_id.into(),
            clean_start: true,
            keep_alive: 60,
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
            connect_timeout: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(10),
            v3_inflight: 20,
            queue_capacity: 1024,
            event_capacity: 256,
            max_incoming_packet_size: 16 * 1024 * 1024,
            qos_policy: QoSPolicy::Refuse,
            ack_mode: AckMode::Auto,
            outgoing_alias_maximum: u16::MAX,
            resend_qos1_on_session_loss: true,
            poison_threshold: 5,
            receive_overrun: ReceiveOverrun::default(),
            durable: false,
        }
    }

    /// Checks that a session can connect with this configuration: before
    /// 5.0 an empty client identifier comes with a clean session
    /// ([MQTT-3.1.3-7] of 3.1.1), and the CONNECT it makes can be encoded
    /// (no U+0000 in the client identifier or user name, a will topic and a
    /// will Response Topic that are topic names, no 5.0 properties under
    /// 3.1.1, …).
    ///
    /// [`Session::handle_connected`](super::Session::handle_connected) runs
    /// the same check and, when it fails, ends the connection with
    /// [`ConnectionError::InvalidConfig`](super::ConnectionError::InvalidConfig)
    /// instead of sending anything; a driver that validates first can
    /// report the mistake before opening a transport.
    pub fn validate(&self) -> Result<(), UsageError> {
        self.check_connect(&Packet::from(self.connect()))
    }

    /// [`validate`](Self::validate) for `connect`, the CONNECT made by
    /// [`connect`](Self::connect).
    pub(crate) fn check_connect(&self, connect: &Packet) -> Result<(), UsageError> {
        if !self.protocol.is_v5() && self.client_id.is_empty() && !self.clean_start {
            return Err(UsageError::EmptyClientIdNeedsCleanStart);
        }
        if let Some(will) = &self.will {
            check_response_topic(will.properties.response_topic.as_ref())?;
        }
        connect.encoded_len(self.protocol)?;
        Ok(())
    }

    /// The CONNECT this configuration sends. Under 5.0 it announces
    /// `max_incoming_packet_size` as Maximum Packet Size unless the
    /// properties set one.
    pub(crate) fn connect(&self) -> Connect {
        let mut properties = self.properties.clone();
        if self.protocol.is_v5() && properties.maximum_packet_size.is_none() {
            properties.maximum_packet_size =
                core::num::NonZeroU32::new(self.max_incoming_packet_size);
        }
        Connect {
            protocol: self.protocol,
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            client_id: self.client_id.clone(),
            will: self.will.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            properties,
        }
    }

    /// The limit on incoming packets: the 5.0 property if set, otherwise
    /// `max_incoming_packet_size`.
    pub(crate) fn incoming_limit(&self) -> u32 {
        self.properties
            .maximum_packet_size
            .map_or(self.max_incoming_packet_size, |m| m.get())
    }

    /// How many incoming QoS 1/2 messages may be unacknowledged at once.
    pub(crate) fn receive_maximum(&self) -> u16 {
        match self.protocol {
            ProtocolVersion::V5 => self
                .properties
                .receive_maximum
                .map_or(u16::MAX, |m| m.get()),
            _ => u16::MAX,
        }
    }
}

/// A Response Topic is the topic name of the response, so it follows the
/// topic name rules: not empty, no U+0000, no wildcards ([MQTT-3.3.2-14]).
/// The codec does not check it (it writes what it reads, and a server may
/// send anything); the session refuses to send one that breaks them.
pub(crate) fn check_response_topic(topic: Option<&ByteString>) -> Result<(), UsageError> {
    match topic {
        Some(topic) => crate::check_topic_name(topic).map_err(UsageError::InvalidResponseTopic),
        None => Ok(()),
    }
}
