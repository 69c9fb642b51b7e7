//! Redis replies (RESP2 and RESP3) read from the bytes as they came off the socket.
//!
//! A first-sight load reads a hash per symbol and day; through hiredis each field and value was
//! a Python object made only to be read once by the native core. Here the replies stay bytes:
//! `end` finds where a complete reply ends (so the shell knows when it has read them all) and
//! `parse` views one as borrowed slices. Out-of-band RESP3 pushes (client tracking, which the
//! service never turns on) are not replies: `Replies` skips them.

/// One reply, borrowing the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A simple string, and RESP3's doubles and big numbers (as their text).
    Simple(&'a [u8]),
    Error(&'a [u8]),
    /// An integer, and RESP3's booleans (1, 0).
    Int(i64),
    /// `None`: the nil bulk string (and RESP3's null). A verbatim string's text.
    Bulk(Option<&'a [u8]>),
    /// `None`: the nil array. RESP3's sets too.
    Array(Option<Vec<Frame<'a>>>),
    /// A RESP3 map, flat: key, value, key, value...
    Map(Vec<Frame<'a>>),
    /// An out-of-band RESP3 push.
    Push(Vec<Frame<'a>>),
}

/// Deeper than any reply the service reads: a hostile or corrupt stream cannot recurse far.
const MAX_DEPTH: usize = 8;

/// The line starting at `at` (without its CRLF) and where the next one starts; `None` when
/// its CRLF has not arrived yet.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let n = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..n], at + n + 2))
}

fn int(text: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("bad RESP integer {:?}", String::from_utf8_lossy(text)))
}

/// Where the reply starting at `at` ends; `Ok(None)` when it is not complete yet.
pub fn end(buf: &[u8], at: usize) -> Result<Option<usize>, String> {
    Ok(read(buf, at, 0, false)?.map(|(_, next)| next))
}

/// The complete reply starting at `at` and where the next one starts; `Ok(None)` when it is
/// not complete yet.
pub fn parse(buf: &[u8], at: usize) -> Result<Option<(Frame<'_>, usize)>, String> {
    read(buf, at, 0, true)
}

/// One reply: `keep` builds its frame (else only its end is found, and the frame is a stub).
fn read(
    buf: &[u8],
    at: usize,
    depth: usize,
    keep: bool,
) -> Result<Option<(Frame<'_>, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err("RESP reply nested too deep".to_string());
    }
    let Some((head, next)) = line(buf, at) else {
        return Ok(None);
    };
    let (&kind, rest) = head
        .split_first()
        .ok_or_else(|| "empty RESP line".to_string())?;
    match kind {
        b'+' => Ok(Some((Frame::Simple(rest), next))),
        b'-' => Ok(Some((Frame::Error(rest), next))),
        b':' => Ok(Some((Frame::Int(int(rest)?), next))),
        b'_' => Ok(Some((Frame::Bulk(None), next))),
        b',' | b'(' => Ok(Some((Frame::Simple(rest), next))),
        b'#' => match rest {
            b"t" => Ok(Some((Frame::Int(1), next))),
            b"f" => Ok(Some((Frame::Int(0), next))),
            _ => Err("bad RESP3 boolean".to_string()),
        },
        b'$' | b'=' | b'!' => {
            let n = int(rest)?;
            if n < 0 {
                return Ok(Some((Frame::Bulk(None), next)));
            }
            let stop = next + n as usize;
            if buf.len() < stop + 2 {
                return Ok(None);
            }
            if &buf[stop..stop + 2] != b"\r\n" {
                return Err("RESP bulk string without its CRLF".to_string());
            }
            let body = &buf[next..stop];
            let frame = match kind {
                b'$' => Frame::Bulk(Some(body)),
                b'!' => Frame::Error(body),
                // A verbatim string: "txt:" (its format) then the text.
                _ => Frame::Bulk(Some(body.get(4..).ok_or("short verbatim string")?)),
            };
            Ok(Some((frame, stop + 2)))
        }
        b'*' | b'~' | b'%' | b'>' => {
            let n = int(rest)?;
            if n < 0 {
                return Ok(Some((Frame::Array(None), next)));
            }
            let n = if kind == b'%' { 2 * n } else { n } as usize;
            let mut items = Vec::with_capacity(if keep { n } else { 0 });
            let mut at = next;
            for _ in 0..n {
                let Some((item, after)) = read(buf, at, depth + 1, keep)? else {
                    return Ok(None);
                };
                if keep {
                    items.push(item);
                }
                at = after;
            }
            let frame = match kind {
                b'%' => Frame::Map(items),
                b'>' => Frame::Push(items),
                _ => Frame::Array(Some(items)),
            };
            Ok(Some((frame, at)))
        }
        other => Err(format!(
            "RESP type {:?} is not read here",
            char::from(other)
        )),
    }
}

impl<'a> Frame<'a> {
    /// An HGETALL reply (a RESP2 flat array, a RESP3 map) as its (field, value) pairs:
    /// `None` when it is not bulk strings in pairs (the caller defers such a reply).
    pub fn hash_pairs(&self) -> Option<Vec<(&'a [u8], &'a [u8])>> {
        let (Frame::Array(Some(items)) | Frame::Map(items)) = self else {
            return None;
        };
        if items.len() % 2 != 0 {
            return None;
        }
        items
            .chunks(2)
            .map(|kv| match kv {
                [Frame::Bulk(Some(k)), Frame::Bulk(Some(v))] => Some((*k, *v)),
                _ => None,
            })
            .collect()
    }
}

/// Where a slice of `buf` starts and ends in it.
fn span(buf: &[u8], part: &[u8]) -> Span {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// A slice of a buffer: where it starts and ends.
pub type Span = (usize, usize);

/// One stream entry of an XREAD/XREADGROUP reply, as spans of its buffer: the id, and the
/// (field, value) pairs (`None`: the entry was trimmed while pending, its fields nil).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpans {
    pub id: Span,
    pub fields: Option<Vec<(Span, Span)>>,
}

/// The entries of an XREAD/XREADGROUP reply for one stream (a RESP2 `[[stream, entries]]`, a
/// RESP3 `{stream: entries}`, nil when none), as spans of `buf`; an error for anything else.
/// An id that is not text, or a field list of an odd length or not bulk strings, is an error
/// too: Redis never sends one.
pub fn stream_entries(buf: &[u8], frame: &Frame<'_>) -> Result<Vec<EntrySpans>, String> {
    let entries = match frame {
        Frame::Array(None) | Frame::Bulk(None) => return Ok(Vec::new()),
        Frame::Array(Some(streams)) => match streams.as_slice() {
            [Frame::Array(Some(pair))] if pair.len() == 2 => &pair[1],
            _ => return Err("not one stream's entries".to_string()),
        },
        Frame::Map(items) if items.len() == 2 => &items[1],
        _ => return Err("not one stream's entries".to_string()),
    };
    let Frame::Array(Some(entries)) = entries else {
        return Err("the stream's entries are not an array".to_string());
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let (id, fields) = match entry {
            Frame::Array(Some(e)) if e.len() == 2 => (&e[0], &e[1]),
            _ => return Err("an entry is not [id, fields]".to_string()),
        };
        let Some(id) = (match id {
            Frame::Bulk(Some(id)) => std::str::from_utf8(id).ok(),
            _ => None,
        }) else {
            return Err("an entry id is not text".to_string());
        };
        let fields = match fields {
            Frame::Array(None) | Frame::Bulk(None) => None,
            Frame::Array(Some(items)) if items.len() % 2 == 0 => Some(
                items
                    .chunks(2)
                    .map(|kv| match kv {
                        [Frame::Bulk(Some(k)), Frame::Bulk(Some(v))] => {
                            Ok((span(buf, k), span(buf, v)))
                        }
                        _ => Err("an entry's field is not a string".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => return Err("an entry's fields are not pairs".to_string()),
        };
        out.push(EntrySpans {
            id: span(buf, id.as_bytes()),
            fields,
        });
    }
    Ok(out)
}

/// Replies arriving in pieces, until `want` of them are complete.
#[derive(Debug, Default)]
pub struct Replies {
    pub buf: Vec<u8>,
    want: usize,
    /// Complete replies so far, and where the next one starts.
    done: usize,
    at: usize,
    /// The first error reply (its text), if any.
    pub error: Option<String>,
}

impl Replies {
    pub fn new(want: usize) -> Replies {
        Replies {
            want,
            ..Replies::default()
        }
    }

    /// Take more bytes; true once every reply is complete. Bytes past the last one are a
    /// protocol error: nothing else may follow on the connection.
    pub fn feed(&mut self, data: &[u8]) -> Result<bool, String> {
        self.buf.extend_from_slice(data);
        while self.done < self.want {
            let Some((frame, next)) = read(&self.buf, self.at, 0, false)? else {
                return Ok(false);
            };
            match (&self.error, frame) {
                (_, Frame::Push(_)) => {
                    self.at = next;
                    continue; // out of band: not one of the replies
                }
                (None, Frame::Error(text)) => {
                    self.error = Some(String::from_utf8_lossy(text).into_owned());
                }
                _ => {}
            }
            self.at = next;
            self.done += 1;
        }
        // A push may follow the last reply in the same read: skipped too.
        while let Some((Frame::Push(_), next)) = read(&self.buf, self.at, 0, false)? {
            self.at = next;
        }
        if self.at != self.buf.len() {
            return Err(format!(
                "{} bytes past the {} replies expected",
                self.buf.len() - self.at,
                self.want
            ));
        }
        Ok(true)
    }

    /// How many replies are expected.
    pub fn want(&self) -> usize {
        self.want
    }

    pub fn complete(&self) -> bool {
        self.done == self.want
    }

    /// Every reply, parsed (once complete).
    pub fn frames(&self) -> Result<Vec<Frame<'_>>, String> {
        let mut out = Vec::with_capacity(self.want);
        let mut at = 0;
        while out.len() < self.done {
            let (frame, next) = parse(&self.buf, at)?.ok_or("incomplete reply")?;
            if !matches!(frame, Frame::Push(_)) {
                out.push(frame);
            }
            at = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reply in `buf`, which must hold nothing else.
    fn all_frames(buf: &[u8]) -> Vec<Frame<'_>> {
        let mut at = 0;
        let mut frames = Vec::new();
        while let Some((f, next)) = parse(buf, at).unwrap() {
            frames.push(f);
            at = next;
        }
        assert_eq!(at, buf.len());
        frames
    }

    #[test]
    fn every_resp2_type() {
        let buf = b"+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n:1\r\n";
        assert_eq!(
            all_frames(buf),
            vec![
                Frame::Simple(b"OK"),
                Frame::Error(b"ERR no"),
                Frame::Int(42),
                Frame::Bulk(Some(b"abc")),
                Frame::Bulk(None),
                Frame::Array(None),
                Frame::Array(Some(vec![Frame::Bulk(Some(b"a")), Frame::Int(1)])),
            ]
        );
    }

    #[test]
    fn incomplete_until_the_last_byte() {
        let buf = b"*2\r\n$5\r\nhello\r\n$0\r\n\r\n";
        for cut in 0..buf.len() {
            assert_eq!(end(&buf[..cut], 0).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(end(buf, 0).unwrap(), Some(buf.len()));
    }

    #[test]
    fn bulk_strings_may_hold_crlf() {
        let buf = b"$4\r\na\r\nb\r\n";
        assert_eq!(
            parse(buf, 0).unwrap(),
            Some((Frame::Bulk(Some(b"a\r\nb".as_slice())), buf.len()))
        );
    }

    #[test]
    fn resp3_types() {
        let buf = b"%2\r\n$1\r\na\r\n:1\r\n+b\r\n_\r\n~1\r\n#t\r\n,1.5\r\n(12\r\n\
                    =7\r\ntxt:abc\r\n!3\r\nERR\r\n>2\r\n+x\r\n+y\r\n";
        assert_eq!(
            all_frames(buf),
            vec![
                Frame::Map(vec![
                    Frame::Bulk(Some(b"a")),
                    Frame::Int(1),
                    Frame::Simple(b"b"),
                    Frame::Bulk(None),
                ]),
                Frame::Array(Some(vec![Frame::Int(1)])),
                Frame::Simple(b"1.5"),
                Frame::Simple(b"12"),
                Frame::Bulk(Some(b"abc")),
                Frame::Error(b"ERR"),
                Frame::Push(vec![Frame::Simple(b"x"), Frame::Simple(b"y")]),
            ]
        );
        let (map, _) = parse(b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n", 0).unwrap().unwrap();
        assert_eq!(
            map.hash_pairs(),
            Some(vec![(b"k".as_slice(), b"v".as_slice())])
        );
    }

    #[test]
    fn pushes_between_replies_are_not_counted() {
        let mut r = Replies::new(2);
        assert!(r
            .feed(b">2\r\n$10\r\ninvalidate\r\n*0\r\n+OK\r\n>1\r\n+p\r\n:5\r\n")
            .unwrap());
        assert_eq!(
            r.frames().unwrap(),
            vec![Frame::Simple(b"OK"), Frame::Int(5)]
        );
        let mut trailing = Replies::new(1);
        assert!(trailing.feed(b"+OK\r\n>1\r\n+p\r\n").unwrap());
        assert_eq!(trailing.frames().unwrap(), vec![Frame::Simple(b"OK")]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(end(b"|1\r\n+a\r\n+b\r\n", 0).is_err());
        assert!(end(b"#x\r\n", 0).is_err());
        assert!(end(b"$x\r\n", 0).is_err());
        assert!(end(b"$1\r\nab\r\n", 0).is_err());
        assert!(end(b"\r\n", 0).is_err());
        let deep = "*1\r\n".repeat(20) + ":1\r\n";
        assert!(end(deep.as_bytes(), 0).is_err());
    }

    #[test]
    fn hash_pairs_of_an_hgetall() {
        let buf = b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n";
        let (frame, _) = parse(buf, 0).unwrap().unwrap();
        assert_eq!(
            frame.hash_pairs(),
            Some(vec![(b"a".as_slice(), b"1".as_slice()), (b"b", b"")])
        );
        let (odd, _) = parse(b"*1\r\n$1\r\na\r\n", 0).unwrap().unwrap();
        assert_eq!(odd.hash_pairs(), None);
        let (ints, _) = parse(b"*2\r\n:1\r\n:2\r\n", 0).unwrap().unwrap();
        assert_eq!(ints.hash_pairs(), None);
        assert_eq!(Frame::Array(Some(vec![])).hash_pairs(), Some(vec![]));
    }

    type Entry = (String, Option<Vec<(String, String)>>);

    fn entries_of(buf: &[u8]) -> Result<Vec<Entry>, String> {
        let (frame, _) = parse(buf, 0).unwrap().unwrap();
        let text = |(a, b): (usize, usize)| String::from_utf8(buf[a..b].to_vec()).unwrap();
        Ok(stream_entries(buf, &frame)?
            .into_iter()
            .map(|e| {
                let fields = e
                    .fields
                    .map(|f| f.into_iter().map(|(k, v)| (text(k), text(v))).collect());
                (text(e.id), fields)
            })
            .collect())
    }

    #[test]
    fn stream_entries_in_both_protocols() {
        let resp2 = b"*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n\
                      *2\r\n$3\r\n2-0\r\n*-1\r\n";
        let resp3 = b"%1\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n\
                      *2\r\n$3\r\n2-0\r\n_\r\n";
        let expected = vec![
            (
                "1-0".to_string(),
                Some(vec![("a".to_string(), "1".to_string())]),
            ),
            ("2-0".to_string(), None),
        ];
        assert_eq!(entries_of(resp2).unwrap(), expected);
        assert_eq!(entries_of(resp3).unwrap(), expected);
        assert_eq!(entries_of(b"*-1\r\n").unwrap(), vec![]);
        assert_eq!(entries_of(b"_\r\n").unwrap(), vec![]);
        assert!(entries_of(b":1\r\n").is_err());
        assert!(entries_of(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$1\r\n\xff\r\n*0\r\n").is_err());
        assert!(
            entries_of(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$1\r\n1\r\n*1\r\n$1\r\na\r\n").is_err()
        );
    }

    #[test]
    fn replies_fed_in_pieces() {
        let all = b"*0\r\n-ERR one\r\n$2\r\nhi\r\n-ERR two\r\n";
        for cut in 1..all.len() {
            let mut r = Replies::new(4);
            assert!(!r.feed(&all[..cut]).unwrap());
            assert!(r.feed(&all[cut..]).unwrap());
            assert_eq!(r.error.as_deref(), Some("ERR one"));
            let frames = r.frames().unwrap();
            assert_eq!(frames.len(), 4);
            assert_eq!(frames[2], Frame::Bulk(Some(b"hi")));
        }
        let mut extra = Replies::new(1);
        assert!(extra.feed(b"+OK\r\n+OK\r\n").is_err());
    }
}
