//! MQTT 5.0 enhanced authentication (spec §4.12): a challenge/response
//! exchange of AUTH packets, at CONNECT and again whenever the client asks
//! to re-authenticate.
//!
//! An [`Authenticator`] is the client's side of one authentication method.
//! The client drives it; the authenticator only turns the server's data
//! into the next answer:
//!
//! ```text
//! client                                         server
//! CONNECT  method, data = start()          ──▶
//!                                          ◀──   AUTH Continue (0x18), data
//! AUTH Continue, data = step(data)         ──▶
//!      … as many rounds as the method needs …
//!                                          ◀──   CONNACK Success, data
//! finish(data)  (an error ends the connection)
//!
//! later, to re-authenticate on the same connection:
//! AUTH Re-authenticate (0x19), data = start() ──▶
//!                                          ◀──   AUTH Continue, data
//! AUTH Continue, data = step(data)         ──▶
//!                                          ◀──   AUTH Success (0x00), data
//! finish(data)
//! ```
//!
//! A refusal (CONNACK or DISCONNECT with a reason code such as 0x87 Not
//! authorized) ends the exchange without a call to `finish`; the next
//! `start` begins afresh.
//!
//! `ScramSha256` (feature `scram`) is the shipped method: the password
//! never crosses the wire, and the server proves that it knows it too.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

#[cfg(feature = "scram")]
mod scram;

#[cfg(feature = "scram")]
pub use scram::ScramSha256;

/// A client-side MQTT 5.0 enhanced authentication method.
///
/// One value serves one connection at a time, across reconnects: the
/// client calls [`start`](Self::start) for every CONNECT and every
/// re-authentication, so an implementation must reset whatever a previous,
/// possibly unfinished, exchange left behind. Calls for one exchange come
/// in order: `start`, then `step` once per AUTH Continue the server sends,
/// then `finish` once the server accepts.
///
/// Methods run on the connection's task: keep them quick (SCRAM's key
/// derivation is the expensive part and is done once per salt).
pub trait Authenticator: Send + fmt::Debug + 'static {
    /// The Authentication Method sent in CONNECT (e.g. "SCRAM-SHA-256").
    fn method(&self) -> &str;

    /// Starts an exchange (at CONNECT, or a re-authentication): the
    /// Authentication Data to send first, if the method has any.
    fn start(&mut self) -> Result<Option<Bytes>, AuthError>;

    /// The server's AUTH with reason Continue Authentication carried `data`:
    /// the data of our answer (sent as AUTH, Continue Authentication).
    fn step(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError>;

    /// The exchange succeeded (CONNACK Success, or AUTH Success after a
    /// re-authentication) with this final data: check it (SCRAM verifies
    /// the server's signature here). An error ends the connection.
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError>;
}

/// Why authentication failed on the client's side.
///
/// A refusal by the broker is not an `AuthError`: it arrives as a reason
/// code (CONNACK or DISCONNECT). These are the client's own verdicts on
/// what the broker sent, and failures to produce an answer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A message from the server does not follow the method's syntax.
    #[error("malformed {message}: {reason}")]
    Malformed {
        /// Which message (e.g. "server-first-message").
        message: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The server sent no Authentication Data where the method needs some.
    #[error("the server sent no authentication data with its {message}")]
    MissingData {
        /// Which message lacked it.
        message: &'static str,
    },
    /// The server's AUTH or success came at a point of the exchange where
    /// the method expects none (e.g. a second Continue after SCRAM's last
    /// step, or success before the proof was sent).
    #[error("out of order: {0}")]
    OutOfOrder(&'static str),
    /// The server's nonce does not begin with the client's, or adds nothing
    /// to it: a replayed or forged exchange.
    #[error("the server's nonce does not extend the client's nonce")]
    NonceMismatch,
    /// The server asked for an iteration count outside the accepted range:
    /// too few make the stored key cheap to crack, too many let a server
    /// make the client burn CPU.
    #[error("iteration count {count} is outside the accepted range {min}..={max}")]
    IterationCount {
        /// What the server asked for.
        count: u32,
        /// The lowest count accepted.
        min: u32,
        /// The highest count accepted.
        max: u32,
    },
    /// The server requires an extension the client does not implement.
    #[error("the server requires an unsupported extension: {0}")]
    UnsupportedExtension(String),
    /// The server's final signature is wrong: it does not know the
    /// password, or someone between client and server changed the
    /// exchange. The server must not be trusted.
    #[error("the server's signature does not verify: it does not know the password")]
    ServerSignature,
    /// The server ended the exchange with an error of the method's own
    /// (SCRAM's `e=` attribute).
    #[error("the server reported an authentication error: {0}")]
    ServerError(String),
    /// The credentials cannot be used with this method.
    #[error("invalid credentials: {0}")]
    InvalidCredentials(&'static str),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A failure of a user-written authenticator.
    #[error("{0}")]
    Other(Arc<dyn StdError + Send + Sync>),
}

impl AuthError {
    /// Wraps an error of a user-written [`Authenticator`].
    pub fn other(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Other(Arc::from(error.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_keeps_the_message_and_is_clone() {
        let error = AuthError::other("token expired");
        let copy = error.clone();
        assert_eq!(copy.to_string(), "token expired");
        assert_eq!(error.to_string(), copy.to_string());
        assert!(matches!(copy, AuthError::Other(_)));
    }
}
