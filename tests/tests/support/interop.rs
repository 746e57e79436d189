//! Helpers of the Paho interoperability scenarios (`paho.rs`, and the
//! 5.0-only scenarios of `interop_v5*.rs`): Paho's topic names, clients
//! that connect under the hang guard, persistent sessions, markers, waits
//! on the broker's log, a broker that refuses a subscription, and a bare
//! connection ([`Raw`]) for Paho's steps that only a broker can be tested
//! with (a second CONNECT on one connection, a foreign protocol name, more
//! unacknowledged QoS 2 publishes than the broker allows, a client id the
//! broker refuses): mqtide never sends those.
//!
//! A marker is how these tests show that nothing else arrived, where Paho
//! sleeps and counts: a message published after the ones that must not
//! arrive, which must then be the next one to come (the broker forwards
//! one publisher's messages in order).

#![allow(dead_code, reason = "each test file uses part of it")]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtide::proto::{Connect, Packet};
use mqtide::{Client, ClientBuilder, Message, MessageStream, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::support::{GUARD, guard, next};

/// Paho's topic names.
pub(crate) const TOPICS: [&str; 5] = ["TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA"];
/// Paho's topic filters.
pub(crate) const WILDTOPICS: [&str; 7] = ["TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#"];
/// The filter the broker refuses subscriptions to (see [`nosubscribe_broker`]).
pub(crate) const NOSUBSCRIBE: &str = "test/nosubscribe";

/// The user properties Paho's 5.0 scenarios send, in order.
pub(crate) const USER_PROPERTIES: [(&str, &str); 2] = [("a", "2"), ("c", "3")];

/// Connects `builder`, under the hang guard.
pub(crate) async fn connect(builder: ClientBuilder) -> Client {
    guard("connect", builder.connect()).await.unwrap()
}

/// Disconnects `c` cleanly, under the hang guard.
pub(crate) async fn disconnect(c: Client) {
    guard("disconnect", c.disconnect()).await.unwrap();
}

/// A session the broker keeps: clean session off (3.1.1); clean start off
/// and Paho's session expiry of 99999 s (5.0).
pub(crate) fn persistent(builder: ClientBuilder, version: ProtocolVersion) -> ClientBuilder {
    let builder = builder.clean_start(false);
    if version == ProtocolVersion::V5 {
        builder.session_expiry(Duration::from_secs(99_999))
    } else {
        builder
    }
}

/// Connects with the stream of every message registered first, so that
/// what the broker sends at once (a resumed session's queue) is not missed.
pub(crate) async fn connect_with_messages(builder: ClientBuilder) -> (Client, MessageStream) {
    let (c, connection) = builder.build().unwrap();
    let all = guard("messages", c.messages()).await.unwrap();
    tokio::spawn(connection.run());
    guard("connected", c.wait_connected()).await.unwrap();
    (c, all)
}

/// Connects `builder`, without reconnects, on a task the test can
/// abort: the socket then closes without DISCONNECT, as Paho's
/// `terminate()` does, and the broker publishes the will.
pub(crate) async fn connect_killable(builder: ClientBuilder) -> (Client, JoinHandle<()>) {
    let (c, connection) = builder.no_reconnect().build().unwrap();
    let task = tokio::spawn(connection.run());
    guard("connected", c.wait_connected()).await.unwrap();
    (c, task)
}

/// Whether the broker resumed a session at the last CONNACK.
pub(crate) fn session_present(c: &Client) -> bool {
    c.server_info().expect("connected once").session_present
}

/// The next `n` messages of `stream`.
pub(crate) async fn take<S>(stream: &mut S, n: usize) -> Vec<Message>
where
    S: futures_util::Stream<Item = Message> + Unpin,
{
    let mut messages = Vec::with_capacity(n);
    for _ in 0..n {
        messages.push(next(stream).await);
    }
    messages
}

/// Publishes a QoS 1 marker on `topic` from `from`, and checks that it is
/// the next message `stream` yields: nothing else came before it.
pub(crate) async fn assert_next_is_marker<S>(from: &Client, topic: &str, stream: &mut S)
where
    S: futures_util::Stream<Item = Message> + Unpin,
{
    guard(
        "marker",
        from.publish(topic, "marker").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let m = next(stream).await;
    assert_eq!(
        (m.topic(), m.payload().as_ref()),
        (topic, &b"marker"[..]),
        "a message came before the marker"
    );
}

/// The QoS of each message, sorted.
pub(crate) fn qos_levels(messages: &[Message]) -> Vec<QoS> {
    let mut levels: Vec<QoS> = messages.iter().map(Message::qos).collect();
    levels.sort_unstable();
    levels
}

/// Paho's user properties, as mqtide reports them.
pub(crate) fn user_properties(m: &Message) -> Vec<(&str, &str)> {
    m.user_properties().collect()
}

/// Waits until the broker's log holds `needle` at least `count` times.
/// Polls without blocking the runtime, so the clients keep running.
pub(crate) async fn log_count(broker: &Mosquitto, needle: &str, count: usize) {
    let start = Instant::now();
    while broker.log().matches(needle).count() < count {
        assert!(
            start.elapsed() < GUARD,
            "hang guard: the broker did not log {needle:?} {count} times within {GUARD:?}\n{}",
            broker.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A bare MQTT connection to the broker, for the steps of Paho's scenarios
/// that mqtide never takes.
pub(crate) struct Raw {
    stream: TcpStream,
    version: ProtocolVersion,
    buf: BytesMut,
}

impl Raw {
    /// Opens a TCP connection to `broker`; nothing is sent yet.
    pub(crate) async fn open(broker: &Mosquitto, version: ProtocolVersion) -> Self {
        let stream = guard("raw connect", TcpStream::connect(broker.addr()))
            .await
            .unwrap();
        Self {
            stream,
            version,
            buf: BytesMut::new(),
        }
    }

    /// Sends `packet`, encoded for the connection's version.
    pub(crate) async fn send(&mut self, packet: &Packet) {
        let mut bytes = BytesMut::new();
        packet.encode(self.version, &mut bytes).unwrap();
        self.send_bytes(&bytes).await;
    }

    /// Sends bytes as they are.
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) {
        guard("raw write", self.stream.write_all(bytes))
            .await
            .unwrap();
    }

    /// The next packet, or `None` once the broker closed the connection.
    pub(crate) async fn recv(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, self.version, u32::MAX).unwrap() {
                return Some(packet);
            }
            match guard("raw read", self.stream.read_buf(&mut self.buf)).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Sends a clean CONNECT as `client_id` and returns the broker's answer.
    pub(crate) async fn connect(&mut self, client_id: &str) -> Option<Packet> {
        let connect = Connect::new(self.version, client_id);
        self.send(&Packet::Connect(Box::new(connect))).await;
        self.recv().await
    }
}

/// A CONNECT naming protocol "hj" at `version`'s level, as Paho's basic
/// scenario sends it (mqtide's encoder writes only the right names).
pub(crate) fn connect_with_protocol_name_hj(version: ProtocolVersion) -> Vec<u8> {
    let level = match version {
        ProtocolVersion::V5 => 5,
        _ => 4,
    };
    // Protocol name, level, flags (clean), keep-alive 60.
    let mut body = vec![0, 2, b'h', b'j', level, 0x02, 0, 60];
    if version == ProtocolVersion::V5 {
        body.push(0); // no properties
    }
    body.extend_from_slice(&[0, 2, b'h', b'j']); // client id "hj"
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

/// Where Debian, Fedora and source builds put Mosquitto's dynamic security
/// plugin.
const DYNSEC_PLUGIN: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib64/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
];

/// The plugin's configuration: everything allowed, except that anonymous
/// clients may not subscribe to `test/nosubscribe`.
const DYNSEC_CONFIG: &str = r#"{
  "defaultACLAccess": {"publishClientSend": true, "publishClientReceive": true, "subscribe": true, "unsubscribe": true},
  "clients": [],
  "groups": [{"groupname": "anonymous", "roles": [{"rolename": "nosubscribe"}]}],
  "anonymousGroup": "anonymous",
  "roles": [{"rolename": "nosubscribe", "acls": [{"acltype": "subscribePattern", "topic": "test/nosubscribe", "allow": false}]}]
}"#;

/// A broker that refuses subscriptions to [`NOSUBSCRIBE`], and the
/// directory holding its plugin configuration. Mosquitto's ACL file cannot
/// do it: 2.0.11 grants every SUBSCRIBE and applies the ACL when it
/// delivers, so the refusal comes from the dynamic security plugin that
/// ships with Mosquitto.
pub(crate) fn nosubscribe_broker() -> (Mosquitto, tempfile::TempDir) {
    let plugin = DYNSEC_PLUGIN
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Mosquitto's dynamic security plugin (part of the mosquitto package)");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dynamic-security.json");
    std::fs::write(&config, DYNSEC_CONFIG).unwrap();
    let broker = Mosquitto::builder()
        .config(&format!(
            "plugin {plugin}\nplugin_opt_config_file {}",
            config.display()
        ))
        .start()
        .unwrap();
    (broker, dir)
}
