//! UTC timestamps without a time-zone library: the collector only needs the civil date
//! (crash ids, storage keys, BuildID age) and Python's `isoformat()` text.
//!
//! Nothing here reads the clock except [`Timestamp::now`]; pure code takes a `Timestamp`.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant in UTC with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    micros_since_epoch: i64,
}

/// A proleptic Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Full year (2026).
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            micros_since_epoch: i64::try_from(since.as_micros()).unwrap_or(i64::MAX),
        }
    }

    /// A timestamp `micros` microseconds after 1970-01-01T00:00:00Z.
    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp {
            micros_since_epoch: micros,
        }
    }

    /// Whole days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        self.micros_since_epoch.div_euclid(86_400_000_000)
    }

    /// The UTC calendar date.
    pub fn date(self) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch())
    }

    /// Python's `datetime.isoformat()` for an aware UTC datetime:
    /// `2026-11-24T20:10:04.123456+00:00`, the fraction left out when it is zero.
    pub fn isoformat(self) -> String {
        let date = self.date();
        let micros_of_day = self.micros_since_epoch.rem_euclid(86_400_000_000);
        let secs = micros_of_day / 1_000_000;
        let fraction = micros_of_day % 1_000_000;
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            date.year,
            date.month,
            date.day,
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if fraction != 0 {
            out.push_str(&format!(".{fraction:06}"));
        }
        out.push_str("+00:00");
        out
    }
}

impl Date {
    /// The date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// A date from its parts, or `None` when it does not exist (2023-02-29).
    pub fn new(year: i64, month: u32, day: u32) -> Option<Date> {
        let date = Date { year, month, day };
        let valid = (1..=12).contains(&month)
            && day >= 1
            && Date::from_days_since_epoch(date.days_since_epoch()) == date;
        valid.then_some(date)
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let year = self.year - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let month = i64::from(self.month);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// `YYMMDD`, as crash ids carry it.
    pub fn yymmdd(self) -> String {
        format!(
            "{:02}{:02}{:02}",
            self.year.rem_euclid(100),
            self.month,
            self.day
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoformat_matches_python() {
        // datetime.datetime(2026, 11, 24, 20, 10, 4, 123456, tzinfo=utc).isoformat()
        let t = Timestamp::from_micros(1_795_551_004_123_456);
        assert_eq!(t.isoformat(), "2026-11-24T20:10:04.123456+00:00");
        let whole = Timestamp::from_micros(1_315_267_200_000_000);
        assert_eq!(whole.isoformat(), "2011-09-06T00:00:00+00:00");
        assert_eq!(
            Timestamp::from_micros(5).isoformat(),
            "1970-01-01T00:00:00.000005+00:00"
        );
    }

    #[test]
    fn dates_round_trip() {
        for days in -800_000..800_000 {
            let date = Date::from_days_since_epoch(days);
            assert_eq!(date.days_since_epoch(), days);
        }
        assert_eq!(
            Date::new(2024, 2, 29).map(Date::yymmdd).as_deref(),
            Some("240229")
        );
        assert_eq!(Date::new(2023, 2, 29), None);
        assert_eq!(Date::new(2023, 13, 1), None);
        assert_eq!(Date::new(2023, 1, 0), None);
    }
}
