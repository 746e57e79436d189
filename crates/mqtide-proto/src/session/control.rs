//! Subscription changes: SUBSCRIBE and UNSUBSCRIBE, checked against what
//! the server allows, sent past publishes that wait for the window, and
//! completed by SUBACK and UNSUBACK. The publishes they share the queue
//! with are in `outbound.rs`.

use alloc::vec;
use alloc::vec::Vec;

use super::outbound::{MEASURE_ID, check_size};
use super::{
    AfterWrite, Completion, Control, ProtocolError, Queued, RequestError, RequestId, Session,
    UsageError,
};
use crate::{
    AckProperties, Packet, PacketId, PacketType, ProtocolVersion, ReasonCode, SubAck, Subscribe,
    SubscribeProperties, SubscriptionOptions, Timestamp, TopicFilter, UnsubAck, Unsubscribe,
    UnsubscribeProperties,
};

impl<T: Timestamp> Session<T> {
    /// Queues a SUBSCRIBE for `filters`; its completion carries one reason
    /// code (granted QoS or failure) per filter.
    ///
    /// Subscription changes keep their order among themselves, but
    /// publishes waiting for the send window do not hold them back
    /// ([MQTT-3.3.4-8]): a SUBSCRIBE (or UNSUBSCRIBE) may reach the server
    /// before publishes accepted earlier.
    pub fn subscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
        now: T,
    ) -> Result<RequestId, UsageError> {
        if filters.is_empty() {
            return Err(UsageError::NoFilters);
        }
        for (filter, options) in &filters {
            if options.no_local && filter.share_group().is_some() {
                return Err(UsageError::NoLocalOnSharedSubscription);
            }
        }
        let packet = Subscribe {
            packet_id: MEASURE_ID,
            properties,
            filters: filters
                .into_iter()
                .map(|(f, o)| (f.into_inner(), o))
                .collect(),
        };
        self.check_subscribe(&packet)?;
        self.check_queue_space()?;
        let id = self.request_id();
        self.outbound.queue.push_back(Queued::Subscribe(id, packet));
        self.outbound.queued_controls += 1;
        self.pump(now);
        Ok(id)
    }

    /// Queues an UNSUBSCRIBE for `filters`; its completion carries one
    /// reason code per filter (all `Success` under 3.1.1, which has none).
    pub fn unsubscribe(
        &mut self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
        now: T,
    ) -> Result<RequestId, UsageError> {
        if filters.is_empty() {
            return Err(UsageError::NoFilters);
        }
        let packet = Unsubscribe {
            packet_id: MEASURE_ID,
            properties,
            filters: filters.into_iter().map(TopicFilter::into_inner).collect(),
        };
        self.check_unsubscribe(&packet)?;
        self.check_queue_space()?;
        let id = self.request_id();
        self.outbound
            .queue
            .push_back(Queued::Unsubscribe(id, packet));
        self.outbound.queued_controls += 1;
        self.pump(now);
        Ok(id)
    }

    /// Checks a SUBSCRIBE against what the server allows: the features it
    /// uses (shared and wildcard subscriptions, subscription identifiers)
    /// and its Maximum Packet Size; and that it encodes under this version.
    /// Run when it is queued and again when it leaves the queue: one queued
    /// before CONNACK met no limits yet ([MQTT-3.2.2-15]).
    fn check_subscribe(&self, packet: &Subscribe) -> Result<(), UsageError> {
        let limits = &self.limits;
        for (filter, _) in &packet.filters {
            // Every filter was a TopicFilter when it was queued.
            let Ok(filter) = TopicFilter::new(filter.clone()) else {
                continue;
            };
            if filter.share_group().is_some() && !limits.shared_available {
                return Err(UsageError::NotSupported("shared subscriptions"));
            }
            if filter.has_wildcards() && !limits.wildcard_available {
                return Err(UsageError::NotSupported("wildcard subscriptions"));
            }
        }
        if packet.properties.subscription_identifier.is_some() && !limits.subscription_ids_available
        {
            return Err(UsageError::NotSupported("subscription identifiers"));
        }
        check_size(limits, packet.encoded_len(self.config.protocol)?)
    }

    /// Checks an UNSUBSCRIBE encodes and fits the server's Maximum Packet
    /// Size, when queued and again when it leaves the queue.
    fn check_unsubscribe(&self, packet: &Unsubscribe) -> Result<(), UsageError> {
        check_size(&self.limits, packet.encoded_len(self.config.protocol)?)
    }

    /// Sends the SUBSCRIBE or UNSUBSCRIBE at `index` of the queue, or
    /// refuses it. False when no packet identifier is left: then it stays
    /// where it is and everything waits.
    pub(super) fn pump_control(&mut self, index: usize, now: T) -> bool {
        // The limits may have changed since it was queued.
        let checked = match self.outbound.queue.get(index) {
            Some(Queued::Subscribe(_, packet)) => self.check_subscribe(packet),
            Some(Queued::Unsubscribe(_, packet)) => self.check_unsubscribe(packet),
            Some(Queued::Publish { .. }) | None => return false,
        };
        if let Err(e) = checked {
            self.outbound.queued_controls -= 1;
            if let Some(Queued::Subscribe(request, _) | Queued::Unsubscribe(request, _)) =
                self.outbound.queue.remove(index)
            {
                self.complete(request, Err(RequestError::NotAllowed(e)));
            }
            return true;
        }
        let Some(packet_id) = self.outbound.ids.allocate() else {
            return false;
        };
        self.outbound.queued_controls -= 1;
        match self.outbound.queue.remove(index) {
            Some(Queued::Subscribe(request, mut packet)) => {
                packet.packet_id = packet_id;
                self.track_control(packet_id, request, PacketType::SubAck, packet.filters.len());
                self.send(Packet::Subscribe(packet), AfterWrite::Nothing, now);
            }
            Some(Queued::Unsubscribe(request, mut packet)) => {
                packet.packet_id = packet_id;
                self.track_control(
                    packet_id,
                    request,
                    PacketType::UnsubAck,
                    packet.filters.len(),
                );
                self.send(Packet::Unsubscribe(packet), AfterWrite::Nothing, now);
            }
            // A control stands at `index`: matched above.
            Some(Queued::Publish { .. }) | None => {}
        }
        true
    }

    fn track_control(
        &mut self,
        id: PacketId,
        request: RequestId,
        packet: PacketType,
        filters: usize,
    ) {
        let control = Control {
            request,
            packet,
            filters,
        };
        self.outbound.controls.insert(id, control);
    }

    pub(super) fn handle_suback(&mut self, ack: SubAck, now: T) {
        let Some(filters) = self.take_control(PacketType::SubAck, ack.packet_id) else {
            return;
        };
        self.answer_control(
            filters,
            ack.reason_codes,
            ack.properties,
            PacketType::SubAck,
            now,
        );
    }

    pub(super) fn handle_unsuback(&mut self, ack: UnsubAck, now: T) {
        let Some(filters) = self.take_control(PacketType::UnsubAck, ack.packet_id) else {
            return;
        };
        let mut codes = ack.reason_codes;
        if self.config.protocol != ProtocolVersion::V5 {
            codes = vec![ReasonCode::Success; filters.1];
        }
        self.answer_control(filters, codes, ack.properties, PacketType::UnsubAck, now);
    }

    /// The request waiting for this SUBACK/UNSUBACK, or a protocol error.
    fn take_control(&mut self, packet: PacketType, id: PacketId) -> Option<(RequestId, usize)> {
        match self.outbound.controls.get(&id) {
            Some(control) if control.packet == packet => {
                let control = self.outbound.controls.remove(&id)?;
                self.outbound.ids.release(id);
                Some((control.request, control.filters))
            }
            _ => {
                self.unknown_id(packet, id);
                None
            }
        }
    }

    fn answer_control(
        &mut self,
        (request, expected): (RequestId, usize),
        reason_codes: Vec<ReasonCode>,
        properties: AckProperties,
        packet: PacketType,
        now: T,
    ) {
        if reason_codes.len() != expected {
            let got = reason_codes.len();
            self.complete(request, Err(RequestError::ConnectionLost));
            return self.protocol_error(ProtocolError::ResultCountMismatch {
                packet,
                expected,
                got,
            });
        }
        let completion = if packet == PacketType::SubAck {
            Completion::Subscribed {
                reason_codes,
                properties,
            }
        } else {
            Completion::Unsubscribed {
                reason_codes,
                properties,
            }
        };
        self.complete(request, Ok(completion));
        self.pump(now);
    }
}
