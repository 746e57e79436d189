//! What becomes of our publishes in flight when a connection ends: resent
//! on a resumed session (PUBLISH with DUP, or PUBREL past PUBREC), sent
//! again as new messages when the server kept no session (QoS 1), failed
//! when that cannot be done without risking a duplicate (QoS 2), and given
//! up on when one of them keeps taking its connections down (a poison
//! publish, `count_strike`).

use super::{
    AfterWrite, Outgoing, RequestError, Session, Stage, StoreChange, TopicAliasUse, UsageError,
};
use crate::{Ack, Packet, PacketId, Timestamp};

impl<T: Timestamp> Session<T> {
    /// Resends, in their original order, every unacknowledged PUBLISH with
    /// DUP set and every PUBREL awaiting PUBCOMP ([MQTT-4.4.0-1]).
    ///
    /// A PUBLISH is measured again first: this server's Maximum Packet Size
    /// may be smaller than the one it was first sent under, and nothing
    /// larger may go out ([MQTT-3.2.2-15]). One that no longer fits fails
    /// with [`RequestError::NotResent`] (see [`give_up`](Self::give_up)).
    pub(super) fn resend_inflight(&mut self, now: T) {
        let order = self.outbound.resend_order();
        #[cfg(mqtide_mutants)]
        let order = self.mutant_reverse_pubrels(order);
        for (_, id) in order {
            let Some(flight) = self.outbound.inflight.get_mut(&id) else {
                continue;
            };
            let packet = match flight.stage {
                Stage::PublishedQoS1 | Stage::PublishedQoS2 => {
                    // Written from the flight, with the full topic.
                    flight.publish.dup = true;
                    let fits = flight
                        .publish
                        .encoded_len(self.config.protocol)
                        .map_err(UsageError::from)
                        .and_then(|size| super::outbound::check_size(&self.limits, size));
                    match fits {
                        Ok(()) => Outgoing::Flight(id, TopicAliasUse::Never),
                        Err(error) => {
                            if !self.give_up(id, RequestError::NotResent(error)) {
                                continue;
                            }
                            Packet::PubRel(Ack::new(id)).into()
                        }
                    }
                }
                Stage::Released | Stage::Abandoned => {
                    self.counters.pubrels_resent += 1;
                    Packet::PubRel(Ack::new(id)).into()
                }
            };
            self.send(packet, AfterWrite::Nothing, now);
        }
    }

    /// Gives up on the flight under `id`, whose PUBLISH will not be sent
    /// again, and fails its request with `error`. At QoS 1 its flow ends
    /// there. At QoS 2 the server may still hold the packet identifier from
    /// an earlier attempt and would take a new message under it for a
    /// resend, so the flow is released instead (PUBREL, whose PUBCOMP frees
    /// the identifier) with nobody waiting. Returns whether it was released
    /// (a PUBREL is owed).
    fn give_up(&mut self, id: PacketId, error: RequestError) -> bool {
        let Some(flight) = self.outbound.inflight.get_mut(&id) else {
            return false;
        };
        let (request, seq) = (flight.request, flight.seq);
        let released = flight.stage != Stage::PublishedQoS1;
        if released {
            flight.stage = Stage::Abandoned;
            self.record(|| StoreChange::PublishReleased { seq });
        } else {
            self.outbound.inflight.remove(&id);
            self.outbound.ids.release(id);
            self.record(|| StoreChange::PublishDone { seq });
        }
        self.complete(request, Err(error));
        released
    }

    /// A connection that got past CONNACK was lost, by anything but our
    /// own DISCONNECT. The oldest publish whose PUBLISH was in flight takes
    /// a strike (its first, if another was the oldest at the last loss);
    /// at [`SessionConfig::poison_threshold`](super::SessionConfig::poison_threshold)
    /// strikes in a row it is a poison publish: the session gives up on it
    /// ([`give_up`](Self::give_up), with [`RequestError::Poisoned`]) and
    /// the others go on.
    ///
    /// Flights past PUBREC do not count: what is resent for them is a
    /// PUBREL, not the message.
    pub(super) fn count_strike(&mut self) {
        let oldest = self
            .outbound
            .inflight
            .values()
            .filter(|f| matches!(f.stage, Stage::PublishedQoS1 | Stage::PublishedQoS2))
            .min_by_key(|f| f.seq)
            .map(|f| (f.seq, f.packet_id));
        let Some((seq, id)) = oldest else {
            self.outbound.strikes = None;
            return;
        };
        let connections = match self.outbound.strikes {
            Some((last, strikes)) if last == seq => strikes.saturating_add(1),
            _ => 1,
        };
        let threshold = self.config.poison_threshold;
        if threshold == 0 || connections < threshold {
            self.outbound.strikes = Some((seq, connections));
            return;
        }
        self.outbound.strikes = None;
        let topic = self.outbound.inflight[&id].publish.topic.clone();
        let error = RequestError::Poisoned {
            seq,
            topic,
            connections,
        };
        // At QoS 2 the PUBREL that releases it goes out on the next
        // connection, if that one resumes the session.
        self.give_up(id, error);
    }

    /// The `pubrel-order` mutant: the flights that resend PUBREL swap
    /// places among themselves, last first.
    #[cfg(mqtide_mutants)]
    fn mutant_reverse_pubrels(&self, mut order: Vec<(u64, PacketId)>) -> Vec<(u64, PacketId)> {
        if !crate::mutants::armed(crate::mutants::Mutant::PubrelOrder) {
            return order;
        }
        let released = |id: &PacketId| {
            self.outbound
                .inflight
                .get(id)
                .is_some_and(|f| matches!(f.stage, Stage::Released | Stage::Abandoned))
        };
        let slots: Vec<usize> = (0..order.len())
            .filter(|&i| released(&order[i].1))
            .collect();
        let mut flights: Vec<_> = slots.iter().map(|&i| order[i]).collect();
        flights.reverse();
        for (slot, flight) in slots.into_iter().zip(flights) {
            order[slot] = flight;
        }
        order
    }

    /// The server has no session for us (or we asked for a clean one).
    ///
    /// A QoS 1 publish in flight is sent again as a new message, ahead of
    /// everything queued, and its request completes with the new
    /// acknowledgement: QoS 1 is "at least once", and a second copy is
    /// within its promise. A new message goes out with DUP clear under an
    /// identifier unused in the session ([MQTT-4.3.2-1]); the server's new
    /// session uses none, so it keeps the one it holds, and its store
    /// record (which says it went out under that identifier) stays true.
    /// A crash before it goes out again resumes it as a publish in flight:
    /// resent with DUP if the next CONNACK finds a session, sent again as
    /// new if not. With
    /// [`SessionConfig::resend_qos1_on_session_loss`](super::SessionConfig::resend_qos1_on_session_loss)
    /// off it fails like QoS 2.
    ///
    /// A QoS 2 publish in flight fails with [`RequestError::SessionLost`]:
    /// its outcome is indeterminate (the old session may have delivered it
    /// once, or not at all), and sending it again could deliver it twice.
    /// The incoming exactly-once state goes too.
    pub(super) fn discard_session_state(&mut self) {
        let resend_qos1 = self.config.resend_qos1_on_session_loss;
        let durable = self.config.durable;
        for flight in self.outbound.session_lost(resend_qos1, durable) {
            self.record(|| StoreChange::PublishDone { seq: flight.seq });
            // An abandoned flow's request has already failed.
            if flight.stage != Stage::Abandoned {
                self.complete(flight.request, Err(RequestError::SessionLost));
            }
        }
        if self.inbound.discard() {
            self.record(|| StoreChange::IncomingCleared);
        }
    }
}
