//! One schedule: a publisher and a subscriber (each the real `Session`
//! with a store) against the model broker, every step chosen by a seeded
//! generator: which packet moves, which commit is made, what the
//! applications do, and which fault strikes. Then the network heals and
//! the schedule runs until nothing is left to do, and the oracle checks
//! what the applications were told.
//!
//! Virtual time only: the same seed gives the same trace, byte for byte.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtide_proto::{AckMode, ConnAck, Packet, ProtocolVersion, SessionConfig};

use crate::broker::{Broker, Latitude, Outbox};
use crate::client::{Cx, Role, SimClient};
use crate::net::{Dir, LinkId, Net};
use crate::oracle::{Bounds, Oracle, Violation};
use crate::plan::{self, Planned};
use crate::trace::{Trace, describe};

/// Steps with faults, then at most this many to settle once healed.
const FAULTY_STEPS: u64 = 400;
const HEALING_STEPS: u64 = 20_000;

/// A crash of the client making commit number `commit` (counted from 0
/// over both clients): just before it is made, or just after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForcedCrash {
    pub(crate) commit: u64,
    pub(crate) after: bool,
}

/// Deliberate bugs (see `mqtide_proto::mutants`); `DropStoreRecord` is the
/// simulator's own: the store loses a committed record before a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mutant {
    Qos2DedupeOff,
    PubrelOrder,
    DropStoreRecord,
}

/// What one schedule did and found.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) violations: Vec<Violation>,
    pub(crate) commits: u64,
    pub(crate) stats: Stats,
    pub(crate) trace: Vec<String>,
}

/// Counts for the run's summary.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) steps: u64,
    pub(crate) packets: u64,
    pub(crate) cuts: u64,
    pub(crate) crashes: u64,
    pub(crate) restarts: u64,
}

impl Stats {
    pub(crate) fn add(&mut self, other: &Self) {
        self.steps += other.steps;
        self.packets += other.packets;
        self.cuts += other.cuts;
        self.crashes += other.crashes;
        self.restarts += other.restarts;
    }
}

/// The fault rates of a schedule, in weight units beside the normal steps.
#[derive(Debug, Clone, Copy)]
struct Faults {
    cut: u32,
    crash: u32,
    restart: u32,
    /// The broker sends a packet a client must refuse (a second CONNACK),
    /// so the protocol-error path runs among the other faults.
    misbehave: u32,
    /// Out of 10: a restart loses every session.
    lose_sessions: u32,
}

/// One possible next step.
#[derive(Debug, Clone, Copy)]
enum Step {
    Deliver(LinkId, Dir),
    Commit(usize),
    Publish,
    Subscribe,
    Ack,
    Connect(usize),
    Time,
    Cut(LinkId),
    Misbehave(LinkId),
    Crash(usize),
    Restart,
}

struct World {
    rng: fastrand::Rng,
    version: ProtocolVersion,
    plan: Vec<Planned>,
    bounds: Bounds,
    faults: Faults,
    net: Net,
    broker: Broker,
    clients: [SimClient; 2],
    oracle: Oracle,
    trace: Trace,
    epoch: Instant,
    elapsed: Duration,
    step: u64,
    commits: u64,
    forced: Option<ForcedCrash>,
    mutant: Option<Mutant>,
    stats: Stats,
    /// One above the highest message number the publisher has sent.
    published: u64,
}

const PUBLISHER: usize = 0;
const SUBSCRIBER: usize = 1;

/// Whether base schedule `seed` runs its publisher as the library's
/// defaults do: a clean start on every connection (the broker keeps no
/// session for it, so every reconnect loses what it had in flight) and no
/// store. One schedule in four, drawn apart from the schedule's own
/// generator so that the others play as they did before this choice.
fn clean_publisher(seed: u64) -> bool {
    fastrand::Rng::with_seed(seed ^ 0x05ee_dc1e_a574_7a27).u8(0..4) == 0
}

/// Runs the schedule of `seed` under `version`.
pub(crate) fn run(
    seed: u64,
    version: ProtocolVersion,
    forced: Option<ForcedCrash>,
    mutant: Option<Mutant>,
    trace: bool,
) -> Outcome {
    let mut world = World::new(seed, version, forced, mutant, trace);
    world.play();
    Outcome {
        violations: world.oracle.violations,
        commits: world.commits,
        stats: world.stats,
        trace: world.trace.lines,
    }
}

impl World {
    fn new(
        seed: u64,
        version: ProtocolVersion,
        forced: Option<ForcedCrash>,
        mutant: Option<Mutant>,
        trace: bool,
    ) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let count = rng.u64(2..=8);
        let plan = plan::messages(&mut rng, count);
        let latitude = Latitude {
            deliver_on_pubrel: rng.bool(),
            receive_maximum: rng.u16(1..=4),
            v3_inflight: rng.u16(1..=4),
        };
        let queue_capacity = rng.usize(2..=6);
        let publisher_window = rng.u16(1..=4);
        let subscriber_window = rng.u16(1..=4);
        let send_window = if version.is_v5() {
            latitude.receive_maximum
        } else {
            publisher_window
        };
        let receive_window = if version.is_v5() {
            subscriber_window
        } else {
            latitude.v3_inflight
        };
        let bounds = Bounds {
            queue_capacity,
            send_window: usize::from(send_window),
            receive_window: usize::from(receive_window),
        };
        // Weights beside the normal steps' (a packet moving weighs 100):
        // most schedules see a few faults of each kind, some a storm, and
        // some none, so that the plain flows are checked too.
        let mut rate = |scale: u32| {
            scale
                * match rng.u8(0..8) {
                    0 => 0,
                    1..=3 => 1,
                    4..=6 => 3,
                    _ => 10,
                }
        };
        let faults = Faults {
            cut: rate(3),
            crash: rate(2),
            restart: rate(1),
            misbehave: rate(1),
            lose_sessions: rng.u32(0..4),
        };
        let clean_publisher = clean_publisher(seed);
        let config = |role: Role| {
            let id = if role == Role::Publisher {
                "pub"
            } else {
                "sub"
            };
            let mut config = SessionConfig::new(version, id);
            config.ack_mode = AckMode::Manual;
            config.queue_capacity = queue_capacity;
            config.v3_inflight = publisher_window;
            if role == Role::Publisher && clean_publisher {
                // The library's defaults: a clean start on every
                // connection, no store.
                return config;
            }
            config.durable = true;
            config.clean_start = false;
            if version.is_v5() {
                config.properties.session_expiry_interval = Some(3600);
                if role == Role::Subscriber {
                    config.properties.receive_maximum =
                        std::num::NonZeroU16::new(subscriber_window);
                }
            }
            config
        };
        let keep_log = mutant == Some(Mutant::DropStoreRecord);
        let clients = [
            SimClient::new(
                PUBLISHER,
                Role::Publisher,
                config(Role::Publisher),
                keep_log,
            ),
            SimClient::new(
                SUBSCRIBER,
                Role::Subscriber,
                config(Role::Subscriber),
                keep_log,
            ),
        ];
        let mut trace = Trace::new(trace);
        trace.line(0, || {
            format!(
                "seed {seed} MQTT {version}: {count} messages, queue {queue_capacity}, windows {publisher_window}/{subscriber_window}, {latitude:?}, {faults:?}{}",
                if clean_publisher {
                    ", the publisher with a clean start and no store"
                } else {
                    ""
                }
            )
        });
        #[allow(
            clippy::disallowed_methods,
            reason = "an origin for virtual time; nothing depends on its value"
        )]
        let epoch = Instant::now();
        Self {
            oracle: Oracle::new(&plan),
            rng,
            version,
            plan,
            bounds,
            faults,
            net: Net::default(),
            broker: Broker::new(latitude),
            clients,
            trace,
            epoch,
            elapsed: Duration::ZERO,
            step: 0,
            commits: 0,
            forced,
            mutant,
            stats: Stats::default(),
            published: 0,
        }
    }

    fn now(&self) -> Instant {
        self.epoch + self.elapsed
    }

    fn play(&mut self) {
        let mut steps = Vec::new();
        for healing in [false, true] {
            let limit = if healing { HEALING_STEPS } else { FAULTY_STEPS };
            if healing {
                self.trace
                    .line(self.step, || "--- the network heals ---".into());
            }
            for _ in 0..limit {
                steps.clear();
                self.enabled(healing, &mut steps);
                let Some(step) = self.pick(&steps) else {
                    break;
                };
                self.step += 1;
                self.stats.steps += 1;
                self.take(step);
                for client in &self.clients {
                    self.oracle.check_session(client, &self.bounds);
                }
                if self.oracle.violations.len() > 4 {
                    return;
                }
            }
        }
        self.check_settled();
        self.oracle.check_end();
        for violation in &self.broker.violations {
            self.oracle.violations.push(Violation {
                invariant: "wire",
                detail: format!("{}: {}", violation.rule, violation.detail),
            });
        }
    }

    /// Every step that can be taken now, with its weight.
    fn enabled(&self, healing: bool, steps: &mut Vec<(Step, u32)>) {
        for link in &self.net.links {
            if !link.to_broker.is_empty() {
                steps.push((Step::Deliver(link.id, Dir::ToBroker), 100));
            }
            if !link.to_client.is_empty() && !link.client_closed {
                steps.push((Step::Deliver(link.id, Dir::ToClient), 100));
            }
        }
        for client in &self.clients {
            if client.store_pending() {
                steps.push((Step::Commit(client.index), 60));
            }
            if client.link.is_none() {
                steps.push((Step::Connect(client.index), 30));
            }
        }
        let publisher = &self.clients[PUBLISHER];
        let next = publisher.session.last_accepted();
        if next < self.plan.len() as u64
            && publisher.session.queue_space() > 0
            && (self.broker.is_subscribed("sub") || self.oracle.sessions_lost)
        {
            steps.push((Step::Publish, 40));
        }
        let subscriber = &self.clients[SUBSCRIBER];
        if !subscriber.wants_subscription() {
            steps.push((Step::Subscribe, 50));
        }
        if !subscriber.unacked.is_empty() {
            steps.push((Step::Ack, 50));
        }
        if healing {
            // Time only passes when nothing else can happen: a healed
            // schedule that waits on time alone has settled.
            return;
        }
        if self
            .clients
            .iter()
            .any(|c| c.session.poll_timeout().is_some())
        {
            steps.push((Step::Time, 5));
        }
        for link in &self.net.links {
            steps.push((Step::Cut(link.id), self.faults.cut));
            // Only after the real CONNACK: a stray one first would be
            // taken for it, and a broker that lies about the session is
            // not one the client can keep its promises with.
            let client = &self.clients[link.client];
            if client.link == Some(link.id) && client.session.is_connected() {
                steps.push((Step::Misbehave(link.id), self.faults.misbehave));
            }
        }
        for client in &self.clients {
            // A process without a store loses what it was told with it:
            // only those with one are crashed.
            if client.durable() {
                steps.push((Step::Crash(client.index), self.faults.crash));
            }
        }
        steps.push((Step::Restart, self.faults.restart));
    }

    fn pick(&mut self, steps: &[(Step, u32)]) -> Option<Step> {
        let total: u32 = steps.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let mut at = self.rng.u32(0..total);
        for (step, weight) in steps {
            if at < *weight {
                return Some(*step);
            }
            at -= weight;
        }
        None
    }

    fn take(&mut self, step: Step) {
        let now = self.now();
        match step {
            Step::Deliver(link, Dir::ToBroker) => self.deliver_to_broker(link),
            Step::Deliver(link, Dir::ToClient) => self.deliver_to_client(link),
            Step::Commit(c) => self.commit(c),
            Step::Publish => {
                let next = self.clients[PUBLISHER].session.last_accepted();
                if let Some(planned) = usize::try_from(next).ok().and_then(|n| self.plan.get(n)) {
                    let planned = *planned;
                    self.published = self.published.max(planned.n + 1);
                    let (mut cx, clients, net) = self.cx();
                    clients[PUBLISHER].publish(&planned, net, now, &mut cx);
                }
            }
            Step::Subscribe => {
                let (mut cx, clients, net) = self.cx();
                clients[SUBSCRIBER].subscribe(net, now, &mut cx);
            }
            Step::Ack => {
                // Mostly in arrival order, sometimes not (acknowledgements
                // may come in any order; the session sends them in order).
                let held = self.clients[SUBSCRIBER].unacked.len();
                let at = if self.rng.u8(0..4) == 0 {
                    self.rng.usize(0..held)
                } else {
                    0
                };
                let (mut cx, clients, net) = self.cx();
                clients[SUBSCRIBER].ack(at, net, now, &mut cx);
            }
            Step::Connect(c) => {
                let (mut cx, clients, net) = self.cx();
                clients[c].connect(net, now, &mut cx);
            }
            Step::Time => self.pass_time(),
            Step::Cut(link) => {
                self.stats.cuts += 1;
                self.trace
                    .line(self.step, || format!("FAULT: link {} cut", link.0));
                self.drop_link(link);
            }
            Step::Misbehave(link) => self.misbehave(link),
            Step::Crash(c) => self.crash(c),
            Step::Restart => self.restart(),
        }
        self.housekeeping();
    }

    fn cx(&mut self) -> (Cx<'_>, &mut [SimClient; 2], &mut Net) {
        (
            Cx {
                oracle: &mut self.oracle,
                bounds: &self.bounds,
                trace: &mut self.trace,
                step: self.step,
            },
            &mut self.clients,
            &mut self.net,
        )
    }

    fn deliver_to_broker(&mut self, id: LinkId) {
        let Some(link) = self.net.get_mut(id) else {
            return;
        };
        let Some(packet) = link.to_broker.pop_front() else {
            return;
        };
        self.stats.packets += 1;
        let client_id = self.clients[link.client].client_id;
        self.trace.line(self.step, || {
            format!("broker <- {client_id}  {}", describe(&packet))
        });
        let mut outbox = Outbox::default();
        let seen = self.broker.violations.len();
        self.broker.handle(id, packet, &mut outbox);
        for violation in &self.broker.violations[seen..] {
            self.trace.line(self.step, || {
                format!(
                    "BROKER SEES A VIOLATION: {}: {}",
                    violation.rule, violation.detail
                )
            });
        }
        self.apply(outbox);
    }

    fn deliver_to_client(&mut self, id: LinkId) {
        let Some(link) = self.net.get_mut(id) else {
            return;
        };
        let client = link.client;
        let Some((bytes, packet)) = link.to_client.pop_front() else {
            return;
        };
        self.stats.packets += 1;
        let client_id = self.clients[client].client_id;
        self.trace.line(self.step, || {
            format!("broker -> {client_id}  {}", describe(&packet))
        });
        self.broker.client_received(client_id, &packet);
        let now = self.now();
        let (mut cx, clients, net) = self.cx();
        clients[client].receive(&bytes, net, now, &mut cx);
    }

    /// Puts the broker's packets on their links and closes what it closes.
    fn apply(&mut self, outbox: Outbox) {
        for (id, bytes, packet) in outbox.packets {
            if bytes.is_empty() {
                self.oracle.violation(
                    "model",
                    format!("the broker built an unencodable {}", describe(&packet)),
                );
                continue;
            }
            if let Some(link) = self.net.get_mut(id)
                && !link.client_closed
            {
                link.to_client.push_back((bytes, packet));
            }
        }
        for id in outbox.close {
            self.trace
                .line(self.step, || format!("broker closes link {}", id.0));
            self.drop_link(id);
        }
    }

    /// A link is gone: both ends learn it.
    fn drop_link(&mut self, id: LinkId) {
        let Some(link) = self.net.remove(id) else {
            return;
        };
        self.broker.link_lost(id);
        let now = self.now();
        let (mut cx, clients, net) = self.cx();
        let client = &mut clients[link.client];
        if client.link == Some(id) {
            client.lost(net, now, &mut cx);
        }
    }

    /// Links the client closed, once the broker has read all of them.
    fn housekeeping(&mut self) {
        let done: Vec<LinkId> = self
            .net
            .links
            .iter()
            .filter(|l| l.client_closed && l.to_broker.is_empty())
            .map(|l| l.id)
            .collect();
        for id in done {
            self.net.remove(id);
            self.broker.link_lost(id);
        }
    }

    fn commit(&mut self, c: usize) {
        let number = self.commits;
        self.commits += 1;
        let forced = self.forced.filter(|f| f.commit == number);
        if forced.is_some_and(|f| !f.after) {
            self.trace.line(self.step, || {
                format!(
                    "FAULT: {} crashes before commit {number}",
                    self.clients[c].client_id
                )
            });
            return self.crash(c);
        }
        self.trace.line(self.step, || {
            format!("{} commits ({number})", self.clients[c].client_id)
        });
        let now = self.now();
        let (mut cx, clients, net) = self.cx();
        clients[c].commit(net, now, &mut cx);
        if forced.is_some() {
            self.trace.line(self.step, || {
                format!(
                    "FAULT: {} crashes after commit {number}",
                    self.clients[c].client_id
                )
            });
            self.crash(c);
        }
    }

    /// The broker puts a CONNACK on an established link: a client must
    /// end the connection with a protocol error ([MQTT-3.2.0-2]).
    fn misbehave(&mut self, id: LinkId) {
        let version = self.version;
        let Some(link) = self.net.get_mut(id) else {
            return;
        };
        let packet = Packet::from(ConnAck::new(false));
        let mut bytes = BytesMut::new();
        if packet.encode(version, &mut bytes).is_err() {
            return;
        }
        link.to_client.push_back((bytes.freeze(), packet));
        self.trace.line(self.step, || {
            format!("FAULT: the broker puts a stray CONNACK on link {}", id.0)
        });
    }

    fn crash(&mut self, c: usize) {
        self.stats.crashes += 1;
        self.trace.line(self.step, || {
            format!("FAULT: {} crashes", self.clients[c].client_id)
        });
        let lose = (self.mutant == Some(Mutant::DropStoreRecord)).then(|| self.rng.u64(..));
        let (mut cx, clients, net) = self.cx();
        clients[c].crash(net, &mut cx, lose);
    }

    fn restart(&mut self) {
        self.stats.restarts += 1;
        let keep = self.rng.u32(0..10) >= self.faults.lose_sessions;
        self.trace.line(self.step, || {
            format!(
                "FAULT: broker restarts, sessions {}",
                if keep { "kept" } else { "lost" }
            )
        });
        let ids: Vec<LinkId> = self.net.links.iter().map(|l| l.id).collect();
        for id in ids {
            self.drop_link(id);
        }
        self.broker.restart(keep);
        if !keep {
            self.oracle.sessions_lost(self.published);
        }
    }

    /// Virtual time jumps to the next deadline of a client.
    fn pass_time(&mut self) {
        let next = self
            .clients
            .iter()
            .filter_map(|c| c.session.poll_timeout())
            .min();
        let Some(next) = next else {
            return;
        };
        self.elapsed = self.elapsed.max(next.saturating_duration_since(self.epoch));
        self.trace
            .line(self.step, || format!("time passes: {:?}", self.elapsed));
        let now = self.now();
        for c in 0..self.clients.len() {
            let (mut cx, clients, net) = self.cx();
            clients[c].timeout(net, now, &mut cx);
        }
    }

    /// Once healed and quiet, nothing may still be pending, even after a
    /// broker lost its sessions. There a client whose CONNACK saying so
    /// was lost resumes the broker's new, empty session as its own, and
    /// may keep QoS 2 identifiers it acknowledged that the broker will
    /// never release. They held the subscriber's receive window for ever
    /// under `ReceiveOverrun::Strict`: with a Receive Maximum of 1, 0x93 on
    /// every reconnect (schedules 526339 and 1691655 under 5.0, with the
    /// session configured strict). The default tolerance lets them wait
    /// for a PUBREL without holding a place, and the check holds.
    fn check_settled(&mut self) {
        let publisher = &self.clients[PUBLISHER];
        let stuck_publisher = publisher.session.inflight() + publisher.session.queued() > 0
            || publisher.session.last_accepted() < self.plan.len() as u64;
        let subscriber = &self.clients[SUBSCRIBER];
        let stuck = stuck_publisher
            || !self.clients.iter().all(SimClient::is_quiet)
            || !self
                .net
                .links
                .iter()
                .all(|l| l.to_broker.is_empty() && l.to_client.is_empty())
            || self.broker.held_for("sub") > 0
            || !self.broker.is_idle();
        if stuck {
            let detail = format!(
                "after healing: publisher {} in flight, {} queued, {}/{} accepted; subscriber holds {} unacknowledged; broker holds {} for the subscriber",
                publisher.session.inflight(),
                publisher.session.queued(),
                publisher.session.last_accepted(),
                self.plan.len(),
                subscriber.unacked.len(),
                self.broker.held_for("sub"),
            );
            self.oracle.violation("stuck", detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same schedule number gives the same trace, byte for byte.
    #[test]
    fn a_seed_replays_exactly() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            for seed in 1..20 {
                let forced = Some(ForcedCrash {
                    commit: 3,
                    after: seed % 2 == 0,
                });
                let first = run(seed, version, forced, None, true);
                let again = run(seed, version, forced, None, true);
                assert_eq!(first.trace, again.trace, "seed {seed}");
                assert!(first.trace.len() > 10, "seed {seed} did nothing");
            }
        }
    }

    /// A crash variant plays its base schedule until the crash.
    #[test]
    fn a_crash_variant_follows_its_base_until_the_crash() {
        let base = run(7, ProtocolVersion::V5, None, None, true);
        assert!(base.commits > 2);
        let forced = ForcedCrash {
            commit: 2,
            after: false,
        };
        let variant = run(7, ProtocolVersion::V5, Some(forced), None, true);
        let crash = variant
            .trace
            .iter()
            .position(|l| l.contains("crashes before commit 2"))
            .expect("the forced crash");
        assert_eq!(base.trace[..crash], variant.trace[..crash]);
    }

    /// The first schedules, faults and all, break no invariant (the
    /// binary runs millions; this keeps `cargo test` honest about it).
    #[test]
    fn the_first_schedules_pass_under_both_versions() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            for seed in 1..200 {
                let outcome = run(seed, version, None, None, false);
                assert!(
                    outcome.violations.is_empty(),
                    "seed {seed} {version}: {:?}",
                    outcome.violations
                );
            }
        }
    }

    /// The store mutant (the one a normal build has) is caught.
    #[test]
    fn a_lost_store_record_is_caught() {
        let caught = (1..400).any(|seed| {
            !run(
                seed,
                ProtocolVersion::V5,
                None,
                Some(Mutant::DropStoreRecord),
                false,
            )
            .violations
            .is_empty()
        });
        assert!(caught);
    }
}

/// Schedules that found bugs, kept: each must stay clean.
#[cfg(test)]
mod regressions {
    use super::*;

    fn replay(number: u64, version: ProtocolVersion) -> Vec<Violation> {
        let variant = number % 1024;
        let forced = (variant > 0).then(|| ForcedCrash {
            commit: (variant - 1) / 2,
            after: variant.is_multiple_of(2),
        });
        run(number >> 10, version, forced, None, false).violations
    }

    /// A protocol error's DISCONNECT, held back by a pending commit, was
    /// written at the start of the next connection, before its CONNECT.
    #[test]
    fn schedule_3103_a_stale_disconnect_before_connect() {
        let violations = replay(3103, ProtocolVersion::V5);
        assert!(violations.is_empty(), "{violations:?}");
    }

    /// After a broker lost the sessions and the CONNACK saying so was
    /// lost, a stale QoS 2 identifier held a Receive Maximum of 1 for
    /// ever: 0x93 on every reconnect (a livelock, caught as `stuck` once
    /// that check ran after lost sessions), unless overruns are tolerated.
    #[test]
    fn schedules_526339_and_1691655_stale_ids_no_longer_hold_the_window() {
        for number in [526_339, 1_691_655] {
            let violations = replay(number, ProtocolVersion::V5);
            assert!(violations.is_empty(), "{number}: {violations:?}");
        }
    }
}
