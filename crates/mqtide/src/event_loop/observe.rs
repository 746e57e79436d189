//! What the loop lets a service owner see of it: every packet at `trace`
//! (target `mqtide::packet`), each flow step at `debug` (target
//! `mqtide::flow`), and the figures of [`Stats`](crate::Stats) (with the
//! `metrics` feature, the same figures through the `metrics` facade).
//!
//! The figures are gathered once per turn of the loop, from the session's
//! counters and the few the loop counts itself, and stored with relaxed
//! atomics: nothing on the path of one publish takes a lock or a clock.

use std::sync::Arc;

use mqtide_proto::{Counters, Direction, PacketSummary, QoS, Session};
use tokio::time::Instant;
use tracing::{Level, debug, enabled, trace, warn};

use crate::stats::{CELLS, Cell, StatsCells, rtt_to_cell};

/// A publish on its way: what its end is counted under.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flow {
    pub(super) qos: QoS,
    /// The turn it was accepted in (for the acknowledgement latency).
    #[cfg_attr(
        not(feature = "metrics"),
        expect(dead_code, reason = "only the metrics feature reports latency")
    )]
    pub(super) accepted: Instant,
}

/// Figures only the loop sees (connections, requests and their ends).
#[derive(Debug, Default)]
struct Local {
    connections_made: u64,
    connections_lost: u64,
    connect_failures: u64,
    queued: [u64; 3],
    acknowledged: [u64; 3],
    failed: [u64; 3],
}

#[derive(Debug)]
pub(super) struct Observer {
    cells: Arc<StatsCells>,
    local: Local,
    /// The session's counters when last stored: what changed since.
    seen: Counters,
    /// Whether publishes were waiting for the broker's window.
    window_wait: bool,
    /// Whether received messages were held for a full stream.
    stream_wait: bool,
    #[cfg(feature = "metrics")]
    metrics: Option<super::metrics::Metrics>,
}

impl Observer {
    pub(super) fn new(cells: Arc<StatsCells>) -> Self {
        Self {
            cells,
            local: Local::default(),
            seen: Counters::default(),
            window_wait: false,
            stream_wait: false,
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }

    /// Reports the figures through the `metrics` facade too.
    #[cfg(feature = "metrics")]
    pub(super) fn with_metrics(mut self, metrics: super::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub(super) fn connected(&mut self) {
        self.local.connections_made += 1;
    }

    pub(super) fn connection_lost(&mut self) {
        self.local.connections_lost += 1;
    }

    pub(super) fn connect_failed(&mut self) {
        self.local.connect_failures += 1;
    }

    pub(super) fn queued(&mut self, qos: QoS) {
        self.local.queued[qos as usize] += 1;
    }

    /// A publish ended in an error (or was refused before it was queued).
    pub(super) fn failed(&mut self, qos: QoS) {
        self.local.failed[qos as usize] += 1;
    }

    /// A publish was acknowledged (at QoS 0: written).
    pub(super) fn acknowledged(&mut self, flow: Flow, now: Instant) {
        self.local.acknowledged[flow.qos as usize] += 1;
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.latency(flow.qos, now.saturating_duration_since(flow.accepted));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (flow, now);
    }

    /// Turns the session's packet log on while someone listens, and logs
    /// what it holds: each packet at `trace`, and the flow steps packets
    /// are (in flight, resent) at `debug`.
    pub(super) fn log_packets(session: &mut Session) {
        let packets = enabled!(target: "mqtide::packet", Level::TRACE);
        let flows = enabled!(target: "mqtide::flow", Level::DEBUG);
        session.set_packet_log(packets || flows);
        while let Some(packet) = session.poll_packet_log() {
            trace!(target: "mqtide::packet", "{} {packet}", packet.direction().as_str());
            if flows {
                flow_step(&packet);
            }
        }
    }

    /// Stores the figures of this turn; warns of resends, and tells (at
    /// `debug`) when publishes start or stop waiting for the broker's
    /// window and messages for a full stream.
    pub(super) fn store(&mut self, session: &Session, held: usize) {
        let counters = *session.counters();
        let resent = counters.publishes_resent - self.seen.publishes_resent;
        let released = counters.pubrels_resent - self.seen.pubrels_resent;
        if resent + released > 0 {
            warn!(
                publishes = resent,
                pubrels = released,
                "resending what the broker had not acknowledged when the connection was lost"
            );
        }
        self.seen = counters;
        let queued = session.queued();
        let window_wait = session.is_connected() && queued > 0;
        if window_wait != self.window_wait {
            self.window_wait = window_wait;
            if window_wait {
                debug!(target: "mqtide::flow", queued, inflight = session.inflight(), "publishes wait for the broker's receive window");
            } else {
                debug!(target: "mqtide::flow", "the broker's receive window has room again");
            }
        }
        let stream_wait = held > 0;
        if stream_wait != self.stream_wait {
            self.stream_wait = stream_wait;
            if stream_wait {
                debug!(target: "mqtide::flow", held, "messages held back: a subscription stream is full (or a store commit is due)");
            } else {
                debug!(target: "mqtide::flow", "held messages delivered; streams have room");
            }
        }
        let values = self.values(&counters, session, queued, held);
        for (index, value) in values.iter().enumerate() {
            self.cells.set(index, *value);
        }
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &mut self.metrics {
            metrics.update(&values);
        }
    }

    /// Every figure but the round trip, in [`Cell`] order.
    fn values(&self, c: &Counters, session: &Session, queued: usize, held: usize) -> [u64; CELLS] {
        let mut values = [0; CELLS];
        let mut put = |cell: Cell, value: u64| values[cell as usize] = value;
        let local = &self.local;
        put(Cell::ConnectionsMade, local.connections_made);
        put(Cell::ConnectionsLost, local.connections_lost);
        put(Cell::ConnectFailures, local.connect_failures);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let q = qos as usize;
            values[Cell::at(Cell::Queued0, qos)] = local.queued[q];
            values[Cell::at(Cell::Sent0, qos)] = c.publishes_sent[q];
            values[Cell::at(Cell::Acknowledged0, qos)] = local.acknowledged[q];
            values[Cell::at(Cell::Failed0, qos)] = local.failed[q];
            values[Cell::at(Cell::Received0, qos)] = c.messages_received[q];
        }
        let mut put = |cell: Cell, value: u64| values[cell as usize] = value;
        put(Cell::PublishesResent, c.publishes_resent);
        put(Cell::PubrelsResent, c.pubrels_resent);
        put(Cell::DuplicatesSuppressed, c.duplicates_suppressed);
        put(Cell::PacketsSent, c.packets_sent);
        put(Cell::PacketsReceived, c.packets_received);
        put(Cell::BytesSent, c.bytes_sent);
        put(Cell::BytesReceived, c.bytes_received);
        put(Cell::InflightOutgoing, session.inflight() as u64);
        put(Cell::InflightIncoming, session.inflight_incoming() as u64);
        put(Cell::OfflineQueue, queued as u64);
        put(Cell::HeldForStreams, held as u64);
        put(Cell::KeepAliveRtt, rtt_to_cell(c.keep_alive_rtt));
        values
    }
}

/// The flow step a packet is, at `debug`.
fn flow_step(packet: &PacketSummary) {
    let Some(qos) = packet.qos() else {
        return;
    };
    let id = packet.packet_id().map(|id| id.get());
    match (packet.direction(), packet.is_resend()) {
        (Direction::Sent, false) => {
            debug!(target: "mqtide::flow", id, qos = qos as u8, "publish in flight");
        }
        (Direction::Sent, true) => {
            debug!(target: "mqtide::flow", id, qos = qos as u8, "publish resent");
        }
        (Direction::Received, dup) => {
            debug!(target: "mqtide::flow", id, qos = qos as u8, dup, "message received");
        }
    }
}
