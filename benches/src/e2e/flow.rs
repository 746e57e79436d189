//! What every publisher → subscriber run shares, whatever the client:
//! the payloads (a sequence number in the first 8 bytes), the tracker that
//! counts what arrived, and the verdict on a run.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Once the publisher is done, a run ends when nothing has arrived for this
/// long (only a run that lost messages waits it out; the time is not in
/// the figure, which ends at the last message received).
pub(crate) const IDLE: Duration = Duration::from_secs(1);

/// The broker, as each client wants to be told of it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Mosquitto's port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Target {
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub(crate) fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

/// One publisher → subscriber run.
#[derive(Debug, Clone)]
pub(crate) struct FlowSpec {
    pub(crate) qos: u8,
    /// Payload size in bytes (at least 8: the sequence number).
    pub(crate) payload: usize,
    /// Messages to publish.
    pub(crate) count: u64,
    /// A topic no other run uses.
    pub(crate) topic: String,
    /// Prefix of the client identifiers of this run.
    pub(crate) id: String,
}

/// The payload of message `seq`: its sequence number (big-endian), then
/// filler up to `size` bytes. A fresh buffer per message, as an
/// application producing data would have.
pub(crate) fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut bytes = vec![0xa5; size.max(8)];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    bytes
}

/// The sequence number a payload carries, if it has one.
pub(crate) fn sequence(payload: &[u8]) -> Option<u64> {
    let head: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

/// Which messages arrived, how often, and when the last one did.
#[derive(Debug)]
pub(crate) struct Tracker {
    seen: Vec<u64>,
    count: u64,
    unique: u64,
    duplicates: u64,
    foreign: u64,
    last: Option<Instant>,
}

impl Tracker {
    pub(crate) fn new(count: u64) -> Self {
        let words = usize::try_from(count.div_ceil(64)).unwrap_or(usize::MAX);
        Self {
            seen: vec![0; words],
            count,
            unique: 0,
            duplicates: 0,
            foreign: 0,
            last: None,
        }
    }

    /// Counts one message; true once every message has arrived.
    pub(crate) fn record(&mut self, payload: &[u8], now: Instant) -> bool {
        self.last = Some(now);
        match sequence(payload).filter(|&seq| seq < self.count) {
            Some(seq) => {
                // `seq < count`, so the word index fits the vector.
                let word = &mut self.seen[(seq / 64) as usize];
                let bit = 1u64 << (seq % 64);
                if *word & bit == 0 {
                    *word |= bit;
                    self.unique += 1;
                } else {
                    self.duplicates += 1;
                }
            }
            None => self.foreign += 1,
        }
        self.unique == self.count
    }

    /// The last message's arrival, if any arrived.
    pub(crate) fn last(&self) -> Option<Instant> {
        self.last
    }

    /// The verdict, with time counted from `start` (the first publish).
    pub(crate) fn outcome(&self, qos: u8, start: Instant) -> FlowOutcome {
        FlowOutcome {
            qos,
            count: self.count,
            unique: self.unique,
            duplicates: self.duplicates,
            foreign: self.foreign,
            start,
            elapsed: self
                .last
                .map_or(Duration::ZERO, |last| last.saturating_duration_since(start)),
        }
    }
}

/// A tracker shared between a client's receive path (a task or a
/// callback) and the run waiting for it to fill.
#[derive(Debug)]
pub(crate) struct Sink {
    tracker: Mutex<Tracker>,
    complete: Notify,
}

impl Sink {
    pub(crate) fn new(count: u64) -> Self {
        Self {
            tracker: Mutex::new(Tracker::new(count)),
            complete: Notify::new(),
        }
    }

    /// Counts one received payload.
    pub(crate) fn record(&self, payload: &[u8]) {
        let now = Instant::now();
        let complete = self
            .tracker
            .lock()
            .map(|mut tracker| tracker.record(payload, now))
            .unwrap_or(false);
        if complete {
            self.complete.notify_one();
        }
    }

    fn last(&self) -> Option<Instant> {
        self.tracker.lock().ok().and_then(|t| t.last())
    }

    /// Waits, once the publisher is done, until every message has arrived
    /// or none has for [`IDLE`].
    pub(crate) async fn wait(&self) {
        loop {
            if tokio::time::timeout(IDLE, self.complete.notified())
                .await
                .is_ok()
            {
                return;
            }
            if self.last().is_none_or(|last| last.elapsed() >= IDLE) {
                return;
            }
        }
    }

    pub(crate) fn outcome(&self, qos: u8, start: Instant) -> FlowOutcome {
        match self.tracker.lock() {
            Ok(tracker) => tracker.outcome(qos, start),
            Err(poisoned) => poisoned.into_inner().outcome(qos, start),
        }
    }
}

/// What one run delivered.
#[derive(Debug, Clone)]
pub(crate) struct FlowOutcome {
    pub(crate) qos: u8,
    pub(crate) count: u64,
    /// Distinct messages received.
    pub(crate) unique: u64,
    /// Copies of messages already received.
    pub(crate) duplicates: u64,
    /// Messages without a sequence number of this run.
    pub(crate) foreign: u64,
    /// The first publish.
    pub(crate) start: Instant,
    /// From the first publish to the last message received.
    pub(crate) elapsed: Duration,
}

impl FlowOutcome {
    pub(crate) fn missing(&self) -> u64 {
        self.count - self.unique
    }

    /// Messages delivered per second.
    pub(crate) fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.unique as f64 / secs
        } else {
            0.0
        }
    }

    /// Why the run does not count, if it does not: loss at QoS ≥ 1,
    /// duplicates at QoS 2, strangers, or nothing delivered at all.
    pub(crate) fn invalid(&self) -> Option<String> {
        let mut reasons = Vec::new();
        if self.unique == 0 {
            reasons.push("nothing delivered".to_owned());
        }
        if self.qos >= 1 && self.missing() > 0 {
            reasons.push(format!("lost {} of {}", self.missing(), self.count));
        }
        if self.qos == 2 && self.duplicates > 0 {
            reasons.push(format!("{} duplicates", self.duplicates));
        }
        if self.foreign > 0 {
            reasons.push(format!("{} foreign messages", self.foreign));
        }
        (!reasons.is_empty()).then(|| reasons.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_counts_duplicates_and_strangers() {
        let now = Instant::now();
        let mut tracker = Tracker::new(3);
        assert!(!tracker.record(&payload(0, 16), now));
        assert!(!tracker.record(&payload(0, 16), now));
        assert!(!tracker.record(&payload(7, 16), now));
        assert!(!tracker.record(b"short", now));
        assert!(!tracker.record(&payload(2, 16), now));
        assert!(tracker.record(&payload(1, 16), now));
        let outcome = tracker.outcome(2, now);
        assert_eq!(
            (outcome.unique, outcome.duplicates, outcome.foreign),
            (3, 1, 2)
        );
        assert!(
            outcome
                .invalid()
                .is_some_and(|r| r.contains("1 duplicates"))
        );
    }

    #[test]
    fn loss_invalidates_only_qos_1_and_2() {
        let now = Instant::now();
        let mut tracker = Tracker::new(2);
        tracker.record(&payload(1, 16), now);
        assert_eq!(tracker.outcome(0, now).invalid(), None);
        assert_eq!(
            tracker.outcome(1, now).invalid().as_deref(),
            Some("lost 1 of 2")
        );
    }
}
