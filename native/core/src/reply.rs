//! Redis replies (RESP2 and RESP3) read from the bytes as they came off the socket.
//!
//! A first-sight load reads a hash per symbol and day; through hiredis each field and value was
//! a Python object made only to be read once by the native core. Here the replies stay bytes:
//! `Replies` takes them as the socket hands them over and finds where each one ends, scanning
//! every byte once however a reply is cut (it resumes inside one); the replies the service
//! reads most (stream entries, HGETALL pairs, EXEC's array) are then read straight from the
//! bytes, and any other as a frame of borrowed slices (`parse`). Out-of-band RESP3 pushes
//! (client tracking, which the service never turns on) are not replies: `Replies` skips them.

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

/// The simple line starting at `at` (without its CRLF) and where the next one starts; `None`
/// when its CRLF has not arrived yet.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let mut from = 0;
    loop {
        let cr = from + rest[from..].iter().position(|&b| b == b'\r')?;
        match rest.get(cr + 1) {
            Some(b'\n') => return Some((&rest[..cr], at + cr + 2)),
            Some(_) => from = cr + 1,
            None => return None,
        }
    }
}

fn bad_int(text: &[u8]) -> String {
    format!("bad RESP integer {:?}", String::from_utf8_lossy(text))
}

/// The integer line starting at `at` (a length, a count or an integer reply: an optional
/// minus, then digits) and where the next line starts; `None` when its CRLF has not arrived.
/// Read digit by digit, overflow checked (`quick_bulk` reads most bulk lengths before this).
fn int_line(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, String> {
    let negative = buf.get(at) == Some(&b'-');
    let digits = at + usize::from(negative);
    let mut i = digits;
    let mut n: i64 = 0;
    loop {
        match buf.get(i) {
            None => return Ok(None),
            Some(&d) if d.is_ascii_digit() => {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(d - b'0')))
                    .ok_or_else(|| bad_int(&buf[at..=i]))?;
                i += 1;
            }
            Some(b'\r') if i > digits => break,
            Some(_) => {
                let stop = buf[i..]
                    .iter()
                    .position(|&b| b == b'\r')
                    .map_or(buf.len(), |p| i + p);
                return Err(bad_int(&buf[at..stop]));
            }
        }
    }
    match buf.get(i + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((if negative { -n } else { n }, i + 2))),
        Some(_) => Err(bad_int(&buf[at..=i])),
    }
}

/// The bulk string at `at`, the quick way (`$`, at most 18 digits, its body, each line's
/// CRLF): its body's start and end, and where the next element starts. `None` for anything
/// else, incomplete or not a bulk string, which `head` then reads or reports. Nearly every
/// element of the replies the service reads is one.
#[inline]
fn quick_bulk(buf: &[u8], at: usize) -> Option<(usize, usize, usize)> {
    let rest = buf.get(at..)?;
    if rest.first() != Some(&b'$') {
        return None;
    }
    let mut n = 0usize;
    let mut i = 1;
    while let Some(&d) = rest.get(i).filter(|d| d.is_ascii_digit() && i <= 18) {
        n = n * 10 + usize::from(d - b'0');
        i += 1;
    }
    if i == 1 || rest.get(i..i + 2) != Some(b"\r\n") {
        return None;
    }
    let start = at + i + 2;
    let stop = start.checked_add(n)?;
    (buf.get(stop..stop + 2) == Some(b"\r\n")).then_some((start, stop, stop + 2))
}

/// What a reply's first line says: a complete scalar, or an aggregate of so many elements
/// (`None`: nil) that follow it.
enum Head<'a> {
    Scalar(Frame<'a>),
    Aggregate(u8, Option<usize>),
}

/// The element starting at `at`: a scalar whole, an aggregate's header; and where the next
/// element starts. `Ok(None)` when it has not all arrived yet.
fn head(buf: &[u8], at: usize) -> Result<Option<(Head<'_>, usize)>, String> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let scalar = |frame, next| Ok(Some((Head::Scalar(frame), next)));
    match kind {
        b'$' | b'=' | b'!' => {
            let Some((n, next)) = int_line(buf, at + 1)? else {
                return Ok(None);
            };
            if n < 0 {
                return scalar(Frame::Bulk(None), next);
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
            scalar(frame, stop + 2)
        }
        b'*' | b'~' | b'%' | b'>' => {
            let Some((n, next)) = int_line(buf, at + 1)? else {
                return Ok(None);
            };
            let n = (n >= 0).then(|| if kind == b'%' { 2 * n } else { n } as usize);
            Ok(Some((Head::Aggregate(kind, n), next)))
        }
        b':' => Ok(int_line(buf, at + 1)?.map(|(n, next)| (Head::Scalar(Frame::Int(n)), next))),
        _ => {
            let Some((line, next)) = line(buf, at) else {
                return Ok(None);
            };
            let rest = line.get(1..).unwrap_or_default();
            match kind {
                b'+' | b',' | b'(' => scalar(Frame::Simple(rest), next),
                b'-' => scalar(Frame::Error(rest), next),
                b'_' => scalar(Frame::Bulk(None), next),
                b'#' => match rest {
                    b"t" => scalar(Frame::Int(1), next),
                    b"f" => scalar(Frame::Int(0), next),
                    _ => Err("bad RESP3 boolean".to_string()),
                },
                b'\r' => Err("empty RESP line".to_string()),
                other => Err(format!(
                    "RESP type {:?} is not read here",
                    char::from(other)
                )),
            }
        }
    }
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
    let Some((head, next)) = head(buf, at)? else {
        return Ok(None);
    };
    let (kind, n) = match head {
        Head::Scalar(frame) => return Ok(Some((frame, next))),
        Head::Aggregate(_, None) => return Ok(Some((Frame::Array(None), next))),
        Head::Aggregate(kind, Some(n)) => (kind, n),
    };
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

/// A slice of a buffer: where it starts and ends.
pub type Span = (usize, usize);

/// The entries of one stream's XREAD/XREADGROUP reply, as spans of its buffer, in three flat
/// vectors (no allocation per entry): each entry's id, and its (field, value) pairs as a range
/// of `pairs` (`None`: the entry was trimmed while pending, its fields nil).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntrySpans {
    pub ids: Vec<Span>,
    pub fields: Vec<Option<(usize, usize)>>,
    pub pairs: Vec<(Span, Span)>,
}

impl EntrySpans {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Entry `i`'s (field, value) spans; `None` when it was trimmed while pending.
    pub fn pairs_of(&self, i: usize) -> Option<&[(Span, Span)]> {
        self.fields[i].map(|(a, b)| &self.pairs[a..b])
    }
}

/// The element at `at`, which must have arrived whole.
fn element(buf: &[u8], at: usize) -> Result<(Head<'_>, usize), String> {
    head(buf, at)?.ok_or_else(|| "incomplete reply".to_string())
}

/// The entries of the XREAD/XREADGROUP reply for one stream starting at `at` (a RESP2
/// `[[stream, entries]]`, a RESP3 `{stream: entries}`, nil when none), read in one pass over
/// the bytes, without a frame per element; an error for anything else. An id that is not
/// text, or a field list of an odd length or not bulk strings, is an error too: Redis never
/// sends one.
pub fn stream_entries(buf: &[u8], at: usize) -> Result<EntrySpans, String> {
    let mut out = EntrySpans::default();
    let not_one = || "not one stream's entries".to_string();
    let at = match element(buf, at)? {
        (Head::Scalar(Frame::Bulk(None)) | Head::Aggregate(_, None), _) => return Ok(out),
        (Head::Aggregate(b'*' | b'~', Some(1)), next) => match element(buf, next)? {
            (Head::Aggregate(b'*' | b'~', Some(2)), stream) => {
                end(buf, stream)?.ok_or("incomplete reply")?
            }
            _ => return Err(not_one()),
        },
        (Head::Aggregate(b'%', Some(2)), stream) => end(buf, stream)?.ok_or("incomplete reply")?,
        _ => return Err(not_one()),
    };
    let (Head::Aggregate(b'*' | b'~', Some(n)), mut at) = element(buf, at)? else {
        return Err("the stream's entries are not an array".to_string());
    };
    out.ids.reserve(n);
    out.fields.reserve(n);
    for _ in 0..n {
        let (Head::Aggregate(b'*' | b'~', Some(2)), next) = element(buf, at)? else {
            return Err("an entry is not [id, fields]".to_string());
        };
        at = next;
        let id = bulk(buf, &mut at)
            .ok()
            .filter(|&(a, b)| std::str::from_utf8(&buf[a..b]).is_ok())
            .ok_or_else(|| "an entry id is not text".to_string())?;
        let fields = match element(buf, at)? {
            (Head::Scalar(Frame::Bulk(None)) | Head::Aggregate(_, None), next) => {
                at = next;
                None
            }
            (Head::Aggregate(b'*' | b'~', Some(count)), next) if count % 2 == 0 => {
                at = next;
                let first = out.pairs.len();
                for _ in 0..count / 2 {
                    let (k, v) = (bulk(buf, &mut at)?, bulk(buf, &mut at)?);
                    out.pairs.push((k, v));
                }
                Some((first, out.pairs.len()))
            }
            _ => return Err("an entry's fields are not pairs".to_string()),
        };
        out.ids.push(id);
        out.fields.push(fields);
    }
    Ok(out)
}

/// The bulk string at `*at`, as its span; `*at` moves past it.
fn bulk(buf: &[u8], at: &mut usize) -> Result<Span, String> {
    if let Some((start, stop, next)) = quick_bulk(buf, *at) {
        *at = next;
        return Ok((start, stop));
    }
    match element(buf, *at)? {
        (Head::Scalar(Frame::Bulk(Some(b))), next) => {
            *at = next;
            Ok((next - 2 - b.len(), next - 2))
        }
        _ => Err("an entry's field is not a string".to_string()),
    }
}

/// Replies arriving in pieces, until `want` of them are complete.
///
/// Each byte is scanned once however the replies are cut: the scan resumes inside a reply not
/// complete yet (an XREADGROUP reply of 500 entries spans several socket reads) instead of
/// starting it over.
#[derive(Debug, Default)]
pub struct Replies {
    pub buf: Vec<u8>,
    want: usize,
    /// Complete replies so far, and where the next one starts.
    done: usize,
    at: usize,
    /// Within the reply at `at`: where its next element starts, the elements each of its open
    /// aggregates still needs (outermost first), and the reply's own type byte.
    cursor: usize,
    open: Vec<usize>,
    kind: u8,
    /// Where the last complete reply starts (`exec_summary` reads it).
    last: usize,
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
            if self.open.len() > MAX_DEPTH {
                return Err("RESP reply nested too deep".to_string());
            }
            let top = self.open.is_empty();
            if let Some((.., next)) = quick_bulk(&self.buf, self.cursor) {
                if top {
                    self.kind = b'$';
                }
                self.cursor = next;
            } else {
                let Some((head, next)) = head(&self.buf, self.cursor)? else {
                    return Ok(false);
                };
                if top {
                    self.kind = self.buf[self.cursor];
                }
                self.cursor = next;
                match head {
                    Head::Aggregate(_, Some(n)) if n > 0 => {
                        self.open.push(n);
                        continue;
                    }
                    Head::Scalar(Frame::Error(text)) if top && self.error.is_none() => {
                        self.error = Some(String::from_utf8_lossy(text).into_owned());
                    }
                    _ => {}
                }
            }
            // An element is complete, and with it every aggregate it was the last of.
            while let Some(left) = self.open.last_mut() {
                *left -= 1;
                if *left > 0 {
                    break;
                }
                self.open.pop();
            }
            if self.open.is_empty() {
                if self.kind != b'>' {
                    self.done += 1; // an out-of-band push is not one of the replies
                    self.last = self.at;
                }
                self.at = self.cursor;
            }
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

    /// Where the one reply expected starts (past any out-of-band push before it), once it
    /// is complete.
    pub fn single(&self) -> Result<usize, String> {
        if !self.complete() {
            return Err("the replies are not complete".to_string());
        }
        if self.want != 1 {
            return Err("not one reply".to_string());
        }
        past_pushes(&self.buf, 0)
    }

    /// The last reply read as a transaction's EXEC reply, without a frame per element:
    /// `None` when it is nil (the transaction was aborted, a WATCHed key moved); else how many
    /// replies its array holds, the first error among them (its text), and the sum of the
    /// last `tail` of them, which must be integers (a flush's XACKs: how many were acked).
    #[allow(clippy::type_complexity)]
    pub fn exec_summary(
        &self,
        tail: usize,
    ) -> Result<Option<(usize, Option<String>, i64)>, String> {
        if !self.complete() || self.want == 0 {
            return Err("the replies are not complete".to_string());
        }
        let buf = &self.buf[..];
        let (n, mut at) = match element(buf, self.last)? {
            (Head::Scalar(Frame::Bulk(None)) | Head::Aggregate(_, None), _) => return Ok(None),
            (Head::Aggregate(b'*', Some(n)), at) => (n, at),
            _ => return Err("EXEC's reply is not an array".to_string()),
        };
        let mut error = None;
        let mut acked: i64 = 0;
        for i in 0..n {
            let counted = i + tail >= n;
            let (item, next) = read(buf, at, 1, false)?.ok_or("incomplete reply")?;
            match item {
                Frame::Error(text) if error.is_none() => {
                    error = Some(String::from_utf8_lossy(text).into_owned());
                }
                Frame::Error(_) => {}
                Frame::Int(v) if counted => acked = acked.saturating_add(v),
                _ if counted => return Err(format!("EXEC's reply {i} is not an integer")),
                _ => {}
            }
            at = next;
        }
        Ok(Some((n, error, acked)))
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

    /// Every reply as an HGETALL's (field, value) pairs (`Frame::hash_pairs`: `None` for a
    /// reply that is not bulk strings in pairs), read straight from the bytes where it is,
    /// without a frame per element (once complete).
    #[allow(clippy::type_complexity)]
    pub fn hash_pairs(&self) -> Result<Vec<Option<Vec<(&[u8], &[u8])>>>, String> {
        if !self.complete() {
            return Err("the replies are not complete".to_string());
        }
        let buf = &self.buf[..];
        let mut out = Vec::with_capacity(self.want);
        let mut at = 0;
        while out.len() < self.done {
            at = past_pushes(buf, at)?;
            if let (Head::Aggregate(b'*' | b'~' | b'%', Some(n)), first) = element(buf, at)? {
                if let Some((pairs, next)) = quick_pairs(buf, first, n) {
                    out.push(Some(pairs));
                    at = next;
                    continue;
                }
            }
            // Anything else the general way: a frame, then its pairs if it has them.
            let (frame, next) = parse(buf, at)?.ok_or("incomplete reply")?;
            out.push(frame.hash_pairs());
            at = next;
        }
        Ok(out)
    }
}

/// Where the first reply at or after `at` starts: past any out-of-band pushes, complete.
fn past_pushes(buf: &[u8], mut at: usize) -> Result<usize, String> {
    while buf.get(at) == Some(&b'>') {
        at = end(buf, at)?.ok_or("incomplete reply")?;
    }
    Ok(at)
}

/// `n` elements from `at`, every one a bulk string read the quick way, as (field, value)
/// pairs, and where they end; `None` if any is not, or `n` is odd.
#[allow(clippy::type_complexity)]
fn quick_pairs(buf: &[u8], mut at: usize, n: usize) -> Option<(Vec<(&[u8], &[u8])>, usize)> {
    if !n.is_multiple_of(2) {
        return None;
    }
    let mut pairs = Vec::with_capacity(n / 2);
    for _ in 0..n / 2 {
        let (ka, kb, after) = quick_bulk(buf, at)?;
        let (va, vb, after) = quick_bulk(buf, after)?;
        pairs.push((&buf[ka..kb], &buf[va..vb]));
        at = after;
    }
    Some((pairs, at))
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
        let text = |(a, b): (usize, usize)| String::from_utf8(buf[a..b].to_vec()).unwrap();
        let spans = stream_entries(buf, 0)?;
        Ok((0..spans.len())
            .map(|i| {
                let fields = spans
                    .pairs_of(i)
                    .map(|f| f.iter().map(|&(k, v)| (text(k), text(v))).collect());
                (text(spans.ids[i]), fields)
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
    fn nested_replies_fed_byte_by_byte_read_as_whole() {
        let all = b">1\r\n+p\r\n*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n\
                    *2\r\n$3\r\n2-0\r\n*-1\r\n-ERR x\r\n%1\r\n*0\r\n~1\r\n:-7\r\n";
        let mut whole = Replies::new(3);
        assert!(whole.feed(all).unwrap());
        let mut bytes = Replies::new(3);
        for (i, b) in all.iter().enumerate() {
            assert_eq!(bytes.feed(&[*b]).unwrap(), i + 1 == all.len(), "byte {i}");
        }
        for cut in 1..all.len() {
            let mut two = Replies::new(3);
            assert!(!two.feed(&all[..cut]).unwrap());
            assert!(two.feed(&all[cut..]).unwrap());
            assert_eq!(
                two.frames().unwrap(),
                whole.frames().unwrap(),
                "cut at {cut}"
            );
        }
        assert_eq!(bytes.frames().unwrap(), whole.frames().unwrap());
        assert_eq!(bytes.error.as_deref(), Some("ERR x"));
        let frames = whole.frames().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames[2],
            Frame::Map(vec![
                Frame::Array(Some(vec![])),
                Frame::Array(Some(vec![Frame::Int(-7)]))
            ])
        );
        let mut deep = Replies::new(1);
        assert!(deep
            .feed(("*1\r\n".repeat(20) + ":1\r\n").as_bytes())
            .is_err());
    }

    #[test]
    fn integers_are_digits_after_an_optional_minus() {
        assert_eq!(parse(b":-12\r\n", 0).unwrap(), Some((Frame::Int(-12), 6)));
        assert_eq!(parse(b":0\r\n", 0).unwrap(), Some((Frame::Int(0), 4)));
        assert_eq!(
            parse(b":9223372036854775807\r\n", 0).unwrap(),
            Some((Frame::Int(i64::MAX), 22))
        );
        for bad in [
            &b":\r\n"[..],
            b":-\r\n",
            b":+1\r\n",
            b":1x\r\n",
            b":1\rx",
            b":9223372036854775808\r\n",
            b"$\r\n",
            b"*1 \r\n",
        ] {
            let err = parse(bad, 0).unwrap_err();
            assert!(err.starts_with("bad RESP integer"), "{err}");
        }
        assert_eq!(parse(b":12", 0).unwrap(), None);
        assert_eq!(parse(b":12\r", 0).unwrap(), None);
        assert_eq!(parse(b"$-1\r\n", 0).unwrap(), Some((Frame::Bulk(None), 5)));
        // Bulk lengths, the quick way and past it.
        let mut empty = Replies::new(1);
        assert!(empty.feed(b"$0\r\n\r\n").unwrap());
        assert_eq!(empty.frames().unwrap(), vec![Frame::Bulk(Some(b""))]);
        let mut huge = Replies::new(1);
        assert!(!huge.feed(b"$999999999999999999\r\nab").unwrap());
        let mut overflow = Replies::new(1);
        assert!(overflow.feed(b"$99999999999999999999\r\nab").is_err());
        assert!(Replies::new(1).feed(b"$2\r\nabc\r\n").is_err());
    }

    #[test]
    fn one_reply_past_a_push_and_its_entries() {
        let mut r = Replies::new(1);
        let reply =
            b"*1\r\n*2\r\n$1\r\ns\r\n~1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n";
        assert!(!r.feed(b">1\r\n+p\r\n").unwrap());
        assert_eq!(r.single(), Err("the replies are not complete".to_string()));
        assert!(r.feed(reply).unwrap());
        let at = r.single().unwrap();
        assert_eq!(at, 8);
        let spans = stream_entries(&r.buf, at).unwrap();
        assert_eq!(spans.len(), 1);
        let [((ka, kb), (va, vb))] = spans.pairs_of(0).unwrap() else {
            panic!("one pair")
        };
        assert_eq!(
            (&r.buf[*ka..*kb], &r.buf[*va..*vb]),
            (&b"a"[..], &b"bc"[..])
        );
        let mut two = Replies::new(2);
        assert!(two.feed(b"+OK\r\n+OK\r\n").unwrap());
        assert_eq!(two.single(), Err("not one reply".to_string()));
        // An entry's fields as a map, or an id that is a number: not what Redis sends.
        assert!(entries_of(
            b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$1\r\n1\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n"
        )
        .is_err());
        assert!(entries_of(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n:1\r\n*0\r\n").is_err());
        assert!(entries_of(b"*2\r\n*2\r\n$1\r\ns\r\n*0\r\n*2\r\n$1\r\nt\r\n*0\r\n").is_err());
    }

    #[test]
    fn hash_pairs_read_straight_agree_with_frames() {
        let all = b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n>1\r\n+p\r\n*0\r\n\
                    %1\r\n$1\r\nk\r\n$2\r\nvv\r\n*2\r\n$1\r\na\r\n:1\r\n*1\r\n$1\r\na\r\n\
                    -ERR x\r\n$-1\r\n*2\r\n$1\r\nk\r\n+v\r\n";
        let mut r = Replies::new(8);
        assert!(r.feed(all).unwrap());
        let frames = r.frames().unwrap();
        let expected: Vec<_> = frames.iter().map(Frame::hash_pairs).collect();
        assert_eq!(r.hash_pairs().unwrap(), expected);
        assert_eq!(
            expected[..3],
            [
                Some(vec![(&b"a"[..], &b"1"[..]), (b"b", b"")]),
                Some(vec![]),
                Some(vec![(&b"k"[..], &b"vv"[..])])
            ]
        );
        assert!(expected[3..].iter().all(Option::is_none));
    }

    #[test]
    fn an_exec_reply_summed_up() {
        let flush = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:3\r\n:1\r\n:1\r\n";
        let mut r = Replies::new(5);
        assert!(r.feed(flush).unwrap());
        assert_eq!(r.exec_summary(2).unwrap(), Some((3, None, 2)));
        assert_eq!(r.exec_summary(0).unwrap(), Some((3, None, 0)));
        let mut aborted = Replies::new(3);
        assert!(aborted.feed(b"+OK\r\n+QUEUED\r\n*-1\r\n").unwrap());
        assert_eq!(aborted.exec_summary(1).unwrap(), None);
        let mut resp3 = Replies::new(3);
        assert!(resp3.feed(b"+OK\r\n+QUEUED\r\n_\r\n").unwrap());
        assert_eq!(resp3.exec_summary(1).unwrap(), None);
        // A command failing inside EXEC: its error, the others' replies still there.
        let mut failed = Replies::new(4);
        assert!(failed
            .feed(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-WRONGTYPE no\r\n:1\r\n")
            .unwrap());
        assert_eq!(
            failed.exec_summary(1).unwrap(),
            Some((2, Some("WRONGTYPE no".to_string()), 1))
        );
        // Nested replies are stepped over; a tail that is not integers is an error.
        let mut nested = Replies::new(3);
        assert!(nested
            .feed(b"+OK\r\n+QUEUED\r\n>1\r\n+p\r\n*2\r\n*2\r\n$1\r\na\r\n:1\r\n:4\r\n")
            .unwrap());
        assert_eq!(nested.exec_summary(1).unwrap(), Some((2, None, 4)));
        assert!(nested.exec_summary(2).is_err());
        let mut not_exec = Replies::new(1);
        assert!(not_exec.feed(b"$1\r\na\r\n").unwrap());
        assert!(not_exec.exec_summary(0).is_err());
        assert!(Replies::new(1).exec_summary(0).is_err());
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
