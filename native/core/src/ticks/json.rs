//! The `data` field: one strict pass over the JSON text that validates all of it (orjson
//! rejects the whole entry for a flaw anywhere) and hands back the top-level members, values
//! borrowed from the input, nested values skipped. It is at least as strict as orjson: any
//! text it does not accept (including everything orjson rejects, with orjson's own error
//! messages) goes to the Python parser, so it never needs to reproduce an error.

use super::Value;

/// Bytes that end a run of plain string contents.
static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 256 {
        stops[b] = b < 0x20 || b >= 0x80 || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    stops
};

/// Nesting deeper than this is left to Python (orjson allows 1024).
const MAX_DEPTH: u32 = 128;
/// A number literal this long might overflow to infinity, which orjson rejects.
const SHORT_NUMBER: usize = 300;

/// Calls `member(key, value)` for each top-level member in order (`None` is JSON null; a later
/// duplicate key overrides an earlier one, as in orjson's dict). `None` from this function:
/// not an object orjson certainly reads the same way (the caller defers).
pub(super) fn read_object<'a>(
    doc: &'a [u8],
    mut member: impl FnMut(&'a [u8], Option<Value<'a>>),
) -> Option<()> {
    // UTF-8 is checked per string (only strings may hold non-ASCII bytes; elsewhere any is a
    // syntax error), which spares a pass over the whole text.
    let mut s = Scanner { b: doc, i: 0 };
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if !s.try_eat(b'}') {
        loop {
            let (key, escaped) = s.string()?;
            if escaped {
                return None; // the decoded key might be a known name
            }
            s.ws();
            s.eat(b':')?;
            s.ws();
            let value = s.member_value()?;
            member(key, value);
            s.ws();
            if s.try_eat(b',') {
                s.ws();
                continue;
            }
            s.eat(b'}')?;
            break;
        }
    }
    s.ws();
    (s.i == doc.len()).then_some(())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        // Compact JSON (what crawlers send) has none: one comparison then.
        if self.b.get(self.i).is_some_and(|&b| b > b' ') {
            return;
        }
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn try_eat(&mut self, byte: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&byte);
        self.i += usize::from(hit);
        hit
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.try_eat(byte).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A top-level member's value: scalars read, containers validated and skipped.
    fn member_value(&mut self) -> Option<Option<Value<'a>>> {
        Some(Some(match *self.b.get(self.i)? {
            b'"' => match self.string()? {
                (text, false) => Value::Text(text),
                (text, true) => Value::Escaped(text),
            },
            b'{' => {
                self.skip(0)?;
                Value::Dict
            }
            b'[' => {
                self.skip(0)?;
                Value::List
            }
            b't' => {
                self.literal(b"true")?;
                Value::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Value::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                return Some(None);
            }
            _ => {
                let (text, integer) = self.number()?;
                // Validated ASCII, so from_utf8 cannot fail; integers beyond i64 are for Python
                // (orjson gives an int up to 2^64-1 and a float beyond).
                let text = std::str::from_utf8(text).ok()?;
                if integer {
                    Value::Int(text.parse().ok()?)
                } else {
                    Value::Float(finite(text)?)
                }
            }
        }))
    }

    /// Validates one value of any kind and steps over it.
    fn skip(&mut self, depth: u32) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let close = if self.b[self.i] == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.try_eat(close) {
                    return Some(());
                }
                loop {
                    if close == b'}' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip(depth + 1)?;
                    self.ws();
                    if self.try_eat(b',') {
                        self.ws();
                        continue;
                    }
                    return self.eat(close);
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => {
                let (text, integer) = self.number()?;
                if text.len() > SHORT_NUMBER || (!integer && text.iter().any(|&b| b | 0x20 == b'e'))
                {
                    finite(std::str::from_utf8(text).ok()?)?;
                }
                Some(())
            }
        }
    }

    /// A string at the cursor: its raw contents and whether they hold escapes.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            // Plain bytes in a tight loop; only quotes, escapes, controls and non-ASCII stop it.
            // (A local index: the loop then keeps it in a register.)
            let rest = &self.b[self.i..];
            self.i += rest
                .iter()
                .position(|&b| STOPS[usize::from(b)])
                .unwrap_or(rest.len());
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match *self.b.get(self.i)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            let unit = hex.iter().fold(0u32, |v, &h| v * 16 + hex_value(h));
                            if (0xd800..0xe000).contains(&unit) {
                                return None; // surrogates: orjson's pairing rules are its own
                            }
                            self.i += 4;
                        }
                        _ => return None,
                    }
                }
                0x80.. => ascii = false,
                _ => return None, // a control character
            }
            self.i += 1;
        }
        let text = &self.b[start..self.i];
        if !ascii {
            std::str::from_utf8(text).ok()?; // orjson rejects invalid UTF-8 anywhere
        }
        self.i += 1;
        Some((text, escaped))
    }

    /// A number literal (RFC 8259 grammar): its text and whether it is an integer.
    fn number(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.i;
        self.try_eat(b'-');
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut integer = true;
        if self.try_eat(b'.') {
            integer = false;
            self.digits1()?;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            integer = false;
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits1()?;
        }
        Some((&self.b[start..self.i], integer))
    }

    fn digits(&mut self) {
        let rest = &self.b[self.i..];
        self.i += rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
    }

    fn digits1(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }
}

/// The text of a validated string's raw contents when it is all ASCII; `None` otherwise (a
/// `\u` escape above U+007F, whose text the caller leaves to Python).
pub(super) fn unescape_ascii(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escape = raw[i];
        i += 1;
        out.push(match escape {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = raw[i..i + 4]
                    .iter()
                    .fold(0u32, |v, &h| v * 16 + hex_value(h));
                i += 4;
                u8::try_from(unit).ok().filter(u8::is_ascii)?
            }
            other => other, // '"', '\\', '/'
        });
    }
    out.is_ascii().then_some(out)
}

fn hex_value(h: u8) -> u32 {
    u32::from(match h {
        b'0'..=b'9' => h - b'0',
        _ => (h | 0x20) - b'a' + 10,
    })
}

/// A float literal's value; `None` when infinite (orjson rejects those).
fn finite(text: &str) -> Option<f64> {
    super::number::parse_f64(text).filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(doc: &str) -> Option<Vec<(String, Option<Value<'_>>)>> {
        let mut out = Vec::new();
        read_object(doc.as_bytes(), |k, v| {
            out.push((String::from_utf8(k.to_vec()).unwrap(), v))
        })?;
        Some(out)
    }

    #[test]
    fn reads_top_level_members() {
        let got = members(
            r#" {"a": "x", "b": 1, "c": -0, "d": 2.5, "e": true, "f": false, "g": null,
                "h": [1, {"x": [null, "y"]}], "i": {}, "j": "\n\u0041", "k": 1e2, "l": -0.0} "#,
        )
        .unwrap();
        let want = vec![
            ("a", Some(Value::Text(b"x"))),
            ("b", Some(Value::Int(1))),
            ("c", Some(Value::Int(0))),
            ("d", Some(Value::Float(2.5))),
            ("e", Some(Value::Bool(true))),
            ("f", Some(Value::Bool(false))),
            ("g", None),
            ("h", Some(Value::List)),
            ("i", Some(Value::Dict)),
            ("j", Some(Value::Escaped(b"\\n\\u0041"))),
            ("k", Some(Value::Float(100.0))),
            ("l", Some(Value::Float(-0.0))),
        ];
        let got: Vec<_> = got.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(got, want);
        assert_eq!(members("{}").unwrap(), vec![]);
        assert_eq!(members("{ }\n").unwrap(), vec![]);
    }

    #[test]
    fn unescapes_ascii_strings() {
        let text = br#"a\"b\\c\/\b\f\n\r\t\u0041\u007f"#;
        assert_eq!(
            unescape_ascii(text).unwrap(),
            b"a\"b\\c/\x08\x0c\n\r\tA\x7f"
        );
        assert_eq!(unescape_ascii(br"\u0080"), None);
        assert_eq!(unescape_ascii("\u{e9}".as_bytes()), None);
    }

    #[test]
    fn defers_what_it_does_not_accept() {
        for doc in [
            "",
            "{",
            "[1]",
            "\"x\"",
            "1",
            "{} x",
            "{\"a\":1,}",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":NaN}",
            "{\"a\":Infinity}",
            "{\"a\":1e400}",
            "{\"a\":[1e400]}",
            "{\"a\":9223372036854775808}",
            "{\"a\":-9223372036854775809}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"\\u0061\":1}",
            "\u{feff}{}",
            "{\"a\":[1,]}",
            "{\"a\":{\"b\"}}",
            "{\"a\":tru}",
            "{\"a\" 1}",
            "{\"a\":1}\u{0}",
            "{}\u{c}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"x}",
        ] {
            assert!(members(doc).is_none(), "{doc:?}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(129), "]".repeat(129));
        assert!(members(&deep).is_none());
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(128), "]".repeat(128));
        assert!(members(&fine).is_some());
        assert!(read_object(b"{\"a\":\"\xff\"}", |_, _| {}).is_none());
        let long = format!("{{\"a\":[1{}]}}", "0".repeat(400));
        assert!(members(&long).is_none());
    }
}
