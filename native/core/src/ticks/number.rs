//! Python's `int(s)` and `float(s)` on ASCII text, without allocating: which of the two accepts
//! it, and the value. Anything whose outcome could hinge on CPython details (the separator
//! characters `str.strip` removes but `int()` rejects, digit strings long enough to meet the
//! int-conversion limit) is left to the Python parser.

/// The longest (trimmed) text read natively; longer numbers go to Python, which caps int() at
/// 4300 digits and would then read the text as a float.
const MAX_LEN: usize = 100;
/// Integers saturate here: every caller only compares them with ranges far below it.
const SATURATE: i128 = 10i128.pow(30);

/// How Python reads a string as a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Lit<'a> {
    /// `int(s)` succeeds (saturated at ±1e30); `text` is `s` trimmed, for `float(s)`.
    Int { value: i128, text: &'a str },
    /// `int(s)` fails and `float(s)` gives this.
    Float(f64),
    /// Both fail with ValueError.
    Invalid,
}

/// Whitespace both int() and float() strip (ASCII only: the caller defers on other text).
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// `None`: not certain what Python does (defer).
pub(super) fn classify(s: &[u8]) -> Option<Lit<'_>> {
    debug_assert!(s.is_ascii());
    if s.iter().any(|b| (0x1c..=0x1f).contains(b)) {
        return None; // str.strip() drops these, int()/float() do not
    }
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    let t = &s[start..end];
    if t.len() > MAX_LEN {
        return None;
    }
    let text = std::str::from_utf8(t).ok()?; // ASCII, so always Ok
    let (negative, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if !body.is_empty() && body.iter().all(u8::is_ascii_digit) {
        let magnitude = body
            .iter()
            .fold(0i128, |v, d| (v * 10 + i128::from(d - b'0')).min(SATURATE));
        let value = if negative { -magnitude } else { magnitude };
        return Some(Lit::Int { value, text });
    }
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Lit::Float(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }));
    }
    if body.eq_ignore_ascii_case(b"nan") {
        return Some(Lit::Float(f64::NAN));
    }
    if is_decimal(body) {
        // Rust's parser is correctly rounded, as CPython's is.
        return text.parse::<f64>().ok().map(Lit::Float);
    }
    Some(Lit::Invalid)
}

/// `float(s)` on the text of an int literal (correctly rounded, like CPython's).
pub(super) fn int_text_as_float(text: &str) -> Option<f64> {
    text.parse::<f64>().ok()
}

/// Python's decimal float syntax without sign or underscores:
/// `(digits [. [digits]] | . digits) [(e|E) [+|-] digits]`.
fn is_decimal(b: &[u8]) -> bool {
    let mut i = 0;
    let int_digits = count_digits(b, &mut i);
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(b, &mut i);
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if count_digits(b, &mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn count_digits(b: &[u8], i: &mut usize) -> usize {
    let start = *i;
    while b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    *i - start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(value: i128, text: &str) -> Option<Lit<'_>> {
        Some(Lit::Int { value, text })
    }

    #[test]
    fn int_forms() {
        assert_eq!(classify(b"500"), int(500, "500"));
        assert_eq!(classify(b" 500 "), int(500, "500"));
        assert_eq!(classify(b"\t+0015\n\x0b\x0c\r"), int(15, "+0015"));
        assert_eq!(classify(b"-0"), int(0, "-0"));
        assert_eq!(classify(b"-12"), int(-12, "-12"));
        let big = "9".repeat(40);
        assert_eq!(classify(big.as_bytes()), int(SATURATE, &big));
    }

    #[test]
    fn float_forms() {
        for (text, value) in [
            ("500.0", 500.0),
            ("5e2", 500.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("1.e5", 1e5),
            ("-.5e-3", -0.0005),
            ("1E+5", 1e5),
            ("2450.55", 2450.55),
            ("1e400", f64::INFINITY),
            ("iNfInItY", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
        ] {
            assert_eq!(classify(text.as_bytes()), Some(Lit::Float(value)), "{text}");
        }
        assert!(matches!(classify(b"+nan"), Some(Lit::Float(x)) if x.is_nan()));
    }

    #[test]
    fn invalid_forms() {
        for text in [
            "", "  ", "abc", ".", "e5", "1e", "1e+", "5 5", "+ 5", "--5", "1_0", "15\0", "0x10",
            "1.5.5", "infinit", "nanx", "1,5",
        ] {
            assert_eq!(classify(text.as_bytes()), Some(Lit::Invalid), "{text:?}");
        }
    }

    #[test]
    fn defers_where_cpython_details_matter() {
        assert_eq!(classify(b"\x1c15"), None);
        assert_eq!(classify("1".repeat(101).as_bytes()), None);
    }
}
