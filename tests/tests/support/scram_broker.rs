//! A scripted MQTT 5.0 broker that implements the server side of
//! SCRAM-SHA-256 enhanced authentication (RFC 5802 / RFC 7677 carried in
//! CONNECT, AUTH and CONNACK, MQTT 5.0 §4.12), for the tests of the
//! client's side. Mosquitto has no SCRAM, hence this broker.
//!
//! It listens on a free loopback port and serves every connection:
//!
//! - CONNECT must name SCRAM-SHA-256 (else CONNACK 0x8C Bad authentication
//!   method) and carry client-first; the broker answers AUTH 0x18 with
//!   server-first, reads the client's AUTH 0x18 with client-final, checks
//!   the proof against the stored key and answers CONNACK Success with
//!   server-final, or CONNACK 0x87 Not authorized;
//! - a client AUTH 0x19 (Re-authenticate) runs the exchange again and ends
//!   with AUTH 0x00 Success and server-final, or DISCONNECT 0x87;
//! - PINGREQ gets PINGRESP, a QoS 0 PUBLISH is sent back as it came.
//!
//! The broker keeps only what a real one would: the salt, the iteration
//! count, StoredKey and ServerKey, derived once from the password. It
//! encodes and decodes packets with `mqtide_proto`, and logs what happened
//! ([`Event`]) for the tests to check after the fact.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use mqtide::ProtocolVersion;
use mqtide::proto::{Auth, AuthProperties, ConnAck, Disconnect, Packet, QoS, ReasonCode, Secret};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) const METHOD: &str = "SCRAM-SHA-256";

/// The iteration count the broker stores keys with: RFC 7677's minimum,
/// so that the tests spend little time in PBKDF2.
pub(crate) const ITERATIONS: u32 = 4096;

/// The largest packet the broker accepts; the clients here send small ones.
const MAX_PACKET: u32 = 64 * 1024;

/// When the broker signs its server-final with a key that is not the
/// password's, as a broker that does not know the password would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forge {
    /// An honest broker.
    Never,
    /// At CONNECT (the CONNACK's server-final).
    AtConnect,
    /// At every re-authentication (the AUTH Success's server-final).
    AtReauth,
}

/// What the broker saw, in order, over all connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A client's proof was right (`reauth`: in a re-authentication).
    Authenticated { reauth: bool },
    /// A client's proof was wrong, or it named an unknown user.
    Refused { reauth: bool },
    /// CONNECT named another method, or none.
    BadMethod(Option<String>),
    /// A PINGREQ answered.
    Ping,
    /// A QoS 0 PUBLISH sent back, with its payload.
    Echoed(Bytes),
    /// The client sent DISCONNECT, with its reason code.
    Disconnected(ReasonCode),
    /// The client broke the script (what it did), or the socket failed.
    Failed(String),
}

/// The broker's record of the one user it knows: what a SCRAM server
/// stores instead of the password.
struct StoredUser {
    username: String,
    salt: Vec<u8>,
    iterations: u32,
    stored_key: [u8; 32],
    server_key: hmac::Key,
}

impl StoredUser {
    fn new(username: &str, password: &str) -> Self {
        let rng = SystemRandom::new();
        let mut salt = vec![0u8; 16];
        rng.fill(&mut salt).expect("random salt");
        let iterations = NonZeroU32::new(ITERATIONS).expect("non-zero");
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.as_bytes(),
            &mut salted,
        );
        let salted = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let mut stored_key = [0u8; 32];
        stored_key.copy_from_slice(digest::digest(&digest::SHA256, client_key.as_ref()).as_ref());
        let server_key = hmac::sign(&salted, b"Server Key");
        Self {
            username: username.to_owned(),
            salt,
            iterations: ITERATIONS,
            stored_key,
            server_key: hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()),
        }
    }
}

/// The broker: a listener task that serves every connection it accepts.
#[derive(Debug)]
pub(crate) struct ScramBroker {
    url: String,
    log: Arc<Mutex<Vec<Event>>>,
    task: JoinHandle<()>,
}

impl ScramBroker {
    /// A broker on a free loopback port that knows `username` with
    /// `password`, and forges its signature as `forge` says.
    pub(crate) async fn start(username: &str, password: &str, forge: Forge) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the listener's address");
        let user = Arc::new(StoredUser::new(username, password));
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let log = Arc::clone(&log);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let mut conn = Conn::new(stream, Arc::clone(&user), forge, Arc::clone(&log));
                    tokio::spawn(async move {
                        if let Err(failure) = conn.serve().await {
                            conn.record(Event::Failed(failure));
                        }
                    });
                }
            }
        });
        Self {
            url: format!("mqtt://{addr}"),
            log,
            task,
        }
    }

    /// The URL clients connect to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Everything the broker saw so far.
    pub(crate) fn events(&self) -> Vec<Event> {
        self.log.lock().expect("the log lock").clone()
    }
}

impl Drop for ScramBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How an exchange ended.
enum Verdict {
    /// The proof was right: server-final to send.
    Accepted(String),
    /// The proof was wrong.
    Refused,
}

/// One client connection.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    user: Arc<StoredUser>,
    forge: Forge,
    log: Arc<Mutex<Vec<Event>>>,
}

impl Conn {
    fn new(
        stream: TcpStream,
        user: Arc<StoredUser>,
        forge: Forge,
        log: Arc<Mutex<Vec<Event>>>,
    ) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            user,
            forge,
            log,
        }
    }

    fn record(&self, event: Event) {
        self.log.lock().expect("the log lock").push(event);
    }

    async fn serve(&mut self) -> Result<(), String> {
        let Some(Packet::Connect(connect)) = self.read().await? else {
            return Err("the first packet is not CONNECT".into());
        };
        if connect.protocol != ProtocolVersion::V5 {
            return Err(format!("CONNECT at {:?}, not 5.0", connect.protocol));
        }
        let method = connect.properties.authentication_method.as_deref();
        if method != Some(METHOD) {
            self.record(Event::BadMethod(method.map(str::to_owned)));
            let mut refusal = ConnAck::new(false);
            refusal.reason_code = ReasonCode::BadAuthenticationMethod;
            return self.write(Packet::ConnAck(Box::new(refusal))).await;
        }
        let data = connect.properties.authentication_data.clone();
        let mut connack = ConnAck::new(false);
        match self.exchange(data, false).await? {
            Verdict::Accepted(server_final) => {
                connack.properties.authentication_method = Some(METHOD.into());
                connack.properties.authentication_data = Some(Secret::new(server_final));
                self.write(Packet::ConnAck(Box::new(connack))).await?;
            }
            Verdict::Refused => {
                connack.reason_code = ReasonCode::NotAuthorized;
                return self.write(Packet::ConnAck(Box::new(connack))).await;
            }
        }
        loop {
            match self.read().await? {
                None => return Ok(()),
                Some(Packet::PingReq) => {
                    self.record(Event::Ping);
                    self.write(Packet::PingResp).await?;
                }
                Some(Packet::Publish(publish)) if publish.qos == QoS::AtMostOnce => {
                    self.record(Event::Echoed(publish.payload.clone()));
                    self.write(Packet::Publish(publish)).await?;
                }
                Some(Packet::Auth(auth)) if auth.reason_code == ReasonCode::ReAuthenticate => {
                    check_method(&auth)?;
                    let data = auth.properties.authentication_data;
                    match self.exchange(data, true).await? {
                        Verdict::Accepted(server_final) => {
                            self.write(auth_packet(ReasonCode::Success, server_final))
                                .await?;
                        }
                        Verdict::Refused => {
                            let refusal = Disconnect::new(ReasonCode::NotAuthorized);
                            return self.write(Packet::Disconnect(refusal)).await;
                        }
                    }
                }
                Some(Packet::Disconnect(disconnect)) => {
                    self.record(Event::Disconnected(disconnect.reason_code));
                    return Ok(());
                }
                Some(other) => return Err(format!("unexpected {other:?}")),
            }
        }
    }

    /// One SCRAM exchange, from the client's client-first (in CONNECT or
    /// AUTH 0x19) to the verdict on its proof.
    async fn exchange(
        &mut self,
        client_first: Option<Secret>,
        reauth: bool,
    ) -> Result<Verdict, String> {
        let client_first = utf8(client_first, "client-first")?;
        // gs2-header "n,,": no channel binding, no authorization identity.
        let first_bare = client_first.strip_prefix("n,,").ok_or(format!(
            "client-first without the gs2 header n,,: {client_first}"
        ))?;
        let (name, client_nonce) = first_bare
            .strip_prefix("n=")
            .and_then(|rest| rest.split_once(",r="))
            .ok_or(format!("client-first-bare is not n=..,r=..: {first_bare}"))?;
        let name = name.replace("=2C", ",").replace("=3D", "=");
        let mut server_nonce = [0u8; 18];
        SystemRandom::new()
            .fill(&mut server_nonce)
            .map_err(|_| "no random nonce".to_owned())?;
        let nonce = format!("{client_nonce}{}", BASE64.encode(server_nonce));
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&self.user.salt),
            self.user.iterations
        );
        self.write(auth_packet(
            ReasonCode::ContinueAuthentication,
            server_first.clone(),
        ))
        .await?;

        let answer = match self.read().await? {
            Some(Packet::Auth(auth)) if auth.reason_code == ReasonCode::ContinueAuthentication => {
                check_method(&auth)?;
                auth.properties.authentication_data
            }
            other => return Err(format!("expected AUTH with client-final, got {other:?}")),
        };
        let client_final = utf8(answer, "client-final")?;
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or(format!("client-final without a proof: {client_final}"))?;
        if without_proof != format!("c=biws,r={nonce}") {
            return Err(format!(
                "client-final does not echo the nonce: {client_final}"
            ));
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|e| format!("the proof is not base64: {e}"))?;

        // ClientKey = proof XOR HMAC(StoredKey, AuthMessage); the proof is
        // right when H(ClientKey) is StoredKey.
        let auth_message = format!("{first_bare},{server_first},{without_proof}");
        let stored_key = hmac::Key::new(hmac::HMAC_SHA256, &self.user.stored_key);
        let signature = hmac::sign(&stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(signature.as_ref())
            .map(|(p, s)| p ^ s)
            .collect();
        let known = name == self.user.username;
        if !known
            || proof.len() != 32
            || digest::digest(&digest::SHA256, &client_key).as_ref() != self.user.stored_key
        {
            self.record(Event::Refused { reauth });
            return Ok(Verdict::Refused);
        }
        self.record(Event::Authenticated { reauth });

        let mut server_signature = hmac::sign(&self.user.server_key, auth_message.as_bytes())
            .as_ref()
            .to_vec();
        let forged = match self.forge {
            Forge::Never => false,
            Forge::AtConnect => !reauth,
            Forge::AtReauth => reauth,
        };
        if forged {
            server_signature[0] ^= 0x01;
        }
        Ok(Verdict::Accepted(format!(
            "v={}",
            BASE64.encode(server_signature)
        )))
    }

    /// The next packet, or `None` once the client closed.
    async fn read(&mut self) -> Result<Option<Packet>, String> {
        loop {
            match Packet::decode(&mut self.buf, ProtocolVersion::V5, MAX_PACKET) {
                Ok(Some(packet)) => return Ok(Some(packet)),
                Ok(None) => {}
                Err(e) => return Err(format!("undecodable packet from the client: {e}")),
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("reading: {e}"))?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err("the client closed in the middle of a packet".into());
            }
        }
    }

    async fn write(&mut self, packet: Packet) -> Result<(), String> {
        let mut out = BytesMut::new();
        packet
            .encode(ProtocolVersion::V5, &mut out)
            .map_err(|e| format!("encoding {packet:?}: {e}"))?;
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("writing: {e}"))
    }
}

/// An AUTH packet of the SCRAM method carrying `data`.
fn auth_packet(reason_code: ReasonCode, data: String) -> Packet {
    Packet::Auth(Auth {
        reason_code,
        properties: AuthProperties {
            authentication_method: Some(METHOD.into()),
            authentication_data: Some(Secret::new(data)),
            ..AuthProperties::default()
        },
    })
}

/// Every AUTH in an exchange names the method CONNECT named (MQTT 5.0
/// §4.12).
fn check_method(auth: &Auth) -> Result<(), String> {
    match auth.properties.authentication_method.as_deref() {
        Some(METHOD) => Ok(()),
        other => Err(format!("AUTH with the method {other:?}")),
    }
}

/// A SCRAM message from the client, as text.
fn utf8(data: Option<Secret>, what: &str) -> Result<String, String> {
    let data = data.ok_or(format!("no {what} data"))?;
    String::from_utf8(data.expose().to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}
