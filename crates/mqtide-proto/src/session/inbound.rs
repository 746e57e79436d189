//! Incoming application messages: topic aliases, QoS 1 and QoS 2 flows
//! towards us (exactly-once delivery across DUP resends), the receive
//! maximum we announced, and manual acknowledgement in arrival order.

use alloc::collections::VecDeque;

use crate::Timestamp;
use crate::collections::{FxHashMap, FxHashSet};
use bytestring::ByteString;

use super::packet_id::PacketIdPool;
use super::{
    AckMode, AckToken, AfterWrite, Event, Message, ProtocolError, ReceiveOverrun, Session, State,
    StoreChange, UsageError,
};
use crate::{Ack, Packet, PacketId, PacketType, Publish, QoS, ReasonCode};

/// An incoming QoS 1/2 message the application has yet to acknowledge
/// (manual mode).
#[derive(Debug)]
pub(super) struct PendingAck {
    pub(super) token: u64,
    pub(super) packet_id: PacketId,
    pub(super) qos: QoS,
    /// `Some` once the application acknowledged it, with the reason code
    /// to send (5.0; `Success` otherwise).
    pub(super) acked: Option<ReasonCode>,
}

/// Everything incoming a session holds.
#[derive(Debug, Default)]
pub(super) struct Inbound {
    /// QoS 2 packet identifiers received and not yet released (PUBREL).
    pub(super) qos2: PacketIdPool,
    /// QoS 1 messages not yet acknowledged (manual mode).
    pub(super) qos1_unacked: usize,
    /// Topic aliases the server set on this connection.
    pub(super) aliases: FxHashMap<u16, ByteString>,
    /// Messages delivered in manual mode, in arrival order, with the
    /// application's acknowledgement once given.
    pub(super) pending_acks: VecDeque<PendingAck>,
    pub(super) next_token: u64,
    /// Restored QoS 2 identifiers the application never acknowledged: a
    /// resend of one is delivered again.
    pub(super) redeliver: FxHashSet<PacketId>,
    /// Messages taken beyond our Receive Maximum, over the session's life.
    pub(super) overruns: u64,
    /// Whether this connection's first overrun was reported.
    pub(super) overrun_reported: bool,
}

impl Inbound {
    /// How many messages hold a place in the receive window: QoS 1 ones
    /// not yet acknowledged and QoS 2 ones not yet released.
    pub(super) fn unacknowledged(&self) -> usize {
        self.qos1_unacked + self.qos2.in_use()
    }

    /// The connection ended: aliases go, and unacknowledged QoS 1
    /// deliveries too (the server redelivers them; their tokens are void).
    /// QoS 2 ones stay: the server resends them with DUP and they must not
    /// be delivered twice.
    pub(super) fn end_connection(&mut self) {
        self.aliases.clear();
        self.overrun_reported = false;
        self.pending_acks.retain(|p| p.qos == QoS::ExactlyOnce);
        self.qos1_unacked = 0;
    }

    /// The server has no session for us: every exactly-once record is
    /// void. Returns whether there were any (the store must forget them).
    pub(super) fn discard(&mut self) -> bool {
        let held = self.qos2.in_use() > 0;
        self.qos2.clear();
        self.redeliver.clear();
        self.pending_acks.clear();
        self.qos1_unacked = 0;
        held
    }
}

impl<T: Timestamp> Session<T> {
    /// Acknowledges a message delivered in [`AckMode::Manual`]. The
    /// acknowledgement goes out once every message that arrived before it
    /// has been acknowledged too ([MQTT-4.6.0-2], [MQTT-4.6.0-3]).
    pub fn ack(&mut self, token: AckToken, now: T) -> Result<(), UsageError> {
        self.ack_with(token, ReasonCode::Success, now)
    }

    /// Acknowledges with a 5.0 reason code: a failure code (0x80 and up)
    /// tells the server the message was not accepted; for QoS 2 it ends
    /// the flow at PUBREC. Under 3.1.1 only `Success` can be sent.
    pub fn ack_with(
        &mut self,
        token: AckToken,
        reason_code: ReasonCode,
        now: T,
    ) -> Result<(), UsageError> {
        let valid = if self.config.protocol.is_v5() {
            reason_code.is_valid_for(PacketType::PubAck)
        } else {
            reason_code == ReasonCode::Success
        };
        if !valid {
            return Err(UsageError::Encode(crate::EncodeError::InvalidReasonCode {
                packet: PacketType::PubAck,
                code: reason_code,
            }));
        }
        let entry = self
            .inbound
            .pending_acks
            .iter_mut()
            .find(|p| p.token == token.0 && p.acked.is_none())
            .ok_or(UsageError::UnknownAckToken)?;
        entry.acked = Some(reason_code);
        let (qos, packet_id) = (entry.qos, entry.packet_id);
        // Stored now, not when the PUBREC can go out (it waits for earlier
        // messages' acknowledgements and for a connection): once the
        // application's acknowledgement is committed, a crash must not
        // bring the message back.
        if qos == QoS::ExactlyOnce && !reason_code.is_error() {
            self.record(|| StoreChange::IncomingAcknowledged { packet_id });
        }
        self.flush_acks(now);
        Ok(())
    }

    /// Sends the acknowledgements at the front of the arrival order that the
    /// application has released.
    pub(super) fn flush_acks(&mut self, now: T) {
        if self.state != State::Connected {
            return;
        }
        while let Some(reason_code) = self.inbound.pending_acks.front().and_then(|p| p.acked) {
            let Some(pending) = self.inbound.pending_acks.pop_front() else {
                break;
            };
            let mut ack = Ack::new(pending.packet_id);
            ack.reason_code = reason_code;
            let packet = if pending.qos == QoS::AtLeastOnce {
                self.inbound.qos1_unacked = self.inbound.qos1_unacked.saturating_sub(1);
                Packet::PubAck(ack)
            } else {
                // A failure on PUBREC ends the flow: no PUBREL follows.
                let packet_id = pending.packet_id;
                // A success was stored when the application acknowledged.
                if reason_code.is_error() {
                    self.inbound.qos2.release(packet_id);
                    self.record(|| StoreChange::IncomingReleased { packet_id });
                }
                Packet::PubRec(ack)
            };
            self.send(packet, AfterWrite::Nothing, now);
        }
    }

    pub(super) fn handle_publish(&mut self, mut publish: Publish, now: T) {
        if let Err(error) = self.resolve_alias(&mut publish) {
            return self.protocol_error(error);
        }
        let Some(id) = publish.packet_id else {
            return self.deliver(publish, None);
        };
        let redelivery = publish.qos == QoS::ExactlyOnce && self.inbound.redeliver.remove(&id);
        let resend =
            publish.qos == QoS::ExactlyOnce && self.inbound.qos2.is_used(id) && !redelivery;
        #[cfg(mqtide_mutants)]
        let resend = resend && !crate::mutants::armed(crate::mutants::Mutant::Qos2DedupeOff);
        if resend {
            // A resend of a message already delivered: never deliver it
            // twice. Answer again unless the application still holds it.
            self.counters.duplicates_suppressed += 1;
            if !self.inbound.pending_acks.iter().any(|p| p.packet_id == id) {
                self.send(Packet::PubRec(Ack::new(id)), AfterWrite::Nothing, now);
            }
            return;
        }
        // A restored message the application never acknowledged already
        // holds its place in the window.
        if !redelivery && !self.take_into_window() {
            let maximum = self.config.receive_maximum();
            return self.protocol_error(ProtocolError::ReceiveMaximumExceeded(maximum));
        }
        let qos = publish.qos;
        if qos == QoS::ExactlyOnce && !redelivery {
            self.inbound.qos2.mark(id);
            if self.config.ack_mode == AckMode::Manual {
                self.record(|| StoreChange::IncomingReceived { packet_id: id });
            }
        }
        match self.config.ack_mode {
            AckMode::Auto => {
                self.deliver(publish, None);
                let ack = Ack::new(id);
                let packet = if qos == QoS::AtLeastOnce {
                    Packet::PubAck(ack)
                } else {
                    self.record(|| StoreChange::IncomingAcknowledged { packet_id: id });
                    Packet::PubRec(ack)
                };
                self.send(packet, AfterWrite::Nothing, now);
            }
            AckMode::Manual => {
                self.inbound.next_token += 1;
                let token = self.inbound.next_token;
                if qos == QoS::AtLeastOnce {
                    self.inbound.qos1_unacked += 1;
                }
                self.inbound.pending_acks.push_back(PendingAck {
                    token,
                    packet_id: id,
                    qos,
                    acked: None,
                });
                self.deliver(publish, Some(AckToken(token)));
            }
        }
    }

    /// Whether a new message fits our Receive Maximum, or an overrun
    /// [`ReceiveOverrun`] tolerates (counted, and reported once per
    /// connection).
    fn take_into_window(&mut self) -> bool {
        let maximum = usize::from(self.config.receive_maximum());
        let unacknowledged = self.inbound.unacknowledged();
        if unacknowledged < maximum {
            return true;
        }
        let ReceiveOverrun::Tolerate { margin } = self.config.receive_overrun else {
            return false;
        };
        if unacknowledged >= maximum + usize::from(margin) {
            return false;
        }
        self.inbound.overruns += 1;
        if !self.inbound.overrun_reported {
            self.inbound.overrun_reported = true;
            self.events.push_back(Event::ReceiveMaximumOverrun {
                maximum: self.config.receive_maximum(),
                unacknowledged: unacknowledged + 1,
            });
        }
        true
    }

    pub(super) fn handle_pubrel(&mut self, id: PacketId, now: T) {
        if self
            .inbound
            .pending_acks
            .iter()
            .any(|p| p.packet_id == id && p.qos == QoS::ExactlyOnce)
        {
            // We have not sent PUBREC yet, so the server cannot release it.
            return self.protocol_error(ProtocolError::UnknownPacketId {
                packet: PacketType::PubRel,
                id: id.get(),
            });
        }
        let mut comp = Ack::new(id);
        let released = self.inbound.qos2.release(id);
        if released {
            self.record(|| StoreChange::IncomingReleased { packet_id: id });
        }
        if !released && self.config.protocol.is_v5() {
            // Already released (our PUBCOMP was lost): complete it again.
            comp.reason_code = ReasonCode::PacketIdentifierNotFound;
        }
        self.send(Packet::PubComp(comp), AfterWrite::Nothing, now);
    }

    /// Replaces a topic alias by its topic, or records a new alias
    /// (5.0 §3.3.2.3.4). Aliases last for one connection.
    fn resolve_alias(&mut self, publish: &mut Publish) -> Result<(), ProtocolError> {
        let Some(alias) = publish.properties.topic_alias else {
            return Ok(());
        };
        let maximum = self.config.properties.topic_alias_maximum.unwrap_or(0);
        if alias.get() > maximum {
            return Err(ProtocolError::TopicAliasInvalid(alias.get()));
        }
        if publish.topic.is_empty() {
            publish.topic = self
                .inbound
                .aliases
                .get(&alias.get())
                .cloned()
                .ok_or(ProtocolError::TopicAliasInvalid(alias.get()))?;
        } else {
            self.inbound
                .aliases
                .insert(alias.get(), publish.topic.clone());
        }
        Ok(())
    }

    fn deliver(&mut self, publish: Publish, ack: Option<AckToken>) {
        self.counters.messages_received[publish.qos as usize] += 1;
        self.events
            .push_back(Event::Message(Message { publish, ack }));
    }
}
