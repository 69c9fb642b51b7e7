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
        return parse_f64(text).map(Lit::Float);
    }
    Some(Lit::Invalid)
}

/// `float(s)` on the text of an int literal (correctly rounded, like CPython's).
pub(super) fn int_text_as_float(text: &str) -> Option<f64> {
    parse_f64(text)
}

/// Powers of ten a double holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal (`[+-]digits[.digits][(e|E)[+-]digits]`, already validated) as the correctly
/// rounded double, like CPython's float(). Prices have few digits, so Clinger's fast path
/// (at most 15 significant digits and |exponent| <= 22: one exact operand, one IEEE operation,
/// one rounding) takes nearly all of them; Rust's correctly rounded parser takes the rest.
pub(super) fn parse_f64(text: &str) -> Option<f64> {
    fast_f64(text.as_bytes()).or_else(|| text.parse().ok())
}

fn fast_f64(b: &[u8]) -> Option<f64> {
    let (negative, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let (mut mantissa, mut digits, mut exp10) = (0u64, 0u32, 0i32);
    let mut fraction = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                    if digits > 15 {
                        return None;
                    }
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                }
                exp10 -= i32::from(fraction);
            }
            b'.' => fraction = true,
            _ => break,
        }
        i += 1;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let exponent = std::str::from_utf8(&b[i + 1..]).ok()?;
        if exponent.len() > 5 {
            return None;
        }
        exp10 += exponent.parse::<i32>().ok()?;
    } else if i != b.len() {
        return None;
    }
    let magnitude = if mantissa == 0 {
        0.0
    } else if (0..=22).contains(&exp10) {
        mantissa as f64 * POW10[exp10 as usize]
    } else if (-22..0).contains(&exp10) {
        mantissa as f64 / POW10[(-exp10) as usize]
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
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
    fn fast_path_is_correctly_rounded() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = state % 10u64.pow((state >> 60) as u32 % 16 + 1);
            let point = (state >> 40) as usize % 18;
            let digits = mantissa.to_string();
            let text = if point < digits.len() {
                format!(
                    "{}.{}",
                    &digits[..digits.len() - point],
                    &digits[digits.len() - point..]
                )
            } else {
                format!("0.{}{digits}", "0".repeat(point - digits.len()))
            };
            let exp = (state >> 20) as i32 % 30 - 15;
            for text in [
                text.clone(),
                format!("-{text}e{exp}"),
                format!("{text}E+{}", exp.abs()),
            ] {
                let want: f64 = text.parse().unwrap();
                assert_eq!(
                    parse_f64(&text).map(f64::to_bits),
                    Some(want.to_bits()),
                    "{text}"
                );
            }
        }
        assert_eq!(
            parse_f64("-0.0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_f64("1234567890123456.5"), Some(1234567890123456.5));
        assert_eq!(parse_f64("1e-400"), Some(0.0));
        assert_eq!(parse_f64("1e400"), Some(f64::INFINITY));
        assert_eq!(parse_f64(".5"), Some(0.5));
        assert_eq!(parse_f64("5."), Some(5.0));
    }

    #[test]
    fn defers_where_cpython_details_matter() {
        assert_eq!(classify(b"\x1c15"), None);
        assert_eq!(classify("1".repeat(101).as_bytes()), None);
    }
}
