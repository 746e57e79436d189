//! What our side has outstanding: requests waiting for the window or a
//! connection, QoS 1/2 publishes in flight, subscription changes awaiting
//! their acknowledgement, and the packet identifiers and topic aliases
//! they hold. The flows themselves are in `outbound.rs`; this file owns
//! the state and how it is reset when a connection or a session ends.

use alloc::vec::Vec;

use alloc::collections::VecDeque;

use crate::collections::FxHashMap;

use super::alias::OutboundAliases;
use super::packet_id::PacketIdPool;
use super::{RequestId, TopicAliasUse};
use crate::{PacketId, Publish, Subscribe, Unsubscribe};

/// A request waiting for the window or for a connection.
#[derive(Debug)]
pub(super) enum Queued {
    Publish {
        request: RequestId,
        /// Acceptance order (see [`StoreChange::PublishAccepted`](super::StoreChange::PublishAccepted)).
        seq: u64,
        /// Whether a durable store recorded it (QoS 1/2 when durable).
        stored: bool,
        publish: Publish,
        alias: TopicAliasUse,
        /// The session's `limits_epoch` it was last checked under, if any:
        /// one checked under the current limits waiting for the window is
        /// neither checked again nor moved each time the queue is pumped.
        checked: Option<u64>,
        /// The packet identifier a QoS 1 publish sent again after a lost
        /// session still holds (see `Outbound::session_lost`): it goes out
        /// under it.
        reserved: Option<PacketId>,
    },
    Subscribe(RequestId, Subscribe),
    Unsubscribe(RequestId, Unsubscribe),
}

/// Where an outgoing QoS 1/2 publish is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// QoS 1, PUBLISH sent, waiting for PUBACK.
    PublishedQoS1,
    /// QoS 2, PUBLISH sent, waiting for PUBREC.
    PublishedQoS2,
    /// QoS 2, PUBREL sent, waiting for PUBCOMP.
    Released,
    /// QoS 2 whose PUBLISH could not be resent (the new server's limits
    /// refuse it): its request has failed, and PUBREL, then PUBCOMP, free
    /// the identifier the server may still hold for it.
    Abandoned,
}

/// An outgoing QoS 1/2 publish holding a packet identifier.
#[derive(Debug)]
pub(super) struct OutFlight {
    pub(super) request: RequestId,
    /// Acceptance order, for resending in the original order.
    pub(super) seq: u64,
    pub(super) packet_id: PacketId,
    /// The PUBLISH as first sent (full topic, no alias).
    pub(super) publish: Publish,
    pub(super) stage: Stage,
}

/// A SUBSCRIBE or UNSUBSCRIBE waiting for its acknowledgement.
#[derive(Debug)]
pub(super) struct Control {
    pub(super) request: RequestId,
    pub(super) packet: crate::PacketType,
    pub(super) filters: usize,
}

/// Everything outgoing a session holds.
#[derive(Debug, Default)]
pub(super) struct Outbound {
    pub(super) queue: VecDeque<Queued>,
    /// How many of the queued requests are SUBSCRIBE or UNSUBSCRIBE (which
    /// may pass publishes the send window holds back).
    pub(super) queued_controls: usize,
    pub(super) inflight: FxHashMap<PacketId, OutFlight>,
    pub(super) controls: FxHashMap<PacketId, Control>,
    pub(super) ids: PacketIdPool,
    pub(super) aliases: OutboundAliases,
    /// The acceptance number of the last publish accepted.
    pub(super) next_seq: u64,
    /// The oldest publish whose PUBLISH was in flight when the last
    /// connection was lost (its acceptance number), and for how many
    /// connections in a row it was: a poison publish is one the server
    /// keeps closing the connection on (see `Session::count_strike`).
    pub(super) strikes: Option<(u64, u32)>,
}

impl Outbound {
    /// The connection ended: subscription changes awaiting an answer are
    /// dropped (they are not resent) and their identifiers freed. Returns
    /// their requests, oldest first, to be failed.
    pub(super) fn end_connection(&mut self) -> Vec<RequestId> {
        let mut controls: Vec<(PacketId, Control)> = self.controls.drain().collect();
        controls.sort_by_key(|(_, c)| c.request);
        controls
            .into_iter()
            .map(|(id, control)| {
                self.ids.release(id);
                control.request
            })
            .collect()
    }

    /// The server has no session for us. With `resend_qos1`, QoS 1 flights
    /// go back to the front of the queue in acceptance order (ahead of
    /// every queued publish, all accepted after them), to be sent again as
    /// new messages under the identifiers they keep; `stored` says whether
    /// a store holds them. Every other flight is dropped and its identifier
    /// freed: those are returned, in acceptance order.
    ///
    /// The queue may then hold more than its capacity, by at most the
    /// send window, until they are sent: they were in memory already.
    pub(super) fn session_lost(&mut self, resend_qos1: bool, stored: bool) -> Vec<OutFlight> {
        let mut flights: Vec<OutFlight> = self.inflight.drain().map(|(_, f)| f).collect();
        flights.sort_by_key(|f| f.seq);
        let mut dropped = Vec::new();
        let mut again = Vec::new();
        for flight in flights {
            if resend_qos1 && flight.stage == Stage::PublishedQoS1 {
                again.push(flight);
            } else {
                self.ids.release(flight.packet_id);
                dropped.push(flight);
            }
        }
        for flight in again.into_iter().rev() {
            let mut publish = flight.publish;
            publish.dup = false;
            self.queue.push_front(Queued::Publish {
                request: flight.request,
                seq: flight.seq,
                stored,
                publish,
                // The message as first sent, full topic and all; whether
                // it may use an alias was not kept.
                alias: TopicAliasUse::Never,
                checked: None,
                reserved: Some(flight.packet_id),
            });
        }
        dropped
    }

    /// The flights to resend on a resumed session, in acceptance order
    /// ([MQTT-4.4.0-1], [MQTT-4.6.0-1]).
    pub(super) fn resend_order(&self) -> Vec<(u64, PacketId)> {
        let mut order: Vec<(u64, PacketId)> = self
            .inflight
            .values()
            .map(|f| (f.seq, f.packet_id))
            .collect();
        order.sort_unstable();
        order
    }
}
