//! What the session reports, dispatched: connections coming up (and
//! their authentication checked), messages routed into the streams that
//! want them and acknowledged once there, completions, AUTH and the end of
//! a connection.

use std::collections::VecDeque;
use std::sync::Arc;

use mqtide_proto::{AckToken, ConnectionError, Event, ProtocolVersion};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{End, EventLoop, Phase};
use crate::message::Message;
use crate::router::RouteId;
use crate::state::{ConnectionEvent, ConnectionState, DisconnectReason};

/// How many messages may wait for room in their streams before the loop
/// stops reading the socket. QoS 1/2 messages are bounded well below this
/// by flow control (they are acknowledged only once in a stream, so the
/// broker's in-flight window stops it); a QoS 0 flood into a full stream
/// hits this limit and slows the socket. Until then reading goes on, so
/// acknowledgements of our own publishes keep arriving even while the
/// application is not reading a stream — no deadlock between an awaited
/// publish and an unread subscription.
const PENDING_DELIVERIES: usize = 1024;

/// The streams a message goes to.
type Targets = Vec<(RouteId, mpsc::Sender<Message>)>;

/// A message on its way into the streams that want it.
#[derive(Debug)]
struct Delivery {
    /// Cloned into each stream but the last, which takes it: `None` only
    /// once it has.
    message: Option<Message>,
    /// The message's acknowledgement, once every stream has it.
    token: Option<AckToken>,
    /// The streams still to take it, in order.
    targets: Targets,
    /// Whether any stream has taken it.
    taken: bool,
}

/// Messages on their way into the streams that want them, in order of
/// arrival, and how they are acknowledged once there.
#[derive(Debug)]
pub(super) struct Deliveries {
    queue: VecDeque<Delivery>,
    /// The emptied target lists of finished deliveries, reused so that
    /// routing a message allocates nothing.
    spare_targets: Vec<Targets>,
    /// Acknowledge only when the application says so (`Client::ack`).
    manual_acks: bool,
}

impl Deliveries {
    pub(super) fn new(manual_acks: bool) -> Self {
        Self {
            queue: VecDeque::new(),
            spare_targets: Vec::new(),
            manual_acks,
        }
    }

    /// Whether the loop may read the socket: fewer than
    /// [`PENDING_DELIVERIES`] messages wait for room.
    pub(super) fn have_room(&self) -> bool {
        self.queue.len() < PENDING_DELIVERIES
    }

    /// The stream the first waiting message waits for room in.
    pub(super) fn blocked_on(&self) -> Option<mpsc::Sender<Message>> {
        let delivery = self.queue.front()?;
        delivery.targets.first().map(|(_, sender)| sender.clone())
    }

    /// How many messages wait for room in their streams.
    pub(super) fn held(&self) -> usize {
        self.queue.len()
    }

    /// The client closed: what still waits is dropped.
    pub(super) fn clear(&mut self) {
        self.queue.clear();
    }
}

impl EventLoop {
    pub(super) fn event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connected(connected) => {
                if !self.check_connack_authentication(&connected, now) {
                    return;
                }
                info!(session_present = connected.session_present, client_id = %connected.client_id, "connected");
                self.observer.connected();
                self.server.send_replace(Some(Arc::new(connected.clone())));
                self.state.send_replace(ConnectionState::Connected {
                    session_present: connected.session_present,
                });
                self.events.send(ConnectionEvent::Connected {
                    session_present: connected.session_present,
                });
                if let Phase::FirstConnect(first) = std::mem::replace(&mut self.phase, Phase::Up) {
                    let _ = first.send(Ok(()));
                }
                // What a lost session held (nothing yet on a first
                // connection without a store) is subscribed again.
                if !connected.session_present {
                    self.resubscribe(now);
                }
                self.subscription_ids = self.session.config().protocol == ProtocolVersion::V5
                    && connected.properties.subscription_identifier_available != Some(false);
            }
            Event::Message(message) => {
                let mut targets = self.deliveries.spare_targets.pop().unwrap_or_default();
                self.router.targets(
                    &message.publish.topic,
                    &message.publish.properties.subscription_identifiers,
                    &mut targets,
                );
                let message = Message {
                    publish: message.publish,
                    token: message.ack,
                };
                self.deliveries.queue.push_back(Delivery {
                    token: message.token,
                    message: Some(message),
                    targets,
                    taken: false,
                });
                self.deliver(now);
            }
            Event::Completed { id, outcome } => self.completed(id, outcome, now),
            Event::Auth(auth) => self.on_auth(auth, now),
            Event::Disconnected(reason) => {
                info!(%reason, "disconnected");
                let end = if let Some(e) = self.end_authentication(&reason) {
                    End::Lost(DisconnectReason::Auth(e))
                } else if matches!(reason, ConnectionError::Disconnected) && self.closing.is_some()
                {
                    // Answered once the DISCONNECT is on the socket
                    // (`connection`), not now that it is only encoded.
                    End::Shutdown
                } else {
                    End::Lost(DisconnectReason::Session(reason))
                };
                if let End::Lost(lost) = &end {
                    // Requests the end failed learn why: the broker's
                    // DISCONNECT, a violation; for a transport that went
                    // away, its own error (`connection` has it).
                    let cause = match lost {
                        DisconnectReason::Session(ConnectionError::ConnectionLost) => {
                            self.losses.cause().cloned()
                        }
                        other => Some(other.clone()),
                    };
                    self.losses.connection_ended(cause.clone());
                    self.answer_interrupted(cause);
                }
                self.ended.get_or_insert(end);
            }
            Event::ReceiveMaximumOverrun {
                maximum,
                unacknowledged,
            } => warn!(
                maximum,
                unacknowledged,
                "the broker sends more unacknowledged messages than our receive maximum; taking them (ReceiveOverrun::Tolerate)"
            ),
            other => debug!(?other, "unhandled session event"),
        }
    }

    /// Pushes waiting messages into their streams, in order, as far as
    /// the streams have room; acknowledges each once it is in every stream.
    pub(super) fn deliver(&mut self, now: Instant) {
        if self.store_pending() {
            return;
        }
        while let Some(delivery) = self.deliveries.queue.front_mut() {
            while let Some((route, sender)) = delivery.targets.first() {
                // The last stream takes the message itself: no clone, and
                // no copy left behind to drop.
                let last = delivery.targets.len() == 1;
                let message = if last {
                    delivery.message.take()
                } else {
                    delivery.message.clone()
                };
                let Some(message) = message else {
                    // Only the last stream takes it, so this cannot be;
                    // were it so, the delivery ends rather than spin.
                    delivery.targets.clear();
                    break;
                };
                match sender.try_send(message) {
                    Ok(()) => {
                        delivery.targets.remove(0);
                        delivery.taken = true;
                    }
                    Err(mpsc::error::TrySendError::Full(message)) => {
                        if last {
                            delivery.message = Some(message);
                        }
                        return;
                    }
                    Err(mpsc::error::TrySendError::Closed(message)) => {
                        if last {
                            delivery.message = Some(message);
                        }
                        let route = *route;
                        delivery.targets.remove(0);
                        self.router.remove(route);
                        break;
                    }
                }
            }
            if !delivery.targets.is_empty() {
                continue;
            }
            if let Some(delivery) = self.deliveries.queue.pop_front() {
                if self.observer.flows {
                    debug!(target: "mqtide::flow", taken = delivery.taken, "message delivered");
                }
                self.deliveries.spare_targets.push(delivery.targets);
                self.delivered(delivery.token, delivery.taken, now);
            }
        }
    }

    /// Automatic acknowledgement once a message is in the application's
    /// streams; in manual mode only if no stream took it (nobody could ever
    /// acknowledge it).
    fn delivered(&mut self, token: Option<AckToken>, taken: bool, now: Instant) {
        let Some(token) = token else {
            return;
        };
        if !taken {
            debug!("a message matched no stream; acknowledged and dropped");
        }
        if !self.deliveries.manual_acks || !taken {
            let _ = self.session.ack(token, now.into_std());
        }
    }
}
