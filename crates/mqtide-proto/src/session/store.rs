//! The durable part of a session: the changes a store must record
//! ([`StoreChange`]), what a store gives back after a restart
//! ([`StoredSession`]), and [`Session::restore`].
//!
//! The session stays sans-IO: with [`SessionConfig::durable`] set it
//! records a change for every step of an outgoing QoS 1/2 flow and of an
//! incoming QoS 2 flow, and the driver drains them with
//! [`Session::drain_store_changes`]. The driver must make them durable
//! *before* it writes the bytes of the same step to the socket and before it
//! hands messages of that step to the application (write-ahead): then a
//! crash at any point leaves a store that [`Session::restore`] resumes
//! without losing an accepted publish or delivering an acknowledged QoS 2
//! message twice.

use alloc::boxed::Box;

use alloc::collections::BTreeMap;

use crate::Timestamp;
use crate::collections::FxHashSet;
use bytestring::ByteString;

use super::{OutFlight, Queued, Session, SessionConfig, Stage, TopicAliasUse};
use crate::{PacketId, Publish, QoS};

/// One change to the durable state of a session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoreChange {
    /// A QoS 1/2 publish was accepted. `seq` numbers accepted publishes
    /// for the life of the session (1, 2, …) and orders resends.
    PublishAccepted {
        /// The acceptance number.
        seq: u64,
        /// The message, with its full topic and no packet identifier.
        publish: Box<Publish>,
    },
    /// It went out under this packet identifier.
    PublishSent {
        /// The acceptance number.
        seq: u64,
        /// The packet identifier it holds until its flow ends.
        packet_id: PacketId,
    },
    /// PUBREC arrived: from now on PUBREL, not PUBLISH, is what to resend.
    PublishReleased {
        /// The acceptance number.
        seq: u64,
    },
    /// The flow ended (acknowledged, refused, or failed): forget it.
    PublishDone {
        /// The acceptance number.
        seq: u64,
    },
    /// An incoming QoS 2 message arrived and went to the application, which
    /// has not acknowledged it yet.
    IncomingReceived {
        /// Its packet identifier.
        packet_id: PacketId,
    },
    /// PUBREC went out for it: a resend must not be delivered again.
    IncomingAcknowledged {
        /// Its packet identifier.
        packet_id: PacketId,
    },
    /// The server released it (PUBREL), or the application refused it.
    IncomingReleased {
        /// Its packet identifier.
        packet_id: PacketId,
    },
    /// The server has no session for us: every incoming exactly-once
    /// record is void.
    IncomingCleared,
    /// The server assigned this client identifier.
    ClientIdAssigned(ByteString),
}

/// An outgoing publish as a store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPublish {
    /// The acceptance number.
    pub seq: u64,
    /// The message (full topic, no packet identifier).
    pub publish: Publish,
    /// The packet identifier, once sent.
    pub packet_id: Option<PacketId>,
    /// Whether PUBREC arrived (QoS 2): PUBREL is what to resend.
    pub released: bool,
}

/// Where an incoming QoS 2 message is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingState {
    /// Delivered; the application has not acknowledged it. A resend after
    /// a restart is delivered again (the application never confirmed it).
    Received,
    /// PUBREC sent: a resend is answered, never delivered again.
    Acknowledged,
}

/// Everything a store holds for one session: what [`Session::restore`]
/// resumes from. [`apply`](Self::apply) is the reference for what each
/// change means; an in-memory store is this type behind a lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSession {
    /// The client identifier the server assigned, if it assigned one.
    pub assigned_client_id: Option<ByteString>,
    /// How many publishes were ever accepted (the last `seq`).
    pub last_seq: u64,
    /// Outgoing publishes not yet done, by acceptance number.
    pub outgoing: BTreeMap<u64, StoredPublish>,
    /// Incoming QoS 2 packet identifiers not yet released.
    pub incoming: BTreeMap<u16, IncomingState>,
}

impl StoredSession {
    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Applies one change.
    pub fn apply(&mut self, change: &StoreChange) {
        match change {
            StoreChange::PublishAccepted { seq, publish } => {
                self.last_seq = self.last_seq.max(*seq);
                let stored = StoredPublish {
                    seq: *seq,
                    publish: Publish::clone(publish),
                    packet_id: None,
                    released: false,
                };
                self.outgoing.insert(*seq, stored);
            }
            StoreChange::PublishSent { seq, packet_id } => {
                if let Some(stored) = self.outgoing.get_mut(seq) {
                    stored.packet_id = Some(*packet_id);
                }
            }
            StoreChange::PublishReleased { seq } => {
                if let Some(stored) = self.outgoing.get_mut(seq) {
                    stored.released = true;
                }
            }
            StoreChange::PublishDone { seq } => {
                self.outgoing.remove(seq);
            }
            StoreChange::IncomingReceived { packet_id } => {
                self.incoming
                    .insert(packet_id.get(), IncomingState::Received);
            }
            StoreChange::IncomingAcknowledged { packet_id } => {
                self.incoming
                    .insert(packet_id.get(), IncomingState::Acknowledged);
            }
            StoreChange::IncomingReleased { packet_id } => {
                self.incoming.remove(&packet_id.get());
            }
            StoreChange::IncomingCleared => self.incoming.clear(),
            StoreChange::ClientIdAssigned(id) => self.assigned_client_id = Some(id.clone()),
        }
    }
}

/// Why a stored session cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// Two stored flows hold the same packet identifier.
    #[error("two stored publishes hold packet identifier {0}")]
    DuplicatePacketId(u16),
    /// A stored publish is QoS 0, which is never stored.
    #[error("stored publish #{0} is QoS 0")]
    NotQoS1Or2(u64),
    /// A stored publish is marked released but never went out, or is
    /// released at QoS 1.
    #[error("stored publish #{0} is released but was never sent at QoS 2")]
    BadRelease(u64),
    /// A stored publish's number is above the last one accepted.
    #[error("stored publish #{seq} is numbered above the last accepted ({last})")]
    SeqAboveLast {
        /// The publish's number.
        seq: u64,
        /// The last number accepted.
        last: u64,
    },
    /// Incoming identifier 0 is not a packet identifier.
    #[error("incoming packet identifier 0 is not valid")]
    ZeroPacketId,
}

impl<T: Timestamp> Session<T> {
    /// Resumes a session from what a store kept: publishes that went out are
    /// resent on the next connection (PUBLISH with DUP, or PUBREL once
    /// released), those that never went out are queued, and incoming QoS 2
    /// messages keep their exactly-once state. `config.durable` is set, so
    /// the session goes on recording changes.
    ///
    /// Nothing here tells the server anything: the next CONNECT must not
    /// ask for a clean start, or the server forgets the session and every
    /// resumed flow fails with `SessionLost`.
    pub fn restore(mut config: SessionConfig, stored: StoredSession) -> Result<Self, RestoreError> {
        if config.client_id.is_empty()
            && let Some(id) = &stored.assigned_client_id
        {
            config.client_id = id.clone();
        }
        config.durable = true;
        let mut session = Self::new(config);
        session.outbound.next_seq = stored.last_seq;
        for (seq, flight) in stored.outgoing {
            if seq > stored.last_seq {
                return Err(RestoreError::SeqAboveLast {
                    seq,
                    last: stored.last_seq,
                });
            }
            let mut publish = flight.publish;
            if publish.qos == QoS::AtMostOnce {
                return Err(RestoreError::NotQoS1Or2(seq));
            }
            publish.dup = false;
            let request = session.request_id();
            let Some(packet_id) = flight.packet_id else {
                if flight.released {
                    return Err(RestoreError::BadRelease(seq));
                }
                publish.packet_id = None;
                session.outbound.queue.push_back(Queued::Publish {
                    request,
                    seq,
                    stored: true,
                    publish,
                    alias: TopicAliasUse::Auto,
                    checked: None,
                    reserved: None,
                });
                continue;
            };
            if flight.released && publish.qos != QoS::ExactlyOnce {
                return Err(RestoreError::BadRelease(seq));
            }
            if !session.outbound.ids.mark(packet_id) {
                return Err(RestoreError::DuplicatePacketId(packet_id.get()));
            }
            publish.packet_id = Some(packet_id);
            let stage = match (publish.qos, flight.released) {
                (QoS::AtLeastOnce, _) => Stage::PublishedQoS1,
                (_, false) => Stage::PublishedQoS2,
                (_, true) => Stage::Released,
            };
            let flight = OutFlight {
                request,
                seq,
                packet_id,
                publish,
                stage,
            };
            session.outbound.inflight.insert(packet_id, flight);
        }
        let mut redeliver = FxHashSet::default();
        for (id, state) in stored.incoming {
            let packet_id = PacketId::new(id).ok_or(RestoreError::ZeroPacketId)?;
            session.inbound.qos2.mark(packet_id);
            if state == IncomingState::Received {
                redeliver.insert(packet_id);
            }
        }
        session.inbound.redeliver = redeliver;
        Ok(session)
    }

    /// The changes recorded since the last call, oldest first (only with
    /// [`SessionConfig::durable`]). Make them durable before writing what
    /// [`poll_transmit`](Self::poll_transmit) produced after them and
    /// before handing over the messages polled after them.
    pub fn drain_store_changes(&mut self) -> alloc::vec::Drain<'_, StoreChange> {
        self.store_changes.drain(..)
    }

    /// Whether changes wait to be drained.
    pub fn has_store_changes(&self) -> bool {
        !self.store_changes.is_empty()
    }

    /// Records a change when the session is durable.
    pub(super) fn record(&mut self, change: impl FnOnce() -> StoreChange) {
        if self.config.durable {
            self.store_changes.push(change());
        }
    }
}
