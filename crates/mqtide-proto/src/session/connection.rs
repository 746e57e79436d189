//! The life of one connection: CONNECT, CONNACK and what it negotiates,
//! and the one path by which a connection ends. What happens to the
//! publishes in flight (resent, sent again, failed) is in `resend.rs`;
//! enhanced authentication is in `auth.rs`.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{
    AfterWrite, Connected, ConnectionError, Event, Limits, ProtocolError, Session, State,
    StoreChange, Timer, UsageError,
};
use bytestring::ByteString;

use crate::{
    ConnAck, Disconnect, DisconnectProperties, EncodeError, Packet, QoS, ReasonCode, Timestamp,
    UserProperty,
};

impl<T: Timestamp> Session<T> {
    /// A transport is up: queues CONNECT and starts the connect timeout.
    /// A connection still open is treated as lost first.
    ///
    /// A configuration that cannot make a valid CONNECT (see
    /// [`SessionConfig::validate`](super::SessionConfig::validate)) sends
    /// nothing: the connection ends at once with
    /// [`ConnectionError::InvalidConfig`], reported once as for any other
    /// end.
    pub fn handle_connected(&mut self, now: T) {
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
            .set(Timer::Connect, now.after(self.config.connect_timeout));
    }

    /// The transport went away. Reports [`Event::Disconnected`] if the
    /// connection had not already ended; keeps everything that must be
    /// resent on the next connection.
    pub fn handle_connection_lost(&mut self, _now: T) {
        self.end_connection(ConnectionError::ConnectionLost);
        // What is still queued was for the transport that is gone: the
        // DISCONNECT a protocol error queued after the connection ended,
        // if the driver closed before writing it. The next connection
        // starts with its CONNECT.
        for (_, after) in core::mem::take(&mut self.transmit) {
            if let AfterWrite::Complete(id) = after {
                self.complete(id, Err(super::RequestError::ConnectionLost));
            }
        }
        self.state = State::Idle;
        self.ping_sent = None;
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
        now: T,
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

    pub(super) fn handle_connack(&mut self, ack: ConnAck, now: T) {
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
        self.outbound.aliases = super::alias::OutboundAliases::new(
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
            let interval = core::time::Duration::from_secs(self.limits.keep_alive.into());
            self.timers.set(Timer::KeepAlive, now.after(interval));
        }
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
    /// flight stay for the next connection (unless one of them turns out a
    /// poison publish: `count_strike`); subscription changes awaiting an
    /// answer fail (they are not resent).
    pub(super) fn end_connection(&mut self, error: ConnectionError) {
        if !matches!(self.state, State::Connecting | State::Connected) {
            return;
        }
        let lost = self.state == State::Connected && error != ConnectionError::Disconnected;
        self.state = State::Closing;
        self.timers.stop_all();
        // Unwritten QoS 0 publishes are lost with the connection.
        for (_, after) in core::mem::take(&mut self.transmit) {
            if let AfterWrite::Complete(id) = after {
                self.complete(id, Err(super::RequestError::ConnectionLost));
            }
        }
        for request in self.outbound.end_connection() {
            self.complete(request, Err(super::RequestError::ConnectionLost));
        }
        if lost {
            self.count_strike();
        }
        self.inbound.end_connection();
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
pub(super) fn fit_to_limit<P>(
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
