//! `WriteFilter`: the Rust write filter on its own, so its rule can be compared with the Python
//! reference (`store/write_filter.py`) write by write. The service uses it inside
//! `PartitionCore.drain`, never through this class.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use volume_core::codec::{Family, Fields, HashWrite};
use volume_core::write_filter;

/// (key, [(field, value)], [absent field]).
type WriteTuple = (String, Vec<(String, String)>, Vec<String>);

#[pyclass(module = "shared_core.volume_files._native")]
pub struct WriteFilter {
    inner: write_filter::WriteFilter,
}

#[pymethods]
impl WriteFilter {
    #[new]
    fn new(max_keys: usize) -> PyResult<Self> {
        if max_keys < 1 {
            return Err(PyValueError::new_err("max_keys must be at least 1"));
        }
        Ok(WriteFilter {
            inner: write_filter::WriteFilter::new(max_keys),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// One drain's writes -> the ones to send (a drain not committed is forgotten first).
    fn filter(&mut self, writes: Vec<WriteTuple>) -> Vec<WriteTuple> {
        self.inner.begin();
        writes
            .into_iter()
            .filter_map(|(key, fields, absent)| {
                let mut w = HashWrite {
                    key,
                    family: Family::State,
                    fields: Fields::from_pairs(fields),
                    absent: absent.into_iter().map(Cow::Owned).collect(),
                };
                self.inner.filter(&mut w).then_some(w)
            })
            .map(|w| {
                let fields = w.fields.to_pairs();
                let absent = w.absent.into_iter().map(Cow::into_owned).collect();
                (w.key, fields, absent)
            })
            .collect()
    }

    fn commit(&mut self) {
        self.inner.commit();
    }

    fn forget(&mut self) {
        self.inner.forget();
    }

    fn clear(&mut self) {
        self.inner.clear();
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WriteFilter>()
}
