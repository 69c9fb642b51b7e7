//! Snapshots to hash writes: `store/codec.py`'s `snapshot_writes` and its number formats,
//! byte for byte.
//!
//! - `fmt_float`: `'%.{d}f'` (Rust's fixed precision is the same correctly rounded, ties-to-
//!   even conversion of the exact binary value), then trailing zeros and point stripped; from
//!   1e9 on Python rounds first (`round(value, d)`), which is the same digits parsed back and
//!   formatted again.
//! - `fmt_price`: Python's shortest repr in plain decimal is Rust's `Display` of an `f64`.
//! - `levels_json`: orjson's float format (ryu's layout: plain from 1e-5 up to 17 digits
//!   before the point, else `1e-7`, `1.5e+16`).
//! - `fmt_timestamp`: integer arithmetic below 4e12 ms, else Python's float path
//!   (`datetime.fromtimestamp(ts / 1000)` rounds to microseconds, half even).
//!
//! Key names are not spelled here: they come from `store/keys.py` as templates with
//! `{symbol}` and `{date}` placeholders, with the legacy field map, at construction.

use std::borrow::Cow;

use crate::baseline::Baseline;
use crate::clock::{push_iso_date, push_padded, DAY_MS, IST_OFFSET_MS};
use crate::exact::shortest;
use crate::profile::ProfileSnap;
use crate::session::Session;

/// Which family a write counts under (`keys.FAMILY_*`; the binding holds their names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Unified,
    Baseline,
    Profile,
    Legacy,
    State,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Unified,
        Family::Baseline,
        Family::Profile,
        Family::Legacy,
        Family::State,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

pub type Name = Cow<'static, str>;

/// HSET `fields`, then HDEL `absent` (optional fields that cannot be computed now).
#[derive(Clone, Debug, PartialEq)]
pub struct HashWrite {
    pub key: String,
    pub family: Family,
    pub fields: Fields,
    pub absent: Vec<Name>,
}

/// A hash write's fields in order: the names, and every value in one buffer. A drain makes
/// tens of thousands of values; a String each was a fifth of its time in malloc and free.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    text: String,
    /// (name, start, end) of each value in `text`.
    spans: Vec<(Name, u32, u32)>,
}

impl Fields {
    /// Fields from (name, value) pairs (bindings and tests).
    pub fn from_pairs<N: Into<Name>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Fields {
        let mut fields = Fields::default();
        for (name, value) in pairs {
            fields.push(name.into(), value.as_ref());
        }
        fields
    }

    pub fn push(&mut self, name: Name, value: &str) {
        self.push_with(name, |out| out.push_str(value));
    }

    /// A field whose value `write` appends to the buffer.
    pub fn push_with(&mut self, name: Name, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.spans
            .push((name, start as u32, self.text.len() as u32));
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// No fields, the buffers kept for the next write.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The value of the i-th field.
    pub fn value(&self, i: usize) -> &str {
        let (_, start, end) = &self.spans[i];
        &self.text[*start as usize..*end as usize]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Name, &str)> + '_ {
        self.spans
            .iter()
            .map(|(name, start, end)| (name, &self.text[*start as usize..*end as usize]))
    }

    /// Keep the fields whose flag is true (flags in field order; the buffer is kept as is).
    pub fn retain_flags(&mut self, keep: &[bool]) {
        let mut flags = keep.iter();
        self.spans.retain(|_| flags.next() == Some(&true));
    }

    /// (name, value) pairs, owned (bindings and tests).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Symbol,
    Date,
}

/// A key with `{symbol}` / `{date}` placeholders, e.g. `keys.session_key("{symbol}", "{date}")`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyTemplate {
    parts: Vec<Part>,
}

impl KeyTemplate {
    pub fn parse(template: &str) -> KeyTemplate {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let next = [("{symbol}", Part::Symbol), ("{date}", Part::Date)]
                .into_iter()
                .filter_map(|(tag, part)| rest.find(tag).map(|i| (i, tag.len(), part)))
                .min_by_key(|&(i, _, _)| i);
            match next {
                Some((i, len, part)) => {
                    if i > 0 {
                        parts.push(Part::Text(rest[..i].to_string()));
                    }
                    parts.push(part);
                    rest = &rest[i + len..];
                }
                None => {
                    parts.push(Part::Text(rest.to_string()));
                    rest = "";
                }
            }
        }
        KeyTemplate { parts }
    }

    pub fn render(&self, symbol: &str, date: &str) -> String {
        let mut out = String::with_capacity(symbol.len() + date.len() + 24);
        self.render_into(&mut out, symbol, date);
        out
    }

    /// `render`, appended to `out`.
    pub fn render_into(&self, out: &mut String, symbol: &str, date: &str) {
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Symbol => out.push_str(symbol),
                Part::Date => out.push_str(date),
            }
        }
    }
}

/// The key templates of every hash a snapshot writes.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyTemplates {
    pub session: KeyTemplate,
    pub baseline: KeyTemplate,
    pub poc: KeyTemplate,
    pub profile_session: KeyTemplate,
    pub legacy: KeyTemplate,
    pub history: KeyTemplate,
    pub minutes: KeyTemplate,
}

/// Where a legacy field's value comes from.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Session(usize), // index into SESSION_ORDER
    AvgVolume,
    Missing,
}

const AVG_VOLUME: &str = "avg_volume_20d";
/// The session hash's fields a legacy field can mirror, in the order they are written.
const SESSION_ORDER: [&str; 16] = [
    "symbol",
    "date",
    "cumulative_volume",
    "minutes_elapsed",
    "last_price",
    "tick_count",
    "flow_rate_1m",
    "flow_rate_5m",
    "exchange_timestamp",
    "last_ts_ms",
    "last_minute",
    "instrument_type",
    "underlying_price",
    "rvol",
    "rvol_1m",
    "expected_volume",
];

/// The encoder's configuration: key templates and the legacy field map (`keys.LEGACY_FIELDS`).
#[derive(Clone, Debug, PartialEq)]
pub struct Codec {
    keys: KeyTemplates,
    legacy: Vec<(String, Source)>,
}

/// Everything the writers need for one symbol, computed from state alone.
#[derive(Clone, Debug)]
pub struct Snapshot<'a> {
    pub symbol: &'a str,
    pub instrument_type: &'a str,
    pub is_fno: bool,
    pub session: &'a Session,
    pub minutes_elapsed: f64,
    pub flow_rate_1m: f64,
    pub flow_rate_5m: f64,
    pub baseline: Option<Baseline>,
    pub fno_adjustment: f64,
    pub expected_volume: Option<f64>,
    pub rvol: Option<f64>,
    pub rvol_1m: Option<f64>,
    pub profile: Option<ProfileSnap>,
    pub baseline_changed: bool,
    /// (minute, its bucket's volume), ascending.
    pub dirty_minutes: Vec<(i64, i128)>,
    pub underlying_price: Option<f64>,
}

impl Codec {
    pub fn new(keys: KeyTemplates, legacy_fields: &[(String, String)]) -> Codec {
        let legacy = legacy_fields
            .iter()
            .map(|(old, new)| {
                let source = if new == AVG_VOLUME {
                    Source::AvgVolume
                } else {
                    SESSION_ORDER
                        .iter()
                        .position(|f| f == new)
                        .map_or(Source::Missing, Source::Session)
                };
                (old.clone(), source)
            })
            .collect();
        Codec { keys, legacy }
    }

    /// The key templates (the loader renders the keys it reads with them).
    pub fn keys(&self) -> &KeyTemplates {
        &self.keys
    }

    /// Every hash write one snapshot implies, in `snapshot_writes`' order. With `dual_write`
    /// the legacy write is included; its position is returned so a caller that encodes early
    /// (a closed session) can leave it out later.
    pub fn snapshot_writes(
        &self,
        snap: Snapshot<'_>,
        dual_write: bool,
    ) -> (Vec<HashWrite>, Option<usize>) {
        let mut writes = Vec::new();
        let (n, legacy_at) = self.snapshot_writes_into(snap, dual_write, &mut writes);
        writes.truncate(n);
        (writes, legacy_at)
    }

    /// `snapshot_writes` into `out`'s first writes, reusing their buffers (a drain writes
    /// every changed symbol's hashes through one scratch vector, not a String per key and
    /// value): how many it wrote, and the legacy write's position.
    pub fn snapshot_writes_into(
        &self,
        snap: Snapshot<'_>,
        dual_write: bool,
        out: &mut Vec<HashWrite>,
    ) -> (usize, Option<usize>) {
        let s = snap.session;
        let symbol = snap.symbol;
        let mut day = String::with_capacity(10);
        push_iso_date(&mut day, s.day as i64);
        let mut n = 0;
        // The session hash, in SESSION_ORDER; at[i]: the position of field i when it is set.
        let mut at = [usize::MAX; 16];
        {
            let w = reuse(out, &mut n, Family::Unified);
            self.keys.session.render_into(&mut w.key, symbol, &day);
            let session = &mut w.fields;
            let mut set = |i: usize, write: &dyn Fn(&mut String)| {
                at[i] = session.len();
                session.push_with(Cow::Borrowed(SESSION_ORDER[i]), write);
            };
            set(0, &|o| o.push_str(symbol));
            set(1, &|o| o.push_str(&day));
            set(2, &|o| push_int(o, s.cumulative_volume));
            set(3, &|o| push_float(o, snap.minutes_elapsed, 3));
            set(4, &|o| push_price(o, s.last_price));
            set(5, &|o| push_int(o, s.tick_count as i128));
            set(6, &|o| push_float(o, snap.flow_rate_1m, 3));
            set(7, &|o| push_float(o, snap.flow_rate_5m, 3));
            set(8, &|o| push_timestamp(o, s.last_ts_ms));
            set(9, &|o| push_int(o, s.last_ts_ms as i128));
            set(10, &|o| push_int(o, s.last_minute as i128));
            set(11, &|o| o.push_str(snap.instrument_type));
            if let Some(v) = snap.underlying_price {
                set(12, &|o| push_price(o, v));
            }
            if let Some(v) = snap.rvol {
                set(13, &|o| push_float(o, v, 6));
            }
            if let Some(v) = snap.rvol_1m {
                set(14, &|o| push_float(o, v, 6));
            }
            if let Some(v) = snap.expected_volume {
                set(15, &|o| push_float(o, v, 3));
            }
            w.absent.extend(
                (13..16)
                    .filter(|&i| at[i] == usize::MAX)
                    .map(|i| Cow::Borrowed(SESSION_ORDER[i])),
            );
        }
        let avg_text = snap.baseline.map(|b| fmt_float(b.avg_volume_20d, 3));

        if snap.baseline_changed {
            let w = reuse(out, &mut n, Family::Baseline);
            self.keys.baseline.render_into(&mut w.key, symbol, &day);
            let fields = &mut w.fields;
            let sessions = snap.baseline.map_or(0, |b| b.sessions);
            fields.push_with(Cow::Borrowed("sessions"), |o| push_int(o, sessions as i128));
            fields.push_with(Cow::Borrowed("fno_adjustment"), |o| {
                push_float(o, snap.fno_adjustment, 6)
            });
            fields.push(Cow::Borrowed("is_fno"), if snap.is_fno { "1" } else { "0" });
            match snap.baseline {
                Some(b) => {
                    fields.push_with(Cow::Borrowed("baseline_1min"), |o| {
                        push_float(o, b.baseline_1min, 3)
                    });
                    let avg = avg_text.as_deref().expect("a baseline has its average");
                    fields.push(Cow::Borrowed(AVG_VOLUME), avg);
                }
                None => w
                    .absent
                    .extend([Cow::Borrowed("baseline_1min"), Cow::Borrowed(AVG_VOLUME)]),
            }
        }

        if let Some(p) = snap.profile {
            reuse(out, &mut n, Family::Profile);
            let (session, w) = beside_session(out, n);
            self.keys.poc.render_into(&mut w.key, symbol, &day);
            push_poc_fields(&mut w.fields, &p, session.value(at[8]));
            reuse(out, &mut n, Family::Profile);
            let (session, w) = beside_session(out, n);
            self.keys
                .profile_session
                .render_into(&mut w.key, symbol, &day);
            let full = &mut w.fields;
            push_poc_fields(full, &p, session.value(at[8]));
            full.push_with(Cow::Borrowed("total_volume"), |o| {
                push_int(o, p.total_volume)
            });
            full.push(
                Cow::Borrowed("price_volume_distribution"),
                &p.distribution_json,
            );
            full.push_with(Cow::Borrowed("support_levels"), |o| {
                push_levels_json(o, &p.support_levels)
            });
            full.push_with(Cow::Borrowed("resistance_levels"), |o| {
                push_levels_json(o, &p.resistance_levels)
            });
        }

        let mut legacy_at = None;
        if dual_write {
            legacy_at = Some(n);
            reuse(out, &mut n, Family::Legacy);
            let (session, w) = beside_session(out, n);
            self.keys.legacy.render_into(&mut w.key, symbol, &day);
            self.legacy_fields(w, session, &at, &avg_text);
        }

        reuse(out, &mut n, Family::State);
        let (session, w) = beside_session(out, n);
        self.keys.history.render_into(&mut w.key, symbol, &day);
        w.fields.push(Cow::Owned(day.clone()), session.value(at[2]));
        if !snap.dirty_minutes.is_empty() {
            let w = reuse(out, &mut n, Family::State);
            self.keys.minutes.render_into(&mut w.key, symbol, &day);
            for &(m, v) in &snap.dirty_minutes {
                w.fields
                    .push_with(Cow::Owned(fmt_int(m as i128)), |o| push_int(o, v));
            }
        }
        (n, legacy_at)
    }

    /// The legacy indicator hash's fields: session fields under their old names.
    fn legacy_fields(
        &self,
        w: &mut HashWrite,
        session: &Fields,
        at: &[usize; 16],
        avg_text: &Option<String>,
    ) {
        for (old, source) in &self.legacy {
            let value = match source {
                Source::AvgVolume => avg_text.as_deref(),
                Source::Session(i) => (at[*i] != usize::MAX).then(|| session.value(at[*i])),
                Source::Missing => None,
            };
            match value {
                Some(v) => w.fields.push(Cow::Owned(old.clone()), v),
                None => w.absent.push(Cow::Owned(old.clone())),
            }
        }
    }
}

/// The POC fields, shared by the POC hash and the session's profile hash.
fn push_poc_fields(fields: &mut Fields, p: &ProfileSnap, stamp: &str) {
    fields.push_with(Cow::Borrowed("poc_price"), |o| push_price(o, p.poc_price));
    fields.push_with(Cow::Borrowed("poc_volume"), |o| push_int(o, p.poc_volume));
    fields.push_with(Cow::Borrowed("value_area_high"), |o| {
        push_price(o, p.value_area_high)
    });
    fields.push_with(Cow::Borrowed("value_area_low"), |o| {
        push_price(o, p.value_area_low)
    });
    fields.push_with(Cow::Borrowed("profile_strength"), |o| {
        push_float(o, p.profile_strength, 6)
    });
    fields.push(Cow::Borrowed("exchange_timestamp"), stamp);
}

/// The session hash's fields (the first write) beside the last of the `n` writes made so
/// far, which copies some of them.
fn beside_session(out: &mut [HashWrite], n: usize) -> (&Fields, &mut HashWrite) {
    let (head, tail) = out.split_at_mut(n - 1);
    (&head[0].fields, &mut tail[0])
}

/// The next write of `out` (its `n`-th), emptied with its buffers kept, or a new one.
fn reuse<'a>(out: &'a mut Vec<HashWrite>, n: &mut usize, family: Family) -> &'a mut HashWrite {
    if *n == out.len() {
        out.push(HashWrite {
            key: String::new(),
            family,
            fields: Fields::default(),
            absent: Vec::new(),
        });
    }
    let w = &mut out[*n];
    *n += 1;
    w.key.clear();
    w.family = family;
    w.fields.clear();
    w.absent.clear();
    w
}

pub fn fmt_int(value: i128) -> String {
    let mut out = String::with_capacity(20);
    push_int(&mut out, value);
    out
}

/// `value` in decimal, appended to `out` (`str(int)`).
pub fn push_int(out: &mut String, value: i128) {
    let mut buf = DigitBuf::new();
    let digits = buf.digits(value.unsigned_abs(), 1);
    if value < 0 {
        out.push('-');
    }
    out.push_str(digits);
}

/// Decimal digits written right-aligned in a stack buffer, with u64 arithmetic where the
/// number fits: i128's `Display` divides in 128 bits and allocates, once per field and per
/// profile level of every drained symbol.
pub struct DigitBuf([u8; 48]);

impl DigitBuf {
    pub fn new() -> DigitBuf {
        DigitBuf([b'0'; 48])
    }

    /// The digits of `n`, zero-padded on the left to at least `min_width` (<= 48).
    pub fn digits(&mut self, n: u128, min_width: usize) -> &str {
        std::str::from_utf8(self.digit_bytes(n, min_width)).expect("ASCII digits")
    }

    /// `digits` as bytes, for byte buffers (RESP, JSON): no UTF-8 check per number. Two
    /// digits a division below 2**64. A fresh buffer: the padding is its initial zeros.
    pub fn digit_bytes(&mut self, n: u128, min_width: usize) -> &[u8] {
        const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
        let buf = &mut self.0;
        let mut at = buf.len();
        match u64::try_from(n) {
            Ok(mut n) => {
                while n >= 100 {
                    let pair = (n % 100) as usize * 2;
                    n /= 100;
                    at -= 2;
                    buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
                }
                if n >= 10 {
                    let pair = n as usize * 2;
                    at -= 2;
                    buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
                } else if n > 0 {
                    at -= 1;
                    buf[at] = b'0' + n as u8;
                }
            }
            Err(_) => {
                let mut n = n;
                while n > 0 {
                    at -= 1;
                    buf[at] = b'0' + (n % 10) as u8;
                    n /= 10;
                }
            }
        }
        let start = at.min(buf.len() - min_width.max(1));
        &buf[start..]
    }
}

/// `push_int` into a byte buffer.
pub fn push_int_bytes(out: &mut Vec<u8>, value: i128) {
    let mut buf = DigitBuf::new();
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(buf.digit_bytes(value.unsigned_abs(), 1));
}

impl Default for DigitBuf {
    fn default() -> DigitBuf {
        DigitBuf::new()
    }
}

fn strip(mut text: String) -> String {
    if text.contains('.') {
        let keep = text.trim_end_matches('0').len();
        text.truncate(keep);
        if text.ends_with('.') {
            text.pop();
        }
    } else {
        // Python strips zeros from integers too ("%.0f" of 10 gives "1"): mirrored.
        let keep = text.trim_end_matches('0').len();
        text.truncate(keep);
    }
    if text == "-0" || text.is_empty() {
        "0".to_string()
    } else {
        text
    }
}

/// Plain decimal, rounded to `digits`, no exponent, no trailing zeros (`codec.fmt_float`).
pub fn fmt_float(value: f64, digits: usize) -> String {
    let mut out = String::with_capacity(16);
    push_float(&mut out, value, digits);
    out
}

/// `fmt_float`, appended to `out`.
pub fn push_float(out: &mut String, value: f64, digits: usize) {
    if -1e9 < value && value < 1e9 && digits <= 6 {
        if !push_fixed_away_from_ties(out, value, digits) {
            out.push_str(&strip(format!("{value:.digits$}")));
        }
        return;
    }
    out.push_str(&fmt_float_slow(value, digits));
}

fn fmt_float_slow(value: f64, digits: usize) -> String {
    assert!(
        value.is_finite(),
        "refusing to write non-finite number {value}"
    );
    let rounded: f64 = format!("{value:.digits$}")
        .parse()
        .expect("a formatted float parses");
    strip(format!("{rounded:.digits$}"))
}

/// `strip(format!("{value:.digits$}"))` without the formatter, for 1 <= digits <= 6 and
/// |value * 10**digits| < 2**40, when value * 10**digits is not within 0.001 of a tie: the
/// product's rounding error (at most 2**-13 there) then cannot move the correctly rounded
/// integer, so it is `round()` of the product. None elsewhere (the formatter decides).
#[cfg(test)]
fn fixed_away_from_ties(value: f64, digits: usize) -> Option<String> {
    let mut out = String::with_capacity(16);
    push_fixed_away_from_ties(&mut out, value, digits).then_some(out)
}

/// `fixed_away_from_ties` appended to `out`; false (nothing appended) where it has no answer.
fn push_fixed_away_from_ties(out: &mut String, value: f64, digits: usize) -> bool {
    const SCALE: [f64; 7] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];
    if digits == 0 || digits > 6 {
        return false;
    }
    let scaled = value * SCALE[digits];
    if scaled.is_nan() || scaled.abs() >= (1u64 << 40) as f64 {
        return false;
    }
    let r = scaled.round();
    if (scaled - r).abs() > 0.499 {
        return false;
    }
    let n = r.abs() as u64;
    let pow = 10u64.pow(digits as u32);
    let (int, mut frac, mut width) = (n / pow, n % pow, digits);
    if r < 0.0 && n != 0 {
        out.push('-');
    }
    push_padded(out, int, 1);
    if frac != 0 {
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        push_padded(out, frac, width);
    }
    true
}

/// Shortest repr that reads back the same float, in plain decimal form (`codec.fmt_price`).
pub fn fmt_price(value: f64) -> String {
    let mut out = String::with_capacity(16);
    push_price(&mut out, value);
    out
}

/// `fmt_price`, appended to `out`.
pub fn push_price(out: &mut String, value: f64) {
    assert!(
        value.is_finite(),
        "refusing to write non-finite price {value}"
    );
    let (digits, exp) = shortest(value);
    let mut buf = DigitBuf::new();
    let digits = buf.digits(u128::from(digits), 1);
    if value.is_sign_negative() {
        out.push('-');
    }
    let zeros = |out: &mut String, n: usize| out.extend(std::iter::repeat_n('0', n));
    if exp >= 0 {
        out.push_str(digits);
        if digits != "0" {
            zeros(out, exp as usize);
        }
    } else {
        let point = digits.len() as i64 + exp as i64;
        if point > 0 {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        } else {
            out.push_str("0.");
            zeros(out, (-point) as usize);
            out.push_str(digits);
        }
    }
}

/// ISO 8601 in exchange time with its offset, millisecond precision (`codec.fmt_timestamp`).
pub fn fmt_timestamp(ts_ms: i64) -> String {
    let mut out = String::with_capacity(29);
    push_timestamp(&mut out, ts_ms);
    out
}

/// `fmt_timestamp`, appended to `out`.
pub fn push_timestamp(out: &mut String, ts_ms: i64) {
    const EXACT_BELOW: i64 = 4_000_000_000_000;
    let (secs, ms) = if (0..EXACT_BELOW).contains(&ts_ms) {
        (ts_ms.div_euclid(1000), ts_ms.rem_euclid(1000))
    } else {
        // datetime.fromtimestamp(ts_ms / 1000): modf, microseconds rounded half even.
        let t = ts_ms as f64 / 1000.0;
        let mut int = t.trunc();
        let mut us = ((t - int) * 1e6).round_ties_even();
        if us >= 1e6 {
            us -= 1e6;
            int += 1.0;
        } else if us < 0.0 {
            us += 1e6;
            int -= 1.0;
        }
        (int as i64, (us as i64) / 1000)
    };
    let local = secs * 1000 + IST_OFFSET_MS;
    let day = local.div_euclid(DAY_MS);
    let in_day = local.rem_euclid(DAY_MS) / 1000;
    push_iso_date(out, day);
    out.push('T');
    for (i, part) in [in_day / 3600, in_day / 60 % 60, in_day % 60]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(':');
        }
        push_padded(out, part as u64, 2);
    }
    out.push('.');
    push_padded(out, ms as u64, 3);
    out.push_str("+05:30");
}

/// A list of floats as orjson writes it: `[100.05,99.5]`.
pub fn levels_json(levels: &[f64]) -> String {
    let mut out = String::new();
    push_levels_json(&mut out, levels);
    out
}

/// `levels_json`, appended to `out`.
pub fn push_levels_json(out: &mut String, levels: &[f64]) {
    out.push('[');
    for (i, &v) in levels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_float(v));
    }
    out.push(']');
}

/// One finite float in orjson's (ryu's) layout.
pub fn json_float(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let (d, exp) = shortest(v);
    let digits = d.to_string();
    let len = digits.len() as i64;
    let k = exp as i64; // value = DIGITS * 10**k
    let kk = len + k; // value = 0.DIGITS * 10**kk
    let mut out = String::new();
    if v < 0.0 {
        out.push('-');
    }
    if 0 <= k && kk <= 16 {
        out.push_str(&digits);
        out.push_str(&"0".repeat(k as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 16 {
        out.push_str(&digits[..kk as usize]);
        out.push('.');
        out.push_str(&digits[kk as usize..]);
    } else if -5 < kk && kk <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-kk) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if len > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        if kk - 1 > 0 {
            out.push('+');
        }
        out.push_str(&(kk - 1).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::iso_date;

    #[test]
    fn integers_in_decimal() {
        for v in [
            0i128,
            7,
            -7,
            10,
            -10,
            4_294_967_296,
            i64::MAX as i128,
            i64::MIN as i128,
            u64::MAX as i128,
            u64::MAX as i128 + 1,
            -(u64::MAX as i128) - 1,
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(fmt_int(v), v.to_string());
        }
    }

    #[test]
    fn floats_as_python_formats_them() {
        assert_eq!(fmt_float(1.5, 3), "1.5");
        assert_eq!(fmt_float(0.0005, 3), "0.001");
        assert_eq!(fmt_float(0.125, 2), "0.12");
        assert_eq!(fmt_float(-0.0001, 3), "0");
        assert_eq!(fmt_float(2.0, 6), "2");
        assert_eq!(fmt_float(1e16, 3), "10000000000000000");
        assert_eq!(fmt_float(10.0, 0), "1"); // Python's quirk, mirrored
    }

    #[test]
    fn prices_and_timestamps() {
        assert_eq!(fmt_price(612.0), "612");
        assert_eq!(fmt_price(612.35), "612.35");
        assert_eq!(fmt_price(1e16), "10000000000000000");
        assert_eq!(fmt_price(1.5e-5), "0.000015");
        assert_eq!(
            fmt_timestamp(1_765_254_600_250),
            "2025-12-09T10:00:00.250+05:30"
        );
        assert_eq!(fmt_timestamp(0), "1970-01-01T05:30:00.000+05:30");
    }

    #[test]
    fn digits_two_at_a_time() {
        let mut n: u128 = 0;
        let mut cases = vec![0u128, 1, 9, 10, 99, 100, 101, 999, 1000, u64::MAX as u128];
        cases.extend([u64::MAX as u128 + 1, u128::MAX]);
        for _ in 0..2000 {
            n = (n * 7 + 13) % 10u128.pow(24);
            cases.push(n);
        }
        for n in cases {
            for width in [1, 3, 6, 22] {
                assert_eq!(DigitBuf::new().digits(n, width), format!("{n:0width$}"));
            }
        }
        let mut out = Vec::new();
        push_int_bytes(&mut out, -1205);
        assert_eq!(out, b"-1205");
    }

    /// The formatter-free paths write what the formatter writes, wherever they answer.
    #[test]
    fn fixed_and_timestamps_without_the_formatter() {
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1du64);
        let mut answered = 0;
        for i in 0..300_000u64 {
            let r = next();
            let digits = [3, 6, 1, 2, 4, 5][(i % 6) as usize];
            let v = match i % 3 {
                0 => (r % 2_000_000_000) as f64 / 1000.0 - 1e6,
                1 => f64::from_bits(r) % 1e9,
                _ => (r % 1_000_000) as f64 / (1 + (r >> 44) % 1000) as f64,
            };
            if !v.is_finite() {
                continue;
            }
            if let Some(text) = fixed_away_from_ties(v, digits) {
                answered += 1;
                assert_eq!(text, strip(format!("{v:.digits$}")), "{v:e} {digits}");
            }
        }
        assert!(answered > 200_000, "{answered}");
        assert_eq!(fmt_float(0.125, 2), strip(format!("{:.2}", 0.125)));
        assert_eq!(fmt_float(-0.0004, 3), "0");
        assert_eq!(fmt_float(-1.5, 3), "-1.5");
        assert_eq!(fmt_float(1234.0, 3), "1234");
        for ts in [
            0i64,
            1_765_254_600_250,
            3_999_999_999_999,
            86_399_999,
            1_000,
        ] {
            let secs = ts / 1000;
            let local = secs * 1000 + IST_OFFSET_MS;
            let in_day = local.rem_euclid(DAY_MS) / 1000;
            let expected = format!(
                "{}T{:02}:{:02}:{:02}.{:03}+05:30",
                iso_date(local.div_euclid(DAY_MS)),
                in_day / 3600,
                in_day / 60 % 60,
                in_day % 60,
                ts % 1000
            );
            assert_eq!(fmt_timestamp(ts), expected);
        }
    }

    #[test]
    fn json_floats_as_orjson_writes_them() {
        let cases = [
            (600.0, "600.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "0.000015"),
            (1e-7, "1e-7"),
            (1.5e-6, "1.5e-6"),
            (1.2345e20, "1.2345e+20"),
            (9999999999999998.0, "9999999999999998.0"),
            (1234567890123456.8, "1234567890123456.8"),
            (-1.5, "-1.5"),
            (5e-324, "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(json_float(v), want, "{v:e}");
        }
        assert_eq!(levels_json(&[100.05, 99.5]), "[100.05,99.5]");
        assert_eq!(levels_json(&[]), "[]");
    }

    #[test]
    fn key_templates() {
        let t = KeyTemplate::parse("vol:session:{symbol}:{date}");
        assert_eq!(
            t.render("A{date}", "2025-01-06"),
            "vol:session:A{date}:2025-01-06"
        );
        assert_eq!(
            KeyTemplate::parse("ind:{symbol}").render("SBIN", "x"),
            "ind:SBIN"
        );
    }
}
