//! What the loop lets a service owner see of it: every packet at `trace`
//! (target `mqtide::packet`), each flow step at `debug` (target
//! `mqtide::flow`), and the figures of [`Stats`](crate::Stats) (with the
//! `metrics` feature, the same figures through the `metrics` facade).
//!
//! The figures are gathered once per turn of the loop, from the session's
//! counters and the few the loop counts itself, and stored with relaxed
//! atomics: nothing on the path of one publish takes a lock or a clock.

use std::sync::Arc;

use mqtide_proto::{Direction, PacketSummary, QoS, Session};
use tokio::time::Instant;
use tracing::{Level, debug, enabled, trace, warn};

use crate::stats::{Cell, StatsCells, rtt_to_cell};

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

#[derive(Debug)]
pub(super) struct Observer {
    cells: Arc<StatsCells>,
    /// The PUBLISH and PUBREL resends last warned about.
    resent: (u64, u64),
    /// Whether the session's packet log is on.
    logging: bool,
    /// Whether flow steps are logged (`mqtide::flow` at `debug`), as last
    /// asked: the per-message steps test this flag, not the subscriber.
    pub(super) flows: bool,
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
            resent: (0, 0),
            logging: false,
            flows: false,
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

    // The loop's own figures are stored as they change, before the reply
    // or event that reports the change goes out: a `stats()` made after
    // `publish().await` or `connect().await` returns sees it.

    pub(super) fn connected(&self) {
        self.cells.bump(Cell::ConnectionsMade as usize);
    }

    pub(super) fn connection_lost(&self) {
        self.cells.bump(Cell::ConnectionsLost as usize);
    }

    pub(super) fn connect_failed(&self) {
        self.cells.bump(Cell::ConnectFailures as usize);
    }

    pub(super) fn queued(&self, qos: QoS) {
        self.cells.bump(Cell::Queued0 as usize + qos as usize);
    }

    /// A publish ended in an error (or was refused before it was queued).
    pub(super) fn failed(&self, qos: QoS) {
        self.cells.bump(Cell::Failed0 as usize + qos as usize);
    }

    /// A publish was acknowledged (at QoS 0: written).
    pub(super) fn acknowledged(&self, flow: Flow, now: Instant) {
        self.cells
            .bump(Cell::Acknowledged0 as usize + flow.qos as usize);
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.latency(flow.qos, now.saturating_duration_since(flow.accepted));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (flow, now);
    }

    /// Turns the session's packet log on while someone listens (asked
    /// once per call), and logs what it holds: each packet at `trace`, and
    /// the flow steps packets are (in flight, resent) at `debug`.
    pub(super) fn listen(&mut self, session: &mut Session) {
        let packets = enabled!(target: "mqtide::packet", Level::TRACE);
        let flows = enabled!(target: "mqtide::flow", Level::DEBUG);
        self.flows = flows;
        if (packets || flows) != self.logging {
            self.logging = packets || flows;
            session.set_packet_log(self.logging);
        }
        self.drain(session);
    }

    /// Logs what the packet log holds, if it is on.
    pub(super) fn drain(&self, session: &mut Session) {
        if !self.logging {
            return;
        }
        while let Some(packet) = session.poll_packet_log() {
            trace!(target: "mqtide::packet", "{} {packet}", packet.direction().as_str());
            if self.flows {
                flow_step(&packet);
            }
        }
    }

    /// Stores the figures of this turn; warns of resends, and tells (at
    /// `debug`) when publishes start or stop waiting for the broker's
    /// window and messages for a full stream. Plain relaxed stores from
    /// where each figure lives (no copy of the counters, no array).
    pub(super) fn store(&mut self, session: &Session, held: usize) {
        let c = session.counters();
        let resent = c.publishes_resent - self.resent.0;
        let released = c.pubrels_resent - self.resent.1;
        if resent + released > 0 {
            warn!(
                publishes = resent,
                pubrels = released,
                "resending what the broker had not acknowledged when the connection was lost"
            );
            self.resent = (c.publishes_resent, c.pubrels_resent);
        }
        let queued = session.queued();
        self.transitions(session, queued, held);
        // The loop's own figures are counted in their cells as they change
        // (above); these are the session's, and the levels.
        let cells = &self.cells;
        let set = |cell: Cell, value: u64| cells.set(cell as usize, value);
        for q in 0..3 {
            cells.set(Cell::Sent0 as usize + q, c.publishes_sent[q]);
            cells.set(Cell::Received0 as usize + q, c.messages_received[q]);
        }
        set(Cell::PublishesResent, c.publishes_resent);
        set(Cell::PubrelsResent, c.pubrels_resent);
        set(Cell::DuplicatesSuppressed, c.duplicates_suppressed);
        set(Cell::PacketsSent, c.packets_sent);
        set(Cell::PacketsReceived, c.packets_received);
        set(Cell::BytesSent, c.bytes_sent);
        set(Cell::BytesReceived, c.bytes_received);
        set(Cell::InflightOutgoing, session.inflight() as u64);
        set(Cell::InflightIncoming, session.inflight_incoming() as u64);
        set(Cell::OfflineQueue, queued as u64);
        set(Cell::HeldForStreams, held as u64);
        set(Cell::KeepAliveRtt, rtt_to_cell(c.keep_alive_rtt));
    }

    /// The task that gives the `metrics` facade the figures while the
    /// client lives (see `metrics.rs`), if the feature is on.
    #[cfg(feature = "metrics")]
    pub(super) fn metrics_task(
        &self,
        state: tokio::sync::watch::Receiver<crate::state::ConnectionState>,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        let metrics = self.metrics.as_ref()?;
        Some(metrics.publisher(Arc::clone(&self.cells), state))
    }

    /// The last figures to the `metrics` facade, as the client closes.
    pub(super) fn flush_metrics(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.flush(&self.cells);
        }
    }

    /// At `debug`: when publishes start or stop waiting for the broker's
    /// window, and messages for a full stream.
    fn transitions(&mut self, session: &Session, queued: usize, held: usize) {
        let window_wait = queued > 0 && session.is_connected();
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
