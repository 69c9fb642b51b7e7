//! `parse_entry` for tests and tools (the production path calls `volume_core::ticks` from the
//! batch object, without Python objects per field). Conversion only.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use volume_core::ticks::{self, Parsed};

/// One stream entry as redis-py returns it (bytes keys and values): a 7-tuple (symbol, price,
/// ts_ms, volume, cumulative_volume, oi, underlying_price) for a tick, (reason, error) for an
/// invalid entry, None to defer to the Python parser (also when a key or value is not bytes).
///
/// `tokens` (a dict token -> symbol, the instruments master's) and `entry_ms` as for
/// `ticks.parse_entry`.
#[pyfunction]
#[pyo3(signature = (fields, tokens=None, entry_ms=None))]
pub fn parse_entry<'py>(
    py: Python<'py>,
    fields: &Bound<'py, PyDict>,
    tokens: Option<HashMap<i64, String>>,
    entry_ms: Option<i64>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let mut held = Vec::with_capacity(fields.len());
    for (key, value) in fields.iter() {
        match (
            key.cast_into_exact::<PyBytes>(),
            value.cast_into_exact::<PyBytes>(),
        ) {
            (Ok(key), Ok(value)) => held.push((key, value)),
            _ => return Ok(None),
        }
    }
    let pairs: Vec<(&[u8], &[u8])> = held
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    let tokens = tokens.unwrap_or_default();
    Ok(match ticks::parse_entry_with(&pairs, &tokens, entry_ms) {
        Parsed::Tick(t) => Some(
            (
                t.symbol,
                t.price,
                t.ts_ms,
                t.volume,
                t.cumulative_volume,
                t.oi,
                t.underlying_price,
            )
                .into_pyobject(py)?,
        ),
        Parsed::Invalid { reason, error } => Some((reason, error).into_pyobject(py)?),
        Parsed::Defer => None,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_entry, m)?)
}
