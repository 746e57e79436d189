//! The client's errors. Every variant is `Clone`: one failure may be
//! reported to many waiters (every pending publish of a connection that
//! broke).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mqtide_proto::{
    ConnectionError, ProtocolVersion, ReasonCode, RequestError, TopicError, UsageError,
};

use crate::state::DisconnectReason;

/// Everything that can go wrong with a [`Client`](crate::Client) call.
///
/// Every error says what caused it: a request failed by a lost
/// connection carries why the connection was lost
/// ([`Interrupted`](Self::Interrupted)), and once the client has closed,
/// every call returns the one reason it closed (the broker's DISCONNECT,
/// the failure it could not recover from, or [`Closed`](Self::Closed)
/// after `disconnect`). The accessors answer what a service asks of it:
/// [`reason_code`](Self::reason_code), [`is_retryable`](Self::is_retryable),
/// [`disconnect_reason`](Self::disconnect_reason),
/// [`is_protocol_violation`](Self::is_protocol_violation),
/// [`is_transport`](Self::is_transport).
///
/// ```no_run
/// # async fn demo(client: mqtide::Client) {
/// match client.publish("sensors/1", "22.5").qos(mqtide::QoS::AtLeastOnce).await {
///     Ok(_) => {}
///     Err(e) if e.is_retryable() => eprintln!("try again later: {e}"),
///     Err(e) => eprintln!("giving up: {e} (broker's reason: {:?})", e.reason_code()),
/// }
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker URL cannot be used.
    #[error("invalid broker URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of range or contradicts another.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The first connection failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The call was refused before anything was sent; the message says what
    /// to do instead.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// A topic filter (of a subscribe or an unsubscribe) is not valid.
    #[error("invalid topic filter {filter:?}: {source}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        source: TopicError,
    },
    /// The broker refused the request, or its session was lost.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A request failed because the connection was lost under it: `error`
    /// says what became of it (a publish whose session was not resumed,
    /// a subscribe that was never answered), `cause` why the connection
    /// was lost (the broker's DISCONNECT, a protocol violation, the
    /// network).
    #[error("{error} (the connection was lost: {cause})")]
    Interrupted {
        /// What became of the request.
        error: RequestError,
        /// Why the connection was lost.
        cause: DisconnectReason,
    },
    /// The application closed the client (`disconnect`, or every handle
    /// dropped): calls made after that fail with this.
    #[error("the client is closed: the application disconnected it")]
    Closed,
    /// The client's event loop is gone although the client did not close:
    /// its [`Connection`](crate::Connection) future was dropped, or its
    /// task aborted, or its runtime shut down.
    #[error(
        "the client's event loop is gone (its Connection future was dropped, or its task or runtime ended) before the client closed"
    )]
    EventLoopGone,
    /// A wait ran out of time: `waiting_for` says for what (the reply to a
    /// [`request`](crate::Client::request), the messages of
    /// [`oneshot::subscribe_simple`](crate::oneshot::subscribe_simple)).
    #[error("timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        /// What was waited for.
        waiting_for: &'static str,
        /// How long.
        after: Duration,
    },
    /// The connection was lost and the client does not reconnect
    /// ([`no_reconnect`](crate::ClientBuilder::no_reconnect), or a
    /// configuration the broker will never accept): what was waiting for
    /// it, and every call after, fails with the reason.
    #[error("the connection was lost and the client does not reconnect: {0}")]
    ConnectionLost(#[source] DisconnectReason),
    /// The session store failed: the client stops rather than go on
    /// without the guarantees the store gives.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Enhanced authentication failed on a live connection (a
    /// re-authentication).
    #[error("enhanced authentication failed: {0}")]
    Auth(#[source] crate::auth::AuthError),
    /// `disconnect` waited longer than its timeout for in-flight publishes.
    #[error("timed out waiting for in-flight publishes before disconnecting")]
    DisconnectTimeout,
    /// A method of [`mqtide::blocking`](crate) was called from inside an
    /// async runtime, where blocking would stall (or deadlock) it. Use the
    /// async [`Client`](crate::Client) there.
    #[error(
        "a blocking client method was called inside an async runtime; use the async mqtide::Client there (or call it from a thread of your own, e.g. tokio::task::spawn_blocking)"
    )]
    BlockingInRuntime,
}

impl Error {
    /// The MQTT 5.0 reason code behind the error, if the broker gave one:
    /// its refusal of the connection (CONNACK), its DISCONNECT (of a
    /// connection whose loss failed the request or closed the client), or
    /// its refusal of the request.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Self::Connect(ConnectError::Refused { reason_code, .. })
            | Self::Request(RequestError::Rejected { reason_code, .. }) => Some(*reason_code),
            Self::Connect(ConnectError::Lost { reason, .. }) => broker_code(reason),
            _ => self.disconnect_reason()?.reason_code(),
        }
    }

    /// Whether trying again later may succeed without changing anything:
    /// false for what the broker refused for good (bad credentials, not
    /// authorized), a certificate that does not verify, a configuration
    /// that cannot be sent, a caller's mistake, a failed store.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect(e) => e.is_retryable(),
            Self::Request(e) => e.is_retryable(),
            Self::Interrupted { error, cause } => error.is_retryable() && cause.is_retryable(),
            Self::ConnectionLost(reason) => reason.is_retryable(),
            _ => false,
        }
    }

    /// Why the connection was lost, for an error a lost connection caused
    /// ([`Interrupted`](Self::Interrupted),
    /// [`ConnectionLost`](Self::ConnectionLost)).
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        match self {
            Self::Interrupted { cause, .. } => Some(cause),
            Self::ConnectionLost(reason) => Some(reason),
            _ => None,
        }
    }

    /// What became of the request, for an error about one
    /// ([`Request`](Self::Request), [`Interrupted`](Self::Interrupted)):
    /// match `RequestError::SessionLost` here, whatever the cause.
    pub fn request_error(&self) -> Option<&RequestError> {
        match self {
            Self::Request(error) | Self::Interrupted { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the broker broke the protocol (the client ended the
    /// connection for it): a report for the broker's maintainers, not
    /// something a retry fixes for sure.
    pub fn is_protocol_violation(&self) -> bool {
        match self {
            Self::Connect(ConnectError::Lost { reason, .. }) => {
                matches!(reason, ConnectionError::Protocol(_))
            }
            _ => matches!(
                self.disconnect_reason(),
                Some(DisconnectReason::Session(ConnectionError::Protocol(_)))
            ),
        }
    }

    /// Whether the network failed: the connection could not be opened
    /// (refused, unreachable, timed out, TLS), or was cut.
    pub fn is_transport(&self) -> bool {
        match self {
            Self::Connect(e) => matches!(
                e,
                ConnectError::Io { .. } | ConnectError::Timeout { .. } | ConnectError::Tls { .. }
            ),
            _ => matches!(
                self.disconnect_reason(),
                Some(DisconnectReason::Transport(_))
            ),
        }
    }
}

/// The reason code the broker gave in `error` (its CONNACK refusal or its
/// DISCONNECT), if it did.
pub(crate) fn broker_code(error: &ConnectionError) -> Option<ReasonCode> {
    match error {
        ConnectionError::Refused { reason_code, .. }
        | ConnectionError::ServerDisconnect { reason_code, .. } => Some(*reason_code),
        _ => None,
    }
}

/// Whether connecting again after `error` may succeed: not after a
/// refusal for good, nor after a DISCONNECT that refuses the client
/// (not authorized, banned, a bad authentication method), the same
/// verdict as a CONNACK refusal with that code.
fn connection_retryable(error: &ConnectionError) -> bool {
    match error {
        ConnectionError::ServerDisconnect { reason_code, .. } => !matches!(
            reason_code,
            ReasonCode::NotAuthorized
                | ReasonCode::BadUserNameOrPassword
                | ReasonCode::BadAuthenticationMethod
                | ReasonCode::Banned
        ),
        other => other.is_retryable(),
    }
}

impl DisconnectReason {
    /// Whether connecting again may succeed without changing anything:
    /// not after a refusal such as bad credentials (in a CONNACK or a
    /// DISCONNECT), a certificate that does not verify
    /// ([`TlsFailure::is_retryable`]), our own authenticator failing, or
    /// a configuration the session cannot send (which the client does not
    /// retry either). Here, beside the errors it agrees with.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Session(e) => connection_retryable(e),
            Self::Transport(e) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<TlsFailure>())
                .is_none_or(TlsFailure::is_retryable),
            Self::Auth(_) => false,
        }
    }

    /// The reason code the broker gave, when it refused the connection
    /// (CONNACK) or ended it (DISCONNECT).
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Self::Session(e) => broker_code(e),
            _ => None,
        }
    }
}

/// Why a connection attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The broker answered CONNACK with a refusal.
    #[error("the broker refused the connection: {reason_code}{}", reason_string.as_ref().map(|s| format!(" ({s})")).unwrap_or_default())]
    Refused {
        /// Why (3.1.1 return codes are mapped onto 5.0 reason codes:
        /// `BadUserNameOrPassword`, `NotAuthorized`, …).
        reason_code: ReasonCode,
        /// The broker's reason string (5.0).
        reason_string: Option<String>,
    },
    /// Opening the transport (TCP, and the TLS or WebSocket handshake)
    /// took longer than the connect timeout.
    #[error(
        "connecting to {addr} timed out after {seconds:.1} s; check the host and port, and that nothing drops the packets on the way"
    )]
    Timeout {
        /// Where we tried to connect.
        addr: String,
        /// The timeout.
        seconds: f64,
    },
    /// The transport failed.
    #[error("cannot connect to {addr}: {source}")]
    Io {
        /// Where we tried to connect.
        addr: String,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Enhanced authentication failed on our side: the authenticator
    /// could not start, could not answer the broker, or found the broker's
    /// final data wrong (SCRAM: the broker does not know the password).
    #[error("enhanced authentication failed: {0}")]
    Auth(#[source] crate::auth::AuthError),
    /// The TLS handshake failed: the broker's certificate did not verify,
    /// or the broker refused ours. [`TlsFailure`] says which, and what to
    /// do about it.
    #[error("cannot connect to {addr}: {failure}")]
    Tls {
        /// Where we tried to connect.
        addr: String,
        /// What went wrong.
        #[source]
        failure: TlsFailure,
    },
    /// The broker accepted the connection but did not answer CONNECT
    /// within the connect timeout: a broker that does not speak this
    /// protocol version (some ignore a 5.0 CONNECT), or not an MQTT
    /// broker at all.
    #[error(
        "{addr} accepted the connection but did not answer CONNECT within {seconds:.1} s; {}",
        no_answer_hint(*protocol)
    )]
    NoConnack {
        /// Where we tried to connect.
        addr: String,
        /// The timeout.
        seconds: f64,
        /// The protocol version the CONNECT asked for.
        protocol: ProtocolVersion,
    },
    /// The connection ended before CONNACK (the broker closed it, or broke
    /// the protocol).
    #[error(
        "the connection to {addr} ended before CONNACK: {}",
        crate::state::describe(reason)
    )]
    Lost {
        /// Where we tried to connect.
        addr: String,
        /// Why.
        reason: ConnectionError,
    },
}

impl ConnectError {
    /// Whether trying again later may succeed: not for bad credentials,
    /// nor for a TLS certificate that does not verify (see
    /// [`TlsFailure::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Refused { reason_code, .. } => reason_code.is_transient_refusal(),
            Self::Timeout { .. } | Self::Io { .. } | Self::NoConnack { .. } => true,
            Self::Lost { reason, .. } => connection_retryable(reason),
            Self::Tls { failure, .. } => failure.is_retryable(),
            Self::Auth(_) => false,
        }
    }
}

/// Why a TLS handshake failed, sorted by what the user does about it.
/// Each message says what to do.
///
/// A first connection that fails this way ends the client with
/// [`ConnectError::Tls`]. A reconnect that fails this way is retried with
/// the backoff, as any failed reconnect is; the
/// [`DisconnectReason::Transport`](crate::DisconnectReason::Transport) it
/// reports holds an `io::Error` whose inner error
/// ([`get_ref`](std::io::Error::get_ref)) is this `TlsFailure`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsFailure {
    /// No trusted CA issued the broker's certificate (a self-signed
    /// certificate, or a private CA the client does not trust).
    #[error(
        "the broker's certificate is signed by an unknown CA; trust its CA with TlsOptions::ca_file"
    )]
    UnknownIssuer,
    /// The broker's certificate was issued for other names than the one
    /// the client connected by (or set with `TlsOptions::server_name`).
    #[error(
        "the broker's certificate is not valid for this host name{}; connect by the name it was issued for, or set TlsOptions::server_name",
        issued_for(names)
    )]
    NotValidForName {
        /// The names the certificate was issued for, when the verifier
        /// said (else empty).
        names: Vec<String>,
    },
    /// The broker's certificate has expired.
    #[error(
        "the broker's certificate has expired; the broker needs a new one (or this machine's clock is wrong)"
    )]
    Expired,
    /// The broker's certificate is not valid yet.
    #[error(
        "the broker's certificate is not valid yet; check this machine's clock, or give the broker a certificate valid now"
    )]
    NotValidYet,
    /// The broker's certificate names a trusted CA as its issuer, but that
    /// CA's key did not sign it: the client trusts another CA of the same
    /// name.
    #[error(
        "the broker's certificate names a trusted CA as its issuer but that CA's key did not sign it (a different CA with the same name?); trust the CA that signed it with TlsOptions::ca_file"
    )]
    BadSignature,
    /// The broker's certificate did not verify for another reason (bad
    /// encoding, wrong key usage, unsupported signature algorithm, …).
    #[error("the broker's certificate did not verify: {0}")]
    InvalidCertificate(String),
    /// The broker ended the handshake with an alert: typically it requires
    /// a client certificate, or does not accept the one given
    /// (`TlsOptions::client_cert`).
    #[error(
        "the broker rejected the TLS handshake ({alert}): a client certificate may be required or not accepted"
    )]
    HandshakeRejected {
        /// The TLS alert the broker sent, such as `CertificateRequired`,
        /// `BadCertificate` or `UnknownCA`.
        alert: String,
    },
    /// The broker closed or reset the connection during the handshake,
    /// or answered with something that is not TLS: the port may be a
    /// plain `mqtt://` listener.
    #[error(
        "the TLS handshake failed ({0}): the port may not speak TLS; use mqtt:// for a plain listener, or the broker's TLS port (often 8883)"
    )]
    NotTls(String),
    /// Any other handshake failure (the peer broke the protocol, or
    /// offered nothing in common).
    #[error("TLS handshake failed: {0}")]
    Other(String),
}

impl TlsFailure {
    /// Whether trying again later may succeed without changing anything.
    ///
    /// False for a certificate that does not verify and for a handshake
    /// the broker rejected: the same certificates fail the same way until
    /// someone changes the broker's certificate or the client's options.
    /// True for [`Other`](Self::Other) and [`NotTls`](Self::NotTls), which
    /// also cover a stream broken on its way (a middlebox, a truncated
    /// connection, a broker restarting), as for [`ConnectError::Io`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Other(_) | Self::NotTls(_))
    }
}

/// What to try when a broker accepted the connection but never answered
/// CONNECT.
fn no_answer_hint(protocol: ProtocolVersion) -> &'static str {
    if protocol == ProtocolVersion::V5 {
        "a broker that does not speak MQTT 5.0 may ignore its CONNECT: try .protocol(ProtocolVersion::V3_1_1); or the port may not be an MQTT listener (TLS, WebSocket, another service)"
    } else {
        "the port may not be an MQTT listener (TLS, WebSocket, another service), or the broker may be overloaded"
    }
}

/// `" (it was issued for a, b)"`, or nothing without names.
fn issued_for(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" (it was issued for {})", names.join(", "))
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
