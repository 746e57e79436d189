//! What the application can observe of the connection: a
//! [`ConnectionState`] through a `watch`, and [`ConnectionEvent`]s.

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mqtide_proto::{ConnectionError, ReasonCode};
use tokio::sync::broadcast;

/// Why a connection ended.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The protocol ended it: the broker's DISCONNECT or refusal (with
    /// its reason string, when it gave one), a protocol violation, a
    /// keep-alive or connect timeout.
    #[error("{}", describe(.0))]
    Session(ConnectionError),
    /// The transport failed or was closed by the broker.
    #[error("transport: {0}")]
    Transport(Arc<io::Error>),
    /// Enhanced authentication failed on our side (we closed it).
    #[error("enhanced authentication: {0}")]
    Auth(crate::auth::AuthError),
}

impl From<ConnectionError> for DisconnectReason {
    fn from(error: ConnectionError) -> Self {
        Self::Session(error)
    }
}

/// What a [`ConnectionError`] says, with what the broker added: the reason
/// string of its refusal or DISCONNECT, and for a CONNECT it never
/// answered, that it accepted the connection.
pub(crate) fn describe(error: &ConnectionError) -> String {
    let reason_string = match error {
        ConnectionError::Refused { properties, .. } => properties.reason_string.as_deref(),
        ConnectionError::ServerDisconnect { properties, .. } => properties.reason_string.as_deref(),
        ConnectionError::ConnectTimeout => {
            return "the broker accepted the connection but did not answer CONNECT within the connect timeout".into();
        }
        _ => None,
    };
    match reason_string {
        Some(text) => format!("{error} ({text:?})"),
        None => error.to_string(),
    }
}

impl DisconnectReason {
    /// The broker's reason string, when it refused the connection or ended
    /// it with one (5.0).
    pub fn reason_string(&self) -> Option<&str> {
        match self {
            Self::Session(ConnectionError::Refused { properties, .. }) => {
                properties.reason_string.as_deref()
            }
            Self::Session(ConnectionError::ServerDisconnect { properties, .. }) => {
                properties.reason_string.as_deref()
            }
            _ => None,
        }
    }

    /// The reason code and Server Reference of the CONNACK or DISCONNECT
    /// with which the broker refused or ended the connection: what a 5.0
    /// redirection ("use another server", "server moved") is read from.
    pub(crate) fn redirection(&self) -> Option<(ReasonCode, Option<&str>)> {
        match self {
            Self::Session(ConnectionError::Refused {
                reason_code,
                properties,
            }) => Some((*reason_code, properties.server_reference.as_deref())),
            Self::Session(ConnectionError::ServerDisconnect {
                reason_code,
                properties,
            }) => Some((*reason_code, properties.server_reference.as_deref())),
            _ => None,
        }
    }
}

/// Where the client's connection is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening the first connection.
    Connecting,
    /// Connected; `session_present` says whether the broker resumed the
    /// session.
    Connected {
        /// Whether the broker kept the session.
        session_present: bool,
    },
    /// Waiting to reconnect after losing the connection.
    Reconnecting {
        /// How many attempts have failed since the last connection.
        attempt: u32,
        /// Why the last connection (or attempt) ended.
        reason: DisconnectReason,
    },
    /// The client is closed; it will not connect again.
    Closed,
}

impl ConnectionState {
    /// Whether the client is connected.
    pub fn is_connected(&self) -> bool {
        matches!(self, Self::Connected { .. })
    }
}

/// A change of connection, as a stream of events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A connection was accepted.
    Connected {
        /// Whether the broker resumed the session.
        session_present: bool,
    },
    /// A connection that was up (it had reached CONNACK) ended.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// An attempt to connect failed before the broker accepted it (no
    /// connection came up, so none was lost). A
    /// [`Reconnecting`](Self::Reconnecting) event follows when the client
    /// tries again.
    ConnectFailed {
        /// The broker tried (`host:port`).
        server: String,
        /// Why the attempt failed.
        reason: DisconnectReason,
    },
    /// The broker redirected the client (5.0 "use another server" or
    /// "server moved", followed with
    /// [`follow_redirects`](crate::ClientBuilder::follow_redirects)).
    Redirected {
        /// Where the next connection goes.
        server: String,
        /// Whether the move is for good ("server moved").
        permanent: bool,
    },
    /// Another connection attempt starts after `delay`: after a lost
    /// connection, or after failed attempts at the first one when it is
    /// retried ([`ClientBuilder::start`](crate::ClientBuilder::start)).
    Reconnecting {
        /// The attempt number (1 for the first).
        attempt: u32,
        /// How long the client waits first.
        delay: Duration,
    },
}

/// How many connection events a receiver may fall behind before it sees
/// `RecvError::Lagged`. Events are rare.
const EVENTS_CAPACITY: usize = 16;

/// The connection-event channel, shared by the client handles and the
/// event loop. A broadcast channel allocates all its slots when it is
/// made, so it is made when the first receiver asks for it: a client
/// nobody watches keeps none, and events sent before that went to no
/// receiver anyway.
#[derive(Debug, Clone, Default)]
pub(crate) struct Events(Arc<OnceLock<broadcast::Sender<ConnectionEvent>>>);

impl Events {
    /// A receiver of the events from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ConnectionEvent> {
        self.0
            .get_or_init(|| broadcast::channel(EVENTS_CAPACITY).0)
            .subscribe()
    }

    /// Sends `event` to the current receivers, if there are any.
    pub(crate) fn send(&self, event: ConnectionEvent) {
        if let Some(sender) = self.0.get() {
            let _ = sender.send(event);
        }
    }
}
