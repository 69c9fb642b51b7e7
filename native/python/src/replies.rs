//! `RawReplies`: a batch of Redis replies kept as the bytes that came off the socket, for the
//! native core to read without a Python object per field (`volume_core::reply`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use volume_core::reply::{stream_entries, EntrySpans, Frame, Replies};

/// The next `count` replies on a connection, as bytes: fed by the shell until complete.
#[pyclass(module = "shared_core.volume_files._native")]
pub struct RawReplies {
    pub inner: Replies,
}

impl RawReplies {
    /// Each reply as an HGETALL's (field, value) pairs, borrowing the bytes (`None`: not
    /// such a reply, deferred by the caller).
    #[allow(clippy::type_complexity)]
    pub fn hash_pairs(&self) -> PyResult<Vec<Option<Vec<(&[u8], &[u8])>>>> {
        self.inner.hash_pairs().map_err(PyValueError::new_err)
    }

    /// Every reply, parsed, borrowing the bytes.
    pub fn frames(&self) -> PyResult<Vec<Frame<'_>>> {
        if !self.inner.complete() {
            return Err(PyValueError::new_err("the replies are not complete"));
        }
        self.inner.frames().map_err(PyValueError::new_err)
    }
}

#[pymethods]
impl RawReplies {
    #[new]
    fn new(count: usize) -> Self {
        RawReplies {
            inner: Replies::new(count),
        }
    }

    /// Take the next bytes read; true once all `count` replies are complete. ValueError when
    /// they are not RESP2 or run past the last reply.
    fn feed(&mut self, data: &[u8]) -> PyResult<bool> {
        self.inner.feed(data).map_err(PyValueError::new_err)
    }

    /// The last reply as a transaction's EXEC reply: None when nil (aborted); else its
    /// length, its first error's text, and the sum of its last `tail` replies (integers).
    #[allow(clippy::type_complexity)]
    fn exec_summary(&self, tail: usize) -> PyResult<Option<(usize, Option<String>, i64)>> {
        self.inner.exec_summary(tail).map_err(PyValueError::new_err)
    }

    /// The first error reply's text, if any.
    #[getter]
    fn error(&self) -> Option<String> {
        self.inner.error.clone()
    }

    fn __len__(&self) -> usize {
        self.inner.want()
    }

    /// The replies as hiredis gives them with decoding off (bytes, int, None, lists, dicts),
    /// an error reply as its text (str): for tests and tools, not the hot path.
    fn objects<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for frame in self.frames()? {
            out.append(to_object(py, &frame)?)?;
        }
        Ok(out)
    }
}

fn to_object<'py>(py: Python<'py>, frame: &Frame<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match frame {
        Frame::Simple(b) | Frame::Bulk(Some(b)) => PyBytes::new(py, b).into_any(),
        Frame::Error(b) => PyString::new(py, &String::from_utf8_lossy(b)).into_any(),
        Frame::Int(n) => n.into_pyobject(py)?.into_any(),
        Frame::Bulk(None) | Frame::Array(None) => py.None().into_bound(py),
        Frame::Array(Some(items)) | Frame::Push(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_object(py, item)?)?;
            }
            list.into_any()
        }
        Frame::Map(items) => {
            let dict = PyDict::new(py);
            for kv in items.chunks(2) {
                dict.set_item(to_object(py, &kv[0])?, to_object(py, &kv[1])?)?;
            }
            dict.into_any()
        }
    })
}

/// The entries of one XREADGROUP reply, kept as its bytes: each entry's id and fields are
/// made into Python objects only when asked for (`ids`, `entry`); the native core stages
/// them from the bytes (`PartitionCore.stage_raw`).
#[pyclass(module = "shared_core.volume_files._native")]
pub struct RawEntries {
    buf: Vec<u8>,
    entries: EntrySpans,
}

type Pair<'a> = (&'a [u8], &'a [u8]);

impl RawEntries {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `i`'s id (`stream_entries` checked it is text).
    pub fn id(&self, i: usize) -> &str {
        let (a, b) = self.entries.ids[i];
        std::str::from_utf8(&self.buf[a..b]).unwrap_or_default()
    }

    /// Entry `i`'s (field, value) pairs into `out` (cleared first, so one vector serves a
    /// whole batch); false when it was trimmed while pending.
    pub fn pairs_into<'a>(&'a self, i: usize, out: &mut Vec<Pair<'a>>) -> bool {
        out.clear();
        let Some(spans) = self.entries.pairs_of(i) else {
            return false;
        };
        let buf = &self.buf;
        out.extend(
            spans
                .iter()
                .map(|&((ka, kb), (va, vb))| (&buf[ka..kb], &buf[va..vb])),
        );
        true
    }

    /// Entry `i`'s fields as redis-py gives them: a flat list of bytes, () when trimmed.
    pub fn fields_object<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let mut pairs = Vec::new();
        Ok(if self.pairs_into(i, &mut pairs) {
            let list = PyList::empty(py);
            for (k, v) in pairs {
                list.append(PyBytes::new(py, k))?;
                list.append(PyBytes::new(py, v))?;
            }
            list.into_any()
        } else {
            pyo3::types::PyTuple::empty(py).into_any()
        })
    }

    fn index(&self, i: isize) -> PyResult<usize> {
        let n = self.entries.len() as isize;
        let at = if i < 0 { i + n } else { i };
        if (0..n).contains(&at) {
            Ok(at as usize)
        } else {
            Err(pyo3::exceptions::PyIndexError::new_err(
                "entry index out of range",
            ))
        }
    }
}

#[pymethods]
impl RawEntries {
    /// The entries of `raw`, one XREAD/XREADGROUP reply (whose bytes it takes over).
    #[new]
    fn new(mut raw: PyRefMut<'_, RawReplies>) -> PyResult<Self> {
        let entries = raw
            .inner
            .single()
            .and_then(|at| stream_entries(&raw.inner.buf, at))
            .map_err(PyValueError::new_err)?;
        let buf = std::mem::take(&mut raw.inner.buf);
        Ok(RawEntries { buf, entries })
    }

    fn __len__(&self) -> usize {
        self.entries.len()
    }

    /// Every entry's id, in order.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, (0..self.entries.len()).map(|i| self.id(i)))
    }

    /// Whether any entry was trimmed while pending (its fields nil).
    fn trimmed(&self) -> bool {
        self.entries.fields.iter().any(Option::is_none)
    }

    /// Entry `i` as (id, fields): fields a flat list of bytes, () when trimmed.
    fn entry<'py>(&self, py: Python<'py>, i: isize) -> PyResult<(String, Bound<'py, PyAny>)> {
        let i = self.index(i)?;
        Ok((self.id(i).to_owned(), self.fields_object(py, i)?))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RawReplies>()?;
    m.add_class::<RawEntries>()
}
