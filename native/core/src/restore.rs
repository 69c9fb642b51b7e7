//! A symbol's hashes as Redis returns them, read back into a `History` at first sight: the
//! two-phase plan of `store/loader.py` (`SymbolLoad`) and `codec.build_history`, for the text
//! the service itself writes.
//!
//! Only that text is read here: ISO dates, integers as digits, plain decimal floats, a profile
//! distribution of JSON integers. Anything else is `None`, and the caller hands the symbol to
//! the Python reference, which reads it (or raises) as it always has, so both cores load the
//! same history from any bytes.

use crate::engine::History;
use crate::session::Session;

/// A hash's (field, value) pairs, in the reply's order.
pub type Pairs<'a> = [(&'a [u8], &'a [u8])];

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0')))
}

/// `YYYY-MM-DD` (what `date.isoformat()` writes) as days since 1970-01-01; `None` for any
/// other form, even one `date.fromisoformat` would take, and for a day the month lacks.
pub fn iso_day(s: &[u8]) -> Option<i32> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[..4])?, digits(&s[5..7])?, digits(&s[8..])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y == 0 || d == 0 || d > days_in_month {
        return None;
    }
    i32::try_from(days_from_civil(i64::from(y), m, d)).ok()
}

/// `-?[0-9]{1,30}`: the value `int()` gives; `None` for any other text.
pub fn int_text(s: &[u8]) -> Option<i128> {
    let (negative, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.len() > 30 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = body
        .iter()
        .fold(0i128, |v, d| v * 10 + i128::from(d - b'0'));
    Some(if negative { -magnitude } else { magnitude })
}

/// An integer as `str(int)` writes it ("0", "-5", "12", no leading zero): distinct texts are
/// distinct numbers, so a hash's fields never collide as they could under `int()`.
fn canonical_int(s: &[u8]) -> Option<i64> {
    let body = s.strip_prefix(b"-").unwrap_or(s);
    if body.first() == Some(&b'0') && (body.len() > 1 || s.len() > 1) {
        return None;
    }
    i64::try_from(int_text(s)?).ok()
}

/// `-?digits[.digits][(e|E)[+-]digits]`: the value `float()` gives (both round correctly);
/// `None` for any other text (inf, nan, spaces, underscores are the reference's).
pub fn float_text(s: &[u8]) -> Option<f64> {
    let body = s.strip_prefix(b"-").unwrap_or(s);
    let mantissa_end = body
        .iter()
        .position(|b| *b == b'e' || *b == b'E')
        .unwrap_or(body.len());
    let (mantissa, exponent) = body.split_at(mantissa_end);
    let mut parts = mantissa.splitn(2, |b| *b == b'.');
    let whole = parts.next().unwrap_or_default();
    digits_only(whole)?;
    if let Some(fraction) = parts.next() {
        digits_only(fraction)?;
    }
    if !exponent.is_empty() {
        let e = &exponent[1..];
        digits_only(
            e.strip_prefix(b"+")
                .or_else(|| e.strip_prefix(b"-"))
                .unwrap_or(e),
        )?;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn digits_only(s: &[u8]) -> Option<()> {
    (!s.is_empty() && s.len() <= 400 && s.iter().all(u8::is_ascii_digit)).then_some(())
}

/// What phase one (the history hash) decides: the totals, and which dates phase two reads.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPlan {
    /// (day, total) in the hash's order.
    pub totals: Vec<(i32, i128)>,
    /// The newest recorded day: its session, minutes and profile are read.
    pub latest: Option<i32>,
    /// The days before it whose minutes are read for learned curves, oldest first.
    pub recent: Vec<i32>,
}

impl HistoryPlan {
    /// Replies phase two reads for this symbol (`SymbolLoad.second`'s commands).
    pub fn replies(&self) -> usize {
        let latest = if self.latest.is_some() { 3 } else { 0 };
        latest + self.recent.len()
    }
}

/// The history hash (`parse_history`) and `SymbolLoad.second`'s choice of dates.
pub fn read_history(pairs: &Pairs, minute_history_days: usize) -> Option<HistoryPlan> {
    let mut totals = Vec::with_capacity(pairs.len());
    for (day, total) in pairs {
        totals.push((iso_day(day)?, int_text(total)?));
    }
    let mut days: Vec<i32> = totals.iter().map(|(d, _)| *d).collect();
    days.sort_unstable();
    let latest = days.pop();
    let recent = if minute_history_days == 0 {
        Vec::new()
    } else {
        days[days.len().saturating_sub(minute_history_days)..].to_vec()
    };
    Some(HistoryPlan {
        totals,
        latest,
        recent,
    })
}

/// A minutes hash (`parse_minutes`): the minutes with volume, in the hash's order.
pub fn read_minutes(pairs: &Pairs) -> Option<Vec<(i64, i128)>> {
    let mut out = Vec::with_capacity(pairs.len());
    for (minute, volume) in pairs {
        let (m, v) = (canonical_int(minute)?, int_text(volume)?);
        if v > 0 {
            out.push((m, v));
        }
    }
    Some(out)
}

fn field<'a>(pairs: &Pairs<'a>, name: &[u8]) -> Option<&'a [u8]> {
    pairs.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

/// The profile hash's distribution (`{price text: volume}` as JSON integers), in its order.
fn read_distribution(profile: &Pairs) -> Option<Vec<(String, i128)>> {
    let text = match field(profile, b"price_volume_distribution") {
        None | Some(b"") => return Some(Vec::new()),
        Some(text) => text,
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(text).ok()?;
    map.into_iter()
        .map(|(price, volume)| match volume {
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .map(|v| (price, v)),
            _ => None,
        })
        .collect()
}

/// The open session (`restore_session`) from the latest day's session and minutes hashes.
fn read_session(day: i32, session: &Pairs, minutes: &Pairs) -> Option<Session> {
    let get = |name: &[u8]| field(session, name);
    let mut s = Session::new(day);
    s.cumulative_volume = int_text(get(b"cumulative_volume")?)?;
    s.tick_count = i64::try_from(int_text(get(b"tick_count")?)?).ok()?;
    s.last_price = float_text(get(b"last_price")?)?;
    s.last_ts_ms = i64::try_from(int_text(get(b"last_ts_ms")?)?).ok()?;
    s.last_minute = i64::try_from(int_text(get(b"last_minute")?)?).ok()?;
    for (m, v) in read_minutes(minutes)? {
        s.minute_volumes.add(m, v);
    }
    Some(s)
}

/// Phase two's hashes of one symbol, in `HistoryPlan::replies` order.
pub struct SecondPhase<'p, 'a> {
    pub session: &'p Pairs<'a>,
    pub minutes: &'p Pairs<'a>,
    pub profile: &'p Pairs<'a>,
    /// One minutes hash per `plan.recent` day, in that order.
    pub recent: &'p [&'p Pairs<'a>],
}

/// `codec.build_history`: the open session is the latest day's, when its hash exists.
pub fn restore(plan: HistoryPlan, second: &SecondPhase) -> Option<History> {
    let mut minute_history = Vec::with_capacity(plan.recent.len());
    for (day, pairs) in plan.recent.iter().zip(second.recent) {
        let minutes = read_minutes(pairs)?;
        if !minutes.is_empty() {
            minute_history.push((*day, minutes));
        }
    }
    let (session, profile, underlying_price) = match plan.latest {
        Some(day) if !second.session.is_empty() => {
            let session = read_session(day, second.session, second.minutes)?;
            let profile = read_distribution(second.profile)?;
            let spot = match field(second.session, b"underlying_price") {
                None | Some(b"") => None,
                Some(text) => Some(float_text(text)?),
            };
            (Some(session), Some(profile), spot)
        }
        _ => (None, None, None),
    };
    Some(History {
        daily_totals: plan.totals,
        minute_history,
        session,
        profile,
        underlying_price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::iso_date;

    #[test]
    fn iso_days_round_trip_and_only_that_form_is_read() {
        for day in [-719_162, -1, 0, 1, 11_016, 19_723, 20_000, 2_932_896] {
            assert_eq!(iso_day(iso_date(i64::from(day)).as_bytes()), Some(day));
        }
        for text in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "0000-01-01",
            "20240102",
            "2024-1-02",
            " 2024-01-02",
            "2024-01-0x",
        ] {
            assert_eq!(iso_day(text.as_bytes()), None, "{text}");
        }
        assert_eq!(iso_day(b"2024-02-29"), Some(19_782));
    }

    #[test]
    fn integers_are_plain_digits() {
        assert_eq!(int_text(b"0"), Some(0));
        assert_eq!(int_text(b"-17"), Some(-17));
        assert_eq!(int_text(b"007"), Some(7));
        assert_eq!(
            int_text(b"123456789012345678901234567890"),
            Some(123456789012345678901234567890)
        );
        for text in [
            "",
            "-",
            "+5",
            " 5",
            "1_000",
            "1.0",
            "1e3",
            "1234567890123456789012345678901",
        ] {
            assert_eq!(int_text(text.as_bytes()), None, "{text}");
        }
        assert_eq!(canonical_int(b"0"), Some(0));
        assert_eq!(canonical_int(b"-3"), Some(-3));
        for text in ["00", "01", "-0", "-01"] {
            assert_eq!(canonical_int(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn floats_are_plain_decimals() {
        assert_eq!(float_text(b"2450.5"), Some(2450.5));
        assert_eq!(float_text(b"-0.05"), Some(-0.05));
        assert_eq!(float_text(b"7"), Some(7.0));
        assert_eq!(float_text(b"1e-7"), Some(1e-7));
        assert_eq!(float_text(b"1.5E+3"), Some(1500.0));
        for text in [
            "", ".5", "5.", "inf", "nan", " 1", "1_0", "1e", "--1", "1.2.3", "0x10",
        ] {
            assert_eq!(float_text(text.as_bytes()), None, "{text}");
        }
    }

    fn pairs<'a>(items: &'a [(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
        items
            .iter()
            .map(|(f, v)| (f.as_bytes(), v.as_bytes()))
            .collect()
    }

    #[test]
    fn the_plan_reads_the_latest_day_and_the_recent_minutes() {
        let h = pairs(&[
            ("2024-01-03", "30"),
            ("2024-01-01", "10"),
            ("2024-01-02", "20"),
        ]);
        let plan = read_history(&h, 1).unwrap();
        assert_eq!(plan.totals, vec![(19_725, 30), (19_723, 10), (19_724, 20)]);
        assert_eq!(plan.latest, Some(19_725));
        assert_eq!(plan.recent, vec![19_724]);
        assert_eq!(plan.replies(), 4);
        let plan = read_history(&h, 0).unwrap();
        assert!(plan.recent.is_empty());
        assert_eq!(read_history(&[], 5).unwrap().replies(), 0);
        assert_eq!(read_history(&pairs(&[("2024-01-01", "x")]), 0), None);
    }

    #[test]
    fn a_recorded_session_is_restored_with_its_profile_and_spot() {
        let plan = read_history(&pairs(&[("2024-01-02", "500")]), 1).unwrap();
        let session = pairs(&[
            ("cumulative_volume", "500"),
            ("tick_count", "4"),
            ("last_price", "101.5"),
            ("last_ts_ms", "1704171600000"),
            ("last_minute", "12"),
            ("underlying_price", "21000.25"),
        ]);
        let minutes = pairs(&[("3", "200"), ("12", "300"), ("-1", "0")]);
        let profile = pairs(&[(
            "price_volume_distribution",
            r#"{"101.5": 300, "101.0": 200}"#,
        )]);
        let second = SecondPhase {
            session: &session,
            minutes: &minutes,
            profile: &profile,
            recent: &[],
        };
        let h = restore(plan, &second).unwrap();
        let s = h.session.unwrap();
        assert_eq!((s.day, s.cumulative_volume, s.tick_count), (19_724, 500, 4));
        assert_eq!(
            (s.last_price, s.last_ts_ms, s.last_minute),
            (101.5, 1_704_171_600_000, 12)
        );
        assert_eq!(
            h.profile.unwrap(),
            vec![("101.5".to_string(), 300), ("101.0".to_string(), 200)]
        );
        assert_eq!(h.underlying_price, Some(21000.25));
    }

    #[test]
    fn no_session_hash_means_no_open_session_and_unreadable_text_defers() {
        let plan = read_history(&pairs(&[("2024-01-02", "500")]), 0).unwrap();
        let empty: Vec<(&[u8], &[u8])> = Vec::new();
        let none = SecondPhase {
            session: &empty,
            minutes: &empty,
            profile: &empty,
            recent: &[],
        };
        let h = restore(plan.clone(), &none).unwrap();
        assert!(h.session.is_none());
        assert!(h.profile.is_none());
        let missing = pairs(&[("cumulative_volume", "5")]);
        let partial = SecondPhase {
            session: &missing,
            ..none
        };
        assert!(restore(plan.clone(), &partial).is_none());
        let session = pairs(&[
            ("cumulative_volume", "5"),
            ("tick_count", "1"),
            ("last_price", "1"),
            ("last_ts_ms", "1"),
            ("last_minute", "0"),
        ]);
        for text in [r#"{"1": 1.5}"#, r#"{"1": "2"}"#, "[1]", "{"] {
            let items = [("price_volume_distribution", text)];
            let profile = pairs(&items);
            let second = SecondPhase {
                session: &session,
                minutes: &empty,
                profile: &profile,
                recent: &[],
            };
            assert!(restore(plan.clone(), &second).is_none(), "{text}");
        }
    }

    #[test]
    fn recent_minutes_without_volume_are_left_out() {
        let plan = read_history(
            &pairs(&[
                ("2024-01-01", "1"),
                ("2024-01-02", "2"),
                ("2024-01-03", "3"),
            ]),
            2,
        )
        .unwrap();
        let empty: Vec<(&[u8], &[u8])> = Vec::new();
        let day1 = pairs(&[("5", "10"), ("6", "0")]);
        let day2 = pairs(&[("7", "0")]);
        let recent = [&day1[..], &day2[..]];
        let second = SecondPhase {
            session: &empty,
            minutes: &empty,
            profile: &empty,
            recent: &recent,
        };
        let h = restore(plan, &second).unwrap();
        assert_eq!(h.minute_history, vec![(19_723, vec![(5, 10)])]);
    }
}
