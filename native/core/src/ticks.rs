//! Tick parsing: the native twin of `ticks.py`'s `parse_entry`, for the per-tick hot path.
//!
//! One stream entry's raw field/value bytes in; a `Tick`, the Python parser's exact error
//! (reason and text), or `Defer` out. `Defer` means "not certain to match Python byte for byte"
//! (unusual number spellings, non-ASCII text, ISO forms beyond the common ones, JSON that is
//! invalid or holds escapes, surrogates or out-of-range numbers, ...): the caller then parses
//! that entry with the Python parser, which stays the reference. Every documented valid form
//! and the common invalid ones are handled here without deferring.
//!
//! The rules (README "Input: ticks on Redis Streams") in Python's order: the 8 KiB size rule
//! first, then flat fields overlaid by the `data` JSON object's (JSON keys win, empty string and
//! null are absent), then symbol, price, timestamp, the volumes (Kite legacy: `last_quantity`
//! or `average_price` make `volume` day-cumulative), `oi` and `underlying_price`. The first
//! failing field decides the error, as in Python. No allocation but the symbol on success.

mod iso;
mod json;
mod number;
mod pyrepr;
#[cfg(test)]
mod tests;

use iso::Iso;
use number::Lit;
use pyrepr::{float_repr, show_ascii, show_bool, show_int};

/// Keys plus values of one entry, `data` included.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024;
pub const MAX_SYMBOL_LENGTH: usize = 64;
/// Epoch numbers below this are seconds, others milliseconds.
pub const EPOCH_SECONDS_BELOW: i64 = 100_000_000_000;
/// The last instant whose exchange-local (IST) date is 9999-12-31.
pub const MAX_TS_MS: i64 = 253_402_280_999_999;

/// One validated tick, in the core's units; the fields of Python's `Tick`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub symbol: String,
    pub price: f64,
    /// Exchange timestamp, epoch ms (UTC instant).
    pub ts_ms: i64,
    /// Quantity traded in this tick.
    pub volume: Option<i64>,
    /// Exchange day-cumulative volume (authoritative).
    pub cumulative_volume: Option<i64>,
    pub oi: Option<i64>,
    pub underlying_price: Option<f64>,
}

/// The outcome for one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Tick(Tick),
    /// `reason` is `TickError.reason`, `error` is `str(TickError)` ("{field}: {detail}").
    Invalid {
        reason: &'static str,
        error: String,
    },
    /// Parse this entry with the Python parser.
    Defer,
}

/// The instruments master's token -> symbol map, as `parse_entry`'s `tokens` argument.
pub trait Tokens {
    fn symbol(&self, token: i64) -> Option<&str>;
    /// No master loaded (Python's `tokens` is None or empty): the error text says so.
    fn is_empty(&self) -> bool;
}

/// No master: every token is unknown.
pub struct NoTokens;

impl Tokens for NoTokens {
    fn symbol(&self, _token: i64) -> Option<&str> {
        None
    }
    fn is_empty(&self) -> bool {
        true
    }
}

impl<S: AsRef<str>> Tokens for std::collections::HashMap<i64, S> {
    fn symbol(&self, token: i64) -> Option<&str> {
        self.get(&token).map(AsRef::as_ref)
    }
    fn is_empty(&self) -> bool {
        std::collections::HashMap::is_empty(self)
    }
}

/// Parses one stream entry (field/value pairs as Redis returns them). A field repeated within
/// the entry defers when it matters (a known name, or the size check), since the Python parser
/// sees redis-py's dict, which keeps the last value.
pub fn parse_entry(fields: &[(&[u8], &[u8])]) -> Parsed {
    parse_entry_with(fields, &NoTokens, None)
}

/// `parse_entry(fields, tokens=..., entry_ms=...)`: a symbol-less tick's `instrument_token`
/// resolves through `tokens`; `entry_ms` (the entry id's time, when
/// VOLUME_TIMESTAMP_FROM_ENTRY_ID is on) dates a tick without a timestamp.
pub fn parse_entry_with(
    fields: &[(&[u8], &[u8])],
    tokens: &dyn Tokens,
    entry_ms: Option<i64>,
) -> Parsed {
    match parse(fields, tokens, entry_ms) {
        Ok(tick) => Parsed::Tick(tick),
        Err(Stop::Invalid(reason, error)) => Parsed::Invalid { reason, error },
        Err(Stop::Defer) => Parsed::Defer,
    }
}

// -- values and fields -------------------------------------------------------------------------

/// A present (non-absent) value, as the Python parser would hold it: flat fields are text,
/// JSON members are any JSON type. Text is raw bytes, read only once known to be ASCII.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Text(&'a [u8]),
    /// A JSON string's raw contents holding escapes (valid ones: the scanner checked them).
    Escaped(&'a [u8]),
    Int(i64),
    Float(f64),
    Bool(bool),
    List,
    Dict,
}

impl Value<'_> {
    /// `type(value).__name__` in Python.
    fn type_name(&self) -> &'static str {
        match self {
            Value::Text(_) | Value::Escaped(_) => "str",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::List => "list",
            Value::Dict => "dict",
        }
    }
}

const SYMBOL: usize = 0;
const TRADINGSYMBOL: usize = 1;
const PRICE: usize = 2;
const LAST_PRICE: usize = 3;
const TIMESTAMP: usize = 4;
const EXCHANGE_TIMESTAMP: usize = 5;
const VOLUME: usize = 6;
const LAST_TRADED_QUANTITY: usize = 7;
const VOLUME_TRADED: usize = 8;
const CUMULATIVE_VOLUME: usize = 9;
const OI: usize = 10;
const UNDERLYING_PRICE: usize = 11;
const LAST_QUANTITY: usize = 12;
const AVERAGE_PRICE: usize = 13;
const INSTRUMENT_TOKEN: usize = 14;
const FIELDS: usize = 15;
/// Not a field slot: the `data` key's bit in the seen-keys mask.
const DATA: usize = FIELDS;

/// Field names by slot (`data` last, never a field).
const NAMES: [&str; FIELDS + 1] = [
    "symbol",
    "tradingsymbol",
    "price",
    "last_price",
    "timestamp",
    "exchange_timestamp",
    "volume",
    "last_traded_quantity",
    "volume_traded",
    "cumulative_volume",
    "oi",
    "underlying_price",
    "last_quantity",
    "average_price",
    "instrument_token",
    "data",
];

/// The slot of a known field name, `DATA` for `data`. Per tick and per field, so it goes by
/// length first and compares at most four names.
fn slot(key: &[u8]) -> Option<usize> {
    let candidates: &[usize] = match key.len() {
        2 => &[OI],
        4 => &[DATA],
        5 => &[PRICE],
        6 => &[SYMBOL, VOLUME],
        9 => &[TIMESTAMP],
        10 => &[LAST_PRICE],
        13 => &[TRADINGSYMBOL, VOLUME_TRADED, LAST_QUANTITY, AVERAGE_PRICE],
        16 => &[UNDERLYING_PRICE, INSTRUMENT_TOKEN],
        17 => &[CUMULATIVE_VOLUME],
        18 => &[EXCHANGE_TIMESTAMP],
        20 => &[LAST_TRADED_QUANTITY],
        _ => return None,
    };
    candidates
        .iter()
        .copied()
        .find(|&at| key == NAMES[at].as_bytes())
}

type Found<'a> = [Option<Value<'a>>; FIELDS];

/// The name if present, else the alias (as `_pick`): the key reported in errors, and the value.
fn pick<'a>(d: &Found<'a>, name: usize, alias: usize) -> (&'static str, Option<Value<'a>>) {
    match d[name] {
        Some(value) => (NAMES[name], Some(value)),
        None => (NAMES[alias], d[alias]),
    }
}

// -- outcome plumbing --------------------------------------------------------------------------

enum Stop {
    Invalid(&'static str, String),
    Defer,
}

type Step<T> = Result<T, Stop>;

fn fail<T>(field: &str, reason: &'static str, detail: std::fmt::Arguments<'_>) -> Step<T> {
    Err(Stop::Invalid(reason, format!("{field}: {detail}")))
}

/// Text the native parser may read: ASCII only (other text defers: Unicode digits, spaces and
/// `repr` rules are Python's). Flat values are raw bytes, so this is also the UTF-8 check.
fn ascii(text: &[u8]) -> Step<&[u8]> {
    if text.is_ascii() {
        Ok(text)
    } else {
        Err(Stop::Defer)
    }
}

// -- the entry ---------------------------------------------------------------------------------

fn parse(entry: &[(&[u8], &[u8])], tokens: &dyn Tokens, entry_ms: Option<i64>) -> Step<Tick> {
    let mut found: Found<'_> = [None; FIELDS];
    let mut data: Option<&[u8]> = None;
    let mut seen = 0u16;
    let mut repeated = false;
    let mut size = 0usize;
    for &(key, value) in entry {
        size += key.len() + value.len();
        let Some(at) = slot(key) else { continue };
        repeated |= seen & (1 << at) != 0;
        seen |= 1 << at;
        if value.is_empty() {
            continue; // "" is absent
        }
        if at == DATA {
            data = Some(value);
        } else {
            found[at] = Some(Value::Text(value));
        }
    }
    if repeated {
        return Err(Stop::Defer);
    }
    // Before anything can fail, as in Python: an oversized entry is payload_too_large whatever
    // else is wrong with it.
    if size > MAX_PAYLOAD_BYTES {
        if has_repeated_key(entry) {
            return Err(Stop::Defer); // redis-py's dict would count each key once
        }
        return fail(
            "payload",
            "payload_too_large",
            format_args!("{size} bytes, limit {MAX_PAYLOAD_BYTES}"),
        );
    }
    if let Some(doc) = data {
        let mut from_json: [Option<Value<'_>>; FIELDS] = [None; FIELDS];
        json::read_object(doc, |key, value| {
            if let Some(at) = slot(key).filter(|&at| at != DATA) {
                // The last duplicate wins, null and "" being absent (then flat fields fill in).
                from_json[at] = value.filter(|v| *v != Value::Text(b""));
            }
        })
        .ok_or(Stop::Defer)?;
        for (slot, value) in found.iter_mut().zip(from_json) {
            if value.is_some() {
                *slot = value;
            }
        }
    }
    build(&found, tokens, entry_ms)
}

fn has_repeated_key(entry: &[(&[u8], &[u8])]) -> bool {
    entry
        .iter()
        .enumerate()
        .any(|(i, (key, _))| entry[..i].iter().any(|(k, _)| k == key))
}

/// `_build`: the fields in Python's order, so the first failing one decides the error.
fn build(d: &Found<'_>, tokens: &dyn Tokens, entry_ms: Option<i64>) -> Step<Tick> {
    let (key, raw) = pick(d, SYMBOL, TRADINGSYMBOL);
    let symbol = match (raw, d[INSTRUMENT_TOKEN]) {
        (None, Some(token)) => symbol_text(key, ascii(token_symbol(token, tokens)?.as_bytes())?)?,
        _ => symbol(key, raw)?,
    };

    let (key, raw) = pick(d, PRICE, LAST_PRICE);
    let Some(raw) = raw else {
        return fail(
            "price",
            "missing_field",
            format_args!("required (price or last_price)"),
        );
    };
    let price = positive(key, raw)?;

    let (key, raw) = pick(d, TIMESTAMP, EXCHANGE_TIMESTAMP);
    let ts_ms = match (raw, entry_ms) {
        (Some(raw), _) => timestamp(key, raw)?,
        (None, Some(ms)) => entry_time(ms)?,
        (None, None) => {
            return fail(
                "timestamp",
                "missing_field",
                format_args!("required (timestamp or exchange_timestamp)"),
            )
        }
    };

    let (volume, cumulative_volume);
    if d[LAST_QUANTITY].is_some() || d[AVERAGE_PRICE].is_some() {
        // Kite legacy: `volume` is day-cumulative unless an explicit cumulative field is there.
        let (mut key, mut raw) = pick(d, VOLUME_TRADED, CUMULATIVE_VOLUME);
        if raw.is_none() {
            (key, raw) = (NAMES[VOLUME], d[VOLUME]);
        }
        cumulative_volume = optional(raw, |v| count(key, v))?;
        let (key, raw) = pick(d, LAST_QUANTITY, LAST_TRADED_QUANTITY);
        volume = optional(raw, |v| count(key, v))?;
    } else {
        let (key, raw) = pick(d, VOLUME, LAST_TRADED_QUANTITY);
        volume = optional(raw, |v| count(key, v))?;
        let (key, raw) = pick(d, VOLUME_TRADED, CUMULATIVE_VOLUME);
        cumulative_volume = optional(raw, |v| count(key, v))?;
    }
    let oi = optional(d[OI], |v| count("oi", v))?;
    let underlying_price = optional(d[UNDERLYING_PRICE], |v| positive("underlying_price", v))?;
    Ok(Tick {
        symbol,
        price,
        ts_ms,
        volume,
        cumulative_volume,
        oi,
        underlying_price,
    })
}

/// `_token_symbol`: the master's symbol for a Kite instrument token.
fn token_symbol<'t>(raw: Value<'_>, tokens: &'t dyn Tokens) -> Step<&'t str> {
    let token = count("instrument_token", raw)?;
    match tokens.symbol(token) {
        Some(symbol) => Ok(symbol),
        None => fail(
            "instrument_token",
            "unknown_instrument",
            format_args!(
                "token {token} is not in {}",
                if tokens.is_empty() {
                    "an instruments master (none is loaded)"
                } else {
                    "the instruments master"
                }
            ),
        ),
    }
}

/// `_entry_time`: the entry id's time stands in for a missing timestamp.
fn entry_time(ms: i64) -> Step<i64> {
    if (0..=MAX_TS_MS).contains(&ms) {
        Ok(ms)
    } else {
        fail(
            "timestamp",
            "bad_timestamp",
            format_args!("entry time outside 1970..9999: {ms}"),
        )
    }
}

fn optional<T>(raw: Option<Value<'_>>, read: impl FnOnce(Value<'_>) -> Step<T>) -> Step<Option<T>> {
    raw.map(read).transpose()
}

// -- fields ------------------------------------------------------------------------------------

/// What `str.strip()` removes from ASCII text (`\x1c`..`\x1f` included, unlike int()/float()).
fn is_str_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

fn strip(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_str_space(b))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| !is_str_space(b))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

/// `_symbol`: stripped, 1..=64 characters, printable, no doubled space.
fn symbol(key: &'static str, raw: Option<Value<'_>>) -> Step<String> {
    match raw {
        None => symbol_text(key, b""),
        Some(Value::Text(text)) => symbol_text(key, ascii(text)?),
        Some(Value::Escaped(raw)) => {
            symbol_text(key, &json::unescape_ascii(raw).ok_or(Stop::Defer)?)
        }
        Some(other) => fail(
            key,
            "bad_symbol",
            format_args!("must be a string, got {}", other.type_name()),
        ),
    }
}

fn symbol_text(key: &'static str, text: &[u8]) -> Step<String> {
    let sym = strip(text);
    if sym.is_empty() {
        return fail(
            "symbol",
            "missing_field",
            format_args!("required (symbol or tradingsymbol)"),
        );
    }
    if sym.len() > MAX_SYMBOL_LENGTH {
        return fail(
            key,
            "symbol_too_long",
            format_args!("{} chars, limit {MAX_SYMBOL_LENGTH}", sym.len()),
        );
    }
    // ASCII isprintable() is 0x20..=0x7e; single spaces between words stay (Kite's index
    // names: "NIFTY 50"), the ends being stripped.
    if sym.iter().any(|&b| !(0x20..=0x7e).contains(&b)) || sym.windows(2).any(|w| w == b"  ") {
        return fail(
            key,
            "bad_symbol",
            format_args!(
                "whitespace other than single spaces, or a control character, in {}",
                show_ascii(sym)
            ),
        );
    }
    // ASCII, so this only copies.
    std::str::from_utf8(sym)
        .map(str::to_owned)
        .map_err(|_| Stop::Defer)
}

fn invalid_number<T>(key: &str, shown: &str) -> Step<T> {
    fail(key, "invalid_number", format_args!("not a number: {shown}"))
}

/// `_positive`: a price, finite and > 0.
fn positive(key: &'static str, raw: Value<'_>) -> Step<f64> {
    match raw {
        Value::Text(text) => {
            let text = ascii(text)?;
            if text.contains(&b'_') {
                return invalid_number(key, &show_ascii(text)); // float() would accept "1_0"
            }
            let value = match number::classify(text).ok_or(Stop::Defer)? {
                Lit::Int { text, .. } => number::int_text_as_float(text).ok_or(Stop::Defer)?,
                Lit::Float(value) => value,
                Lit::Invalid => return invalid_number(key, &show_ascii(text)),
            };
            checked_positive(key, value, || show_ascii(text))
        }
        Value::Float(value) => checked_positive(key, value, || float_repr(value)),
        // `n as f64` rounds to nearest, ties to even, as Python's float(int).
        Value::Int(n) => checked_positive(key, n as f64, || show_int(n)),
        Value::Bool(b) => invalid_number(key, &show_bool(b)),
        Value::Escaped(_) | Value::List | Value::Dict => Err(Stop::Defer),
    }
}

fn checked_positive(key: &str, value: f64, shown: impl FnOnce() -> String) -> Step<f64> {
    if !value.is_finite() {
        return fail(
            key,
            "non_finite",
            format_args!("must be finite, got {}", shown()),
        );
    }
    if value <= 0.0 {
        return fail(
            key,
            "non_positive",
            format_args!("must be > 0, got {}", shown()),
        );
    }
    Ok(value)
}

/// `_count`: a volume or open interest, a non-negative integer, possibly written as a float.
fn count(key: &'static str, raw: Value<'_>) -> Step<i64> {
    match raw {
        Value::Int(n) if n < 0 => fail(
            key,
            "negative_volume",
            format_args!("must be >= 0, got {}", show_int(n)),
        ),
        Value::Int(n) => Ok(n),
        Value::Text(text) => {
            let text = ascii(text)?;
            if text.contains(&b'_') {
                return invalid_number(key, &show_ascii(text));
            }
            match number::classify(text).ok_or(Stop::Defer)? {
                Lit::Int { value, .. } if value < 0 => fail(
                    key,
                    "negative_volume",
                    format_args!("must be >= 0, got {}", show_ascii(text)),
                ),
                Lit::Int { value, .. } => i64::try_from(value).or_else(|_| {
                    fail(
                        key,
                        "invalid_number",
                        format_args!("too large: {}", show_ascii(text)),
                    )
                }),
                Lit::Float(number) => integral(key, number, || show_ascii(text)),
                Lit::Invalid => invalid_number(key, &show_ascii(text)),
            }
        }
        Value::Float(number) => integral(key, number, || float_repr(number)),
        Value::Bool(b) => invalid_number(key, &show_bool(b)),
        Value::Escaped(_) | Value::List | Value::Dict => Err(Stop::Defer),
    }
}

/// `_integral` and the range check after it.
fn integral(key: &str, number: f64, shown: impl FnOnce() -> String) -> Step<i64> {
    let detail = if !number.is_finite() {
        ("non_finite", "must be finite, got ")
    } else if number < 0.0 {
        ("negative_volume", "must be >= 0, got ")
    } else if number.fract() != 0.0 {
        ("non_integer_volume", "must be a whole number, got ")
    } else if number >= 9_223_372_036_854_775_808.0 {
        ("invalid_number", "too large: ") // above 2^63 - 1
    } else {
        return Ok(number as i64); // exact: a whole number below 2^63
    };
    fail(key, detail.0, format_args!("{}{}", detail.1, shown()))
}

/// `_timestamp`: ISO 8601 text, or an epoch number (text or JSON) in seconds or milliseconds.
fn timestamp(key: &'static str, raw: Value<'_>) -> Step<i64> {
    match raw {
        Value::Text(raw) => {
            let raw = ascii(raw)?;
            let text = strip(raw);
            let shown = || show_ascii(raw);
            // Not "2025-12-22...": an epoch number (or the basic ISO form, left to Python).
            if text.get(4) != Some(&b'-') && !text.contains(&b'_') {
                match number::classify(text).ok_or(Stop::Defer)? {
                    Lit::Int { value, .. } => return epoch_int(key, value, shown),
                    Lit::Float(number) => return epoch_float(key, number, shown),
                    Lit::Invalid => {}
                }
            }
            match iso::parse(text).ok_or(Stop::Defer)? {
                Iso::Invalid => fail(
                    key,
                    "bad_timestamp",
                    format_args!("not ISO 8601 or epoch: {}", shown()),
                ),
                Iso::Ms(ms) => in_range(key, i128::from(ms), shown),
            }
        }
        Value::Int(n) => epoch_int(key, i128::from(n), || show_int(n)),
        Value::Float(number) => epoch_float(key, number, || float_repr(number)),
        Value::Bool(b) => fail(
            key,
            "bad_timestamp",
            format_args!("expected ISO 8601 or epoch number, got {}", show_bool(b)),
        ),
        Value::Escaped(_) | Value::List | Value::Dict => Err(Stop::Defer),
    }
}

/// `_epoch` for an int (|n| <= 1e30, so the product fits).
fn epoch_int(key: &str, n: i128, shown: impl FnOnce() -> String) -> Step<i64> {
    let ms = if n < i128::from(EPOCH_SECONDS_BELOW) {
        n * 1000
    } else {
        n
    };
    in_range(key, ms, shown)
}

/// `_epoch` for a float: Python's round() is round-half-even on the float `number * 1000`.
fn epoch_float(key: &str, number: f64, shown: impl FnOnce() -> String) -> Step<i64> {
    if !number.is_finite() {
        return fail(
            key,
            "bad_timestamp",
            format_args!("not a finite number: {}", shown()),
        );
    }
    let ms = if number < EPOCH_SECONDS_BELOW as f64 {
        number * 1000.0
    } else {
        number
    };
    if !ms.is_finite() {
        // Seconds below about -1.8e305 overflow: Python's round() then raises OverflowError,
        // not a TickError, so there is no Python outcome to reproduce.
        return Err(Stop::Defer);
    }
    let ms = ms.round_ties_even();
    // MAX_TS_MS is below 2^53, so the comparison is exact and the cast too.
    if (0.0..=MAX_TS_MS as f64).contains(&ms) {
        return Ok(ms as i64);
    }
    fail(
        key,
        "bad_timestamp",
        format_args!("outside 1970..9999: {}", shown()),
    )
}

fn in_range(key: &str, ms: i128, shown: impl FnOnce() -> String) -> Step<i64> {
    if (0..=i128::from(MAX_TS_MS)).contains(&ms) {
        return Ok(ms as i64);
    }
    fail(
        key,
        "bad_timestamp",
        format_args!("outside 1970..9999: {}", shown()),
    )
}
