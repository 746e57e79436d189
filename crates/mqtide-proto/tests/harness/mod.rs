//! A scripted broker and a fake clock for driving a `Session` in memory,
//! so that each test reads as a dialogue: deliver a packet, expect what
//! the session sent, expect the events, advance time.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::collections::VecDeque;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtide_proto::{
    Ack, ConnAck, Event, MAX_PACKET_SIZE, Packet, PacketId, ProtocolVersion, Publish, QoS,
    RequestId, Session, SessionConfig,
};

/// Runs a scenario once per protocol version, as separate tests.
#[macro_export]
macro_rules! each_version {
    ($(#[$meta:meta])* fn $name:ident($version:ident: ProtocolVersion) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn scenario($version: mqtide_proto::ProtocolVersion) $body
            #[test]
            fn v3_1_1() {
                scenario(mqtide_proto::ProtocolVersion::V3_1_1);
            }
            #[test]
            fn v5() {
                scenario(mqtide_proto::ProtocolVersion::V5);
            }
        }
    };
}

/// The session under test and the broker's side of the wire.
pub(crate) struct Harness {
    pub session: Session,
    pub now: Instant,
    pub version: ProtocolVersion,
    /// What the session has written and the broker has not read yet.
    sent: BytesMut,
    events: VecDeque<Event>,
}

impl Harness {
    pub(crate) fn new(config: SessionConfig) -> Self {
        #[allow(clippy::disallowed_methods, reason = "the fake clock starts somewhere")]
        let now = Instant::now();
        Self {
            version: config.protocol,
            session: Session::new(config),
            now,
            sent: BytesMut::new(),
            events: VecDeque::new(),
        }
    }

    pub(crate) fn config(version: ProtocolVersion) -> SessionConfig {
        SessionConfig::new(version, "harness")
    }

    /// A session connected with the given CONNACK (after checking CONNECT).
    pub(crate) fn connected_with(config: SessionConfig, connack: ConnAck) -> Self {
        let mut h = Self::new(config);
        h.open(connack);
        h
    }

    /// A session connected with a plain successful CONNACK.
    pub(crate) fn connected(version: ProtocolVersion) -> Self {
        Self::connected_with(Self::config(version), ConnAck::new(false))
    }

    /// Brings up a transport and answers CONNECT with `connack`, draining
    /// the `Connected` event.
    pub(crate) fn open(&mut self, connack: ConnAck) -> mqtide_proto::Connected {
        self.session.handle_connected(self.now);
        self.drain();
        assert!(matches!(self.expect_sent(), Packet::Connect(_)));
        self.deliver(connack);
        match self.expect_event() {
            Event::Connected(connected) => connected,
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    /// Drains every output of the session, as a driver must after each
    /// input or command.
    pub(crate) fn drain(&mut self) {
        while self.session.poll_transmit(&mut self.sent) > 0 {}
        while let Some(event) = self.session.poll_event() {
            self.events.push_back(event);
        }
    }

    /// The broker sends `packet`.
    pub(crate) fn deliver(&mut self, packet: impl Into<Packet>) {
        let mut wire = BytesMut::new();
        packet.into().encode(self.version, &mut wire).unwrap();
        self.deliver_bytes(&wire);
    }

    /// The broker sends raw bytes; they must all be consumed.
    pub(crate) fn deliver_bytes(&mut self, bytes: &[u8]) {
        let mut buf = BytesMut::from(bytes);
        self.session.handle_bytes(&mut buf, self.now);
        self.drain();
        assert!(
            buf.is_empty(),
            "the session left {} bytes unread",
            buf.len()
        );
    }

    /// The broker sends raw bytes that may not all be consumed (malformed
    /// input ends the connection with bytes left over).
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut buf = BytesMut::from(bytes);
        self.session.handle_bytes(&mut buf, self.now);
        self.drain();
    }

    /// The next packet the session sent.
    pub(crate) fn expect_sent(&mut self) -> Packet {
        match Packet::decode(&mut self.sent, self.version, MAX_PACKET_SIZE) {
            Ok(Some(packet)) => packet,
            other => panic!("expected a packet from the session, got {other:?}"),
        }
    }

    /// Every packet sent and not yet read, leaving none.
    pub(crate) fn take_sent(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        while !self.sent.is_empty() {
            packets.push(self.expect_sent());
        }
        packets
    }

    /// The topics of the packets sent and not yet read, which must all be
    /// PUBLISHes.
    pub(crate) fn sent_topics(&mut self) -> Vec<String> {
        self.take_sent()
            .into_iter()
            .map(|packet| match packet {
                Packet::Publish(p) => p.topic.to_string(),
                other => panic!("expected PUBLISH, got {other:?}"),
            })
            .collect()
    }

    pub(crate) fn expect_nothing_sent(&mut self) {
        assert!(
            self.sent.is_empty(),
            "unexpected packet: {:?}",
            self.expect_sent()
        );
    }

    pub(crate) fn expect_event(&mut self) -> Event {
        self.events
            .pop_front()
            .expect("expected an event, got none")
    }

    /// Every event so far, leaving none.
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    pub(crate) fn expect_no_event(&mut self) {
        assert_eq!(self.events.pop_front(), None);
    }

    /// Moves the fake clock and fires any deadline that passed.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.session.poll_timeout().is_some_and(|at| at <= self.now) {
            self.session.handle_timeout(self.now);
        }
        self.drain();
    }

    pub(crate) fn lose_connection(&mut self) {
        self.session.handle_connection_lost(self.now);
        self.drain();
        self.sent.clear();
    }

    pub(crate) fn publish(&mut self, topic: &str, payload: &'static [u8], qos: QoS) -> RequestId {
        let mut p = Publish::new(topic, Bytes::from_static(payload));
        p.qos = qos;
        let id = self.session.publish(p, self.now).unwrap();
        self.drain();
        id
    }

    /// Expects a PUBLISH and returns it.
    pub(crate) fn expect_publish(&mut self) -> Publish {
        match self.expect_sent() {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Expects `Completed` for `id` and returns its outcome.
    pub(crate) fn expect_completed(
        &mut self,
        id: RequestId,
    ) -> Result<mqtide_proto::Completion, mqtide_proto::RequestError> {
        match self.expect_event() {
            Event::Completed { id: got, outcome } if got == id => outcome,
            other => panic!("expected Completed for {id:?}, got {other:?}"),
        }
    }

    /// Expects `Disconnected` and returns its reason.
    pub(crate) fn expect_disconnected(&mut self) -> mqtide_proto::ConnectionError {
        match self.expect_event() {
            Event::Disconnected(reason) => reason,
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
}

pub(crate) fn pid(n: u16) -> PacketId {
    NonZeroU16::new(n).unwrap()
}

/// An incoming PUBLISH from the broker.
pub(crate) fn incoming(topic: &str, qos: QoS, packet_id: u16) -> Publish {
    let mut p = Publish::new(topic, Bytes::from_static(b"payload"));
    p.qos = qos;
    p.packet_id = NonZeroU16::new(packet_id);
    p
}

pub(crate) fn ack(packet_id: PacketId) -> Ack {
    Ack::new(packet_id)
}
