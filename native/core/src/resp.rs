//! Hash writes as RESP bytes, ready to be queued inside the flush's MULTI/EXEC.
//!
//! The Python twin is `store/resp.py`; both emit, per hash write in order, one `HSET key f v ...`
//! (split into chunks of at most `HSET_CHUNK` field/value arguments, as the Lua flush did) and,
//! when the write names absent fields, one `HDEL key f ...`. Encoding here means the worker never
//! builds a Python object per field: the drain hands Redis-ready bytes to the writer.

use crate::codec::{DigitBuf, Fields};

/// Field and value arguments per HSET (2000 pairs), so no command grows without bound.
pub const HSET_CHUNK: usize = 4000;

/// An encoded run of commands and how many replies they will produce.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub commands: usize,
}

impl Encoded {
    fn header(&mut self, args: usize) {
        self.prefixed(b'*', args);
        self.commands += 1;
    }

    /// `$len\r\n value \r\n`, the space reserved once: an argument costs a copy of its
    /// value and a few byte stores, not five capacity checks and a digit buffer.
    #[inline]
    fn arg(&mut self, value: &[u8]) {
        self.bytes.reserve(value.len() + 26);
        self.prefixed(b'$', value.len());
        self.bytes.extend_from_slice(value);
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// `{mark}{n}\r\n`. Lengths are mostly one or two digits: those take no division loop.
    #[inline]
    fn prefixed(&mut self, mark: u8, n: usize) {
        let out = &mut self.bytes;
        out.push(mark);
        if n < 10 {
            out.push(b'0' + n as u8);
        } else if n < 100 {
            out.push(b'0' + (n / 10) as u8);
            out.push(b'0' + (n % 10) as u8);
        } else {
            let mut buf = DigitBuf::new();
            out.extend_from_slice(buf.digit_bytes(n as u128, 1));
        }
        out.extend_from_slice(b"\r\n");
    }

    /// One command from its arguments.
    pub fn command(&mut self, args: &[&[u8]]) {
        self.header(args.len());
        for a in args {
            self.arg(a);
        }
    }

    /// `HSET key f v ...` (chunked) then `HDEL key absent...` when any field is absent.
    pub fn hash_write<A: AsRef<str>>(&mut self, key: &str, fields: &Fields, absent: &[A]) {
        let mut pairs = fields.iter();
        while pairs.len() > 0 {
            let chunk = pairs.len().min(HSET_CHUNK / 2);
            self.header(2 + 2 * chunk);
            self.arg(b"HSET");
            self.arg(key.as_bytes());
            for (f, v) in pairs.by_ref().take(chunk) {
                self.arg(f.as_ref().as_bytes());
                self.arg(v.as_bytes());
            }
        }
        if !absent.is_empty() {
            self.header(2 + absent.len());
            self.arg(b"HDEL");
            self.arg(key.as_bytes());
            for a in absent {
                self.arg(a.as_ref().as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_layout() {
        let mut e = Encoded::default();
        e.command(&[b"GET", b"k"]);
        assert_eq!(e.bytes, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(e.commands, 1);
    }

    #[test]
    fn hash_write_with_absent_fields() {
        let mut e = Encoded::default();
        e.hash_write("h", &Fields::from_pairs([("a", "1"), ("b", "")]), &["c"]);
        assert_eq!(
            e.bytes,
            b"*6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n\
              *3\r\n$4\r\nHDEL\r\n$1\r\nh\r\n$1\r\nc\r\n"
                .to_vec()
        );
        assert_eq!(e.commands, 2);
    }

    #[test]
    fn large_hashes_are_chunked() {
        let fields: Vec<(String, String)> = (0..4500)
            .map(|i| (i.to_string(), "v".to_string()))
            .collect();
        let mut e = Encoded::default();
        e.hash_write::<&str>("h", &Fields::from_pairs(fields), &[]);
        assert_eq!(e.commands, 3); // 2000 + 2000 + 500 pairs
        assert!(e.bytes.starts_with(b"*4002\r\n"));
    }

    #[test]
    fn lengths_are_plain_decimals() {
        for n in [0usize, 7, 9, 10, 42, 99, 100, 4002, 65_535, usize::MAX] {
            let mut e = Encoded::default();
            e.prefixed(b'$', n);
            assert_eq!(e.bytes, format!("${n}\r\n").into_bytes());
        }
        let mut e = Encoded::default();
        e.command(&[&[b'x'; 100], b""]);
        let mut expected = b"*2\r\n$100\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 100]);
        expected.extend_from_slice(b"\r\n$0\r\n\r\n");
        assert_eq!(e.bytes, expected);
    }

    #[test]
    fn utf8_lengths_are_byte_lengths() {
        let mut e = Encoded::default();
        e.command(&["é".as_bytes()]);
        assert_eq!(e.bytes, "*1\r\n$2\r\né\r\n".as_bytes());
    }
}
