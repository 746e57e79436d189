//! Time as the session sees it: points on a monotonic timeline that the
//! caller reads from its clock and hands in, never read here.
//!
//! The session needs three things of a point in time: order (which
//! deadline is first, has it passed), a later point (`now` plus the
//! keep-alive interval) and a distance (the keep-alive round trip).
//! [`Timestamp`] is those three. With `std` it is implemented for
//! [`std::time::Instant`][std-instant], which is what `Session` uses
//! unless told otherwise, so a std program never sees this module.
//! Without `std`, [`Millis`] is a millisecond count from any fixed point
//! (boot, usually), and a caller with a clock type of its own (a HAL's or
//! an async executor's `Instant`) can implement [`Timestamp`] for it.
//!
//! [std-instant]: https://doc.rust-lang.org/std/time/struct.Instant.html

use core::fmt::Debug;
use core::ops::Add;
use core::time::Duration;

/// A point on a monotonic timeline: what the session takes as `now` and
/// returns from [`Session::poll_timeout`](crate::Session::poll_timeout).
///
/// Implemented for [`Millis`] and, with the `std` feature, for
/// [`std::time::Instant`][std-instant]. Implement it for another clock's
/// instant type to drive a session with that type directly; the timeline
/// must never go backwards.
///
/// [std-instant]: https://doc.rust-lang.org/std/time/struct.Instant.html
pub trait Timestamp: Copy + Ord + Debug {
    /// The point `duration` after `self`.
    #[must_use]
    fn after(self, duration: Duration) -> Self;

    /// How long after `earlier` `self` is; zero if it is not after it.
    #[must_use]
    fn saturating_duration_since(self, earlier: Self) -> Duration;
}

#[cfg(feature = "std")]
impl Timestamp for std::time::Instant {
    /// `self + duration`, as before the trait existed: it panics where
    /// `Instant + Duration` panics (a deadline past the end of the
    /// platform's clock, centuries away).
    fn after(self, duration: Duration) -> Self {
        self + duration
    }

    fn saturating_duration_since(self, earlier: Self) -> Duration {
        Self::saturating_duration_since(&self, earlier)
    }
}

/// A point in time as a count of milliseconds from a fixed point the
/// caller picks: the [`Timestamp`] for targets without `std`.
///
/// Read it from a monotonic clock (a 1 ms tick counter, a timer
/// peripheral, `embassy_time::Instant::as_millis`); a wall clock that can
/// be set backwards will not do. A `u64` of milliseconds lasts 584 million
/// years, so it never wraps; a 32-bit tick counter must be widened by the
/// caller (count its wraps).
///
/// Deadlines are rounded up to the next whole millisecond, so a deadline
/// never comes before the time it was set for; the keep-alive round trip
/// in [`Counters`](crate::Counters) is whole milliseconds.
///
/// ```
/// use core::time::Duration;
/// use mqtide_proto::{Millis, Timestamp};
///
/// let boot = Millis(0);
/// let now = Millis(1_500);
/// assert_eq!(now + Duration::from_secs(60), Millis(61_500));
/// assert_eq!(now.saturating_duration_since(boot), Duration::from_millis(1_500));
/// assert_eq!(boot.saturating_duration_since(now), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Timestamp for Millis {
    /// Saturates at `u64::MAX` milliseconds; a sub-millisecond remainder
    /// counts as a whole millisecond.
    fn after(self, duration: Duration) -> Self {
        let millis = duration.as_nanos().div_ceil(1_000_000);
        Self(
            self.0
                .saturating_add(u64::try_from(millis).unwrap_or(u64::MAX)),
        )
    }

    fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Millis {
    type Output = Self;

    /// [`Timestamp::after`]: saturating, rounded up to whole milliseconds.
    fn add(self, duration: Duration) -> Self {
        self.after(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_deadlines_up_and_saturate() {
        let t = Millis(10);
        assert_eq!(t.after(Duration::ZERO), t);
        assert_eq!(t.after(Duration::from_millis(5)), Millis(15));
        assert_eq!(t.after(Duration::from_micros(5_001)), Millis(16));
        assert_eq!(t.after(Duration::from_nanos(1)), Millis(11));
        assert_eq!(t.after(Duration::MAX), Millis(u64::MAX));
        assert_eq!(
            Millis(u64::MAX - 1) + Duration::from_secs(1),
            Millis(u64::MAX)
        );
    }

    #[test]
    fn millis_distances_never_go_negative() {
        assert_eq!(
            Millis(2_500).saturating_duration_since(Millis(1_000)),
            Duration::from_millis(1_500)
        );
        assert_eq!(
            Millis(1_000).saturating_duration_since(Millis(2_500)),
            Duration::ZERO
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_instant_is_unchanged() {
        #[allow(clippy::disallowed_methods, reason = "a base instant for a test clock")]
        let t0 = std::time::Instant::now();
        let d = Duration::from_nanos(1_500);
        assert_eq!(Timestamp::after(t0, d), t0 + d);
        assert_eq!(Timestamp::saturating_duration_since(t0 + d, t0), d);
        assert_eq!(
            Timestamp::saturating_duration_since(t0, t0 + d),
            Duration::ZERO
        );
    }
}
