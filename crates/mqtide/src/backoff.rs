//! Reconnect delays: exponential backoff with jitter, like paho's
//! `reconnect_delay_set(min_delay, max_delay)`.

use std::time::Duration;

/// How long to wait between reconnect attempts.
///
/// The delay starts at `min`, doubles after every failed attempt up to
/// `max`, and each wait is drawn at random from the upper half of the
/// current delay, so that many clients cut off at once do not return in
/// lockstep. A successful connection resets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
}

impl Backoff {
    /// Exponential backoff from `min` to `max` (`max` is raised to `min` if
    /// lower).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mqtide::Backoff;
    ///
    /// let backoff = Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30));
    /// assert_eq!((backoff.min(), backoff.max()), (Duration::from_millis(500), Duration::from_secs(30)));
    /// let builder = mqtide::Client::builder("mqtt://localhost").reconnect(backoff);
    /// # drop(builder);
    /// ```
    pub fn exponential(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
        }
    }

    /// The smallest delay.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The largest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before attempt number `attempt` (1 for the first retry),
    /// with jitter drawn by `rng`.
    pub(crate) fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let base = self.min.saturating_mul(1u32 << exp).min(self.max);
        // Upper-half jitter: at least half the delay, never more than it.
        let half = base / 2;
        let span = u64::try_from((base - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.u64(0..=span))
    }
}

impl Default for Backoff {
    /// 1 s doubling up to 60 s.
    fn default() -> Self {
        Self::exponential(Duration::from_secs(1), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_within_jitter() {
        let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
        let mut rng = fastrand::Rng::with_seed(7);
        for (attempt, base_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            for _ in 0..50 {
                let d = backoff.delay(attempt, &mut rng).as_millis();
                assert!(
                    d >= base_ms / 2 && d <= base_ms,
                    "attempt {attempt}: {d} ms"
                );
            }
        }
    }

    #[test]
    fn max_below_min_is_raised() {
        let b = Backoff::exponential(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(b.max(), Duration::from_secs(5));
    }
}
