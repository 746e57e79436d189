//! A property test of the session against a model broker: random
//! interleavings of publishes in both directions, acknowledgements in any
//! order, lost packets, lost connections, and resumes (with and without the
//! broker keeping the session) never lose a QoS 1/2 message that was
//! reported delivered, never deliver a QoS 2 message twice, and keep the
//! order of first deliveries per topic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqtide_proto::{
    Ack, ConnAck, Event, MAX_PACKET_SIZE, Packet, PacketId, ProtocolVersion, Publish, QoS,
    RequestError, RequestId, Session, SessionConfig,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// The application publishes on topic `t{topic}`.
    Publish { topic: u8, qos: QoS },
    /// Whatever the client wrote reaches the broker.
    Flush,
    /// The broker sends one of the acknowledgements it owes.
    BrokerAck(usize),
    /// The broker publishes a message to the client.
    BrokerPublish(QoS),
    /// The connection drops; unsent bytes and unsent acks are lost.
    Lose,
    /// The client reconnects; the broker may have lost its session.
    Reconnect { broker_forgets: bool },
}

fn op() -> impl Strategy<Value = Op> {
    let qos12 = prop_oneof![Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)];
    let qos = prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ];
    prop_oneof![
        4 => (0u8..3, qos12).prop_map(|(topic, qos)| Op::Publish { topic, qos }),
        4 => Just(Op::Flush),
        5 => any::<usize>().prop_map(Op::BrokerAck),
        2 => qos.prop_map(Op::BrokerPublish),
        1 => Just(Op::Lose),
        1 => prop::bool::weighted(0.2).prop_map(|broker_forgets| Op::Reconnect { broker_forgets }),
    ]
}

/// Where one of the broker's own outgoing messages is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OutStage {
    Sent,
    Released,
}

/// A broker that follows the spec's server rules closely enough to judge
/// the client: it delivers QoS 2 on first receipt and remembers the packet
/// identifier until PUBREL, and resends its own unfinished messages on a
/// resumed session.
struct Broker {
    version: ProtocolVersion,
    connected: bool,
    has_session: bool,
    /// QoS 2 packet identifiers received from the client, not yet released.
    rx_qos2: HashSet<u16>,
    /// Sequence numbers of the client's messages, as delivered onward.
    delivered: Vec<(u8, u32)>,
    /// Acknowledgements owed to the client on this connection.
    owed: Vec<Packet>,
    /// The broker's own messages to the client, by packet identifier.
    outgoing: BTreeMap<u16, (OutStage, Publish)>,
    /// The broker's messages that finished their flow.
    completed: HashSet<u32>,
    next_pid: u16,
    next_seq: u32,
    sent_qos: HashMap<u32, QoS>,
}

fn seq_of(payload: &Bytes) -> u32 {
    payload.clone().get_u32()
}

fn payload(seq: u32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u32(seq);
    b.freeze()
}

impl Broker {
    fn receive(&mut self, packet: Packet) {
        match packet {
            Packet::Publish(p) => {
                let id = p.packet_id.expect("the model only publishes QoS 1/2");
                let topic = p.topic.as_bytes()[1] - b'0';
                match p.qos {
                    QoS::AtLeastOnce => {
                        self.delivered.push((topic, seq_of(&p.payload)));
                        self.owed.push(Packet::PubAck(Ack::new(id)));
                    }
                    _ => {
                        if self.rx_qos2.insert(id.get()) {
                            self.delivered.push((topic, seq_of(&p.payload)));
                        }
                        self.owed.push(Packet::PubRec(Ack::new(id)));
                    }
                }
            }
            Packet::PubRel(ack) => {
                self.rx_qos2.remove(&ack.packet_id.get());
                self.owed.push(Packet::PubComp(Ack::new(ack.packet_id)));
            }
            Packet::PubAck(ack) | Packet::PubComp(ack) => {
                if let Some((_, p)) = self.outgoing.remove(&ack.packet_id.get()) {
                    self.completed.insert(seq_of(&p.payload));
                }
            }
            Packet::PubRec(ack) => {
                if let Some(entry) = self.outgoing.get_mut(&ack.packet_id.get()) {
                    entry.0 = OutStage::Released;
                    self.owed.push(Packet::PubRel(Ack::new(ack.packet_id)));
                }
            }
            Packet::Connect(_) | Packet::PingReq | Packet::Disconnect(_) => {}
            other => panic!("the client sent {other:?}"),
        }
    }

    fn publish(&mut self, qos: QoS) -> Packet {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.sent_qos.insert(seq, qos);
        let mut p = Publish::new("in", payload(seq));
        p.qos = qos;
        if qos != QoS::AtMostOnce {
            loop {
                self.next_pid = self.next_pid.wrapping_add(1).max(1);
                if !self.outgoing.contains_key(&self.next_pid) {
                    break;
                }
            }
            p.packet_id = PacketId::new(self.next_pid);
            self.outgoing
                .insert(self.next_pid, (OutStage::Sent, p.clone()));
        }
        Packet::Publish(p)
    }

    /// CONNACK for a reconnect, and the resends a resumed session owes.
    fn accept(&mut self, forget: bool) -> Vec<Packet> {
        if forget {
            self.has_session = false;
        }
        let present = self.has_session;
        if !present {
            self.rx_qos2.clear();
            self.outgoing.clear();
        }
        self.has_session = true;
        self.connected = true;
        let mut packets = vec![ConnAck::new(present).into()];
        for (stage, p) in self.outgoing.values() {
            packets.push(match stage {
                OutStage::Sent => {
                    let mut p = p.clone();
                    p.dup = true;
                    Packet::Publish(p)
                }
                OutStage::Released => Packet::PubRel(Ack::new(p.packet_id.expect("QoS 1/2"))),
            });
        }
        packets
    }
}

struct World {
    session: Session,
    broker: Broker,
    now: Instant,
    /// Bytes the client wrote that have not reached the broker.
    wire: BytesMut,
    next_seq: u32,
    requests: HashMap<RequestId, (u8, u32, QoS)>,
    outcomes: HashMap<RequestId, Vec<Result<(), RequestError>>>,
    /// Broker messages delivered to the application: seq -> count.
    app_received: HashMap<u32, usize>,
}

impl World {
    fn new(version: ProtocolVersion) -> Self {
        let mut config = SessionConfig::new(version, "model");
        config.clean_start = false;
        config.keep_alive = 0;
        config.queue_capacity = 10_000;
        config.event_capacity = 10_000;
        if version.is_v5() {
            config.properties.session_expiry_interval = Some(u32::MAX);
        }
        #[allow(
            clippy::disallowed_methods,
            reason = "a fixed instant; time never moves here"
        )]
        let now = Instant::now();
        let mut world = Self {
            session: Session::new(config),
            broker: Broker {
                version,
                connected: false,
                has_session: false,
                rx_qos2: HashSet::new(),
                delivered: Vec::new(),
                owed: Vec::new(),
                outgoing: BTreeMap::new(),
                completed: HashSet::new(),
                next_pid: 0,
                next_seq: 0,
                sent_qos: HashMap::new(),
            },
            now,
            wire: BytesMut::new(),
            next_seq: 0,
            requests: HashMap::new(),
            outcomes: HashMap::new(),
            app_received: HashMap::new(),
        };
        world.reconnect(false);
        world
    }

    /// Drains the session's outputs, as a driver must after every input.
    fn drain(&mut self) {
        while self.session.poll_transmit(&mut self.wire) > 0 {}
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Completed { id, outcome } => {
                    self.outcomes
                        .entry(id)
                        .or_default()
                        .push(outcome.map(|_| ()));
                }
                Event::Message(m) => {
                    *self
                        .app_received
                        .entry(seq_of(&m.publish.payload))
                        .or_default() += 1;
                }
                Event::Connected(_) | Event::Disconnected(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn send_to_client(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        packet.encode(self.broker.version, &mut buf).unwrap();
        self.session.handle_bytes(&mut buf, self.now);
        assert!(buf.is_empty());
        self.drain();
    }

    fn flush(&mut self) {
        while let Some(packet) =
            Packet::decode(&mut self.wire, self.broker.version, MAX_PACKET_SIZE).unwrap()
        {
            self.broker.receive(packet);
        }
        assert!(self.wire.is_empty());
    }

    fn reconnect(&mut self, forget: bool) {
        self.session.handle_connected(self.now);
        self.drain();
        self.flush();
        for packet in self.broker.accept(forget) {
            self.send_to_client(packet);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Publish { topic, qos } => {
                self.next_seq += 1;
                let mut p = Publish::new(format!("t{topic}"), payload(self.next_seq));
                p.qos = qos;
                let id = self.session.publish(p, self.now).unwrap();
                self.requests.insert(id, (topic, self.next_seq, qos));
                self.drain();
            }
            Op::Flush if self.broker.connected => self.flush(),
            Op::BrokerAck(i) if self.broker.connected && !self.broker.owed.is_empty() => {
                let packet = self.broker.owed.remove(i % self.broker.owed.len());
                self.send_to_client(packet);
            }
            Op::BrokerPublish(qos) if self.broker.connected => {
                let packet = self.broker.publish(qos);
                self.send_to_client(packet);
            }
            Op::Lose if self.broker.connected => {
                self.session.handle_connection_lost(self.now);
                self.drain();
                self.wire.clear();
                self.broker.owed.clear();
                self.broker.connected = false;
            }
            Op::Reconnect { broker_forgets } if !self.broker.connected => {
                self.reconnect(broker_forgets);
            }
            _ => {}
        }
    }

    /// A calm connection until every flow has finished.
    fn settle(&mut self) {
        if !self.broker.connected {
            self.reconnect(false);
        }
        for _ in 0..10_000 {
            self.flush();
            if self.broker.owed.is_empty() {
                break;
            }
            let owed = std::mem::take(&mut self.broker.owed);
            for packet in owed {
                self.send_to_client(packet);
            }
        }
        assert!(
            self.broker.owed.is_empty() && self.wire.is_empty(),
            "the flows never settled"
        );
    }
}

fn check(version: ProtocolVersion, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut world = World::new(version);
    for op in ops {
        world.apply(op);
    }
    world.settle();

    let mut deliveries: HashMap<u32, usize> = HashMap::new();
    for (_, seq) in &world.broker.delivered {
        *deliveries.entry(*seq).or_default() += 1;
    }
    for (id, (_, seq, qos)) in &world.requests {
        let outcomes = world.outcomes.get(id).cloned().unwrap_or_default();
        prop_assert_eq!(
            outcomes.len(),
            1,
            "request {:?} ended {} times",
            id,
            outcomes.len()
        );
        let n = deliveries.get(seq).copied().unwrap_or(0);
        match (&outcomes[0], qos) {
            (Ok(()), QoS::AtLeastOnce) => {
                prop_assert!(n >= 1, "acknowledged QoS 1 message {} lost", seq);
            }
            (Ok(()), _) => prop_assert_eq!(n, 1, "QoS 2 message {} delivered {} times", seq, n),
            (Err(RequestError::SessionLost), QoS::ExactlyOnce) => {
                prop_assert!(n <= 1, "QoS 2 message {} duplicated", seq);
            }
            // Given up on after `poison_threshold` losses in a row: a QoS 2
            // message is never sent twice for it.
            (Err(RequestError::Poisoned { .. }), QoS::ExactlyOnce) => {
                prop_assert!(n <= 1, "QoS 2 message {} duplicated", seq);
            }
            (Err(RequestError::Poisoned { .. }), _) => {}
            // A QoS 1 publish in flight when the session was lost is sent
            // again as a new message (`resend_qos1_on_session_loss`).
            (Err(e), _) => prop_assert!(false, "unexpected failure {:?}", e),
        }
    }
    // Per topic, first deliveries come in publish order.
    let mut seen = HashSet::new();
    let mut last: HashMap<u8, u32> = HashMap::new();
    for (topic, seq) in &world.broker.delivered {
        if seen.insert(*seq) {
            let previous = last.insert(*topic, *seq).unwrap_or(0);
            prop_assert!(
                previous < *seq,
                "topic t{} delivered {} after {}",
                topic,
                seq,
                previous
            );
        }
    }
    // Towards the client: QoS 2 at most once; what the broker finished
    // was delivered.
    for (seq, qos) in &world.broker.sent_qos {
        let n = world.app_received.get(seq).copied().unwrap_or(0);
        if *qos == QoS::ExactlyOnce {
            prop_assert!(
                n <= 1,
                "incoming QoS 2 message {} delivered {} times",
                seq,
                n
            );
        }
        if *qos != QoS::AtMostOnce && world.broker.completed.contains(seq) {
            prop_assert!(
                n >= 1,
                "incoming message {} acknowledged but never delivered",
                seq
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn nothing_lost_nothing_duplicated_order_kept_v3_1_1(ops in prop::collection::vec(op(), 0..120)) {
        check(ProtocolVersion::V3_1_1, ops)?;
    }

    #[test]
    fn nothing_lost_nothing_duplicated_order_kept_v5(ops in prop::collection::vec(op(), 0..120)) {
        check(ProtocolVersion::V5, ops)?;
    }
}
