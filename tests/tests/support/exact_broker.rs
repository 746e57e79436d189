//! A byte-exact scripted broker for the scenarios ported from Mosquitto's
//! client-library tests: a TCP listener on a free loopback port that reads
//! the client's packets one by one and compares each, byte for byte, with
//! the bytes the test expects, and writes the bytes the script gives.
//!
//! Expected packets are written by hand (see [`wire`]), so that a test pins
//! our wire format rather than our encoder's idea of it.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::time::Duration;

use mqtide::{Backoff, Client, ClientBuilder, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::guard;

/// The largest packet the broker reads; the scenarios send small ones.
const MAX_FRAME: usize = 64 * 1024;

/// A listener on a free loopback port.
#[derive(Debug)]
pub(crate) struct ExactBroker {
    listener: TcpListener,
}

impl ExactBroker {
    /// Listens on 127.0.0.1, on a port the system picks.
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        Self { listener }
    }

    /// The URL clients connect to.
    pub(crate) fn url(&self) -> String {
        let addr = self.listener.local_addr().expect("the listener's address");
        format!("mqtt://{addr}")
    }

    /// Accepts the next connection (nothing read yet).
    pub(crate) async fn accept(&self) -> Conn {
        let (stream, _) = guard("accept a connection", self.listener.accept())
            .await
            .expect("accept a client");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }
}

/// One accepted connection.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// The next whole packet the client sends (fixed header included), or
    /// `None` once it closed the connection (orderly or by reset).
    pub(crate) async fn packet(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(packet) = self.split() {
                return Some(packet);
            }
            let mut chunk = [0u8; 4096];
            match guard("a packet from the client", self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => {
                    assert!(
                        self.buf.is_empty(),
                        "the client closed in the middle of a packet: {}",
                        hex(&self.buf)
                    );
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads one packet and checks it is `expected`, byte for byte.
    pub(crate) async fn expect(&mut self, what: &str, expected: &[u8]) {
        let got = self
            .packet()
            .await
            .unwrap_or_else(|| panic!("{what}: the client closed instead of sending it"));
        assert_eq!(
            hex(&got),
            hex(expected),
            "{what}: the client's bytes (left) differ from the expected (right)"
        );
    }

    /// Writes `bytes` to the client.
    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        guard("write to the client", self.stream.write_all(bytes))
            .await
            .expect("write to the client");
    }

    /// [`expect`](Self::expect), then [`send`](Self::send).
    pub(crate) async fn expect_send(&mut self, what: &str, expected: &[u8], reply: &[u8]) {
        self.expect(what, expected).await;
        self.send(reply).await;
    }

    /// Reads until the client closes; it must send nothing more.
    pub(crate) async fn expect_closed(mut self, what: &str) {
        if let Some(extra) = self.packet().await {
            panic!("{what}: expected the close, got {}", hex(&extra));
        }
    }

    fn split(&mut self) -> Option<Vec<u8>> {
        let rest = self.buf.get(1..)?;
        let mut remaining = 0usize;
        let mut header = None;
        for (i, &byte) in rest.iter().enumerate().take(4) {
            remaining |= usize::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                header = Some(i + 2);
                break;
            }
        }
        let header = header?;
        assert!(remaining <= MAX_FRAME, "a {remaining}-byte packet");
        if self.buf.len() < header + remaining {
            return None;
        }
        Some(self.buf.drain(..header + remaining).collect())
    }
}

/// A packet written by hand: `parts` concatenated, each either hex
/// (`"10 21 00 04"`) or, quoted in single quotes, literal text
/// (`"'MQTT'"`).
pub(crate) fn wire(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        if let Some(text) = part.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')) {
            out.extend_from_slice(text.as_bytes());
        } else {
            for byte in part.split_whitespace() {
                out.push(u8::from_str_radix(byte, 16).expect("a hex byte"));
            }
        }
    }
    out
}

/// `bytes` as spaced hex, for failure messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A client with a fixed id and keep-alive (so that CONNECT is
/// deterministic) and quick reconnects.
pub(crate) fn builder(
    url: &str,
    version: ProtocolVersion,
    id: &str,
    keep_alive: u64,
) -> ClientBuilder {
    Client::builder(url)
        .protocol(version)
        .client_id(id)
        .keep_alive(Duration::from_secs(keep_alive))
        .reconnect(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
}

/// Builds the client and runs its event loop in a task.
pub(crate) fn start(builder: ClientBuilder) -> (Client, JoinHandle<()>) {
    let (client, connection) = builder.build().expect("a valid client configuration");
    (client, tokio::spawn(connection.run()))
}

/// Once the client is connected, disconnects it: it sends a normal
/// DISCONNECT (`e0 00`, both versions), closes, and its event loop ends.
pub(crate) async fn disconnects(client: Client, mut conn: Conn, task: JoinHandle<()>) {
    guard("connected", client.wait_connected())
        .await
        .expect("connected");
    guard("disconnect", client.disconnect())
        .await
        .expect("a clean disconnect");
    conn.expect("DISCONNECT", &wire(&["e0 00"])).await;
    conn.expect_closed("after DISCONNECT").await;
    guard("the event loop ends", task)
        .await
        .expect("the event loop panicked");
}

/// The CONNECT of a client from [`builder`] with `flags` (0x02: clean
/// start), keep-alive 60 s and no will or credentials; under 5.0
/// `properties` (their bytes, without the length) precede it.
/// `mosquitto_lib_connect.rs` pins these bytes by hand; the other
/// scenarios build them here to stay short.
pub(crate) fn connect(version: ProtocolVersion, flags: u8, id: &str, properties: &[u8]) -> Vec<u8> {
    let mut body = wire(&["00 04", "'MQTT'"]);
    body.push(if version == ProtocolVersion::V5 { 5 } else { 4 });
    body.extend([flags, 0, 60]);
    if version == ProtocolVersion::V5 {
        body.push(u8::try_from(properties.len()).expect("short properties"));
        body.extend_from_slice(properties);
    }
    body.extend(u16::try_from(id.len()).expect("a short id").to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    let mut out = vec![0x10, u8::try_from(body.len()).expect("a short CONNECT")];
    out.extend(body);
    out
}

/// Maximum Packet Size 16 MiB, which every 5.0 CONNECT carries.
pub(crate) const MAX_PACKET: &str = "27 01 00 00 00";

/// The plain CONNECT (clean start, no properties but Maximum Packet Size).
pub(crate) fn plain_connect(version: ProtocolVersion, id: &str) -> Vec<u8> {
    connect(version, 0x02, id, &wire(&[MAX_PACKET]))
}

/// A CONNACK accepting the connection, with `session_present`.
pub(crate) fn connack(version: ProtocolVersion, session_present: bool) -> Vec<u8> {
    let sp = u8::from(session_present);
    if version == ProtocolVersion::V5 {
        vec![0x20, 3, sp, 0, 0]
    } else {
        vec![0x20, 2, sp, 0]
    }
}

/// `v311` under 3.1.1, `v5` under 5.0.
pub(crate) fn per(version: ProtocolVersion, v311: &[&str], v5: &[&str]) -> Vec<u8> {
    if version == ProtocolVersion::V5 {
        wire(v5)
    } else {
        wire(v311)
    }
}

/// Accepts a connection, checks its plain CONNECT and accepts it.
pub(crate) async fn accept_plain(broker: &ExactBroker, version: ProtocolVersion, id: &str) -> Conn {
    let mut conn = broker.accept().await;
    conn.expect_send(
        "CONNECT",
        &plain_connect(version, id),
        &connack(version, false),
    )
    .await;
    conn
}
