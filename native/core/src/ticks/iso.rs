//! The ISO 8601 subset crawlers send, read as `datetime.fromisoformat` (3.11+) reads it:
//! `YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|±HH:MM]`. Other forms fromisoformat accepts (basic,
//! week and ordinal dates, other separators, ',' fractions, odd offsets, hour 24) go to Python;
//! text not starting with four digits is rejected natively, as fromisoformat always does.

/// Seconds the exchange clock (IST, UTC+05:30) is ahead of UTC: a naive time is exchange time.
const IST_OFFSET_S: i64 = 5 * 3600 + 30 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Iso {
    /// Epoch milliseconds, exactly `(dt - epoch) // 1 ms` (the caller checks the range).
    Ms(i64),
    /// fromisoformat raises ValueError.
    Invalid,
}

/// `text` is the stripped timestamp; `None`: a form left to Python.
pub(super) fn parse(t: &[u8]) -> Option<Iso> {
    if t.len() < 4 || !t[..4].iter().all(u8::is_ascii_digit) {
        return Some(Iso::Invalid);
    }
    if t.len() < 10 || t[4] != b'-' || t[7] != b'-' {
        return None;
    }
    let year = two(t, 0)? * 100 + two(t, 2)?;
    let month = two(t, 5)?;
    let day = two(t, 8)?;
    let (mut hour, mut minute, mut second, mut milli) = (0, 0, 0, 0);
    let mut offset_s = IST_OFFSET_S;
    if t.len() > 10 {
        if t[10] != b'T' && t[10] != b' ' {
            return None;
        }
        let time = &t[11..];
        if time.get(2) != Some(&b':') {
            return None;
        }
        hour = two(time, 0)?;
        minute = two(time, 3)?;
        let mut i = 5;
        if time.get(i) == Some(&b':') {
            second = two(time, i + 1)?;
            i += 3;
            if time.get(i) == Some(&b'.') {
                i += 1;
                let start = i;
                while time.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if i == start {
                    return None;
                }
                // Microseconds are the first six digits (the rest dropped); ms floor them.
                milli = time[start..i]
                    .iter()
                    .chain(b"00")
                    .take(3)
                    .fold(0, |v, d| v * 10 + i64::from(d - b'0'));
            }
        }
        let zone = &time[i..];
        match zone {
            [] => {}
            [b'Z'] => offset_s = 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (h, m) = (two(zone, 1)?, two(zone, 4)?);
                if h >= 24 || m >= 60 {
                    return None;
                }
                offset_s = (h * 3600 + m * 60) * if *sign == b'-' { -1 } else { 1 };
            }
            _ => return None,
        }
    }
    if hour == 24 {
        return None; // later Pythons may read T24:00 as the next midnight
    }
    if year == 0
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Some(Iso::Invalid);
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(Iso::Ms(seconds * 1000 + milli))
}

/// Two ASCII digits at `at`.
fn two(b: &[u8], at: usize) -> Option<i64> {
    match b.get(at..at + 2)? {
        [h @ b'0'..=b'9', l @ b'0'..=b'9'] => Some(i64::from(h - b'0') * 10 + i64::from(l - b'0')),
        _ => None,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS_MS: i64 = 1_766_377_800_000; // 2025-12-22T10:00:00 IST

    fn ms(text: &str) -> Option<Iso> {
        parse(text.as_bytes())
    }

    #[test]
    fn accepted_forms() {
        for (text, want) in [
            ("2025-12-22T10:00:00", TS_MS),
            ("2025-12-22 10:00:00", TS_MS),
            ("2025-12-22T10:00", TS_MS),
            ("2025-12-22T10:00:00.250", TS_MS + 250),
            ("2025-12-22T10:00:00.1", TS_MS + 100),
            ("2025-12-22T10:00:00.123999", TS_MS + 123),
            ("2025-12-22T10:00:00.1239999999", TS_MS + 123),
            ("2025-12-22T04:30:00Z", TS_MS),
            ("2025-12-22T04:30:00.5Z", TS_MS + 500),
            ("2025-12-22T04:30:00+00:00", TS_MS),
            ("2025-12-22T10:00:00+05:30", TS_MS),
            ("2025-12-21T23:00:00-05:30", TS_MS),
            ("2025-12-22", TS_MS - 36_000_000),
            ("1970-01-01T05:30:00", 0),
            ("1970-01-01T00:00:00", -19_800_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("9999-12-31T23:59:59.999999", 253_402_280_999_999),
            ("0001-01-01T00:00:00Z", -62_135_596_800_000),
        ] {
            assert_eq!(ms(text), Some(Iso::Ms(want)), "{text}");
        }
    }

    #[test]
    fn rejected_forms() {
        for text in [
            "garbage",
            "",
            "soon",
            "1_76",
            "abcd-12-22",
            "2025-13-01T00:00:00",
            "2025-00-10",
            "2025-12-32",
            "2025-02-29",
            "1900-02-29",
            "0000-01-01",
            "2025-12-22T25:00:00",
            "2025-12-22T10:60:00",
            "2025-12-22T10:00:60",
        ] {
            assert_eq!(ms(text), Some(Iso::Invalid), "{text}");
        }
    }

    #[test]
    fn deferred_forms() {
        for text in [
            "20251222T100000",
            "2025-W52-1",
            "2025-356",
            "2025-12-22t10:00:00",
            "2025-12-22X10:00:00",
            "2025-12-22T10",
            "2025-12-22T10:00:00.",
            "2025-12-22T10:00:00,5",
            "2025-12-22T10:00:00+0530",
            "2025-12-22T10:00:00+05",
            "2025-12-22T10:00:00+05:75",
            "2025-12-22T10:00:00+24:00",
            "2025-12-22T24:00:00",
            "2025-12-22T10:00:00z",
            "2025-12-22T10:00:00Zx",
            "2025-12-22T",
            "2025-12-2x",
            "2025-12-22T1:00:00",
        ] {
            assert_eq!(ms(text), None, "{text}");
        }
    }
}
