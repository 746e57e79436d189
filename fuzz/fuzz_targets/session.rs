//! Arbitrary bytes and commands into a connected session: whatever the
//! broker sends and whatever the application asks, nothing panics and
//! nothing grows past its bound.
//!
//! The input is read as a little program: the first byte picks the
//! protocol version and ack mode, then each operation byte is followed by
//! its operands (bytes from the broker, a topic index, a QoS, a delay).

#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtide_proto::{
    AckMode, AckToken, ConnAck, Event, Packet, ProtocolVersion, Publish, QoS, Session,
    SessionConfig, SubscriptionOptions, TopicFilter,
};

const TOPICS: [&str; 4] = ["a", "a/b", "c/d/e", "$SYS/x"];
const FILTERS: [&str; 4] = ["a/#", "+/b", "#", "$share/g/c/+"];
const QUEUE: usize = 64;
const EVENTS: usize = 32;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

fn qos(b: u8) -> QoS {
    QoS::from_u8(b % 3).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(setup) = input.byte() else { return };
    let version = if setup & 1 == 0 { ProtocolVersion::V3_1_1 } else { ProtocolVersion::V5 };
    let mut config = SessionConfig::new(version, "fuzz");
    config.queue_capacity = QUEUE;
    config.event_capacity = EVENTS;
    config.keep_alive = 5;
    config.clean_start = setup & 2 == 0;
    config.max_incoming_packet_size = 4096;
    if setup & 4 != 0 {
        config.ack_mode = AckMode::Manual;
    }
    if version.is_v5() {
        config.properties.topic_alias_maximum = Some(3);
        config.properties.receive_maximum = std::num::NonZeroU16::new(8);
    }
    let mut session = Session::new(config);
    #[allow(clippy::disallowed_methods, reason = "a base for the fake clock")]
    let mut now = Instant::now();
    let mut out = BytesMut::new();
    let mut tokens: Vec<AckToken> = Vec::new();
    let mut pending = BytesMut::new();

    let connack = |present: bool| {
        let mut b = BytesMut::new();
        let _ = Packet::from(ConnAck::new(present)).encode(version, &mut b);
        b
    };
    session.handle_connected(now);
    pending.extend_from_slice(&connack(false));

    while let Some(op) = input.byte() {
        match op % 10 {
            // Bytes from the broker, arbitrary.
            0 | 1 => {
                let n = usize::from(input.byte().unwrap_or(0));
                pending.extend_from_slice(input.bytes(n));
            }
            // A well-formed packet from the broker, made from operands.
            2 => {
                let kind = input.byte().unwrap_or(0);
                let id = u16::from(input.byte().unwrap_or(1)).max(1);
                let pid = std::num::NonZeroU16::new(id).unwrap_or(std::num::NonZeroU16::MIN);
                let packet = match kind % 5 {
                    0 => {
                        let mut p = Publish::new(TOPICS[usize::from(kind) % 4], "x");
                        p.qos = qos(kind / 5);
                        p.packet_id = (p.qos != QoS::AtMostOnce).then_some(pid);
                        p.dup = p.qos != QoS::AtMostOnce && kind & 0x80 != 0;
                        Packet::Publish(p)
                    }
                    1 => Packet::PubAck(mqtide_proto::Ack::new(pid)),
                    2 => Packet::PubRec(mqtide_proto::Ack::new(pid)),
                    3 => Packet::PubRel(mqtide_proto::Ack::new(pid)),
                    _ => Packet::PubComp(mqtide_proto::Ack::new(pid)),
                };
                let _ = packet.encode(version, &mut pending);
            }
            3 => {
                let b = input.byte().unwrap_or(0);
                let mut p = Publish::new(TOPICS[usize::from(b) % 4], vec![b; usize::from(b)]);
                p.qos = qos(b / 4);
                p.retain = b & 0x80 != 0;
                let _ = session.publish(p, now);
            }
            4 => {
                let b = input.byte().unwrap_or(0);
                if let Ok(filter) = TopicFilter::new(FILTERS[usize::from(b) % 4]) {
                    let _ = session.subscribe(vec![(filter, SubscriptionOptions::new(qos(b / 4)))], Default::default(), now);
                }
            }
            5 => {
                let b = input.byte().unwrap_or(0);
                if let Ok(filter) = TopicFilter::new(FILTERS[usize::from(b) % 4]) {
                    let _ = session.unsubscribe(vec![filter], Default::default(), now);
                }
            }
            6 => {
                let b = usize::from(input.byte().unwrap_or(0));
                if !tokens.is_empty() {
                    let token = tokens.swap_remove(b % tokens.len());
                    let _ = session.ack(token, now);
                }
            }
            7 => {
                now += Duration::from_millis(u64::from(input.byte().unwrap_or(0)) * 100);
                session.handle_timeout(now);
            }
            8 => {
                session.handle_connection_lost(now);
                pending.clear();
                session.handle_connected(now);
                pending.extend_from_slice(&connack(input.byte().unwrap_or(0) & 1 == 1));
            }
            _ => {
                let _ = session.disconnect(mqtide_proto::ReasonCode::Success, Default::default(), now);
            }
        }
        // The broker's bytes arrive, as far as the session takes them.
        session.handle_bytes(&mut pending, now);
        // Drain every output, as a driver must.
        out.clear();
        while session.poll_transmit(&mut out) > 0 {
            assert!(out.len() < 64 * 1024 * 1024, "unbounded transmit");
            out.clear();
        }
        let mut events = 0;
        while let Some(event) = session.poll_event() {
            events += 1;
            if let Event::Message(m) = event {
                tokens.extend(m.ack);
            }
        }
        // Commands can add completions beyond the event capacity, but never
        // more than the requests they complete.
        assert!(events <= EVENTS + QUEUE + 65_535, "unbounded events");
        assert!(session.queued() <= QUEUE);
        assert!(session.inflight() <= 65_535);
        let _ = session.poll_timeout();
        if pending.len() > 1 << 20 {
            pending.clear();
        }
    }
});
