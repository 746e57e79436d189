//! Outgoing publishes at QoS 0, 1 and 2: the queue they share with
//! subscription changes (`control.rs`), the in-flight window, and the
//! acknowledgements that complete them.

use alloc::boxed::Box;
use alloc::string::ToString;

use super::{
    AfterWrite, Completion, Limits, OutFlight, Outgoing, ProtocolError, QoSPolicy, Queued,
    RequestError, RequestId, Session, Stage, State, StoreChange, TopicAliasUse, UsageError,
};
use crate::{
    Ack, Packet, PacketId, PacketType, ProtocolVersion, Publish, QoS, ReasonCode, Timestamp,
};

/// A packet identifier used only to measure packets before the real one
/// is assigned (every identifier takes two bytes).
pub(super) const MEASURE_ID: PacketId = PacketId::MIN;

impl<T: Timestamp> Session<T> {
    /// Queues a publish. Its [`Event::Completed`](super::Event::Completed)
    /// comes when it is written (QoS 0), acknowledged by PUBACK (QoS 1) or
    /// completed by PUBCOMP (QoS 2). The session assigns the packet
    /// identifier, clears DUP, and uses a topic alias when the server
    /// allows them; the topic must be a full topic name.
    ///
    /// Publishes go out in the order they were accepted, whatever their
    /// QoS: a QoS 0 publish accepted while a QoS 1/2 one waits for the send
    /// window waits behind it.
    pub fn publish(&mut self, publish: Publish, now: T) -> Result<RequestId, UsageError> {
        self.publish_with(publish, TopicAliasUse::Auto, now)
    }

    /// [`publish`](Self::publish), choosing whether this message may use a
    /// topic alias.
    pub fn publish_with(
        &mut self,
        mut publish: Publish,
        alias: TopicAliasUse,
        now: T,
    ) -> Result<RequestId, UsageError> {
        crate::check_topic_name(&publish.topic).map_err(UsageError::InvalidTopic)?;
        super::config::check_response_topic(publish.properties.response_topic.as_ref())?;
        if publish.properties.topic_alias.is_some() {
            return Err(UsageError::NotAllowed(
                "topic aliases are the session's to assign; send the full topic name",
            ));
        }
        if !publish.properties.subscription_identifiers.is_empty() {
            return Err(UsageError::NotAllowed(
                "a client must not send subscription identifiers in PUBLISH [MQTT-3.3.4-6]",
            ));
        }
        publish.dup = false;
        check_publish(
            &self.limits,
            self.config.qos_policy,
            self.config.protocol,
            &mut publish,
        )?;
        self.check_queue_space()?;
        let request = self.request_id();
        self.outbound.next_seq += 1;
        let seq = self.outbound.next_seq;
        let stored = self.config.durable && publish.qos != QoS::AtMostOnce;
        if stored {
            let mut accepted = publish.clone();
            accepted.packet_id = None;
            self.record(|| StoreChange::PublishAccepted {
                seq,
                publish: Box::new(accepted),
            });
        }
        self.outbound.queue.push_back(Queued::Publish {
            request,
            seq,
            stored,
            publish,
            alias,
            checked: Some(self.limits_epoch),
            reserved: None,
        });
        self.pump(now);
        Ok(request)
    }

    pub(super) fn check_queue_space(&self) -> Result<(), UsageError> {
        if self.outbound.queue.len() >= self.config.queue_capacity {
            Err(UsageError::QueueFull(self.outbound.queue.len()))
        } else {
            Ok(())
        }
    }
    /// Moves queued requests into flight while the connection, the send
    /// window and packet identifiers allow.
    ///
    /// The order users can rely on: publishes leave the queue in the order
    /// they were accepted, whatever their QoS, so a QoS 0 publish waits
    /// behind a QoS 1/2 one that waits for the window (messages on a topic
    /// stay in order, and a later state never overtakes an earlier one).
    /// SUBSCRIBE and UNSUBSCRIBE keep their order among themselves, but the
    /// window does not hold them back ([MQTT-3.3.4-8]: the receive maximum
    /// limits only QoS 1/2 PUBLISH packets): they pass publishes waiting
    /// for it, so they may reach the server before publishes accepted
    /// earlier. Only running out of packet identifiers stops everything.
    pub(super) fn pump(&mut self, now: T) {
        // How many queued publishes at the front the window holds back;
        // controls behind them may still go.
        let mut held = 0;
        while self.state == State::Connected {
            if held > 0 && self.outbound.queued_controls == 0 {
                break;
            }
            match self.outbound.queue.get(held) {
                None => break,
                Some(Queued::Publish { .. }) if held > 0 => held += 1,
                Some(Queued::Publish { .. }) => {
                    if !self.pump_publish(now) {
                        held = 1;
                    }
                }
                Some(_) => {
                    if !self.pump_control(held, now) {
                        break;
                    }
                }
            }
        }
    }

    /// Moves the publish at the head of the queue on: refused, written
    /// (QoS 0) or into flight. False when it has to wait for the window or
    /// for a packet identifier; then it stays where it is.
    ///
    /// It is checked and waits in place, and moves once, straight into its
    /// flight: a PUBLISH is a few hundred bytes, and each move of it was a
    /// copy on every message.
    fn pump_publish(&mut self, now: T) -> bool {
        let epoch = self.limits_epoch;
        let Some(Queued::Publish {
            publish,
            checked,
            reserved,
            ..
        }) = self.outbound.queue.front_mut()
        else {
            return false;
        };
        let reserved = *reserved;
        // The limits may have changed since the publish was last checked.
        if *checked != Some(epoch) {
            let verdict = check_publish(
                &self.limits,
                self.config.qos_policy,
                self.config.protocol,
                publish,
            );
            *checked = Some(epoch);
            if let Err(e) = verdict {
                if let Some(Queued::Publish {
                    request,
                    seq,
                    stored,
                    ..
                }) = self.outbound.queue.pop_front()
                {
                    self.forget_stored(seq, stored, reserved);
                    self.complete(request, Err(RequestError::NotAllowed(e)));
                }
                return true;
            }
        }
        let at_most_once = publish.qos == QoS::AtMostOnce;
        let packet_id = if at_most_once {
            None
        } else if self.window_full() {
            return false;
        } else if reserved.is_some() {
            reserved
        } else {
            match self.outbound.ids.allocate() {
                Some(id) => Some(id),
                // Running out of identifiers stops everything.
                None => return false,
            }
        };
        let Some(Queued::Publish {
            request,
            seq,
            stored,
            mut publish,
            alias,
            checked: _,
            reserved: _,
        }) = self.outbound.queue.pop_front()
        else {
            return false;
        };
        let Some(packet_id) = packet_id else {
            // (Downgraded, if it was stored or sent before.)
            self.forget_stored(seq, stored, reserved);
            publish.packet_id = None;
            if alias == TopicAliasUse::Auto {
                self.outbound.aliases.apply(&mut publish);
            }
            self.send(Packet::Publish(publish), AfterWrite::Complete(request), now);
            return true;
        };
        publish.packet_id = Some(packet_id);
        let stage = match publish.qos {
            QoS::AtLeastOnce => Stage::PublishedQoS1,
            _ => Stage::PublishedQoS2,
        };
        if stored {
            self.record(|| StoreChange::PublishSent { seq, packet_id });
        }
        let flight = OutFlight {
            request,
            seq,
            packet_id,
            publish,
            stage,
        };
        self.outbound.inflight.insert(packet_id, flight);
        self.send(Outgoing::Flight(packet_id, alias), AfterWrite::Nothing, now);
        true
    }

    /// A publish left the queue without a flow of its own: a store forgets
    /// it, and an identifier it still held is free.
    fn forget_stored(&mut self, seq: u64, stored: bool, reserved: Option<PacketId>) {
        if stored {
            self.record(|| StoreChange::PublishDone { seq });
        }
        if let Some(id) = reserved {
            self.outbound.ids.release(id);
        }
    }

    /// Ends an outgoing flow: frees the identifier, reports the outcome and
    /// lets the next queued publish into the window.
    fn finish_flight(&mut self, id: PacketId, ack: Ack, now: T) {
        if let Some(flight) = self.outbound.inflight.remove(&id) {
            self.outbound.ids.release(id);
            self.record(|| StoreChange::PublishDone { seq: flight.seq });
            // An abandoned flow's request has already failed.
            if flight.stage != Stage::Abandoned {
                self.complete(flight.request, ack_outcome(ack));
            }
            self.pump(now);
        }
    }

    /// Whether the server's receive maximum (3.1.1: our in-flight
    /// setting) holds back the next QoS 1/2 publish.
    fn window_full(&self) -> bool {
        self.outbound.inflight.len() >= usize::from(self.limits.send_window)
    }

    fn stage_of(&self, id: PacketId) -> Option<Stage> {
        self.outbound.inflight.get(&id).map(|f| f.stage)
    }

    pub(super) fn unknown_id(&mut self, packet: PacketType, id: PacketId) {
        self.protocol_error(ProtocolError::UnknownPacketId {
            packet,
            id: id.get(),
        });
    }

    pub(super) fn handle_puback(&mut self, ack: Ack, now: T) {
        match self.stage_of(ack.packet_id) {
            Some(Stage::PublishedQoS1) => self.finish_flight(ack.packet_id, ack, now),
            _ => self.unknown_id(PacketType::PubAck, ack.packet_id),
        }
    }

    pub(super) fn handle_pubrec(&mut self, ack: Ack, now: T) {
        let id = ack.packet_id;
        match self.stage_of(id) {
            // 5.0: a failure reason code on PUBREC ends the flow.
            Some(Stage::PublishedQoS2) if ack.reason_code.is_error() => {
                self.finish_flight(id, ack, now);
            }
            Some(stage @ (Stage::PublishedQoS2 | Stage::Released)) => {
                if let Some(flight) = self.outbound.inflight.get_mut(&id) {
                    flight.stage = Stage::Released;
                    let seq = flight.seq;
                    if stage == Stage::PublishedQoS2 {
                        self.record(|| StoreChange::PublishReleased { seq });
                    }
                }
                self.send(Packet::PubRel(Ack::new(id)), AfterWrite::Nothing, now);
            }
            // Released already, whatever the server thinks of it.
            Some(Stage::Abandoned) => {
                self.send(Packet::PubRel(Ack::new(id)), AfterWrite::Nothing, now);
            }
            Some(Stage::PublishedQoS1) => self.unknown_id(PacketType::PubRec, id),
            // A PUBREC for nothing we hold: release it so the server can
            // forget it too (5.0 §3.6.2.1, "Packet Identifier not found").
            None => {
                let mut rel = Ack::new(id);
                if self.config.protocol.is_v5() {
                    rel.reason_code = ReasonCode::PacketIdentifierNotFound;
                }
                self.send(Packet::PubRel(rel), AfterWrite::Nothing, now);
            }
        }
    }

    pub(super) fn handle_pubcomp(&mut self, ack: Ack, now: T) {
        match self.stage_of(ack.packet_id) {
            Some(Stage::Released | Stage::Abandoned) => {
                self.finish_flight(ack.packet_id, ack, now);
            }
            _ => self.unknown_id(PacketType::PubComp, ack.packet_id),
        }
    }
}

/// The outcome a final acknowledgement gives a publish.
fn ack_outcome(ack: Ack) -> Result<Completion, RequestError> {
    if ack.reason_code.is_error() {
        Err(RequestError::Rejected {
            reason_code: ack.reason_code,
            reason_string: ack.properties.reason_string.map(|s| s.to_string()),
        })
    } else {
        Ok(Completion::Published {
            reason_code: ack.reason_code,
            properties: ack.properties,
        })
    }
}

/// Checks a packet of `size` bytes against the server's Maximum Packet
/// Size ([MQTT-3.2.2-15]).
pub(super) fn check_size(limits: &Limits, size: usize) -> Result<(), UsageError> {
    match limits.maximum_packet_size {
        Some(maximum) if size > maximum as usize => {
            Err(UsageError::PacketTooLarge { size, maximum })
        }
        _ => Ok(()),
    }
}

/// Checks (and, with `QoSPolicy::Downgrade`, adjusts) a publish against
/// what the server allows and what the version can encode.
fn check_publish(
    limits: &Limits,
    policy: QoSPolicy,
    version: ProtocolVersion,
    publish: &mut Publish,
) -> Result<(), UsageError> {
    if publish.qos > limits.maximum_qos {
        match policy {
            QoSPolicy::Refuse => {
                return Err(UsageError::QoSNotSupported {
                    requested: publish.qos,
                    maximum: limits.maximum_qos,
                });
            }
            QoSPolicy::Downgrade => publish.qos = limits.maximum_qos,
        }
    }
    if publish.retain && !limits.retain_available {
        return Err(UsageError::RetainNotSupported);
    }
    publish.packet_id = (publish.qos != QoS::AtMostOnce).then_some(MEASURE_ID);
    let size = publish.encoded_len(version)?;
    check_size(limits, size)
}
