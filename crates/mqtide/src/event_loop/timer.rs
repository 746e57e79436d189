//! One reusable timer for the loop's next deadline, as quinn's
//! `drive_timer` keeps one: a `sleep_until` made afresh every turn of the
//! loop registers and deregisters an entry in the runtime's timer wheel
//! each time round, for a deadline that mostly did not move.
//!
//! The loop checks the clock before it trusts the timer: whatever is due
//! by the turn's `now` is handled at once, and the timer is only set for
//! what is still ahead. When it fires, the next turn reads the clock and
//! finds it due.

use std::pin::Pin;

use tokio::time::{Instant, Sleep, sleep_until};

/// A `Sleep`, made once and reset only when the deadline changes.
#[derive(Debug, Default)]
pub(super) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    deadline: Option<Instant>,
}

impl Timer {
    /// Wakes the loop at `deadline`; `None`: not at all.
    pub(super) fn set(&mut self, deadline: Option<Instant>) {
        if let Some(deadline) = deadline
            && self.deadline != Some(deadline)
        {
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(sleep_until(deadline))),
            }
        }
        self.deadline = deadline;
    }

    /// Whether a deadline is set.
    pub(super) fn is_set(&self) -> bool {
        self.deadline.is_some()
    }

    /// Resolves at the deadline; never while none is set. Cancel-safe:
    /// the `Sleep` stays registered when this future is dropped.
    pub(super) async fn expired(&mut self) {
        match (&mut self.sleep, self.deadline) {
            (Some(sleep), Some(_)) => sleep.as_mut().await,
            _ => std::future::pending().await,
        }
    }
}

/// The earliest of some deadlines.
pub(super) fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    // Real time, a few milliseconds of it: the crate's tests have no
    // paused clock (tokio's `test-util`). Only lower bounds are asserted.

    #[tokio::test]
    async fn fires_at_its_deadline_after_a_reset() {
        let mut timer = Timer::default();
        assert!(!timer.is_set());
        let start = Instant::now();
        timer.set(Some(start + Duration::from_secs(3600)));
        // Moved: the one `Sleep` is reset, not replaced.
        let deadline = start + Duration::from_millis(20);
        timer.set(Some(deadline));
        timer.expired().await;
        assert!(Instant::now() >= deadline);
        // The same deadline again leaves the `Sleep` as it is: fired.
        timer.set(Some(deadline));
        timer.expired().await;
    }

    #[tokio::test]
    async fn without_a_deadline_it_never_fires() {
        let mut timer = Timer::default();
        timer.set(Some(Instant::now()));
        timer.set(None);
        assert!(!timer.is_set());
        let fired = tokio::time::timeout(Duration::from_millis(30), timer.expired()).await;
        assert!(fired.is_err());
    }

    #[test]
    fn the_earliest_deadline_wins() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest([None, Some(later), Some(now)]), Some(now));
        assert_eq!(earliest([None, None]), None);
    }
}
