//! The client session state machine; see [`Session`].

mod alias;
mod auth;
mod config;
mod connection;
mod control;
mod counters;
mod error;
mod event;
mod flight;
mod inbound;
mod outbound;
mod packet_id;
mod resend;
mod store;
mod timer;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;
use bytestring::ByteString;

pub use alias::TopicAliasUse;
pub use config::{AckMode, QoSPolicy, ReceiveOverrun, SessionConfig};
pub use counters::Counters;
pub use error::{ConnectionError, ProtocolError, RequestError, UsageError};
pub use event::{AckToken, Completion, Connected, Event, Message, RequestId};
pub use store::{IncomingState, RestoreError, StoreChange, StoredPublish, StoredSession};

use crate::{Direction, Packet, PacketId, PacketSummary, QoS, ReasonCode, Timestamp};
use flight::{Control, OutFlight, Outbound, Queued, Stage};
use inbound::Inbound;
use timer::{Timer, TimerTable};

/// `poll_transmit` stops appending once the buffer holds this much, so one
/// call never builds an unbounded write.
const TRANSMIT_HIGH_WATER: usize = 64 * 1024;

/// Where the session is in the life of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No transport.
    Idle,
    /// CONNECT queued, waiting for CONNACK.
    Connecting,
    /// CONNACK accepted.
    Connected,
    /// The connection is over (error, server DISCONNECT, or ours); the
    /// driver should close the transport. Commands still queue.
    Closing,
}

/// What happens once a queued packet has been written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterWrite {
    Nothing,
    /// A QoS 0 publish is complete once written.
    Complete(RequestId),
    /// Our DISCONNECT is out: the connection is over.
    EndConnection,
}

/// A packet waiting for [`Session::poll_transmit`].
#[derive(Debug)]
// `allow`, not `expect`: on 32-bit targets the variants are close enough
// in size that the lint does not fire, and an unfulfilled `expect` fails.
#[allow(
    clippy::large_enum_variant,
    reason = "boxing the packet would allocate per packet to save queue slots"
)]
enum Outgoing {
    Packet(Packet),
    /// The PUBLISH of the flight under this identifier, encoded from the
    /// flight itself: a message in flight is held once, not a second time
    /// for the write queue. The alias (if any) is chosen as it is written.
    Flight(PacketId, TopicAliasUse),
}

impl From<Packet> for Outgoing {
    fn from(packet: Packet) -> Self {
        Self::Packet(packet)
    }
}

/// The state machine of one MQTT client session: every client-side protocol rule of
/// MQTT 3.1, 3.1.1 and 5.0, with no I/O and no clock of its own.
///
/// A [`Session`] outlives connections: in-flight QoS 1/2 publishes, their
/// packet identifiers and the incoming exactly-once state survive a lost
/// connection and are resumed on the next one when the server keeps the
/// session.
///
/// The methods fall into four groups, as in quinn-proto:
///
/// - **getters**: [`is_connected`](Session::is_connected), [`config`](Session::config), …
/// - **inputs** (`handle_*`): a transport came up, bytes arrived, time
///   passed, the transport went away;
/// - **commands**: [`publish`](Session::publish), [`subscribe`](Session::subscribe),
///   [`unsubscribe`](Session::unsubscribe), [`ack`](Session::ack),
///   [`auth`](Session::auth), [`disconnect`](Session::disconnect); each
///   returns at once, publishes and subscription changes with a
///   [`RequestId`] that a later [`Event::Completed`] refers to;
/// - **outputs** (`poll_*`): bytes to send, events, the next deadline.
///
/// After every input or command, drain every output before the next
/// input, in this order:
///
/// 1. with [`SessionConfig::durable`], [`drain_store_changes`](Session::drain_store_changes),
///    and make them durable before anything of step 2 or 3 leaves the
///    process (write-ahead: see [`StoreChange`]);
/// 2. [`poll_transmit`](Session::poll_transmit) until it appends nothing;
/// 3. [`poll_event`](Session::poll_event) until `None`;
/// 4. [`poll_timeout`](Session::poll_timeout).
///
/// The driving loop:
///
/// ```
/// # use std::time::{Duration, Instant};
/// # use bytes::BytesMut;
/// # use mqtide_proto::{Event, ProtocolVersion, Session, SessionConfig};
/// # #[allow(clippy::disallowed_methods)]
/// # let now = Instant::now();
/// let mut session = Session::new(SessionConfig::new(ProtocolVersion::V5, "sensor-1"));
/// let (mut read_buf, mut write_buf) = (BytesMut::new(), BytesMut::new());
///
/// session.handle_connected(now);                 // the transport is up: CONNECT is queued
/// loop {
///     while session.poll_transmit(&mut write_buf) > 0 {} // write `write_buf` to the socket
///     while let Some(event) = session.poll_event() { /* hand to the application */ }
///     let _deadline = session.poll_timeout();     // sleep until then, or until input
///     # break;
///     // then one of: session.handle_bytes(&mut read_buf, now), session.handle_timeout(now),
///     // a command, or session.handle_connection_lost(now)
/// }
/// # assert_eq!(&write_buf[..1], &[0x10]);
/// ```
///
// The struct is written once and declared by one of two expansions: with
// `std`, its time parameter defaults to `std::time::Instant` (so the tokio
// client and every std user keep writing `Session`); without, it has no
// default. A default only without `std` would break code written for it
// when a crate elsewhere in the build turns `std` on; no default there
// keeps the feature additive.
macro_rules! session_struct {
    ($($default:ty)?) => {
        /// Fatal protocol errors take one path: the session queues a DISCONNECT
        /// with the 5.0 reason code and reports [`Event::Disconnected`] once.
        ///
        /// # Time
        ///
        /// `T` is the type of `now` and of deadlines: any [`Timestamp`].
        /// With the `std` feature (the default) it defaults to
        /// [`std::time::Instant`][std-instant], so `Session` is
        /// `Session<std::time::Instant>`; without `std`, name it:
        /// `Session<Millis>` (see [`Millis`](crate::Millis)). Code that
        /// should build both ways names it too, since a crate elsewhere in
        /// the build may turn `std` on.
        ///
        /// [std-instant]: https://doc.rust-lang.org/std/time/struct.Instant.html
        #[derive(Debug)]
        pub struct Session<T $(= $default)?> {
            config: SessionConfig,
            state: State,
            /// Whether `Event::Disconnected` is still owed for this connection.
            connection_reported: bool,
            /// Whether the server's AUTH challenge (Continue authentication) waits
            /// for our answer.
            auth_challenge: bool,
            next_request: u64,

            /// Our publishes and subscription changes (`flight.rs`, `outbound.rs`).
            outbound: Outbound,

            // What the server allows (from CONNACK).
            limits: Limits,
            /// Counts the changes of `limits`.
            limits_epoch: u64,

            /// The server's publishes to us (`inbound.rs`).
            inbound: Inbound,

            // Outputs.
            /// Changes for a durable store (only with `config.durable`).
            store_changes: Vec<StoreChange>,
            transmit: VecDeque<(Outgoing, AfterWrite)>,
            events: VecDeque<Event>,
            timers: TimerTable<T>,

            // Observation.
            counters: Counters,
            /// When the PINGREQ awaiting its answer was queued.
            ping_sent: Option<T>,
            /// Whether packets are summarised into `packet_log`.
            log_packets: bool,
            packet_log: VecDeque<PacketSummary>,
        }
    };
}

#[cfg(feature = "std")]
session_struct!(std::time::Instant);
#[cfg(not(feature = "std"))]
session_struct!();

/// What the server said it allows, from CONNACK.
#[derive(Debug, Clone)]
struct Limits {
    keep_alive: u16,
    send_window: u16,
    maximum_qos: QoS,
    retain_available: bool,
    maximum_packet_size: Option<u32>,
    wildcard_available: bool,
    shared_available: bool,
    subscription_ids_available: bool,
    topic_alias_maximum: u16,
}

impl Limits {
    /// Before CONNACK: nothing is known to be unavailable.
    fn unknown(config: &SessionConfig) -> Self {
        Self {
            keep_alive: config.keep_alive,
            send_window: config.v3_inflight,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            wildcard_available: true,
            shared_available: true,
            subscription_ids_available: true,
            topic_alias_maximum: 0,
        }
    }
}

impl<T: Timestamp> Session<T> {
    /// A session with no connection yet.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            limits: Limits::unknown(&config),
            limits_epoch: 0,
            config,
            state: State::Idle,
            connection_reported: false,
            auth_challenge: false,
            next_request: 0,
            outbound: Outbound::default(),
            inbound: Inbound::default(),
            store_changes: Vec::new(),
            // One slot each up front: the first push would otherwise
            // allocate four (the standard library's smallest growth), and
            // an idle client (a CONNECT, then a PINGREQ now and then) never
            // needs more than one. A busy one grows past it once.
            transmit: VecDeque::with_capacity(1),
            events: VecDeque::with_capacity(1),
            timers: TimerTable::default(),
            counters: Counters::default(),
            ping_sent: None,
            log_packets: false,
            packet_log: VecDeque::new(),
        }
    }

    // ----- getters -----

    /// The configuration (with the assigned client id once the server
    /// assigned one).
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether CONNACK accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// How many QoS 1/2 publishes are in flight.
    pub fn inflight(&self) -> usize {
        self.outbound.inflight.len()
    }

    /// The acceptance number of the last publish accepted (publishes are
    /// numbered 1, 2, … in order; a restored session goes on from the
    /// store's count).
    pub fn last_accepted(&self) -> u64 {
        self.outbound.next_seq
    }

    /// How many QoS 1/2 messages the server sent beyond our Receive Maximum
    /// over the session's life, taken under
    /// [`ReceiveOverrun::Tolerate`] (see [`Event::ReceiveMaximumOverrun`]).
    pub fn receive_overruns(&self) -> u64 {
        self.inbound.overruns
    }

    /// What the session has done so far: packets, bytes, publishes sent
    /// and resent, messages received, duplicates suppressed, the last
    /// keep-alive round trip.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// How many QoS 1/2 messages from the server are taken and not yet
    /// acknowledged (they count against our Receive Maximum).
    pub fn inflight_incoming(&self) -> usize {
        self.inbound.unacknowledged()
    }

    /// How many requests wait for the window or a connection.
    pub fn queued(&self) -> usize {
        self.outbound.queue.len()
    }

    /// How many more requests the queue takes before
    /// [`UsageError::QueueFull`].
    pub fn queue_space(&self) -> usize {
        self.config
            .queue_capacity
            .saturating_sub(self.outbound.queue.len())
    }

    // ----- inputs -----

    /// Decodes every complete packet in `buf` and acts on it, until the
    /// event queue is full: then the rest stays in `buf`, and the caller
    /// should stop reading the socket until events are drained.
    pub fn handle_bytes(&mut self, buf: &mut BytesMut, now: T) {
        let limit = self.config.incoming_limit();
        while self.events.len() < self.config.event_capacity
            && matches!(self.state, State::Connecting | State::Connected)
        {
            let before = buf.len();
            match Packet::decode(buf, self.config.protocol, limit) {
                Ok(Some(packet)) => {
                    let size = before - buf.len();
                    self.counters.received(size);
                    if self.log_packets {
                        let summary = PacketSummary::of(&packet, Direction::Received, size);
                        self.packet_log.push_back(summary);
                    }
                    // Anything from the server answers a PINGREQ.
                    self.timers.stop(Timer::PingResponse);
                    if let Some(sent) = self.ping_sent.take() {
                        self.counters.keep_alive_rtt = Some(now.saturating_duration_since(sent));
                    }
                    self.handle_packet(packet, now);
                }
                Ok(None) => break,
                Err(error) => {
                    self.protocol_error(error.into());
                    break;
                }
            }
        }
    }

    /// Keep-alive, ping and connect deadlines. Safe to call at any time;
    /// nothing happens before a deadline.
    pub fn handle_timeout(&mut self, now: T) {
        if self.timers.expire(Timer::Connect, now) {
            self.end_connection(ConnectionError::ConnectTimeout);
        }
        if self.timers.expire(Timer::PingResponse, now) {
            self.end_connection(ConnectionError::KeepAliveTimeout);
        }
        if self.timers.expire(Timer::KeepAlive, now) && self.state == State::Connected {
            self.send(Packet::PingReq, AfterWrite::Nothing, now);
            self.ping_sent.get_or_insert(now);
            if self.timers.get(Timer::PingResponse).is_none() {
                self.timers
                    .set(Timer::PingResponse, now.after(self.config.ping_timeout));
            }
        }
    }

    // ----- outputs -----

    /// Appends what must be sent now to `buf`; returns how many bytes were
    /// appended (0 when there is nothing to send).
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        while buf.len() - start < TRANSMIT_HIGH_WATER {
            let Some((packet, after)) = self.transmit.pop_front() else {
                break;
            };
            let at = buf.len();
            let encoded = match packet {
                Outgoing::Packet(packet) => {
                    let encoded = packet.encode(self.config.protocol, buf);
                    if let Packet::Publish(publish) = &packet {
                        self.counters.publish_sent(publish.qos, publish.dup);
                    }
                    if self.log_packets && encoded.is_ok() {
                        let summary = PacketSummary::of(&packet, Direction::Sent, buf.len() - at);
                        self.packet_log.push_back(summary);
                    }
                    encoded
                }
                Outgoing::Flight(id, alias) => self.encode_flight(id, alias, buf),
            };
            if buf.len() > at {
                self.counters.sent(buf.len() - at);
            }
            // Every packet was measured when it was queued; encoding a
            // packet of our own cannot fail unless a rule was missed.
            if let Err(error) = encoded {
                debug_assert!(false, "queued an unencodable packet: {error}");
                continue;
            }
            match after {
                AfterWrite::Nothing => {}
                AfterWrite::Complete(id) => {
                    self.complete_published(id, ReasonCode::Success, Default::default());
                }
                AfterWrite::EndConnection => self.end_connection(ConnectionError::Disconnected),
            }
        }
        buf.len() - start
    }

    /// Writes the PUBLISH of a flight, under a topic alias if `alias`
    /// allows one. Nothing is written for a flight the server has already
    /// answered (a broken server may acknowledge what it has not seen).
    fn encode_flight(
        &mut self,
        id: PacketId,
        alias: TopicAliasUse,
        buf: &mut BytesMut,
    ) -> Result<(), crate::EncodeError> {
        let version = self.config.protocol;
        let Some(flight) = self
            .outbound
            .inflight
            .get_mut(&id)
            .filter(|f| matches!(f.stage, Stage::PublishedQoS1 | Stage::PublishedQoS2))
        else {
            return Ok(());
        };
        let publish = &mut flight.publish;
        let assigned = match alias {
            TopicAliasUse::Auto => self.outbound.aliases.assign(&publish.topic),
            TopicAliasUse::Never => None,
        };
        let at = buf.len();
        let Some((alias, known)) = assigned else {
            let encoded = publish.encode(version, buf);
            self.counters.publish_sent(publish.qos, publish.dup);
            if self.log_packets {
                let summary = PacketSummary::of_publish(publish, Direction::Sent, buf.len() - at);
                self.packet_log.push_back(summary);
            }
            return encoded;
        };
        // The flight keeps the full topic (aliases do not outlive the
        // connection; resends might): it is lent to this encoding only.
        publish.properties.topic_alias = Some(alias);
        let topic = if known {
            core::mem::take(&mut publish.topic)
        } else {
            ByteString::new()
        };
        let encoded = publish.encode(version, buf);
        self.counters.publish_sent(publish.qos, publish.dup);
        if self.log_packets {
            let summary = PacketSummary::of_publish(publish, Direction::Sent, buf.len() - at);
            self.packet_log.push_back(summary);
        }
        publish.properties.topic_alias = None;
        if known {
            publish.topic = topic;
        }
        encoded
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Turns the packet log on or off. While it is on, every packet
    /// decoded by [`handle_bytes`](Self::handle_bytes) and written by
    /// [`poll_transmit`](Self::poll_transmit) leaves a [`PacketSummary`]
    /// for [`poll_packet_log`](Self::poll_packet_log); drain it after each
    /// of those calls, for it grows until drained. Off (the default), it
    /// costs one test of a flag per packet.
    pub fn set_packet_log(&mut self, on: bool) {
        self.log_packets = on;
        if !on {
            self.packet_log = VecDeque::new();
        }
    }

    /// The next packet of the packet log, in the order packets were read
    /// and written.
    #[must_use]
    pub fn poll_packet_log(&mut self) -> Option<PacketSummary> {
        self.packet_log.pop_front()
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout)
    /// must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.timers.next()
    }

    // ----- internals shared by the submodules -----

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// Queues a packet for `poll_transmit` and re-arms the keep-alive: it
    /// counts from the last packet sent.
    fn send(&mut self, packet: impl Into<Outgoing>, after: AfterWrite, now: T) {
        self.transmit.push_back((packet.into(), after));
        if self.state == State::Connected && self.limits.keep_alive > 0 {
            let interval = Duration::from_secs(self.limits.keep_alive.into());
            self.timers.set(Timer::KeepAlive, now.after(interval));
        }
    }

    fn complete(&mut self, id: RequestId, outcome: Result<Completion, RequestError>) {
        self.events.push_back(Event::Completed { id, outcome });
    }

    fn complete_published(
        &mut self,
        id: RequestId,
        reason_code: ReasonCode,
        properties: crate::AckProperties,
    ) {
        self.complete(
            id,
            Ok(Completion::Published {
                reason_code,
                properties,
            }),
        );
    }

    fn handle_packet(&mut self, packet: Packet, now: T) {
        if self.state == State::Connecting {
            return match packet {
                Packet::ConnAck(ack) => self.handle_connack(*ack, now),
                Packet::Auth(auth) => self.handle_auth(auth),
                other => self.unexpected(&other, "before CONNACK"),
            };
        }
        match packet {
            Packet::Publish(publish) => self.handle_publish(publish, now),
            Packet::PubAck(ack) => self.handle_puback(ack, now),
            Packet::PubRec(ack) => self.handle_pubrec(ack, now),
            Packet::PubRel(ack) => self.handle_pubrel(ack.packet_id, now),
            Packet::PubComp(ack) => self.handle_pubcomp(ack, now),
            Packet::SubAck(ack) => self.handle_suback(ack, now),
            Packet::UnsubAck(ack) => self.handle_unsuback(ack, now),
            Packet::PingResp => {}
            Packet::Disconnect(disconnect) => {
                self.end_connection(ConnectionError::ServerDisconnect {
                    reason_code: disconnect.reason_code,
                    properties: Box::new(disconnect.properties),
                });
            }
            Packet::Auth(auth) => self.handle_auth(auth),
            other => self.unexpected(&other, "to a client"),
        }
    }

    fn unexpected(&mut self, packet: &Packet, when: &'static str) {
        let error = ProtocolError::UnexpectedPacket {
            packet: packet.packet_type(),
            when,
        };
        self.protocol_error(error);
    }
}
