//! The error texts quote values as Python's `_show` does (`repr`, cut at 40 characters), so a
//! native dead letter reads exactly like one from the Python parser. Only ASCII strings are
//! quoted here: the parser defers anything else, whose `repr` depends on Unicode tables.

use std::fmt::Write;

const SHOW_LIMIT: usize = 40;

/// `_show(s)` for an ASCII string: `repr(s)`, cut to 37 characters plus "..." past 40.
pub(super) fn show_ascii(s: &[u8]) -> String {
    debug_assert!(s.is_ascii());
    // repr picks double quotes only when the text holds a single quote and no double quote.
    let quote = if s.contains(&b'\'') && !s.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut text = String::with_capacity(s.len() + 2);
    text.push(quote as char);
    for &b in s {
        match b {
            b'\\' => text.push_str("\\\\"),
            b'\t' => text.push_str("\\t"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            _ if b == quote => {
                text.push('\\');
                text.push(b as char);
            }
            0x20..=0x7e => text.push(b as char),
            _ => {
                let _ = write!(text, "\\x{b:02x}");
            }
        }
    }
    text.push(quote as char);
    cut(text)
}

/// `_show(n)` for an int (never longer than the limit).
pub(super) fn show_int(n: i64) -> String {
    n.to_string()
}

/// `_show(b)` for a bool.
pub(super) fn show_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_owned()
}

/// `repr(x)` for a float: the shortest round-tripping digits (Rust and Python agree on them),
/// laid out as Python does: positional when the decimal exponent is in -4..16, else
/// scientific with a signed, at least two-digit exponent ("1e+16", "1.5e-05").
pub(super) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    let sci = shortest_digits(x.abs()); // "d[.ddd]e[-]x"
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp always writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes a decimal exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    let point = exp + 1; // value = 0.DIGITS * 10^point
    if -4 < point && point <= 16 {
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= n {
            format!("{sign}{digits}{}.0", "0".repeat((point - n) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.abs())
    }
}

/// Python's repr digits (David Gay's shortest, closest, ties to even). Rust's shortest form
/// has the same length but may break a tie upwards (253402281000000.125 gives ...0.13, Python
/// ...0.12), so the closest decimal of that length (exact formatting, ties to even) is taken
/// whenever it reads back as the same double.
fn shortest_digits(a: f64) -> String {
    let shortest = format!("{a:e}");
    let point = usize::from(shortest.contains('.'));
    let digits = shortest.find('e').expect("LowerExp writes an exponent") - point;
    let closest = format!("{a:.*e}", digits - 1);
    if closest.parse::<f64>() == Ok(a) {
        closest
    } else {
        shortest
    }
}

fn cut(mut text: String) -> String {
    if text.len() > SHOW_LIMIT {
        text.truncate(SHOW_LIMIT - 3);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-2450.55, "-2450.55"),
            (500.5, "500.5"),
            (1e22, "1e+22"),
            (-1.5e-7, "-1.5e-07"),
            (253402281000000.12, "253402281000000.12"), // a tie: .125 exactly
            (0.3, "0.3"),
            (2.5, "2.5"),
            (1e23, "1e+23"),
            (9007199254740993.0, "9007199254740992.0"),
            (f64::INFINITY, "inf"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn string_repr_matches_python() {
        assert_eq!(show_ascii(b"abc"), "'abc'");
        assert_eq!(show_ascii(b"it's"), "\"it's\"");
        assert_eq!(show_ascii(b"'\""), "'\\'\"'");
        assert_eq!(
            show_ascii(b"a\\b\t\n\r\x00\x7f\x1f"),
            "'a\\\\b\\t\\n\\r\\x00\\x7f\\x1f'"
        );
        assert_eq!(show_ascii(b" 5 "), "' 5 '");
        let long = [b'x'; 41];
        assert_eq!(show_ascii(&long), format!("'{}...", "x".repeat(36)));
        assert_eq!(show_ascii(&long[..38]), format!("'{}'", "x".repeat(38)));
    }
}
