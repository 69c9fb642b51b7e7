//! Exchange time on epoch milliseconds: the trading date, the minute of session and the
//! minutes elapsed, as `market_clock.MarketCalendar` computes them (IST is a fixed UTC+05:30).
//!
//! Days are counted from 1970-01-01 (`i32`), so a date is one integer and its text is made
//! only when a key or field needs it.

use crate::codec::DigitBuf;

pub const IST_OFFSET_MS: i64 = 19_800_000;
pub const DAY_MS: i64 = 86_400_000;
pub const MINUTE_MS: i64 = 60_000;

/// The normal session: its open (ms after local midnight) and its length in minutes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    pub open_ms: i64,
    pub minutes: i64,
}

impl Clock {
    pub fn new(open_ms: i64, minutes: i64) -> Clock {
        assert!(minutes >= 1, "a session needs at least one minute");
        Clock { open_ms, minutes }
    }

    /// The exchange-local date of an instant, in days since 1970-01-01.
    pub fn trading_date(&self, ts_ms: i64) -> i32 {
        (ts_ms.saturating_add(IST_OFFSET_MS)).div_euclid(DAY_MS) as i32
    }

    /// floor((local - open) / 1 min): negative before the open, >= `minutes` after the close.
    pub fn minute_of_session(&self, ts_ms: i64) -> i64 {
        (ts_ms.saturating_add(IST_OFFSET_MS).rem_euclid(DAY_MS) - self.open_ms)
            .div_euclid(MINUTE_MS)
    }

    /// Session minutes elapsed, clamped to [0, minutes].
    pub fn minutes_elapsed(&self, ts_ms: i64) -> f64 {
        let into = ts_ms.saturating_add(IST_OFFSET_MS).rem_euclid(DAY_MS) - self.open_ms;
        let elapsed = into as f64 / MINUTE_MS as f64; // both exact: one rounding, as Python's
        if elapsed <= 0.0 {
            0.0
        } else if elapsed >= self.minutes as f64 {
            self.minutes as f64
        } else {
            elapsed
        }
    }
}

/// (year, month, day) of a day number (days since 1970-01-01), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `date.isoformat()` of a day number: YYYY-MM-DD.
pub fn iso_date(days: i64) -> String {
    let mut out = String::with_capacity(10);
    push_iso_date(&mut out, days);
    out
}

/// `iso_date`, appended to `out` (a drain writes one per symbol: no formatter, no allocation).
pub fn push_iso_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        out.push_str(&format!("{y:04}-{m:02}-{d:02}"));
        return;
    }
    push_padded(out, y as u64, 4);
    out.push('-');
    push_padded(out, u64::from(m), 2);
    out.push('-');
    push_padded(out, u64::from(d), 2);
}

/// `n` in decimal, zero-padded on the left to `width` digits (`DigitBuf::digits`).
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    out.push_str(DigitBuf::new().digits(u128::from(n), width));
}

#[cfg(test)]
mod tests {
    use super::*;

    const NSE: Clock = Clock {
        open_ms: (9 * 60 + 15) * MINUTE_MS,
        minutes: 375,
    };

    #[test]
    fn dates_and_minutes_in_exchange_time() {
        // 2025-01-06T09:15:00+05:30 = 1736135100000
        let open = 1_736_135_100_000;
        assert_eq!(iso_date(NSE.trading_date(open) as i64), "2025-01-06");
        assert_eq!(NSE.minute_of_session(open), 0);
        assert_eq!(NSE.minute_of_session(open - 1), -1);
        assert_eq!(NSE.minutes_elapsed(open + 90_000), 1.5);
        assert_eq!(NSE.minutes_elapsed(open - 5), 0.0);
        assert_eq!(NSE.minutes_elapsed(open + 400 * MINUTE_MS), 375.0);
        // 18:30 UTC is local midnight: the next date.
        assert_eq!(
            iso_date(NSE.trading_date(1_736_188_200_000) as i64),
            "2025-01-07"
        );
        assert_eq!(
            iso_date(NSE.trading_date(1_736_188_199_999) as i64),
            "2025-01-06"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(iso_date(19_723), "2024-01-01");
        assert_eq!(iso_date(11_016), "2000-02-29");
        assert_eq!(iso_date(2_932_896), "9999-12-31");
    }
}
