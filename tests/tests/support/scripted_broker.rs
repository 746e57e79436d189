//! A scripted broker for the hostile-broker tests: a TCP listener on a free
//! loopback port that speaks raw bytes, so that a test can send what no
//! real broker would and read back, packet by packet, what the client
//! answers. It frames the client's packets itself (first byte, remaining
//! length, body) instead of decoding them with the library under test.
//!
//! The packet builders at the bottom write packets by hand, wrong ones
//! included, so that each script reads as a dialogue.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::io;

use mqtide::proto::ConnectionError;
use mqtide::{
    Client, ClientBuilder, Connection, ConnectionEvent, DisconnectReason, ProtocolVersion,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::support::{client, guard};

/// Packet types, as the high four bits of the first byte.
pub(crate) const CONNECT: u8 = 1;
pub(crate) const CONNACK: u8 = 2;
pub(crate) const PUBLISH: u8 = 3;
pub(crate) const PUBACK: u8 = 4;
pub(crate) const PUBREC: u8 = 5;
pub(crate) const PUBREL: u8 = 6;
pub(crate) const PUBCOMP: u8 = 7;
pub(crate) const SUBACK: u8 = 9;
pub(crate) const UNSUBACK: u8 = 11;
pub(crate) const PINGREQ: u8 = 12;
pub(crate) const DISCONNECT: u8 = 14;

/// The largest packet the broker accepts from the client. The clients in
/// these tests send small packets only; a larger one fails the test
/// instead of making the broker allocate what the client announced.
const MAX_FRAME: usize = 64 * 1024;

/// A listener on a free loopback port that hands out [`Peer`]s.
#[derive(Debug)]
pub(crate) struct ScriptedBroker {
    listener: TcpListener,
    version: ProtocolVersion,
}

impl ScriptedBroker {
    /// Listens on 127.0.0.1, on a port the system picks.
    pub(crate) async fn bind(version: ProtocolVersion) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        Self { listener, version }
    }

    /// The URL clients connect to.
    pub(crate) fn url(&self) -> String {
        let addr = self.listener.local_addr().expect("the listener's address");
        format!("mqtt://{addr}")
    }

    /// Accepts the next connection, checks that its first packet is a
    /// CONNECT at the expected protocol level, and answers with a CONNACK
    /// that accepts it (no session present).
    pub(crate) async fn accept(&self) -> Peer {
        let (stream, _) = self.listener.accept().await.expect("accept a client");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (read, write) = stream.into_split();
        let mut peer = Peer {
            reader: FrameReader {
                half: read,
                buf: Vec::new(),
            },
            writer: Writer {
                half: write,
                written: 0,
            },
        };
        let connect = peer
            .reader
            .next()
            .await
            .expect("read the CONNECT")
            .expect("the client closed before sending CONNECT");
        assert_eq!(connect.kind(), CONNECT, "first packet: {connect:?}");
        // Protocol name "MQTT" (2 + 4 bytes), then the protocol level.
        assert_eq!(
            connect.body.get(6).copied(),
            Some(protocol_level(self.version)),
            "CONNECT at the wrong protocol level: {connect:?}"
        );
        peer.writer
            .send(&connack(self.version))
            .await
            .expect("send CONNACK");
        peer
    }
}

/// One accepted connection, after CONNECT and CONNACK.
#[derive(Debug)]
pub(crate) struct Peer {
    /// What the client sends.
    pub(crate) reader: FrameReader,
    /// What the broker sends.
    pub(crate) writer: Writer,
}

/// One packet from the client, framed but not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The first byte: type and flags.
    pub(crate) first: u8,
    /// Everything after the remaining length.
    pub(crate) body: Vec<u8>,
}

impl Frame {
    /// The packet type.
    pub(crate) fn kind(&self) -> u8 {
        self.first >> 4
    }

    /// For a DISCONNECT, its reason code: the first body byte, 0x00 when
    /// the body is empty (3.1.1, or 5.0 "normal disconnection").
    pub(crate) fn disconnect_reason(&self) -> Option<u8> {
        (self.first == DISCONNECT << 4).then(|| self.body.first().copied().unwrap_or(0))
    }

    /// For an acknowledgement, its packet identifier.
    pub(crate) fn packet_id(&self) -> Option<u16> {
        match self.body.as_slice() {
            [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }
}

/// How the client's side of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// An orderly close (FIN).
    Eof,
    /// A reset: the client closed with bytes it had not read.
    Reset,
}

/// Reads the client's packets.
#[derive(Debug)]
pub(crate) struct FrameReader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
}

impl FrameReader {
    /// The next whole packet, or `None` once the client closed. A packet
    /// cut off by the close fails the test.
    pub(crate) async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.split_frame() {
                return Ok(Some(frame));
            }
            let mut chunk = [0u8; 4096];
            let n = self.half.read(&mut chunk).await?;
            if n == 0 {
                assert!(
                    self.buf.is_empty(),
                    "the client closed in the middle of a packet: {:02x?}",
                    self.buf
                );
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Every packet until the client closes the connection, and how it
    /// closed.
    pub(crate) async fn until_closed(mut self) -> (Vec<Frame>, Closed) {
        let mut frames = Vec::new();
        loop {
            match self.next().await {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (frames, Closed::Eof),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return (frames, Closed::Reset);
                }
                Err(e) => panic!("reading from the client: {e}"),
            }
        }
    }

    fn split_frame(&mut self) -> Option<Frame> {
        let (&first, rest) = self.buf.split_first()?;
        let mut remaining = 0usize;
        let mut header = 1;
        for (i, &byte) in rest.iter().enumerate() {
            assert!(i < 4, "the client sent a 5-byte remaining length");
            remaining |= usize::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                header = i + 2;
                break;
            }
        }
        if header == 1 {
            return None;
        }
        assert!(
            remaining <= MAX_FRAME,
            "the client sent a {remaining}-byte packet"
        );
        if self.buf.len() < header + remaining {
            return None;
        }
        let body = self.buf[header..header + remaining].to_vec();
        self.buf.drain(..header + remaining);
        Some(Frame { first, body })
    }
}

/// Writes to the client and counts what it wrote.
#[derive(Debug)]
pub(crate) struct Writer {
    half: OwnedWriteHalf,
    /// Bytes written so far.
    pub(crate) written: u64,
}

impl Writer {
    /// Writes `bytes`; fails once the client has gone.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.half.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

// ----- a client against the broker -----

/// One client against one scripted broker.
pub(crate) struct Harness {
    version: ProtocolVersion,
    broker: ScriptedBroker,
    pub(crate) client: Client,
    events: broadcast::Receiver<ConnectionEvent>,
    connection: Option<Connection>,
    pub(crate) task: Option<JoinHandle<()>>,
}

/// What one attack produced.
#[derive(Debug)]
pub(crate) struct Attack<T> {
    /// The reason the client reported.
    pub(crate) error: ConnectionError,
    /// Every packet the client sent after CONNACK, until it closed.
    pub(crate) frames: Vec<Frame>,
    pub(crate) closed: Closed,
    /// What the script returned.
    pub(crate) value: T,
}

impl Harness {
    /// A client for a new scripted broker, built but not running yet (so
    /// that a test can take a message stream before any packet arrives).
    pub(crate) async fn new(
        version: ProtocolVersion,
        name: &str,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Self {
        let broker = ScriptedBroker::bind(version).await;
        let builder = configure(client(&broker.url(), version, name));
        let (client, connection) = builder.build().expect("a valid client configuration");
        let events = client.events();
        Self {
            version,
            broker,
            client,
            events,
            connection: Some(connection),
            task: None,
        }
    }

    /// Starts the client and accepts its first connection.
    pub(crate) async fn connect(&mut self) -> Peer {
        let connection = self.connection.take().expect("connect once");
        self.task = Some(tokio::spawn(connection.run()));
        let peer = guard("accept the first connection", self.broker.accept()).await;
        self.connected().await;
        peer
    }

    async fn event(&mut self) -> ConnectionEvent {
        guard("a connection event", self.events.recv())
            .await
            .expect("the client's event channel")
    }

    async fn connected(&mut self) {
        loop {
            match self.event().await {
                ConnectionEvent::Connected { .. } => return,
                ConnectionEvent::Disconnected { reason } => {
                    panic!("disconnected instead of connecting: {reason}")
                }
                _ => {}
            }
        }
    }

    /// Runs `script` against the connection while reading everything the
    /// client sends until it closes, then waits for the client to report
    /// why the connection ended.
    pub(crate) async fn attack<T>(
        &mut self,
        peer: Peer,
        script: impl AsyncFnOnce(&mut Writer) -> T,
    ) -> Attack<T> {
        let Peer { reader, mut writer } = peer;
        let reading = tokio::spawn(reader.until_closed());
        let value = guard("the broker's script", script(&mut writer)).await;
        let (frames, closed) = guard("the client closes the connection", reading)
            .await
            .expect("the reading task");
        let error = loop {
            match self.event().await {
                ConnectionEvent::Disconnected {
                    reason: DisconnectReason::Session(error),
                } => break error,
                ConnectionEvent::Disconnected { reason } => {
                    panic!("the client reported no protocol error but: {reason}")
                }
                _ => {}
            }
        };
        Attack {
            error,
            frames,
            closed,
            value,
        }
    }

    /// The client connects again and the broker accepts; then the client
    /// disconnects cleanly, and its event loop ends without a panic.
    pub(crate) async fn reconnects_and_closes(mut self) {
        let peer = guard("accept the reconnection", self.broker.accept()).await;
        self.connected().await;
        let Peer { reader, writer } = peer;
        let reading = tokio::spawn(reader.until_closed());
        guard("disconnect", self.client.disconnect())
            .await
            .expect("a clean disconnect");
        let (frames, _) = guard("the client closes", reading)
            .await
            .expect("the reading task");
        assert_eq!(
            frames
                .iter()
                .map(|f| f.disconnect_reason())
                .collect::<Vec<_>>(),
            [Some(0)],
            "a clean disconnect sends one normal DISCONNECT ({})",
            self.version
        );
        drop(writer);
        let task = self.task.take().expect("the event loop task");
        guard("the event loop ends", task)
            .await
            .expect("the event loop panicked");
    }
}

/// The end of a connection the client ended for a protocol error: under
/// 5.0 its last packet is DISCONNECT with `code`; under 3.1.1 there is no
/// DISCONNECT at all. Packets before it must be of a kind in `before`.
pub(crate) fn assert_ended_with(
    version: ProtocolVersion,
    frames: &[Frame],
    code: u8,
    before: &[u8],
) {
    let (body, last) = if version == ProtocolVersion::V5 {
        let (last, body) = frames.split_last().unwrap_or_else(|| {
            panic!("under 5.0 the client must send DISCONNECT; it sent nothing")
        });
        (body, Some(last))
    } else {
        (frames, None)
    };
    if let Some(last) = last {
        assert_eq!(
            last.disconnect_reason(),
            Some(code),
            "the client's last packet: {last:02x?}"
        );
    }
    for frame in body {
        assert!(
            before.contains(&frame.kind()),
            "unexpected packet before the end ({version}): {frame:02x?}"
        );
    }
}

/// Connects, sends `bytes` after CONNACK, and checks that the client
/// reports `expected`, ends the connection with `code` (5.0) or a plain
/// close (3.1.1), and reconnects.
pub(crate) async fn refuses(
    version: ProtocolVersion,
    name: &str,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    bytes: &[u8],
    expected: ConnectionError,
    code: u8,
) {
    let mut h = Harness::new(version, name, configure).await;
    let peer = h.connect().await;
    let attack = h
        .attack(peer, async |w| {
            w.send(bytes).await.expect("send the attack");
        })
        .await;
    assert_eq!(attack.error, expected, "{name} ({version})");
    assert_ended_with(version, &attack.frames, code, &[]);
    h.reconnects_and_closes().await;
}

// ----- packet builders -----

/// The protocol level byte of CONNECT.
pub(crate) fn protocol_level(version: ProtocolVersion) -> u8 {
    match version {
        ProtocolVersion::V3_1 => 3,
        ProtocolVersion::V3_1_1 => 4,
        _ => 5,
    }
}

/// `value` as a variable byte integer (at most 268,435,455).
pub(crate) fn var_int(mut value: usize) -> Vec<u8> {
    assert!(
        value <= 268_435_455,
        "{value} does not fit a variable byte integer"
    );
    let mut out = Vec::new();
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A packet: `first`, the remaining length of `body`, `body`.
pub(crate) fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(var_int(body.len()));
    out.extend_from_slice(body);
    out
}

/// A CONNACK accepting the connection, no session present, no properties.
pub(crate) fn connack(version: ProtocolVersion) -> Vec<u8> {
    if version == ProtocolVersion::V5 {
        packet(CONNACK << 4, &[0, 0, 0])
    } else {
        packet(CONNACK << 4, &[0, 0])
    }
}

/// A PUBLISH at `qos` (0 to 3: the QoS bits are written as given) with
/// `topic` as raw bytes, a packet identifier when `id` is set, and under
/// 5.0 the property bytes `properties`.
pub(crate) fn publish(
    version: ProtocolVersion,
    qos: u8,
    topic: &[u8],
    id: Option<u16>,
    properties: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let topic_len = u16::try_from(topic.len()).expect("a short topic");
    let mut body = topic_len.to_be_bytes().to_vec();
    body.extend_from_slice(topic);
    if let Some(id) = id {
        body.extend(id.to_be_bytes());
    }
    if version == ProtocolVersion::V5 {
        body.extend(var_int(properties.len()));
        body.extend_from_slice(properties);
    } else {
        assert!(properties.is_empty(), "no properties under 3.1.1");
    }
    body.extend_from_slice(payload);
    packet(PUBLISH << 4 | qos << 1, &body)
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP for `id` (success; 5.0 lets the
/// reason code be left out).
pub(crate) fn ack(kind: u8, id: u16) -> Vec<u8> {
    let flags = if kind == PUBREL { 0b0010 } else { 0 };
    packet(kind << 4 | flags, &id.to_be_bytes())
}

/// A SUBACK for `id` granting QoS 0 to one filter.
pub(crate) fn suback(version: ProtocolVersion, id: u16) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    if version == ProtocolVersion::V5 {
        body.push(0);
    }
    body.push(0);
    packet(SUBACK << 4, &body)
}

/// An UNSUBACK for `id` (5.0: one success reason code).
pub(crate) fn unsuback(version: ProtocolVersion, id: u16) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    if version == ProtocolVersion::V5 {
        body.extend([0, 0]);
    }
    packet(UNSUBACK << 4, &body)
}
