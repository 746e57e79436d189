//! SCRAM-SHA-256 (RFC 5802, RFC 7677), the client's side, carried in MQTT
//! 5.0 AUTH packets. The hashing, HMAC, PBKDF2 and random numbers come from
//! `ring`, the crypto library rustls already brings in; nothing here
//! implements a primitive of its own.
//!
//! The exchange, with the MQTT packet that carries each message:
//!
//! ```text
//! CONNECT / AUTH 0x19   client-first   n,,n=<user>,r=<client nonce>
//! AUTH 0x18             server-first   r=<client nonce><server nonce>,s=<salt>,i=<iterations>
//! AUTH 0x18             client-final   c=biws,r=<nonce>,p=<client proof>
//! CONNACK / AUTH 0x00   server-final   v=<server signature>   (or e=<error>)
//! ```

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};

use super::{AuthError, Authenticator};

/// The GS2 header of every client-first message: no channel binding
/// ("n"), no authorization identity (the empty field).
const GS2_HEADER: &str = "n,,";

/// Random bytes in a client nonce: 144 bits, 24 base64 characters (the
/// base64 alphabet has no ',', which the nonce must not contain).
const NONCE_BYTES: usize = 18;

/// The size of a SHA-256 output: SaltedPassword, ClientKey, proofs and
/// signatures.
const KEY_LEN: usize = 32;

/// SCRAM-SHA-256 enhanced authentication (RFC 5802 and RFC 7677): the
/// password never crosses the wire, and the broker proves in its last
/// message that it knows the password too (a broker that does not is
/// refused with [`AuthError::ServerSignature`]).
///
/// ```no_run
/// # #[cfg(feature = "scram")]
/// # async fn demo() -> Result<(), mqtide::Error> {
/// use mqtide::auth::ScramSha256;
/// use mqtide::{Client, ProtocolVersion};
///
/// let client = Client::builder("mqtts://broker.example:8883")
///     .protocol(ProtocolVersion::V5)
///     .authenticator(ScramSha256::new("sensor-1", "correct horse battery staple"))
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// What it accepts from the broker:
///
/// - an iteration count from [`MIN_ITERATIONS`](Self::MIN_ITERATIONS)
///   (4096, RFC 7677's floor) to [`max_iterations`](Self::max_iterations)
///   (default [`DEFAULT_MAX_ITERATIONS`](Self::DEFAULT_MAX_ITERATIONS)):
///   fewer would make a stolen server key cheap to crack, more would let a
///   broker make the client spend seconds of CPU;
/// - a nonce that extends the client's with at least one character of the
///   broker's own.
///
/// The key derivation (PBKDF2 over the iteration count) runs once per salt
/// and iteration count; re-authentications against the same broker reuse
/// its result, as RFC 5802 §5.1 allows.
///
/// **Limitation:** the password and user name are used as given, in
/// UTF-8, without SASLprep (RFC 4013). For printable ASCII, SASLprep
/// changes nothing, so such credentials work with every server. A password
/// with non-ASCII characters works only if the broker hashed the same
/// UTF-8 bytes (SASLprep would, for instance, map a non-ASCII space to
/// U+0020 and normalize to NFKC first).
///
/// No channel binding (SCRAM-SHA-256-PLUS): MQTT has no standard way to
/// carry it.
pub struct ScramSha256 {
    username: String,
    password: String,
    max_iterations: u32,
    nonces: Nonces,
    state: State,
    /// The keys derived for the last salt and iteration count.
    keys: Option<Keys>,
}

/// Where client nonces come from.
#[derive(Debug)]
enum Nonces {
    /// The operating system's CSPRNG.
    Random(SystemRandom),
    /// One fixed nonce, for the RFC's test vector.
    #[cfg(test)]
    Fixed(&'static str),
}

/// Where the exchange stands.
enum State {
    /// No exchange under way: before `start`, after `finish`, after a
    /// failure.
    Idle,
    /// client-first sent; the broker's server-first is next.
    SentFirst {
        /// The client's nonce.
        nonce: String,
        /// client-first-message-bare, part of the AuthMessage.
        first_bare: String,
    },
    /// client-final sent; the broker's server-final is next.
    SentFinal {
        server_key: hmac::Key,
        auth_message: String,
    },
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::SentFirst { .. } => "client-first sent",
            Self::SentFinal { .. } => "client-final sent",
        }
    }
}

/// ClientKey and ServerKey for one salt and iteration count.
struct Keys {
    salt: Vec<u8>,
    iterations: u32,
    client_key: [u8; KEY_LEN],
    server_key: hmac::Key,
}

impl Keys {
    /// SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations);
    /// ClientKey and ServerKey are HMACs of fixed strings under it.
    fn derive(password: &str, salt: Vec<u8>, iterations: NonZeroU32) -> Self {
        let mut salted = [0u8; KEY_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.as_bytes(),
            &mut salted,
        );
        let salted = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let mut client_key = [0u8; KEY_LEN];
        client_key.copy_from_slice(hmac::sign(&salted, b"Client Key").as_ref());
        let server_key = hmac::sign(&salted, b"Server Key");
        Self {
            salt,
            iterations: iterations.get(),
            client_key,
            server_key: hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()),
        }
    }
}

impl ScramSha256 {
    /// The lowest iteration count accepted (RFC 7677 §4: at least 4096).
    pub const MIN_ITERATIONS: u32 = 4096;

    /// The highest iteration count accepted unless
    /// [`max_iterations`](Self::max_iterations) says otherwise. PBKDF2 over
    /// a million iterations of HMAC-SHA-256 takes in the order of a second
    /// of CPU.
    pub const DEFAULT_MAX_ITERATIONS: u32 = 1_000_000;

    /// Authenticates as `username` with `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            max_iterations: Self::DEFAULT_MAX_ITERATIONS,
            nonces: Nonces::Random(SystemRandom::new()),
            state: State::Idle,
            keys: None,
        }
    }

    /// The same, with one fixed client nonce (the RFC test vector's).
    #[cfg(test)]
    pub(crate) fn with_nonce(
        username: impl Into<String>,
        password: impl Into<String>,
        nonce: &'static str,
    ) -> Self {
        Self {
            nonces: Nonces::Fixed(nonce),
            ..Self::new(username, password)
        }
    }

    /// Accepts iteration counts up to `max` (at least
    /// [`MIN_ITERATIONS`](Self::MIN_ITERATIONS)), for brokers that store
    /// keys with more than [`DEFAULT_MAX_ITERATIONS`](Self::DEFAULT_MAX_ITERATIONS).
    pub fn max_iterations(mut self, max: u32) -> Self {
        self.max_iterations = max.max(Self::MIN_ITERATIONS);
        self
    }

    fn nonce(&self) -> Result<String, AuthError> {
        match &self.nonces {
            Nonces::Random(rng) => {
                let mut bytes = [0u8; NONCE_BYTES];
                rng.fill(&mut bytes).map_err(|_| AuthError::Random)?;
                Ok(BASE64.encode(bytes))
            }
            #[cfg(test)]
            Nonces::Fixed(nonce) => Ok((*nonce).to_owned()),
        }
    }

    /// ClientKey and ServerKey for this salt and iteration count, derived
    /// (PBKDF2) only when they differ from the last exchange's.
    fn keys(&mut self, salt: Vec<u8>, iterations: NonZeroU32) -> &Keys {
        if self
            .keys
            .as_ref()
            .is_some_and(|k| k.salt != salt || k.iterations != iterations.get())
        {
            self.keys = None;
        }
        self.keys
            .get_or_insert_with(|| Keys::derive(&self.password, salt, iterations))
    }

    /// Reads server-first and answers client-final.
    fn client_final(
        &mut self,
        nonce: &str,
        first_bare: &str,
        data: Option<&[u8]>,
    ) -> Result<(String, State), AuthError> {
        const MESSAGE: &str = "server-first-message";
        let server_first = text(MESSAGE, data)?;
        let first = ServerFirst::parse(server_first)?;
        if first.nonce.len() <= nonce.len() || !first.nonce.starts_with(nonce) {
            return Err(AuthError::NonceMismatch);
        }
        let iterations = NonZeroU32::new(first.iterations)
            .filter(|n| (Self::MIN_ITERATIONS..=self.max_iterations).contains(&n.get()))
            .ok_or(AuthError::IterationCount {
                count: first.iterations,
                min: Self::MIN_ITERATIONS,
                max: self.max_iterations,
            })?;
        let keys = self.keys(first.salt, iterations);

        let without_proof = format!("c={},r={}", BASE64.encode(GS2_HEADER), first.nonce);
        let auth_message = format!("{first_bare},{server_first},{without_proof}");
        let stored_key = digest::digest(&digest::SHA256, &keys.client_key);
        let stored_key = hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref());
        let signature = hmac::sign(&stored_key, auth_message.as_bytes());
        let mut proof = keys.client_key;
        for (p, s) in proof.iter_mut().zip(signature.as_ref()) {
            *p ^= s;
        }
        let client_final = format!("{without_proof},p={}", BASE64.encode(proof));
        let next = State::SentFinal {
            server_key: keys.server_key.clone(),
            auth_message,
        };
        Ok((client_final, next))
    }
}

impl Authenticator for ScramSha256 {
    fn method(&self) -> &str {
        "SCRAM-SHA-256"
    }

    fn start(&mut self) -> Result<Option<Bytes>, AuthError> {
        self.state = State::Idle;
        if self.username.is_empty() {
            return Err(AuthError::InvalidCredentials("SCRAM needs a user name"));
        }
        let nonce = self.nonce()?;
        let first_bare = format!("n={},r={nonce}", sasl_name(&self.username));
        let first = format!("{GS2_HEADER}{first_bare}");
        self.state = State::SentFirst { nonce, first_bare };
        Ok(Some(Bytes::from(first)))
    }

    fn step(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
        // Any failure leaves the exchange over: the next call must be `start`.
        match std::mem::replace(&mut self.state, State::Idle) {
            State::SentFirst { nonce, first_bare } => {
                let (client_final, next) = self.client_final(&nonce, &first_bare, data)?;
                self.state = next;
                Ok(Some(Bytes::from(client_final)))
            }
            State::Idle => Err(AuthError::OutOfOrder(
                "AUTH Continue Authentication with no SCRAM exchange under way",
            )),
            State::SentFinal { .. } => Err(AuthError::OutOfOrder(
                "AUTH Continue Authentication after the client's proof; SCRAM expects success",
            )),
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError> {
        const MESSAGE: &str = "server-final-message";
        let (server_key, auth_message) = match std::mem::replace(&mut self.state, State::Idle) {
            State::SentFinal {
                server_key,
                auth_message,
            } => (server_key, auth_message),
            State::Idle => {
                return Err(AuthError::OutOfOrder(
                    "authentication success with no SCRAM exchange under way",
                ));
            }
            State::SentFirst { .. } => {
                return Err(AuthError::OutOfOrder(
                    "authentication success before the client sent its proof",
                ));
            }
        };
        let server_final = text(MESSAGE, data)?;
        // server-final-message = (server-error / verifier) ["," extensions]
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(AuthError::ServerError(error.to_owned()));
        }
        let signature = attribute(MESSAGE, Some(first), 'v')?;
        let signature = BASE64
            .decode(signature)
            .map_err(|e| malformed(MESSAGE, format!("v= is not base64: {e}")))?;
        hmac::verify(&server_key, auth_message.as_bytes(), &signature)
            .map_err(|_| AuthError::ServerSignature)
    }
}

impl fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramSha256")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("max_iterations", &self.max_iterations)
            .field("state", &self.state.name())
            .finish_non_exhaustive()
    }
}

/// server-first-message, parsed.
struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
}

impl<'a> ServerFirst<'a> {
    /// server-first-message = [reserved-mext ","] nonce "," salt ","
    ///                        iteration-count ["," extensions]
    fn parse(message: &'a str) -> Result<Self, AuthError> {
        const MESSAGE: &str = "server-first-message";
        let mut attributes = message.split(',');
        let mut next = attributes.next();
        if let Some(mext) = next.and_then(|a| a.strip_prefix("m=")) {
            return Err(AuthError::UnsupportedExtension(mext.to_owned()));
        }
        let nonce = attribute(MESSAGE, next, 'r')?;
        // printable = %x21-2B / %x2D-7E (no ',', which split removed).
        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(malformed(MESSAGE, "the nonce is not printable ASCII"));
        }
        next = attributes.next();
        let salt = BASE64
            .decode(attribute(MESSAGE, next, 's')?)
            .map_err(|e| malformed(MESSAGE, format!("s= is not base64: {e}")))?;
        if salt.is_empty() {
            return Err(malformed(MESSAGE, "the salt is empty"));
        }
        next = attributes.next();
        let count = attribute(MESSAGE, next, 'i')?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(MESSAGE, "i= is not a decimal number"));
        }
        let iterations = count
            .parse()
            .map_err(|_| malformed(MESSAGE, "i= does not fit in 32 bits"))?;
        // Whatever follows is extensions, which the client may ignore.
        Ok(Self {
            nonce,
            salt,
            iterations,
        })
    }
}

/// The value of `attribute` ("x=value"), which must be `name`.
fn attribute<'a>(
    message: &'static str,
    attribute: Option<&'a str>,
    name: char,
) -> Result<&'a str, AuthError> {
    attribute
        .and_then(|a| a.strip_prefix(name))
        .and_then(|a| a.strip_prefix('='))
        .ok_or_else(|| malformed(message, format!("expected the attribute {name}=")))
}

/// The server's data as the UTF-8 text SCRAM messages are.
fn text<'a>(message: &'static str, data: Option<&'a [u8]>) -> Result<&'a str, AuthError> {
    let data = data.ok_or(AuthError::MissingData { message })?;
    std::str::from_utf8(data).map_err(|_| malformed(message, "not UTF-8"))
}

fn malformed(message: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::Malformed {
        message,
        reason: reason.into(),
    }
}

/// A user name as a SCRAM saslname: '=' and ',' escaped (RFC 5802 §5.1).
fn sasl_name(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
