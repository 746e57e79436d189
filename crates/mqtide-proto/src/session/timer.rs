//! The session's deadlines, as values: the driver asks for the next one
//! with `poll_timeout` and calls `handle_timeout` when it passes.

use std::time::Instant;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// CONNACK must arrive by then.
    Connect = 0,
    /// Send PINGREQ then if nothing else was sent.
    KeepAlive = 1,
    /// Something must arrive by then after a PINGREQ.
    PingResponse = 2,
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 3],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 3];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Whether `timer` is set and has passed at `now`; if so, it is stopped.
    pub(crate) fn expire(&mut self, timer: Timer, now: Instant) -> bool {
        match self.deadlines[timer as usize] {
            Some(at) if at <= now => {
                self.deadlines[timer as usize] = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn next_is_the_earliest_and_expire_stops_it() {
        #[allow(clippy::disallowed_methods, reason = "a base instant for a test clock")]
        let t0 = Instant::now();
        let mut timers = TimerTable::default();
        assert_eq!(timers.next(), None);
        timers.set(Timer::KeepAlive, t0 + Duration::from_secs(30));
        timers.set(Timer::Connect, t0 + Duration::from_secs(10));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(10)));
        assert!(!timers.expire(Timer::Connect, t0));
        assert!(timers.expire(Timer::Connect, t0 + Duration::from_secs(10)));
        assert_eq!(timers.get(Timer::Connect), None);
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(30)));
        timers.set(Timer::PingResponse, t0 + Duration::from_secs(20));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(20)));
        timers.set(Timer::KeepAlive, t0);
        timers.stop_all();
        assert_eq!(timers.next(), None);
    }
}
