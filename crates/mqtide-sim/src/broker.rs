//! The model broker: the server side of MQTT 3.1.1 and 5.0 as the
//! specification states it, written for the simulator and nothing else.
//!
//! It keeps one session per client identifier (subscriptions, messages in
//! flight each way, messages queued for a window), honours Clean Start,
//! Session Present and session persistence, resends on resume, keeps
//! retained messages, and takes, per schedule, one of the choices the
//! specification leaves to a server (see [`Latitude`]).
//!
//! It is also a referee: where the client breaks a rule a server can see
//! (a PUBREL out of order, a window overrun, a malformed packet), it
//! records a [`WireViolation`] instead of carrying on as a real broker
//! might.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap as HashMap;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use mqtide_proto::{
    Ack, ConnAck, Connect, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode, SubAck,
    Subscribe, UnsubAck, Unsubscribe, topic_matches_sub,
};

use crate::net::LinkId;

/// What the specification leaves to a server, drawn per schedule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latitude {
    /// QoS 2 towards subscribers at PUBLISH (method B of §4.3.3: store
    /// the packet identifier, deliver at once) or at PUBREL (method A:
    /// store the message, deliver when released).
    pub(crate) deliver_on_pubrel: bool,
    /// The broker's Receive Maximum (5.0 CONNACK): how many QoS 1/2
    /// publishes a client may have unacknowledged towards it.
    pub(crate) receive_maximum: u16,
    /// How many QoS 1/2 messages the broker has in flight towards a 3.1.1
    /// client (the spec leaves it to the server; Mosquitto's default is 20).
    pub(crate) v3_inflight: u16,
}

/// A message as the broker routes it.
#[derive(Debug, Clone)]
struct Stored {
    topic: ByteString,
    payload: Bytes,
    qos: QoS,
    retain: bool,
}

/// Where a message towards a client is in its flow: the acknowledgement
/// it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutStage {
    Puback,
    Pubrec,
    Pubcomp,
}

#[derive(Debug)]
struct OutFlight {
    message: Stored,
    stage: OutStage,
    /// Order of first sending: resends keep it ([MQTT-4.6.0-1]).
    order: u64,
}

/// One session, kept by client identifier.
#[derive(Debug, Default)]
struct BrokerSession {
    link: Option<LinkId>,
    protocol: Option<ProtocolVersion>,
    /// Whether it outlives its connection (3.1.1 Clean Session 0; 5.0
    /// Session Expiry above 0).
    persistent: bool,
    subscriptions: Vec<(ByteString, QoS)>,
    /// How many QoS 1/2 messages may be in flight towards the client.
    window: u16,
    out: BTreeMap<u16, OutFlight>,
    queue: VecDeque<Stored>,
    next_id: u16,
    next_order: u64,
    /// Incoming QoS 2 packet identifiers not yet released, with the message
    /// when it is delivered at PUBREL (method A).
    incoming: BTreeMap<u16, Option<Stored>>,
    /// PUBRECs the client has received and not yet released, in the order
    /// it received them: [MQTT-4.6.0-4] wants its PUBRELs in that order.
    pubrec_order: Vec<u16>,
    /// PUBRELs sent on the current connection.
    released_here: Vec<u16>,
}

/// A rule of the protocol the client broke, as the broker saw it.
#[derive(Debug, Clone)]
pub(crate) struct WireViolation {
    pub(crate) rule: &'static str,
    pub(crate) detail: String,
}

/// The model broker. Packets come in as decoded [`Packet`]s and go out as
/// encoded bytes through the returned [`Outbox`].
#[derive(Debug)]
pub(crate) struct Broker {
    latitude: Latitude,
    sessions: HashMap<ByteString, BrokerSession>,
    /// Which client identifier each open link belongs to (after CONNECT).
    links: HashMap<LinkId, ByteString>,
    retained: BTreeMap<ByteString, Stored>,
    pub(crate) violations: Vec<WireViolation>,
}

/// What the broker wants done on the network.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Bytes for a link, one packet each, with the packet (for the trace
    /// and for the broker's view of what the client received).
    pub(crate) packets: Vec<(LinkId, Bytes, Packet)>,
    /// Links the broker closes (a session taken over, a protocol error).
    pub(crate) close: Vec<LinkId>,
}

impl Broker {
    pub(crate) fn new(latitude: Latitude) -> Self {
        Self {
            latitude,
            sessions: HashMap::default(),
            links: HashMap::default(),
            retained: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    /// Whether `client_id` has a subscription (the publisher waits for
    /// one, as an application waits for its subscriber to be ready).
    pub(crate) fn is_subscribed(&self, client_id: &str) -> bool {
        self.sessions
            .get(client_id)
            .is_some_and(|s| !s.subscriptions.is_empty())
    }

    /// Whether the broker holds nothing in flight or queued for anyone.
    pub(crate) fn is_idle(&self) -> bool {
        self.sessions.values().all(|s| {
            s.out.is_empty() && s.queue.is_empty() && s.incoming.values().all(Option::is_none)
        })
    }

    /// How many messages wait in `client_id`'s session (in flight or queued).
    pub(crate) fn held_for(&self, client_id: &str) -> usize {
        self.sessions
            .get(client_id)
            .map_or(0, |s| s.out.len() + s.queue.len())
    }

    /// The broker restarts: every connection is gone; sessions (and
    /// retained messages) are kept, or all lost.
    pub(crate) fn restart(&mut self, keep: bool) {
        self.links.clear();
        if keep {
            self.sessions.retain(|_, s| s.persistent);
            for session in self.sessions.values_mut() {
                session.link = None;
            }
        } else {
            self.sessions.clear();
            self.retained.clear();
        }
    }

    /// A link closed (cut, or closed by the client).
    pub(crate) fn link_lost(&mut self, link: LinkId) {
        let Some(client_id) = self.links.remove(&link) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&client_id) else {
            return;
        };
        if session.link != Some(link) {
            return;
        }
        session.link = None;
        if !session.persistent {
            self.sessions.remove(&client_id);
        }
    }

    /// A packet from the client on `link`.
    pub(crate) fn handle(&mut self, link: LinkId, packet: Packet, out: &mut Outbox) {
        let Some(client_id) = self.links.get(&link).cloned() else {
            return match packet {
                Packet::Connect(connect) => self.connect(link, *connect, out),
                other => self.violation(
                    "[MQTT-3.1.0-1] CONNECT first",
                    format!("{:?} before CONNECT", other.packet_type()),
                ),
            };
        };
        let version = self.version(&client_id);
        match packet {
            Packet::Publish(publish) => self.publish_in(&client_id, link, publish, out),
            Packet::PubRel(ack) => self.pubrel_in(&client_id, link, ack.packet_id, out),
            Packet::PubAck(ack) => self.ack_in(&client_id, ack, OutStage::Puback, out),
            Packet::PubRec(ack) => self.ack_in(&client_id, ack, OutStage::Pubrec, out),
            Packet::PubComp(ack) => self.ack_in(&client_id, ack, OutStage::Pubcomp, out),
            Packet::Subscribe(subscribe) => self.subscribe(&client_id, link, subscribe, out),
            Packet::Unsubscribe(unsubscribe) => {
                self.unsubscribe(link, &client_id, unsubscribe, out);
            }
            Packet::PingReq => send(out, link, version, Packet::PingResp),
            Packet::Disconnect(_) => {
                // The client closes the link after it; nothing else to do
                // (there is no will in these schedules).
            }
            Packet::Connect(_) => self.violation(
                "[MQTT-3.1.0-2] one CONNECT per connection",
                "a second CONNECT".into(),
            ),
            other => self.violation(
                "a client sends only client packets",
                format!("{:?}", other.packet_type()),
            ),
        }
    }

    fn version(&self, client_id: &str) -> ProtocolVersion {
        self.sessions
            .get(client_id)
            .and_then(|s| s.protocol)
            .unwrap_or(ProtocolVersion::V3_1_1)
    }

    fn violation(&mut self, rule: &'static str, detail: String) {
        self.violations.push(WireViolation { rule, detail });
    }

    fn connect(&mut self, link: LinkId, connect: Connect, out: &mut Outbox) {
        let version = connect.protocol;
        let client_id = connect.client_id.clone();
        // Session takeover [MQTT-3.1.4-3]: the old connection is closed.
        if let Some(old) = self.sessions.get(&client_id).and_then(|s| s.link) {
            self.links.remove(&old);
            out.close.push(old);
            if let Some(session) = self.sessions.get_mut(&client_id) {
                session.link = None;
                if !session.persistent {
                    self.sessions.remove(&client_id);
                }
            }
        }
        if connect.clean_start {
            self.sessions.remove(&client_id);
        }
        let present = self.sessions.contains_key(&client_id);
        let session = self.sessions.entry(client_id.clone()).or_default();
        session.link = Some(link);
        session.protocol = Some(version);
        session.persistent = if version.is_v5() {
            connect.properties.session_expiry_interval.unwrap_or(0) > 0
        } else {
            !connect.clean_start
        };
        session.window = if version.is_v5() {
            connect
                .properties
                .receive_maximum
                .map_or(u16::MAX, |m| m.get())
        } else {
            self.latitude.v3_inflight
        };
        session.released_here.clear();
        self.links.insert(link, client_id.clone());
        let mut connack = ConnAck::new(present);
        if version.is_v5() {
            connack.properties.receive_maximum =
                std::num::NonZeroU16::new(self.latitude.receive_maximum);
        }
        send(out, link, version, Packet::from(connack));
        if present {
            self.resume(&client_id, link, out);
        }
        self.pump(&client_id, out);
    }

    /// Resends what was in flight, in its first order: PUBLISH with DUP,
    /// or PUBREL once PUBREC came ([MQTT-4.4.0-1]).
    fn resume(&mut self, client_id: &ByteString, link: LinkId, out: &mut Outbox) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let version = session.protocol.unwrap_or(ProtocolVersion::V3_1_1);
        let mut flights: Vec<(&u16, &OutFlight)> = session.out.iter().collect();
        flights.sort_by_key(|(_, f)| f.order);
        for (id, flight) in flights {
            let packet_id = pid(*id);
            let packet = match flight.stage {
                OutStage::Pubcomp => Packet::PubRel(Ack::new(packet_id)),
                _ => {
                    // As first sent: a retained copy stays marked.
                    let mut publish = to_publish(&flight.message, flight.message.retain);
                    publish.packet_id = Some(packet_id);
                    publish.dup = true;
                    Packet::Publish(publish)
                }
            };
            send(out, link, version, packet);
        }
    }

    fn publish_in(
        &mut self,
        client_id: &ByteString,
        link: LinkId,
        publish: Publish,
        out: &mut Outbox,
    ) {
        let version = self.version(client_id);
        let message = Stored {
            topic: publish.topic.clone(),
            payload: publish.payload.clone(),
            qos: publish.qos,
            retain: publish.retain,
        };
        let Some(id) = publish.packet_id else {
            return self.route(message, out);
        };
        if publish.qos == QoS::AtLeastOnce {
            self.route(message, out);
            return send(out, link, version, Packet::PubAck(Ack::new(id)));
        }
        let deliver_on_pubrel = self.latitude.deliver_on_pubrel;
        let maximum = self.latitude.receive_maximum;
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        if session.incoming.contains_key(&id.get()) {
            // A resend of one not yet released: acknowledged, not routed
            // again (§4.3.3).
            return send(out, link, version, Packet::PubRec(Ack::new(id)));
        }
        if version.is_v5() && session.incoming.len() >= usize::from(maximum) {
            let detail = format!(
                "QoS 2 PUBLISH {id} with {} unreleased",
                session.incoming.len()
            );
            self.violation("[MQTT-3.3.4-9] the server's Receive Maximum", detail);
            return;
        }
        if deliver_on_pubrel {
            session.incoming.insert(id.get(), Some(message));
        } else {
            session.incoming.insert(id.get(), None);
            self.route(message, out);
        }
        send(out, link, version, Packet::PubRec(Ack::new(id)));
    }

    fn pubrel_in(&mut self, client_id: &ByteString, link: LinkId, id: PacketId, out: &mut Outbox) {
        let version = self.version(client_id);
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        // [MQTT-4.6.0-4]: PUBRELs go out in the order their PUBRECs came.
        // Every identifier whose PUBREC reached the client before this
        // one's must have been released on this connection already.
        if let Some(at) = session.pubrec_order.iter().position(|i| *i == id.get()) {
            let skipped: Vec<u16> = session.pubrec_order[..at]
                .iter()
                .copied()
                .filter(|i| !session.released_here.contains(i))
                .collect();
            if !skipped.is_empty() {
                let detail = format!(
                    "PUBREL {id} before PUBREL {skipped:?}, whose PUBRECs the client received first"
                );
                self.violations.push(WireViolation {
                    rule: "[MQTT-4.6.0-4] PUBREL in PUBREC order",
                    detail,
                });
            }
        }
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        session.released_here.push(id.get());
        let mut comp = Ack::new(id);
        match session.incoming.remove(&id.get()) {
            Some(Some(message)) => self.route(message, out),
            Some(None) => {}
            None if version.is_v5() => comp.reason_code = ReasonCode::PacketIdentifierNotFound,
            None => {}
        }
        send(out, link, version, Packet::PubComp(comp));
    }

    /// PUBACK, PUBREC or PUBCOMP from the client for a message we sent.
    fn ack_in(&mut self, client_id: &ByteString, ack: Ack, stage: OutStage, out: &mut Outbox) {
        let version = self.version(client_id);
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let Some(link) = session.link else {
            return;
        };
        let id = ack.packet_id.get();
        let Some(flight) = session.out.get_mut(&id) else {
            // 5.0 lets an acknowledgement for a finished flow pass.
            return;
        };
        match (flight.stage, stage) {
            (OutStage::Puback, OutStage::Puback) | (OutStage::Pubcomp, OutStage::Pubcomp) => {
                session.out.remove(&id);
                self.pump(client_id, out);
            }
            (OutStage::Pubrec, OutStage::Pubrec) if ack.reason_code.is_error() => {
                session.out.remove(&id);
                self.pump(client_id, out);
            }
            (OutStage::Pubrec | OutStage::Pubcomp, OutStage::Pubrec) => {
                flight.stage = OutStage::Pubcomp;
                send(out, link, version, Packet::PubRel(Ack::new(ack.packet_id)));
            }
            (expected, got) => {
                let detail = format!("{got:?}-kind acknowledgement for {id} awaiting {expected:?}");
                self.violation("acknowledgements match their flow (§4.3)", detail);
            }
        }
    }

    fn subscribe(
        &mut self,
        client_id: &ByteString,
        link: LinkId,
        subscribe: Subscribe,
        out: &mut Outbox,
    ) {
        let version = self.version(client_id);
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let mut codes = Vec::new();
        let mut retained = Vec::new();
        for (filter, options) in &subscribe.filters {
            session.subscriptions.retain(|(f, _)| f != filter);
            session.subscriptions.push((filter.clone(), options.qos));
            codes.push(match options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
            for (topic, message) in &self.retained {
                if topic_matches_sub(filter, topic) {
                    let mut copy = message.clone();
                    copy.qos = copy.qos.min(options.qos);
                    retained.push(copy);
                }
            }
        }
        let suback = SubAck {
            packet_id: subscribe.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        send(out, link, version, Packet::from(suback));
        // Retained messages come with RETAIN set, after the SUBACK
        // ([MQTT-3.3.1-6], [MQTT-3.3.1-8]).
        for message in retained {
            self.enqueue(client_id, message, out);
        }
        self.pump(client_id, out);
    }

    fn unsubscribe(
        &mut self,
        link: LinkId,
        client_id: &ByteString,
        unsubscribe: Unsubscribe,
        out: &mut Outbox,
    ) {
        let version = self.version(client_id);
        if let Some(session) = self.sessions.get_mut(client_id) {
            session
                .subscriptions
                .retain(|(f, _)| !unsubscribe.filters.contains(f));
        }
        let reason_codes = if version.is_v5() {
            vec![ReasonCode::Success; unsubscribe.filters.len()]
        } else {
            Vec::new()
        };
        let unsuback = UnsubAck {
            packet_id: unsubscribe.packet_id,
            properties: Default::default(),
            reason_codes,
        };
        send(out, link, version, Packet::from(unsuback));
    }

    /// Onward delivery: one copy per session with a matching subscription,
    /// at the lower of the two QoS; retained messages are kept.
    fn route(&mut self, message: Stored, out: &mut Outbox) {
        if message.retain {
            if message.payload.is_empty() {
                self.retained.remove(&message.topic);
            } else {
                self.retained.insert(message.topic.clone(), message.clone());
            }
        }
        let mut targets = Vec::new();
        for (client_id, session) in &self.sessions {
            let granted = session
                .subscriptions
                .iter()
                .filter(|(f, _)| topic_matches_sub(f, &message.topic))
                .map(|(_, q)| *q)
                .max();
            if let Some(granted) = granted {
                targets.push((client_id.clone(), granted));
            }
        }
        targets.sort();
        for (client_id, granted) in targets {
            let mut copy = message.clone();
            copy.qos = copy.qos.min(granted);
            // RETAIN is cleared on delivery to an established
            // subscription ([MQTT-3.3.1-9]).
            copy.retain = false;
            self.enqueue(&client_id, copy, out);
            self.pump(&client_id, out);
        }
    }

    fn enqueue(&mut self, client_id: &ByteString, message: Stored, out: &mut Outbox) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        if message.qos == QoS::AtMostOnce {
            // QoS 0 is not kept for a client that is away.
            if let Some(link) = session.link {
                let version = session.protocol.unwrap_or(ProtocolVersion::V3_1_1);
                send(
                    out,
                    link,
                    version,
                    Packet::Publish(to_publish(&message, message.retain)),
                );
            }
            return;
        }
        session.queue.push_back(message);
    }

    /// Moves queued messages into flight while the client's window allows.
    fn pump(&mut self, client_id: &ByteString, out: &mut Outbox) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let Some(link) = session.link else {
            return;
        };
        let version = session.protocol.unwrap_or(ProtocolVersion::V3_1_1);
        while session.out.len() < usize::from(session.window) {
            let Some(message) = session.queue.pop_front() else {
                break;
            };
            let id = loop {
                session.next_id = session.next_id % u16::MAX + 1;
                if !session.out.contains_key(&session.next_id) {
                    break session.next_id;
                }
            };
            let mut publish = to_publish(&message, message.retain);
            publish.packet_id = Some(pid(id));
            let stage = if message.qos == QoS::AtLeastOnce {
                OutStage::Puback
            } else {
                OutStage::Pubrec
            };
            session.next_order += 1;
            let order = session.next_order;
            session.out.insert(
                id,
                OutFlight {
                    message,
                    stage,
                    order,
                },
            );
            send(out, link, version, Packet::Publish(publish));
        }
    }

    /// The network delivered a PUBREC or PUBCOMP of ours to `client_id`'s
    /// link: the PUBREL order it owes us follows what it received.
    pub(crate) fn client_received(&mut self, client_id: &str, packet: &Packet) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        match packet {
            Packet::PubRec(ack) if !ack.reason_code.is_error() => {
                let id = ack.packet_id.get();
                if !session.pubrec_order.contains(&id) {
                    session.pubrec_order.push(id);
                }
            }
            Packet::PubComp(ack) => session.pubrec_order.retain(|i| *i != ack.packet_id.get()),
            _ => {}
        }
    }
}

fn pid(id: u16) -> PacketId {
    PacketId::new(id).unwrap_or(PacketId::MIN)
}

fn to_publish(message: &Stored, retain: bool) -> Publish {
    let mut publish = Publish::new(message.topic.clone(), message.payload.clone());
    publish.qos = message.qos;
    publish.retain = retain;
    publish
}

/// Encodes `packet` for `link` (empty bytes: the model built a packet
/// that cannot be encoded, which the schedule reports as the model's bug).
fn send(out: &mut Outbox, link: LinkId, version: ProtocolVersion, packet: Packet) {
    let mut buf = BytesMut::new();
    if packet.encode(version, &mut buf).is_err() {
        buf.clear();
    }
    out.packets.push((link, buf.freeze(), packet));
}
