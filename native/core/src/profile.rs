//! Session volume profiles: volume per integer price level, as `volume_profile_manager` keeps
//! them, and their snapshots.
//!
//! A level is the price over the tick size rounded half up. The fast path is one float
//! division; a quotient within a millionth of a level of an exact half is settled exactly on
//! the decimal value of the price's shortest repr (Rust's shortest digits are Python's repr
//! digits), so 120.525 at tick 0.05 is level 2411 as in Python. Prices come back out as the
//! float nearest `level * mantissa / 10**decimals` (one rounding, as Python's `int / int`) and
//! as exact decimal strings with the tick's decimals (at least two).

use crate::codec::{push_int_bytes, DigitBuf};
use crate::counts::Counts;
use crate::exact::ratio_i128;
use crate::scan::{scan, strength};

const HALF_WINDOW: f64 = 1e-6;
const ONE_MINUS_WINDOW: f64 = 1.0 - HALF_WINDOW;
/// The value-area fraction (0.70) as an exact ratio, and the support/resistance depth.
pub const VALUE_AREA: (i128, i128) = (7, 10);
pub const MAX_LEVELS: usize = 3;
/// |price / tick| from here on is refused: a level must fit an i64 with room to spare.
pub const MAX_QUOTIENT: f64 = 4_611_686_018_427_387_904.0; // 2**62

/// A tick size as an exact decimal `mantissa / 10**decimals` (its shortest repr).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TickSpec {
    pub tick: f64,
    pub mantissa: i64,
    pub decimals: u32,
}

/// The digits and exponent of a finite float's shortest repr: |value| = digits * 10**exp.
pub fn shortest_decimal(x: f64) -> (u64, i32) {
    crate::exact::shortest(x)
}

impl TickSpec {
    pub fn new(tick_size: f64) -> Result<TickSpec, String> {
        if !(tick_size.is_finite() && tick_size > 0.0) {
            return Err(format!(
                "tick_size must be finite and > 0, got {tick_size:?}"
            ));
        }
        let (mut digits, mut exp) = shortest_decimal(tick_size);
        while digits % 10 == 0 && digits != 0 {
            digits /= 10;
            exp += 1;
        }
        let decimals = (-exp).max(0) as u32;
        let mantissa = digits as i128 * 10i128.pow((exp + decimals as i32) as u32);
        let mantissa =
            i64::try_from(mantissa).map_err(|_| format!("tick_size too large: {tick_size}"))?;
        Ok(TickSpec {
            tick: tick_size,
            mantissa,
            decimals,
        })
    }

    fn str_decimals(&self) -> u32 {
        self.decimals.max(2)
    }

    /// Round `num / den` (exact, den > 0) over the tick, half up: floor((2*num*scale + den*m) /
    /// (2*den*m)). None when the integers do not fit.
    fn exact_level(&self, num: i128, den: i128) -> Option<i64> {
        let scale = 10i128.checked_pow(self.decimals)?;
        let m = self.mantissa as i128;
        let top = num
            .checked_mul(scale)?
            .checked_mul(2)?
            .checked_add(den.checked_mul(m)?)?;
        let bottom = den.checked_mul(m)?.checked_mul(2)?;
        i64::try_from(top.div_euclid(bottom)).ok()
    }

    /// The nearest level to a finite price (exact half up).
    pub fn level_of(&self, price: f64) -> i64 {
        let x = price / self.tick + 0.5;
        let level = x.floor();
        let frac = x - level;
        if !(HALF_WINDOW..=ONE_MINUS_WINDOW).contains(&frac) {
            let (digits, exp) = shortest_decimal(price);
            let sign: i128 = if price < 0.0 { -1 } else { 1 };
            let exact = if exp >= 0 {
                10i128
                    .checked_pow(exp as u32)
                    .and_then(|p| p.checked_mul(digits as i128))
                    .map(|n| (n, 1))
            } else {
                10i128
                    .checked_pow((-exp) as u32)
                    .map(|d| (digits as i128, d))
            };
            if let Some(level) = exact.and_then(|(n, d)| self.exact_level(sign * n, d)) {
                return level;
            }
        }
        level as i64
    }

    /// The level of a decimal string (`Decimal(text)` in Python), for restored distributions.
    pub fn level_of_text(&self, text: &str) -> Option<i64> {
        let (num, den) = parse_decimal(text.trim())?;
        self.exact_level(num, den)
    }

    /// The float nearest the level's exact price.
    pub fn price_of(&self, level: i64) -> f64 {
        ratio_i128(
            level as i128 * self.mantissa as i128,
            10i128.pow(self.decimals),
        )
    }

    /// The level's price with the tick's decimals (at least 2), exact: 2411 -> "120.55".
    pub fn price_str(&self, level: i64, out: &mut String) {
        let mut bytes = Vec::with_capacity(24);
        self.push_price(level, &mut bytes);
        out.push_str(std::str::from_utf8(&bytes).expect("ASCII digits"));
    }

    /// `price_str` into a byte buffer (the distribution JSON: one per level, every drain).
    pub fn push_price(&self, level: i64, out: &mut Vec<u8>) {
        let d = self.str_decimals();
        let units = level as i128 * self.mantissa as i128 * 10i128.pow(d - self.decimals);
        // At least d + 1 digits, so there is one before the point; no String per level.
        let mut buf = DigitBuf::new();
        let digits = buf.digit_bytes(units.unsigned_abs(), d as usize + 1);
        if units < 0 {
            out.push(b'-');
        }
        let (head, tail) = digits.split_at(digits.len() - d as usize);
        out.extend_from_slice(head);
        out.push(b'.');
        out.extend_from_slice(tail);
    }
}

/// A decimal literal (sign, digits, optional point and exponent) as an exact fraction.
fn parse_decimal(text: &str) -> Option<(i128, i128)> {
    let (sign, body) = match text.as_bytes().first()? {
        b'-' => (-1i128, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut num: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        num = num.checked_mul(10)?.checked_add((b - b'0') as i128)?;
    }
    let exp = exp - frac.len() as i32;
    if exp >= 0 {
        Some((sign * num.checked_mul(10i128.checked_pow(exp as u32)?)?, 1))
    } else {
        Some((sign * num, 10i128.checked_pow((-exp) as u32)?))
    }
}

/// What a profile snapshot writes: prices as floats, the distribution already as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileSnap {
    pub poc_price: f64,
    pub poc_volume: i128,
    pub value_area_high: f64,
    pub value_area_low: f64,
    pub profile_strength: f64,
    pub total_volume: i128,
    /// `{"price": volume, ...}` ascending, as orjson writes the distribution dict.
    pub distribution_json: String,
    pub support_levels: Vec<f64>,
    pub resistance_levels: Vec<f64>,
}

/// Volume per level for one session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub levels: Counts,
    pub total: i128,
}

impl Profile {
    pub fn add(&mut self, level: i64, volume: i128) {
        if volume > 0 {
            self.levels.add(level, volume);
            self.total += volume;
        }
    }

    /// Rebuild from a distribution's (price text, volume) pairs; volumes merge per level.
    pub fn from_distribution(dist: &[(String, i128)], spec: &TickSpec) -> Result<Profile, String> {
        let mut profile = Profile::default();
        for (key, volume) in dist {
            if *volume < 0 {
                return Err(format!("volume at {key:?} must be >= 0, got {volume}"));
            }
            if *volume == 0 {
                continue;
            }
            let level = spec
                .level_of_text(key)
                .ok_or_else(|| format!("bad price {key:?} in distribution"))?;
            profile.add(level, *volume);
        }
        Ok(profile)
    }

    /// POC, value area, strength, distribution, support/resistance; None when empty.
    pub fn snapshot(&self, last_price: Option<f64>, spec: &TickSpec) -> Option<ProfileSnap> {
        if self.total <= 0 {
            return None;
        }
        let (keys, vals): (Vec<i64>, Vec<i128>) = self.levels.iter().unzip();
        let reference = last_price.map(|p| spec.level_of(p));
        let (num, den) = VALUE_AREA;
        let s = scan(&keys, &vals, self.total, num, den, reference, MAX_LEVELS);
        let mut json: Vec<u8> = Vec::with_capacity(keys.len() * 16 + 2);
        json.push(b'{');
        for (i, (&k, &v)) in keys.iter().zip(&vals).enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.push(b'"');
            spec.push_price(k, &mut json);
            json.extend_from_slice(b"\":");
            push_int_bytes(&mut json, v);
        }
        json.push(b'}');
        let json = String::from_utf8(json).expect("ASCII JSON");
        Some(ProfileSnap {
            poc_price: spec.price_of(s.poc),
            poc_volume: s.peak,
            value_area_high: spec.price_of(s.hi),
            value_area_low: spec.price_of(s.lo),
            profile_strength: strength(&vals, self.total),
            total_volume: self.total,
            distribution_json: json,
            support_levels: s.support.iter().map(|&l| spec.price_of(l)).collect(),
            resistance_levels: s.resistance.iter().map(|&l| spec.price_of(l)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(t: f64) -> TickSpec {
        TickSpec::new(t).unwrap()
    }

    fn text(spec: &TickSpec, level: i64) -> String {
        let mut s = String::new();
        spec.price_str(level, &mut s);
        s
    }

    #[test]
    fn tick_specs() {
        assert_eq!((spec(0.05).mantissa, spec(0.05).decimals), (5, 2));
        assert_eq!((spec(1.0).mantissa, spec(1.0).decimals), (1, 0));
        assert_eq!((spec(10.0).mantissa, spec(10.0).decimals), (10, 0));
        assert_eq!((spec(0.0025).mantissa, spec(0.0025).decimals), (25, 4));
        assert!(TickSpec::new(0.0).is_err());
    }

    #[test]
    fn exact_halves_round_up() {
        let s = spec(0.05);
        assert_eq!(s.level_of(120.525), 2411); // 120.525 / 0.05 is 2410.4999... in binary
        assert_eq!(s.level_of(120.55), 2411);
        assert_eq!(s.level_of(120.574), 2411);
        assert_eq!(s.level_of(0.025), 1);
        assert_eq!(spec(0.5).level_of(0.25), 1);
        assert_eq!(spec(1.0).level_of(2.5), 3);
    }

    #[test]
    fn price_strings_and_floats() {
        let s = spec(0.05);
        assert_eq!(text(&s, 2411), "120.55");
        assert_eq!(text(&s, 1), "0.05");
        assert_eq!(text(&s, 0), "0.00");
        assert_eq!(text(&s, -3), "-0.15");
        assert_eq!(text(&spec(1.0), 7), "7.00");
        assert_eq!(text(&spec(0.0025), 3), "0.0075");
        assert_eq!(s.price_of(2411), 120.55);
        assert_eq!(spec(0.01).price_of(12_345), 123.45);
    }

    #[test]
    fn restore_reads_decimal_keys() {
        let s = spec(0.05);
        let p = Profile::from_distribution(
            &[
                ("120.55".into(), 5),
                ("120.56".into(), 2),
                ("1.2055E2".into(), 1),
                ("9".into(), 0),
            ],
            &s,
        )
        .unwrap();
        assert_eq!(p.levels.iter().collect::<Vec<_>>(), vec![(2411, 8)]);
        assert!(Profile::from_distribution(&[("abc".into(), 1)], &s).is_err());
        assert!(Profile::from_distribution(&[("1.0".into(), -1)], &s).is_err());
    }

    #[test]
    fn snapshot_of_two_levels() {
        let s = spec(0.05);
        let mut p = Profile::default();
        p.add(s.level_of(100.0), 30);
        p.add(s.level_of(100.05), 10);
        let snap = p.snapshot(Some(100.1), &s).unwrap();
        assert_eq!(snap.distribution_json, r#"{"100.00":30,"100.05":10}"#);
        assert_eq!(snap.poc_price, 100.0);
        assert_eq!(snap.value_area_high, 100.0); // 30 of 40 is already 70%
        assert_eq!(snap.support_levels, vec![100.0]);
        assert!(Profile::default().snapshot(None, &s).is_none());
    }
}
