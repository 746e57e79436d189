//! The life of one connection: CONNECT, CONNACK and what it negotiates,
//! session resumption, enhanced authentication, and the one path by which
//! a connection ends.

use std::time::Instant;

use super::{
    AfterWrite, Connected, ConnectionError, Event, Limits, Outgoing, ProtocolError, Session, Stage,
    State, StoreChange, Timer, TopicAliasUse, UsageError,
};
use bytestring::ByteString;

use crate::{
    Auth, ConnAck, Disconnect, DisconnectProperties, EncodeError, Packet, QoS, ReasonCode,
    UserProperty,
};

impl Session {
    /// A transport is up: queues CONNECT and starts the connect timeout.
    /// A connection still open is treated as lost first.
    ///
    /// A configuration that cannot make a valid CONNECT (see
    /// [`SessionConfig::validate`](super::SessionConfig::validate)) sends
    /// nothing: the connection ends at once with
    /// [`ConnectionError::InvalidConfig`], reported once as for any other
    /// end.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.state != State::Idle {
            self.handle_connection_lost(now);
        }
        self.state = State::Connecting;
        self.connection_reported = true;
        self.auth_challenge = false;
        self.limits = Limits::unknown(&self.config);
        self.limits_epoch += 1;
        let connect = Packet::from(self.config.connect());
        if let Err(error) = self.config.check_connect(&connect) {
            return self.end_connection(ConnectionError::InvalidConfig(error));
        }
        self.send(connect, AfterWrite::Nothing, now);
        self.timers
            .set(Timer::Connect, now + self.config.connect_timeout);
    }

    /// The transport went away. Reports [`Event::Disconnected`] if the
    /// connection had not already ended; keeps everything that must be
    /// resent on the next connection.
    pub fn handle_connection_lost(&mut self, _now: Instant) {
        self.end_connection(ConnectionError::ConnectionLost);
        // What is still queued was for the transport that is gone: the
        // DISCONNECT a protocol error queued after the connection ended,
        // if the driver closed before writing it. The next connection
        // starts with its CONNECT.
        for (_, after) in std::mem::take(&mut self.transmit) {
            if let AfterWrite::Complete(id) = after {
                self.complete(id, Err(super::RequestError::ConnectionLost));
            }
        }
        self.state = State::Idle;
    }

    /// Queues a DISCONNECT (with `reason_code` and `properties` under 5.0);
    /// the connection ends once it is written. In-flight publishes stay in
    /// the session for the next connection.
    ///
    /// If the packet would exceed the server's Maximum Packet Size, the
    /// Reason String and then User Properties (last first) are left out
    /// until it fits, as 5.0 asks of a sender ([MQTT-3.14.2-3],
    /// [MQTT-3.14.2-4]); if it still does not fit, nothing is sent.
    pub fn disconnect(
        &mut self,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
        now: Instant,
    ) -> Result<(), UsageError> {
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(UsageError::NotConnected);
        }
        let connect_expiry = self.config.properties.session_expiry_interval.unwrap_or(0);
        if connect_expiry == 0 && properties.session_expiry_interval.is_some_and(|e| e > 0) {
            return Err(UsageError::NotAllowed(
                "a session that was to end with the connection cannot be given an expiry at DISCONNECT [MQTT-3.14.2-2]",
            ));
        }
        let mut packet = Disconnect {
            reason_code,
            properties,
        };
        let fitted = fit_to_limit(
            &self.limits,
            &mut packet,
            |p| p.encoded_len(self.config.protocol),
            |p| {
                (
                    &mut p.properties.reason_string,
                    &mut p.properties.user_properties,
                )
            },
        );
        fitted?;
        self.send(Packet::from(packet), AfterWrite::EndConnection, now);
        Ok(())
    }

    /// Changes clean start for the next CONNECT: a client that resumes a
    /// session on reconnect sets it to false after the first connection.
    pub fn set_clean_start(&mut self, clean: bool) {
        self.config.clean_start = clean;
    }

    /// Sends AUTH: the answer to an [`Event::Auth`] challenge
    /// (`ContinueAuthentication`), or a re-authentication (`ReAuthenticate`)
    /// once connected. Needs 5.0 and an authentication method, which every
    /// AUTH carries unchanged ([MQTT-4.12.0-5], [MQTT-4.12.1-1]; otherwise
    /// [`UsageError::AuthenticationMethodMismatch`]). A challenge is answered
    /// with `ContinueAuthentication` only ([MQTT-4.12.0-3]); without one,
    /// only `ReAuthenticate` after CONNACK; anything else is
    /// [`UsageError::UnexpectedAuth`].
    ///
    /// Like [`disconnect`](Self::disconnect), leaves out the Reason String
    /// and then User Properties when the packet would exceed the server's
    /// Maximum Packet Size ([MQTT-3.15.2-2], [MQTT-3.15.2-3]), and sends
    /// nothing if it still does not fit.
    pub fn auth(&mut self, mut auth: Auth, now: Instant) -> Result<(), UsageError> {
        if !self.config.protocol.is_v5() || self.config.properties.authentication_method.is_none() {
            return Err(UsageError::NoAuthentication);
        }
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(UsageError::NotConnected);
        }
        auth.encoded_len(self.config.protocol)?;
        // [MQTT-4.12.0-5], [MQTT-4.12.1-1]: the CONNECT's method, always.
        if auth.properties.authentication_method != self.config.properties.authentication_method {
            return Err(UsageError::AuthenticationMethodMismatch);
        }
        // A challenge is answered with Continue authentication
        // [MQTT-4.12.0-3]; unasked, only a connected client speaks, to
        // re-authenticate [MQTT-4.12.1-1].
        let expected = if self.auth_challenge {
            Some(ReasonCode::ContinueAuthentication)
        } else if self.state == State::Connected {
            Some(ReasonCode::ReAuthenticate)
        } else {
            None
        };
        if expected != Some(auth.reason_code) {
            return Err(UsageError::UnexpectedAuth(auth.reason_code));
        }
        let fitted = fit_to_limit(
            &self.limits,
            &mut auth,
            |p| p.encoded_len(self.config.protocol),
            |p| {
                (
                    &mut p.properties.reason_string,
                    &mut p.properties.user_properties,
                )
            },
        );
        fitted?;
        self.auth_challenge = false;
        self.send(Packet::from(auth), AfterWrite::Nothing, now);
        Ok(())
    }

    pub(super) fn handle_connack(&mut self, ack: ConnAck, now: Instant) {
        self.timers.stop(Timer::Connect);
        if ack.reason_code.is_error() {
            if ack.session_present {
                return self.protocol_error(ProtocolError::SessionPresentOnRefusal);
            }
            return self.end_connection(ConnectionError::Refused {
                reason_code: ack.reason_code,
                properties: Box::new(ack.properties),
            });
        }
        // [MQTT-3.2.2-4]: a client that asked for a clean session has no
        // session state, and must not accept one the server claims to have.
        if ack.session_present && self.config.clean_start {
            return self.protocol_error(ProtocolError::SessionPresentOnCleanStart);
        }
        // [MQTT-4.12.0-5]: a successful CONNACK names the CONNECT's
        // authentication method, and none if the CONNECT had none.
        if self.config.protocol.is_v5()
            && ack.properties.authentication_method != self.config.properties.authentication_method
        {
            return self.protocol_error(ProtocolError::AuthenticationMethodMismatch(
                crate::PacketType::ConnAck,
            ));
        }
        self.auth_challenge = false;
        let props = &ack.properties;
        if let Some(id) = &props.assigned_client_identifier {
            self.config.client_id = id.clone();
            let id = id.clone();
            self.record(|| StoreChange::ClientIdAssigned(id));
        }
        self.limits_epoch += 1;
        self.limits = Limits {
            keep_alive: props.server_keep_alive.unwrap_or(self.config.keep_alive),
            send_window: if self.config.protocol.is_v5() {
                props.receive_maximum.map_or(u16::MAX, |m| m.get())
            } else {
                self.config.v3_inflight
            },
            maximum_qos: props.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: props.retain_available.unwrap_or(true),
            maximum_packet_size: props.maximum_packet_size.map(|m| m.get()),
            wildcard_available: props.wildcard_subscription_available.unwrap_or(true),
            shared_available: props.shared_subscription_available.unwrap_or(true),
            subscription_ids_available: props.subscription_identifier_available.unwrap_or(true),
            topic_alias_maximum: props.topic_alias_maximum.unwrap_or(0),
        };
        self.aliases_out = super::OutboundAliases::new(
            self.limits
                .topic_alias_maximum
                .min(self.config.outgoing_alias_maximum),
        );
        self.state = State::Connected;
        // 5.0: a session that outlives its connection (a Session Expiry
        // Interval above 0) is resumed by every later CONNECT, whatever the
        // first one asked ([MQTT-3.1.2-4], [MQTT-3.1.2-5]); a clean start
        // on a reconnect would throw away what was in flight.
        if self.config.protocol.is_v5()
            && self.config.properties.session_expiry_interval.unwrap_or(0) > 0
        {
            self.config.clean_start = false;
        }
        self.events.push_back(Event::Connected(Connected {
            session_present: ack.session_present,
            client_id: self.config.client_id.clone(),
            keep_alive: self.limits.keep_alive,
            send_window: self.limits.send_window,
            maximum_qos: self.limits.maximum_qos,
            retain_available: self.limits.retain_available,
            maximum_packet_size: self.limits.maximum_packet_size,
            properties: ack.properties,
        }));
        if ack.session_present {
            self.resend_inflight(now);
        } else {
            self.discard_session_state();
        }
        self.flush_acks(now);
        self.pump(now);
        if self.limits.keep_alive > 0 {
            let interval = std::time::Duration::from_secs(self.limits.keep_alive.into());
            self.timers.set(Timer::KeepAlive, now + interval);
        }
    }

    /// Resends, in their original order, every unacknowledged PUBLISH with
    /// DUP set and every PUBREL awaiting PUBCOMP ([MQTT-4.4.0-1]).
    ///
    /// A PUBLISH is measured again first: this server's Maximum Packet Size
    /// may be smaller than the one it was first sent under, and nothing
    /// larger may go out ([MQTT-3.2.2-15]). One that no longer fits fails
    /// with [`RequestError::NotResent`](super::RequestError::NotResent).
    /// At QoS 1 its flow ends there. At QoS 2 the server may still hold its
    /// packet identifier from the first attempt and would take a new
    /// message under it for a resend, so the flow is released instead
    /// (PUBREL, whose PUBCOMP frees the identifier) with nobody waiting.
    fn resend_inflight(&mut self, now: Instant) {
        let mut order: Vec<_> = self
            .inflight
            .values()
            .map(|f| (f.seq, f.packet_id))
            .collect();
        order.sort_unstable();
        #[cfg(mqtide_mutants)]
        self.mutant_reverse_pubrels(&mut order);
        for (seq, id) in order {
            let Some(flight) = self.inflight.get_mut(&id) else {
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
                            let request = flight.request;
                            let qos1 = flight.stage == Stage::PublishedQoS1;
                            if qos1 {
                                self.inflight.remove(&id);
                                self.ids.release(id);
                                self.record(|| StoreChange::PublishDone { seq });
                            } else {
                                flight.stage = Stage::Abandoned;
                                self.record(|| StoreChange::PublishReleased { seq });
                            }
                            let error = super::RequestError::NotResent(error);
                            self.complete(request, Err(error));
                            if qos1 {
                                continue;
                            }
                            Packet::PubRel(crate::Ack::new(id)).into()
                        }
                    }
                }
                Stage::Released | Stage::Abandoned => Packet::PubRel(crate::Ack::new(id)).into(),
            };
            self.send(packet, AfterWrite::Nothing, now);
        }
    }

    /// The `pubrel-order` mutant: the flights that resend PUBREL swap
    /// places among themselves, last first.
    #[cfg(mqtide_mutants)]
    fn mutant_reverse_pubrels(&self, order: &mut [(u64, crate::PacketId)]) {
        if !crate::mutants::armed(crate::mutants::Mutant::PubrelOrder) {
            return;
        }
        let released = |id: &crate::PacketId| {
            self.inflight
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
    }

    /// The server has no session for us (or we asked for a clean one):
    /// every in-flight publish fails with `SessionLost` rather than being
    /// resent as new (the QoS 2 duplicate other clients have), and the
    /// incoming exactly-once state goes too.
    fn discard_session_state(&mut self) {
        let mut flights: Vec<_> = self.inflight.drain().map(|(_, f)| f).collect();
        flights.sort_by_key(|f| f.seq);
        for flight in flights {
            self.ids.release(flight.packet_id);
            self.record(|| StoreChange::PublishDone { seq: flight.seq });
            // An abandoned flow's request has already failed.
            if flight.stage != Stage::Abandoned {
                self.complete(flight.request, Err(super::RequestError::SessionLost));
            }
        }
        if self.incoming_qos2.in_use() > 0 {
            self.record(|| StoreChange::IncomingCleared);
        }
        self.incoming_qos2.clear();
        self.redeliver.clear();
        self.pending_acks.clear();
        self.incoming_qos1_unacked = 0;
    }

    pub(super) fn handle_auth(&mut self, auth: Auth) {
        if !self.config.protocol.is_v5() || self.config.properties.authentication_method.is_none() {
            let error = ProtocolError::UnexpectedPacket {
                packet: crate::PacketType::Auth,
                when: "without enhanced authentication",
            };
            return self.protocol_error(error);
        }
        if auth.properties.authentication_method != self.config.properties.authentication_method {
            return self.protocol_error(ProtocolError::AuthenticationMethodMismatch(
                crate::PacketType::Auth,
            ));
        }
        // The server challenges with Continue authentication
        // [MQTT-4.12.0-2] and ends a re-authentication with Success;
        // Re-authenticate is the client's alone, and the initial exchange
        // ends with CONNACK, not AUTH.
        match auth.reason_code {
            ReasonCode::ContinueAuthentication => self.auth_challenge = true,
            ReasonCode::Success if self.state == State::Connected => self.auth_challenge = false,
            code => return self.protocol_error(ProtocolError::UnexpectedAuthReason(code)),
        }
        self.events.push_back(Event::Auth(auth));
    }

    /// The server broke the protocol: queue DISCONNECT with the reason
    /// (5.0), report it once, and stop reading.
    pub(super) fn protocol_error(&mut self, error: ProtocolError) {
        let reason_code = error.reason_code();
        let was_open = matches!(self.state, State::Connecting | State::Connected);
        self.end_connection(error.into());
        if was_open && self.config.protocol.is_v5() {
            self.transmit.push_back((
                Packet::from(Disconnect::new(reason_code)).into(),
                AfterWrite::Nothing,
            ));
        }
    }

    /// The one path by which a connection ends: reports `Disconnected` once
    /// and drops what belonged to this connection only. Publishes in
    /// flight stay for the next connection; subscription changes awaiting
    /// an answer fail (they are not resent).
    pub(super) fn end_connection(&mut self, error: ConnectionError) {
        if !matches!(self.state, State::Connecting | State::Connected) {
            return;
        }
        self.state = State::Closing;
        self.timers.stop_all();
        self.aliases_in.clear();
        // Unwritten QoS 0 publishes are lost with the connection.
        for (_, after) in std::mem::take(&mut self.transmit) {
            if let AfterWrite::Complete(id) = after {
                self.complete(id, Err(super::RequestError::ConnectionLost));
            }
        }
        let mut controls: Vec<_> = self.controls.drain().collect();
        controls.sort_by_key(|(_, c)| c.request);
        for (id, control) in controls {
            self.ids.release(id);
            self.complete(control.request, Err(super::RequestError::ConnectionLost));
        }
        // Unacknowledged QoS 1 deliveries will be redelivered by the
        // server; their tokens are void. QoS 2 ones stay: the server
        // resends them with DUP and they must not be delivered twice.
        self.pending_acks.retain(|p| p.qos == QoS::ExactlyOnce);
        self.incoming_qos1_unacked = 0;
        if self.connection_reported {
            self.connection_reported = false;
            self.events.push_back(Event::Disconnected(error));
        }
    }
}

/// Makes `packet` fit the server's Maximum Packet Size by leaving out what
/// 5.0 lets a sender leave out (the Reason String first, then User
/// Properties, last first), re-measuring with `measure` after each step;
/// fails if it is still too large, or cannot be encoded at all. Without a
/// limit (before CONNACK, or under 3.1.1) it only checks the packet
/// encodes.
fn fit_to_limit<P>(
    limits: &Limits,
    packet: &mut P,
    measure: impl Fn(&P) -> Result<usize, EncodeError>,
    optional: impl Fn(&mut P) -> (&mut Option<ByteString>, &mut Vec<UserProperty>),
) -> Result<(), UsageError> {
    let mut size = measure(packet)?;
    let too_large = |size: usize| {
        limits
            .maximum_packet_size
            .is_some_and(|m| size > m as usize)
    };
    if too_large(size) && optional(packet).0.take().is_some() {
        size = measure(packet)?;
    }
    while too_large(size) && optional(packet).1.pop().is_some() {
        size = measure(packet)?;
    }
    super::outbound::check_size(limits, size)
}
