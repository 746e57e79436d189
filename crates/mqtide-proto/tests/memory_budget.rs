//! The heap a session holds, so that a device's heap can be sized: idle,
//! and with N messages in flight each way (N = 1, 10, 100), for 16 KiB
//! maximum packets. The table in the crate docs ("Memory") comes from this
//! test; run it with `--nocapture` to print it again:
//!
//! ```text
//! cargo test -p mqtide-proto --test memory_budget -- --nocapture
//! ```
//!
//! "In flight each way": N QoS 1 publishes sent and not yet acknowledged
//! (the session keeps each one whole, payload included, to send it again
//! after a lost connection) and N QoS 2 messages received and answered
//! with PUBREC, their PUBREL not yet arrived (the session keeps their
//! packet identifiers, to deliver each once). Outgoing payloads fill a
//! 16 KiB packet; the table also gives the session's own bytes (the held
//! bytes less the payloads), which do not depend on the payload size.
//! The first flow each way allocates a set of the 65,535 packet
//! identifiers in use (8 KiB, a bit each): most of the jump from idle to
//! N = 1.
//!
//! Counted with the `allocation-counter` crate's allocator (it counts per
//! thread, so the tests running beside this one do not disturb it): every
//! allocation made while the session is built and driven into the state,
//! less every one freed by then, with the session still alive and the
//! driver's buffers and the application's copies of the messages dropped.
//! The bounds asserted are loose (about 1.5 times the numbers measured
//! when the table was written): they catch a change that makes the
//! session hold markedly more, not noise.

use std::num::NonZeroU16;
use std::time::Instant;

use allocation_counter::measure;
use bytes::{Bytes, BytesMut};
use mqtide_proto::{
    Ack, ConnAck, Event, MAX_PACKET_SIZE, Packet, ProtocolVersion, Publish, QoS, Session,
    SessionConfig,
};

/// The maximum packet size of the table, both ways.
const MAX_PACKET: usize = 16 * 1024;
/// The outgoing payload: a PUBLISH of it is at most `MAX_PACKET` bytes
/// (the topic, the packet identifier, 5.0's properties and the fixed
/// header take the rest).
const PAYLOAD: usize = MAX_PACKET - 64;
const TOPIC: &str = "plant/7/line/3/temperature";

/// What the session holds in one state, in bytes.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Everything the session holds.
    total: i64,
    /// Less the outgoing payloads: the session's own structures.
    own: i64,
}

/// The broker's side of the wire: encodes what it sends, decodes what the
/// session sent.
struct Broker {
    version: ProtocolVersion,
    from_session: BytesMut,
}

impl Broker {
    fn deliver(&self, session: &mut Session, packet: impl Into<Packet>, now: Instant) {
        let mut wire = BytesMut::new();
        packet
            .into()
            .encode(self.version, &mut wire)
            .expect("a valid packet");
        session.handle_bytes(&mut wire, now);
        assert!(wire.is_empty(), "the session read the whole packet");
    }

    /// Drains the session's outputs as a driver must: bytes to the
    /// broker, events to the application (which drops them here).
    fn drain(&mut self, session: &mut Session) -> Vec<Packet> {
        while session.poll_transmit(&mut self.from_session) > 0 {}
        while let Some(event) = session.poll_event() {
            assert!(
                matches!(
                    event,
                    Event::Connected(_) | Event::Message(_) | Event::Completed { .. }
                ),
                "unexpected {event:?}"
            );
        }
        let mut packets = Vec::new();
        while let Some(packet) =
            Packet::decode(&mut self.from_session, self.version, MAX_PACKET_SIZE)
                .expect("the session sends valid packets")
        {
            packets.push(packet);
        }
        packets
    }
}

/// A connected session with `n` QoS 1 publishes out and `n` QoS 2
/// messages in, unacknowledged.
fn session_with_in_flight(version: ProtocolVersion, n: usize) -> Session {
    #[allow(clippy::disallowed_methods, reason = "a base for the fake clock")]
    let now = Instant::now();
    let mut config = SessionConfig::new(version, "sensor-0001");
    config.max_incoming_packet_size = MAX_PACKET as u32;
    config.v3_inflight = 100;
    let mut session = Session::new(config);
    let mut broker = Broker {
        version,
        from_session: BytesMut::new(),
    };

    session.handle_connected(now);
    assert!(matches!(
        broker.drain(&mut session)[..],
        [Packet::Connect(_)]
    ));
    let mut connack = ConnAck::new(false);
    if version.is_v5() {
        connack.properties.maximum_packet_size = std::num::NonZeroU32::new(MAX_PACKET as u32);
    }
    broker.deliver(&mut session, connack, now);
    broker.drain(&mut session);
    assert!(session.is_connected());

    for i in 0..n {
        let mut publish = Publish::new(TOPIC, Bytes::from(vec![b'a' + (i % 26) as u8; PAYLOAD]));
        publish.qos = QoS::AtLeastOnce;
        session.publish(publish, now).expect("the window has room");
        let sent = broker.drain(&mut session);
        let [Packet::Publish(publish)] = &sent[..] else {
            panic!("expected one PUBLISH, got {sent:?}");
        };
        let mut wire = BytesMut::new();
        Packet::Publish(publish.clone())
            .encode(version, &mut wire)
            .expect("valid");
        assert!(wire.len() <= MAX_PACKET, "a 16 KiB packet at most");
    }
    for i in 0..n {
        let mut publish = Publish::new(TOPIC, &b"on"[..]);
        publish.qos = QoS::ExactlyOnce;
        publish.packet_id = NonZeroU16::new(u16::try_from(i + 1).expect("small"));
        broker.deliver(&mut session, publish, now);
        assert!(matches!(
            broker.drain(&mut session)[..],
            [Packet::PubRec(_)]
        ));
    }
    assert_eq!(session.inflight(), n);
    session
}

fn held(version: ProtocolVersion, n: usize) -> Held {
    let mut session = None;
    let info = measure(|| session = Some(session_with_in_flight(version, n)));
    let total = info.bytes_current;
    let own = total - (n * PAYLOAD) as i64;

    // The state is what was measured: finishing every flow frees it.
    let mut session = session.expect("built");
    #[allow(clippy::disallowed_methods, reason = "a base for the fake clock")]
    let now = Instant::now();
    let mut broker = Broker {
        version,
        from_session: BytesMut::new(),
    };
    for id in 1..=n {
        let id = NonZeroU16::new(u16::try_from(id).expect("small")).expect("not zero");
        broker.deliver(&mut session, Packet::PubAck(Ack::new(id)), now);
        broker.deliver(&mut session, Packet::PubRel(Ack::new(id)), now);
    }
    broker.drain(&mut session);
    assert_eq!(session.inflight(), 0);
    assert_eq!(session.inflight_incoming(), 0);
    Held { total, own }
}

#[test]
fn heap_held_idle_and_with_messages_in_flight() {
    // Loose upper bounds on the session's own bytes, by N (0 = idle):
    // measured 579, 19,153, 22,567 and 54,587 on x86_64 (the two 8 KiB
    // packet identifier sets, one per direction, are most of N = 1).
    let bounds = [(0, 1_000), (1, 28_000), (10, 34_000), (100, 82_000)];
    println!("| Version | In flight each way | Held | Payloads | Session's own |");
    println!("|---|---:|---:|---:|---:|");
    for (n, bound) in bounds {
        let v3 = held(ProtocolVersion::V3_1_1, n);
        let v5 = held(ProtocolVersion::V5, n);
        for (version, held) in [("3.1.1", v3), ("5.0", v5)] {
            println!(
                "| {version} | {} | {} | {} | {} |",
                if n == 0 {
                    "idle".to_string()
                } else {
                    n.to_string()
                },
                held.total,
                held.total - held.own,
                held.own
            );
        }
        for (version, held) in [("3.1.1", v3), ("5.0", v5)] {
            assert!(
                held.own <= bound,
                "{version}, N = {n}: the session holds {} bytes of its own, over the bound of {bound}",
                held.own
            );
            assert!(held.own > 0, "{version}, N = {n}: nothing measured");
        }
    }
}
