//! The time of day in UTC, as a Date header (RFC 5322 section 3.3) and a
//! log line (ISO 8601) write it. UTC, so that no time zone database is
//! needed; `+0000` says so, which RFC 5322 allows.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 is Sunday.
    weekday: u32,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Utc {
    pub fn now() -> Utc {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        Utc::from_unix(secs)
    }

    /// Seconds since 1970-01-01T00:00:00Z to the civil date (Howard
    /// Hinnant's days-to-civil, proleptic Gregorian).
    pub fn from_unix(secs: i64) -> Utc {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// `Tue, 01 Jul 2025 12:34:56 +0000`.
    pub fn rfc5322(&self) -> String {
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
            DAYS[self.weekday as usize],
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `2025-07-01T12:34:56Z`.
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `20250701123456`, for a Message-ID.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_moments() {
        // `date -u -d @N '+%a, %d %b %Y %T +0000'`
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 +0000", "1970-01-01T00:00:00Z"),
            (
                951_782_400,
                "Tue, 29 Feb 2000 00:00:00 +0000",
                "2000-02-29T00:00:00Z",
            ),
            (
                1_709_251_199,
                "Thu, 29 Feb 2024 23:59:59 +0000",
                "2024-02-29T23:59:59Z",
            ),
            (
                1_751_373_296,
                "Tue, 01 Jul 2025 12:34:56 +0000",
                "2025-07-01T12:34:56Z",
            ),
            (
                4_102_444_800,
                "Fri, 01 Jan 2100 00:00:00 +0000",
                "2100-01-01T00:00:00Z",
            ),
            (
                -1,
                "Wed, 31 Dec 1969 23:59:59 +0000",
                "1969-12-31T23:59:59Z",
            ),
        ];
        for (secs, rfc, iso) in cases {
            let t = Utc::from_unix(secs);
            assert_eq!(t.rfc5322(), rfc, "{secs}");
            assert_eq!(t.iso8601(), iso, "{secs}");
        }
        assert_eq!(Utc::from_unix(1_751_373_296).compact(), "20250701123456");
    }

    #[test]
    fn every_day_of_four_centuries_agrees_with_counting() {
        // Walk day by day from 1970 and check that the conversion steps
        // through the calendar one day at a time.
        let mut prev = Utc::from_unix(0);
        for day in 1..(400 * 366) {
            let t = Utc::from_unix(day * 86_400);
            let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = match prev.month {
                2 if leap(prev.year) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if prev.day < month_len {
                (prev.year, prev.month, prev.day + 1)
            } else if prev.month < 12 {
                (prev.year, prev.month + 1, 1)
            } else {
                (prev.year + 1, 1, 1)
            };
            assert_eq!((t.year, t.month, t.day), expected, "day {day}");
            assert_eq!(t.weekday, (prev.weekday + 1) % 7);
            prev = t;
        }
    }
}
