//! The invariants, stated in terms of what each application was told
//! (which `send()` returned, which acknowledgement was committed, which
//! publish failed), never in terms of the session's own bookkeeping.
//!
//! - **lost**: a QoS 1/2 publish whose `send()` returned is delivered at
//!   least once, unless its publisher was told it failed or a session was
//!   lost (the broker forgot it);
//! - **qos2-duplicate**: a QoS 2 message is handed to one process of the
//!   subscriber at most once;
//! - **qos2-after-ack**: a QoS 2 message whose acknowledgement was
//!   committed is never delivered again, to any process;
//! - **qos2-not-exactly-once**: with the network healed, every QoS 2 message
//!   that must arrive was acknowledged exactly once;
//! - **order**: per topic and QoS, first arrivals come in publishing order
//!   (until a broker loses its sessions);
//! - **stuck**: once the network heals, nothing stays pending for ever
//!   (after lost sessions too);
//! - **qos1-failed**: a QoS 1 publish is never failed because a session was
//!   lost (it is sent again as a new message);
//! - **bounds**: queues, windows and the store stay within their limits;
//! - **wire**: the client broke a rule the broker can see.

use rustc_hash::FxHashMap as HashMap;

use mqtide_proto::{Publish, QoS};

use crate::client::{Role, SimClient};
use crate::plan::Planned;

/// The limits a schedule's clients are configured with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) queue_capacity: usize,
    /// The most QoS 1/2 publishes the publisher may have in flight.
    pub(crate) send_window: usize,
    /// The most QoS 2 messages the subscriber may hold unreleased.
    pub(crate) receive_window: usize,
}

/// A broken invariant.
#[derive(Debug, Clone)]
pub(crate) struct Violation {
    pub(crate) invariant: &'static str,
    pub(crate) detail: String,
}

/// What each application was told, and the checks on it.
#[derive(Debug)]
pub(crate) struct Oracle {
    qos: Vec<QoS>,
    accepted: Vec<bool>,
    /// `Some(true)`: acknowledged; `Some(false)`: the publisher was told
    /// it failed.
    outcome: Vec<Option<bool>>,
    /// Deliveries (retained copies aside), and the subscriber process that
    /// got the last one.
    deliveries: Vec<u32>,
    delivered_to: Vec<Option<u32>>,
    acked: Vec<u32>,
    first_by_topic: HashMap<(bytestring::ByteString, u8), u64>,
    /// A broker lost sessions: from then on, messages may be lost, and
    /// those published before (numbers below this) may also come twice: a
    /// publisher resending into a session the broker no longer has is a
    /// new message to it, and so is a subscriber's state it forgot.
    pub(crate) sessions_lost: bool,
    lost_before: u64,
    pub(crate) violations: Vec<Violation>,
}

impl Oracle {
    pub(crate) fn new(plan: &[Planned]) -> Self {
        let count = plan.len();
        Self {
            qos: plan.iter().map(|p| p.qos).collect(),
            accepted: vec![false; count],
            outcome: vec![None; count],
            deliveries: vec![0; count],
            delivered_to: vec![None; count],
            acked: vec![0; count],
            first_by_topic: HashMap::default(),
            sessions_lost: false,
            lost_before: 0,
            violations: Vec::new(),
        }
    }

    /// The broker lost every session; messages below `published` were
    /// published before.
    pub(crate) fn sessions_lost(&mut self, published: u64) {
        self.sessions_lost = true;
        self.lost_before = self.lost_before.max(published);
    }

    pub(crate) fn violation(&mut self, invariant: &'static str, detail: String) {
        // The first few say it all; a broken schedule can repeat one.
        if self.violations.len() < 8 {
            self.violations.push(Violation { invariant, detail });
        }
    }

    fn index(&mut self, n: u64) -> Option<usize> {
        let at = usize::try_from(n).ok().filter(|at| *at < self.qos.len());
        if at.is_none() {
            self.violation("payload", format!("message #{n} was never published"));
        }
        at
    }

    /// The publisher's `send()` returned for `n`.
    pub(crate) fn accepted(&mut self, n: u64) {
        if let Some(at) = self.index(n) {
            self.accepted[at] = true;
        }
    }

    /// The publisher learned how `n` ended.
    pub(crate) fn completed(&mut self, n: u64, ok: bool) {
        if let Some(at) = self.index(n) {
            self.outcome[at] = Some(ok);
        }
    }

    /// The publisher was told `n` failed because its session was lost
    /// (`RequestError::SessionLost`): allowed at QoS 2 (indeterminate: a
    /// second copy could be a duplicate), never at QoS 1, which is sent
    /// again as a new message.
    pub(crate) fn failed_by_session_loss(&mut self, n: u64) {
        if let Some(at) = self.index(n)
            && self.qos[at] == QoS::AtLeastOnce
        {
            self.violation(
                "qos1-failed",
                format!("QoS 1 #{n} failed with SessionLost instead of being sent again"),
            );
        }
    }

    /// A client connected without its session.
    pub(crate) fn session_not_present(&mut self, _role: Role) {
        // The first connection of each client has no session yet; a later
        // one without it follows a broker that lost sessions, which the
        // schedule records itself (`sessions_lost`).
    }

    /// The subscriber application got `n` (process `incarnation`).
    pub(crate) fn delivered(&mut self, n: u64, publish: &Publish, incarnation: u32) {
        let Some(at) = self.index(n) else {
            return;
        };
        if publish.qos > self.qos[at] {
            self.violation(
                "wire",
                format!("#{n} arrived at {:?}, above its QoS", publish.qos),
            );
        }
        // A retained copy is a new message from the broker's side.
        if publish.retain {
            return;
        }
        if publish.qos == QoS::ExactlyOnce && n >= self.lost_before {
            if self.acked[at] > 0 {
                self.violation(
                    "qos2-after-ack",
                    format!("QoS 2 #{n} delivered again after its acknowledgement was committed"),
                );
            } else if self.delivered_to[at] == Some(incarnation) {
                self.violation(
                    "qos2-duplicate",
                    format!("QoS 2 #{n} delivered twice to subscriber process {incarnation}"),
                );
            }
        }
        // After a broker lost its sessions, a subscription may be missing
        // for a while: a QoS 1 message routed to nobody then, and resent
        // by a publisher that crashed before recording its PUBACK, comes
        // first after later ones. Order is checked up to the first loss.
        if self.deliveries[at] == 0 && publish.qos != QoS::AtMostOnce && !self.sessions_lost {
            let key = (publish.topic.clone(), publish.qos as u8);
            if let Some(previous) = self.first_by_topic.insert(key, n)
                && previous > n
            {
                self.violation(
                    "order",
                    format!(
                        "on {} at QoS {}, #{n} first arrived after #{previous}",
                        publish.topic, publish.qos as u8
                    ),
                );
            }
        }
        self.deliveries[at] += 1;
        self.delivered_to[at] = Some(incarnation);
    }

    /// The subscriber's acknowledgement of `n` was committed.
    pub(crate) fn ack_committed(&mut self, n: u64, qos: QoS, retain: bool) {
        let Some(at) = self.index(n) else {
            return;
        };
        if qos == QoS::ExactlyOnce && !retain {
            self.acked[at] += 1;
        }
    }

    /// After a commit: the store holds no more than the limits allow.
    pub(crate) fn check_store(&mut self, client: &SimClient, bounds: &Bounds) {
        let stored = &client.store.session;
        let outgoing_limit = bounds.queue_capacity + bounds.send_window;
        if stored.outgoing.len() > outgoing_limit {
            let detail = format!(
                "{} stores {} outgoing publishes (queue {} + window {})",
                client.client_id,
                stored.outgoing.len(),
                bounds.queue_capacity,
                bounds.send_window
            );
            self.violation("bounds", detail);
        }
        // A broker that lost the session may leave records the client can
        // never release (it cannot tell a new empty session from its own
        // when the CONNACK saying so was lost).
        if stored.incoming.len() > bounds.receive_window && !self.sessions_lost {
            let detail = format!(
                "{} stores {} incoming QoS 2 ids (window {})",
                client.client_id,
                stored.incoming.len(),
                bounds.receive_window
            );
            self.violation("bounds", detail);
        }
    }

    /// After every step: the session's queue and window. Publishes in
    /// flight when a session was lost go back to the queue to be sent
    /// again, and may take it over its capacity by as many as the window
    /// held: queue and window are bounded together.
    pub(crate) fn check_session(&mut self, client: &SimClient, bounds: &Bounds) {
        let session = &client.session;
        let held = session.queued() + session.inflight();
        if held > bounds.queue_capacity + bounds.send_window
            || session.inflight() > bounds.send_window
        {
            let detail = format!(
                "{}: {} queued (capacity {}), {} in flight (window {})",
                client.client_id,
                session.queued(),
                bounds.queue_capacity,
                session.inflight(),
                bounds.send_window
            );
            self.violation("bounds", detail);
        }
    }

    /// With the network healed and the schedule quiet: what had to arrive
    /// arrived.
    pub(crate) fn check_end(&mut self) {
        if self.sessions_lost {
            return;
        }
        for at in 0..self.qos.len() {
            let must = self.accepted[at]
                && self.qos[at] != QoS::AtMostOnce
                && self.outcome[at] != Some(false);
            if !must {
                continue;
            }
            if self.deliveries[at] == 0 {
                self.violation(
                    "lost",
                    format!(
                        "#{at} ({:?}) was accepted and never delivered",
                        self.qos[at]
                    ),
                );
            } else if self.qos[at] == QoS::ExactlyOnce && self.acked[at] != 1 {
                let detail = format!("QoS 2 #{at} acknowledged {} times", self.acked[at]);
                self.violation("qos2-not-exactly-once", detail);
            }
        }
    }
}
