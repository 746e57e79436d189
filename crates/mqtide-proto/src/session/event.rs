//! What the session reports to the application: [`Event`]s.

use alloc::vec::Vec;

use bytestring::ByteString;

use super::error::{ConnectionError, RequestError};
use crate::{AckProperties, Auth, ConnAckProperties, Publish, QoS, ReasonCode};

/// An identifier the session issues for each command (publish, subscribe,
/// unsubscribe), reported back in [`Event::Completed`]. Unlike MQTT packet
/// identifiers it is never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The identifier's number, unique within one session.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Something the application must hear about. Drain them with
/// [`Session::poll_event`](super::Session::poll_event) after every input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The server accepted the connection.
    Connected(Connected),
    /// An application message arrived.
    Message(Message),
    /// A command finished.
    Completed {
        /// The command's identifier.
        id: RequestId,
        /// How it ended.
        outcome: Result<Completion, RequestError>,
    },
    /// The server sent AUTH during enhanced authentication; answer with
    /// [`Session::auth`](super::Session::auth).
    Auth(Auth),
    /// The connection ended (reported once per connection).
    Disconnected(ConnectionError),
    /// The server sent more unacknowledged QoS 1/2 messages than our
    /// Receive Maximum allows ([MQTT-3.3.4-9]), and the session took them
    /// ([`ReceiveOverrun::Tolerate`](super::ReceiveOverrun::Tolerate))
    /// rather than end the connection. Reported once per connection, at
    /// the first such message; a driver should log it at warn level.
    /// [`Session::receive_overruns`](super::Session::receive_overruns)
    /// counts them all.
    ReceiveMaximumOverrun {
        /// Our Receive Maximum.
        maximum: u16,
        /// How many messages were unacknowledged with this one.
        unacknowledged: usize,
    },
}

/// How a successful command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// A publish was written (QoS 0), acknowledged (QoS 1) or completed
    /// (QoS 2).
    Published {
        /// The reason code of the final acknowledgement (`Success`, or
        /// `NoMatchingSubscribers`; always `Success` for QoS 0 and 3.1.1).
        reason_code: ReasonCode,
        /// Its properties.
        properties: AckProperties,
    },
    /// A SUBSCRIBE was answered: one reason code per filter, granted QoS or
    /// failure.
    Subscribed {
        /// Per filter, in order.
        reason_codes: Vec<ReasonCode>,
        /// The SUBACK's properties.
        properties: AckProperties,
    },
    /// An UNSUBSCRIBE was answered (5.0: one reason code per filter; 3.1.1:
    /// `Success` for each).
    Unsubscribed {
        /// Per filter, in order.
        reason_codes: Vec<ReasonCode>,
        /// The UNSUBACK's properties.
        properties: AckProperties,
    },
}

/// The outcome of a successful CONNACK, with what was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Whether the server resumed the session.
    pub session_present: bool,
    /// The client identifier in use (the assigned one if the server chose).
    pub client_id: ByteString,
    /// The keep-alive in effect, in seconds (the server's if it set one).
    pub keep_alive: u16,
    /// How many QoS 1/2 publishes may be in flight to the server.
    pub send_window: u16,
    /// The highest QoS the server accepts.
    pub maximum_qos: QoS,
    /// Whether the server accepts retained messages.
    pub retain_available: bool,
    /// The largest packet the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// The CONNACK's properties as sent (5.0).
    pub properties: ConnAckProperties,
}

/// An incoming application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The PUBLISH, with its topic resolved if it came by topic alias.
    pub publish: Publish,
    /// In manual acknowledgement mode, the token to pass to
    /// [`Session::ack`](super::Session::ack) (QoS 1 and 2 only).
    pub ack: Option<AckToken>,
}

/// Identifies an incoming message awaiting the application's
/// acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckToken(pub(crate) u64);
