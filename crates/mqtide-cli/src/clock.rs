//! The calendar date and time of a moment, in UTC, for the time fields of
//! `mqtide sub -F`. UTC because the local offset needs the time zone
//! database; `TZ=` has no effect.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment split into UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utc {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    /// Seconds since 1970-01-01T00:00:00Z.
    pub(crate) unix: u64,
}

impl Utc {
    /// The fields of `time` (moments before 1970 count as 1970).
    pub(crate) fn of(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let unix = since.as_secs();
        let days = unix / 86_400;
        let of_day = unix % 86_400;
        let (year, month, day) = civil_from_days(days);
        // Below 86 400: the cast cannot truncate.
        let of_day = of_day as u32;
        Self {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
            nanos: since.subsec_nanos(),
            unix,
        }
    }

    /// `2016-08-10T09:47:38+0000`, the shape of mosquitto's `%I`.
    pub(crate) fn iso8601(&self) -> String {
        format!("{}T{}+0000", self.date(), self.time())
    }

    /// `2016-08-10T09:47:38.123456Z`, for JSON (RFC 3339).
    pub(crate) fn rfc3339_micros(&self) -> String {
        format!("{}T{}.{:06}Z", self.date(), self.time(), self.nanos / 1000)
    }

    /// `2016-08-10`.
    pub(crate) fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `09:47:38`.
    pub(crate) fn time(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01,
/// in the proleptic Gregorian calendar. Counts in 400-year eras (146 097
/// days each) of years that start on March 1st, so that the leap day is
/// the last day of its year and month lengths follow a fixed pattern.
fn civil_from_days(days: u64) -> (i64, u32, u32) {
    // Day 0 of era 0 is 0000-03-01, 719 468 days before 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28/29.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    // Years stay far below i64::MAX, months and days below 32.
    (year as i64, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, nanos: u32) -> Utc {
        Utc::of(UNIX_EPOCH + Duration::new(secs, nanos))
    }

    #[test]
    fn known_moments() {
        assert_eq!(at(0, 0).iso8601(), "1970-01-01T00:00:00+0000");
        // A leap day, in a year divisible by 400.
        assert_eq!(at(951_782_400, 0).date(), "2000-02-29");
        assert_eq!(at(951_868_800, 0).date(), "2000-03-01");
        // The last day of a leap year, and the next.
        assert_eq!(at(1_483_142_400, 0).date(), "2016-12-31");
        assert_eq!(at(1_483_228_800, 0).date(), "2017-01-01");
        // 2100 is not a leap year.
        assert_eq!(at(4_107_456_000, 0).date(), "2100-02-28");
        assert_eq!(at(4_107_542_400, 0).date(), "2100-03-01");
        let t = at(1_700_000_000, 123_456_789);
        assert_eq!(t.iso8601(), "2023-11-14T22:13:20+0000");
        assert_eq!(t.rfc3339_micros(), "2023-11-14T22:13:20.123456Z");
        assert_eq!((t.unix, t.nanos), (1_700_000_000, 123_456_789));
    }
}
