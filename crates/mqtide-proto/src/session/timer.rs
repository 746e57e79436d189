//! The session's deadlines, as values: the driver asks for the next one
//! with `poll_timeout` and calls `handle_timeout` when it passes.

use crate::Timestamp;

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
#[derive(Debug, Clone)]
pub(crate) struct TimerTable<T> {
    deadlines: [Option<T>; 3],
}

// Not derived: the derive would ask `T: Default`, and a timestamp has none.
impl<T> Default for TimerTable<T> {
    fn default() -> Self {
        Self {
            deadlines: [None, None, None],
        }
    }
}

impl<T: Timestamp> TimerTable<T> {
    pub(crate) fn set(&mut self, timer: Timer, at: T) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<T> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 3];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<T> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Whether `timer` is set and has passed at `now`; if so, it is stopped.
    pub(crate) fn expire(&mut self, timer: Timer, now: T) -> bool {
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
    use core::time::Duration;

    use super::*;
    use crate::Millis;

    #[test]
    fn next_is_the_earliest_and_expire_stops_it() {
        let t0 = Millis(1_000);
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
