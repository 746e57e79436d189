//! What a bench run counts while it runs: shared counters for the progress
//! line, and per-task latency histograms merged at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Counters every task adds to and the progress line reads. Relaxed
/// atomics: they are tallies, not synchronisation.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connected: AtomicU64,
    pub(crate) connect_failed: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) publish_failed: AtomicU64,
    pub(crate) received: AtomicU64,
    /// Received messages without the header of this run's publishers.
    pub(crate) foreign: AtomicU64,
    /// Received messages whose sequence number was not above the last one
    /// seen from the same publisher: duplicates, or reordered.
    pub(crate) out_of_order: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A latency histogram in microseconds, 3 significant digits, growing with
/// the largest value recorded (a few tens of KiB for millisecond values).
#[derive(Debug, Clone)]
pub(crate) struct Latencies(Histogram<u64>);

impl Latencies {
    pub(crate) fn new() -> Self {
        // 3 significant digits is within hdrhistogram's 0..=5.
        match Histogram::new(3) {
            Ok(histogram) => Self(histogram),
            Err(e) => unreachable!("hdrhistogram refused 3 significant digits: {e}"),
        }
    }

    /// Records one value, in microseconds.
    pub(crate) fn record_us(&mut self, micros: u64) {
        // `record` grows the histogram; it only fails past i64::MAX / 2 µs,
        // where clamping is the right answer.
        if self.0.record(micros).is_err() {
            self.0.saturating_record(micros);
        }
    }

    pub(crate) fn record(&mut self, elapsed: Duration) {
        self.record_us(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds another task's values.
    pub(crate) fn merge(&mut self, other: &Self) {
        // Both grow on demand, so adding cannot run out of range.
        if self.0.add(&other.0).is_err() {
            for value in other.0.iter_recorded() {
                self.0
                    .saturating_record_n(value.value_iterated_to(), value.count_at_value());
            }
        }
    }

    /// The percentiles, or `None` with nothing recorded.
    pub(crate) fn percentiles(&self) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        Some(Percentiles {
            samples: self.0.len(),
            p50: self.0.value_at_quantile(0.50),
            p90: self.0.value_at_quantile(0.90),
            p99: self.0.value_at_quantile(0.99),
            max: self.0.max(),
            mean: self.0.mean(),
        })
    }
}

/// Percentiles of a latency or connection-time distribution, in
/// microseconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) samples: u64,
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_histograms() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        assert!(a.percentiles().is_none());
        for us in 1..=50 {
            a.record_us(us);
        }
        for us in 51..=100 {
            b.record_us(us * 1000);
        }
        a.merge(&b);
        let p = a.percentiles().unwrap();
        assert_eq!(p.samples, 100);
        assert_eq!(p.p50, 50);
        // 3 significant digits: within 0.1 %.
        assert!((89_900..=90_100).contains(&p.p90), "{p:?}");
        assert!((99_900..=100_100).contains(&p.max), "{p:?}");
    }
}
