//! What the synchronous clients' runs share: a reader thread that counts
//! arrivals until every message came, or none has for [`IDLE`] once the
//! publisher is done.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::e2e::flow::{IDLE, Tracker};

/// What a reader thread is told and asked.
#[derive(Debug, Clone)]
pub(super) struct Reading {
    pub(super) count: u64,
    /// Set once the publisher has published everything.
    pub(super) published: Arc<AtomicBool>,
}

/// Whether a reader that heard nothing for [`IDLE`] should stop.
pub(super) fn idle_is_the_end(reading: &Reading, tracker: &Tracker) -> bool {
    reading.published.load(Ordering::Acquire)
        && tracker.last().is_none_or(|last| last.elapsed() >= IDLE)
}

/// Counts `payloads` (`None`: nothing for [`IDLE`]; the iterator ending:
/// the connection is gone) into a tracker.
pub(super) fn count(reading: &Reading, payloads: impl Iterator<Item = Option<Vec<u8>>>) -> Tracker {
    let mut tracker = Tracker::new(reading.count);
    for payload in payloads {
        match payload {
            Some(payload) if tracker.record(&payload, Instant::now()) => break,
            Some(_) => {}
            None if idle_is_the_end(reading, &tracker) => break,
            None => {}
        }
    }
    tracker
}
