//! `RawReplies`: a batch of Redis replies kept as the bytes that came off the socket, for the
//! native core to read without a Python object per field (`volume_core::reply`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use volume_core::reply::{Frame, Replies};

/// The next `count` replies on a connection, as bytes: fed by the shell until complete.
#[pyclass(module = "shared_core.volume_files._native")]
pub struct RawReplies {
    pub inner: Replies,
    count: usize,
}

impl RawReplies {
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
            count,
        }
    }

    /// Take the next bytes read; true once all `count` replies are complete. ValueError when
    /// they are not RESP2 or run past the last reply.
    fn feed(&mut self, data: &[u8]) -> PyResult<bool> {
        self.inner.feed(data).map_err(PyValueError::new_err)
    }

    /// The first error reply's text, if any.
    #[getter]
    fn error(&self) -> Option<String> {
        self.inner.error.clone()
    }

    fn __len__(&self) -> usize {
        self.count
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RawReplies>()
}
