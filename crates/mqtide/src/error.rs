//! The client's errors. Every variant is `Clone`: one failure may be
//! reported to many waiters (every pending publish of a connection that
//! broke).

use std::io;
use std::sync::Arc;

use mqtide_proto::{ConnectionError, ReasonCode, RequestError, UsageError};

use crate::state::DisconnectReason;

/// Everything that can go wrong with a [`Client`](crate::Client) call.
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
    /// The broker refused the request, or its session was lost.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The client has shut down (after `disconnect`, or a failure it does
    /// not recover from).
    #[error("the client is closed")]
    Closed,
    /// A helper's wait (such as [`oneshot::subscribe_simple`](crate::oneshot::subscribe_simple)) ran out of time.
    #[error("timed out")]
    Timeout,
    /// The connection was lost and the client does not reconnect
    /// ([`no_reconnect`](crate::ClientBuilder::no_reconnect)): what was
    /// waiting for it fails with the reason.
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
    /// The MQTT 5.0 reason code behind the error, if the broker gave one.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Self::Connect(ConnectError::Refused { reason_code, .. }) => Some(*reason_code),
            Self::Request(RequestError::Rejected { reason_code, .. }) => Some(*reason_code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect(e) => e.is_retryable(),
            Self::Request(e) => e.is_retryable(),
            Self::ConnectionLost(_) => true,
            _ => false,
        }
    }
}

impl DisconnectReason {
    /// Whether connecting again may succeed without changing anything:
    /// not after a refusal such as bad credentials, a certificate that
    /// does not verify ([`TlsFailure::is_retryable`]), our own
    /// authenticator failing, or a configuration the session cannot send.
    /// (Here, beside the errors whose `is_retryable` it agrees with.)
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Session(e) => e.is_retryable(),
            Self::Transport(e) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<TlsFailure>())
                .is_none_or(TlsFailure::is_retryable),
            Self::Auth(_) => false,
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
    /// The transport or the CONNACK took longer than the connect timeout.
    #[error("connecting to {addr} timed out after {seconds:.1} s")]
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
    /// The connection ended before CONNACK (the broker closed it, or broke
    /// the protocol).
    #[error("the connection to {addr} ended before CONNACK: {reason}")]
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
            Self::Timeout { .. } | Self::Io { .. } | Self::Lost { .. } => true,
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
    /// Any other handshake failure (the peer does not speak TLS, broke
    /// the protocol, or offered nothing in common).
    #[error("TLS handshake failed: {0}")]
    Other(String),
}

impl TlsFailure {
    /// Whether trying again later may succeed without changing anything.
    ///
    /// False for a certificate that does not verify and for a handshake
    /// the broker rejected: the same certificates fail the same way until
    /// someone changes the broker's certificate or the client's options.
    /// True for [`Other`](Self::Other), which also covers a stream broken
    /// on its way (a middlebox, a truncated connection), as for
    /// [`ConnectError::Io`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Other(_))
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
