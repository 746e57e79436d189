//! What a client has done, as numbers: [`Stats`], read with
//! [`Client::stats`](crate::Client::stats).
//!
//! The event loop keeps the figures in relaxed atomics it stores once per
//! turn of its loop (a plain store each, no lock, nothing on the publish
//! path itself); a snapshot reads them. Figures taken in one snapshot may
//! come from two neighbouring turns: each is exact, their sums may be off
//! by what one turn did.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use mqtide_proto::QoS;

/// A count for each QoS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerQoS {
    /// At QoS 0.
    pub at_most_once: u64,
    /// At QoS 1.
    pub at_least_once: u64,
    /// At QoS 2.
    pub exactly_once: u64,
}

impl PerQoS {
    /// The count at `qos`.
    pub fn get(&self, qos: QoS) -> u64 {
        match qos {
            QoS::AtMostOnce => self.at_most_once,
            QoS::AtLeastOnce => self.at_least_once,
            QoS::ExactlyOnce => self.exactly_once,
        }
    }

    /// The counts of every QoS added up.
    pub fn total(&self) -> u64 {
        self.at_most_once + self.at_least_once + self.exactly_once
    }

    fn from_array(counts: [u64; 3]) -> Self {
        Self {
            at_most_once: counts[0],
            at_least_once: counts[1],
            exactly_once: counts[2],
        }
    }
}

/// A snapshot of what a client has done since it was built, from
/// [`Client::stats`](crate::Client::stats). Counts never go down; the
/// `inflight_*`, `offline_queue`, `held_for_streams` and `keep_alive_rtt`
/// figures are the state at the time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections that reached CONNACK (and passed authentication).
    pub connections_made: u64,
    /// Connections that were up and ended other than by `disconnect`.
    pub connections_lost: u64,
    /// Connection attempts that failed before coming up (refused, timed
    /// out, unreachable broker).
    pub connect_failures: u64,
    /// Publishes the client accepted, by QoS (what `publish` queued).
    pub publishes_queued: PerQoS,
    /// PUBLISH packets written the first time, by QoS.
    pub publishes_sent: PerQoS,
    /// Publishes finished with success, by QoS: acknowledged by PUBACK or
    /// PUBCOMP; at QoS 0, written to the socket.
    pub publishes_acknowledged: PerQoS,
    /// Publishes that ended in an error, by QoS: refused at once (a full
    /// queue, a usage error), refused by the broker, failed with the
    /// session, or still waiting when the client closed.
    pub publishes_failed: PerQoS,
    /// PUBLISH packets written again, with DUP set, after a lost
    /// connection.
    pub publishes_resent: u64,
    /// PUBREL packets written again after a lost connection.
    pub pubrels_resent: u64,
    /// Messages from the broker taken by the session, by QoS (before
    /// routing: a message no stream wants counts too).
    pub messages_received: PerQoS,
    /// QoS 2 messages the broker sent again after the client had them:
    /// answered, not delivered twice.
    pub duplicates_suppressed: u64,
    /// Packets written, of every type.
    pub packets_sent: u64,
    /// Packets read, of every type.
    pub packets_received: u64,
    /// Bytes of the packets written (TLS and WebSocket framing aside).
    pub bytes_sent: u64,
    /// Bytes of the packets read (TLS and WebSocket framing aside).
    pub bytes_received: u64,
    /// QoS 1/2 publishes of ours the broker has not finished
    /// acknowledging.
    pub inflight_outgoing: u64,
    /// QoS 1/2 messages from the broker not yet acknowledged (they count
    /// against our Receive Maximum).
    pub inflight_incoming: u64,
    /// Publishes waiting for the broker's window or for a connection.
    pub offline_queue: u64,
    /// Messages received and held until a full subscription stream has
    /// room.
    pub held_for_streams: u64,
    /// The last keep-alive round trip (PINGREQ to the next packet read);
    /// `None` until one was measured.
    pub keep_alive_rtt: Option<Duration>,
}

/// The atomics behind [`Stats`]: written by the event loop, read by
/// snapshots.
#[derive(Debug, Default)]
pub(crate) struct StatsCells {
    cells: [AtomicU64; CELLS],
}

/// The figures in the order [`StatsCells`] holds them.
#[derive(Debug, Clone, Copy)]
#[expect(
    dead_code,
    reason = "the QoS 1 and 2 cells are reached by their offset from QoS 0's"
)]
pub(crate) enum Cell {
    ConnectionsMade,
    ConnectionsLost,
    ConnectFailures,
    Queued0,
    Queued1,
    Queued2,
    Sent0,
    Sent1,
    Sent2,
    Acknowledged0,
    Acknowledged1,
    Acknowledged2,
    Failed0,
    Failed1,
    Failed2,
    PublishesResent,
    PubrelsResent,
    Received0,
    Received1,
    Received2,
    DuplicatesSuppressed,
    PacketsSent,
    PacketsReceived,
    BytesSent,
    BytesReceived,
    InflightOutgoing,
    InflightIncoming,
    OfflineQueue,
    HeldForStreams,
    /// In microseconds, plus one (0: not measured).
    KeepAliveRtt,
}

pub(crate) const CELLS: usize = Cell::KeepAliveRtt as usize + 1;

/// A round trip as [`Cell::KeepAliveRtt`] holds it.
pub(crate) fn rtt_to_cell(rtt: Option<Duration>) -> u64 {
    rtt.map_or(0, |d| {
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX - 1) + 1
    })
}

/// A round trip from [`Cell::KeepAliveRtt`].
pub(crate) fn rtt_from_cell(value: u64) -> Option<Duration> {
    (value > 0).then(|| Duration::from_micros(value - 1))
}

impl StatsCells {
    /// Stores `value` in cell `index` (a [`Cell`] as `usize`).
    pub(crate) fn set(&self, index: usize, value: u64) {
        self.cells[index].store(value, Relaxed);
    }

    /// Adds one to cell `index`. The event loop is the only writer, so a
    /// load and a store do what an atomic add would, without its locked
    /// instruction.
    pub(crate) fn bump(&self, index: usize) {
        let cell = &self.cells[index];
        cell.store(cell.load(Relaxed) + 1, Relaxed);
    }

    /// Every figure as stored, in [`Cell`] order (for the `metrics`
    /// facade).
    #[cfg(feature = "metrics")]
    pub(crate) fn values(&self) -> [u64; CELLS] {
        std::array::from_fn(|index| self.cells[index].load(Relaxed))
    }

    /// A snapshot of every figure.
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |cell: Cell| self.cells[cell as usize].load(Relaxed);
        let per_qos = |first: Cell| {
            PerQoS::from_array([0, 1, 2].map(|q| self.cells[first as usize + q].load(Relaxed)))
        };
        let rtt = get(Cell::KeepAliveRtt);
        Stats {
            connections_made: get(Cell::ConnectionsMade),
            connections_lost: get(Cell::ConnectionsLost),
            connect_failures: get(Cell::ConnectFailures),
            publishes_queued: per_qos(Cell::Queued0),
            publishes_sent: per_qos(Cell::Sent0),
            publishes_acknowledged: per_qos(Cell::Acknowledged0),
            publishes_failed: per_qos(Cell::Failed0),
            publishes_resent: get(Cell::PublishesResent),
            pubrels_resent: get(Cell::PubrelsResent),
            messages_received: per_qos(Cell::Received0),
            duplicates_suppressed: get(Cell::DuplicatesSuppressed),
            packets_sent: get(Cell::PacketsSent),
            packets_received: get(Cell::PacketsReceived),
            bytes_sent: get(Cell::BytesSent),
            bytes_received: get(Cell::BytesReceived),
            inflight_outgoing: get(Cell::InflightOutgoing),
            inflight_incoming: get(Cell::InflightIncoming),
            offline_queue: get(Cell::OfflineQueue),
            held_for_streams: get(Cell::HeldForStreams),
            keep_alive_rtt: rtt_from_cell(rtt),
        }
    }
}
