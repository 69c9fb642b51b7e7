//! `PartitionCore`: one partition's tick step as one native object, called per read batch and
//! per drain (the `TickBatchCore` protocol of `stream/batch_core.py`).
//!
//! `stage` takes the batch's raw entries as redis-py returns them and parses each one in Rust
//! (`volume_core::ticks`), deferring to the Python parser (a callable given to the constructor)
//! only for an entry the native parser is not certain to read exactly as Python does. `load`
//! adopts the symbols `stage` reported as new, `apply_staged` runs the engine over the staged
//! ticks, and `drain` hands back every changed hash already encoded as the flush's RESP
//! commands, so no Python object is made per tick, per write or per field on the hot path.
//!
//! A core knows its partition (of `partitions`): a valid tick of a symbol another partition owns
//! (`crc32(symbol) % partitions`, `stream/partitions.py`'s rule) is not applied but handed back
//! by `apply_staged` for the worker to forward to the owner's stream.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use volume_core::codec::Family;
use volume_core::engine::{EngineError, TickIn};
use volume_core::resp::Encoded;
use volume_core::ticks::{self, Parsed, Tick};

use crate::engine::{to_py_err, NativeEngine, PySource, SessionTuple};

/// What `stage` made of one entry, until `apply_staged`.
enum Staged {
    Tick(Tick),
    Invalid(String, String),
    /// A tick of a symbol the given partition owns.
    Forward(u32),
}

/// zlib's CRC-32 (the partitioning rule's hash); bitwise, as it runs once per new symbol only.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// One partition's symbols, their state, and the batch being applied.
#[pyclass(module = "shared_core.volume_files._native")]
pub struct PartitionCore {
    engine: NativeEngine,
    /// `fallback(fields, entry_id)` -> a tick 7-tuple or (reason, error): the Python parser.
    fallback: Py<PyAny>,
    tokens: HashMap<i64, String>,
    timestamp_from_entry_id: bool,
    dual_write: bool,
    stale_reason: Py<PyString>,
    staged: Vec<Staged>,
    partition: u32,
    partitions: u32,
}

/// The entry id's milliseconds ("1765254600250-0" -> 1765254600250).
fn entry_ms(entry_id: &str) -> Option<i64> {
    entry_id
        .split_once('-')
        .map_or(entry_id, |(ms, _)| ms)
        .parse()
        .ok()
}

#[pymethods]
impl PartitionCore {
    /// `config` as for `NativeEngine` plus `dual_write`, `timestamp_from_entry_id`,
    /// `stale_reason` (the dead-letter reason of a tick before its symbol's open session) and,
    /// optionally, `partition` and `partitions` (default 0 of 1: every symbol is ours).
    #[new]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyDict>,
        context: Py<PyAny>,
        fallback: Py<PyAny>,
    ) -> PyResult<Self> {
        let get = |name: &str| -> PyResult<Bound<'_, PyAny>> {
            config.get_item(name)?.ok_or_else(|| {
                pyo3::exceptions::PyKeyError::new_err(format!("config: missing {name:?}"))
            })
        };
        let dual_write: bool = get("dual_write")?.extract()?;
        let timestamp_from_entry_id: bool = get("timestamp_from_entry_id")?.extract()?;
        let stale: String = get("stale_reason")?.extract()?;
        let partition: u32 = match config.get_item("partition")? {
            Some(v) => v.extract()?,
            None => 0,
        };
        let partitions: u32 = match config.get_item("partitions")? {
            Some(v) => v.extract()?,
            None => 1,
        };
        if partitions == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err("config: partitions must be >= 1"));
        }
        Ok(PartitionCore {
            engine: NativeEngine::new(py, config, context)?,
            fallback,
            tokens: HashMap::new(),
            timestamp_from_entry_id,
            dual_write,
            stale_reason: PyString::intern(py, &stale).unbind(),
            staged: Vec::new(),
            partition,
            partitions,
        })
    }

    fn __len__(&self) -> usize {
        self.engine.engine.len()
    }

    fn __contains__(&self, symbol: &str) -> bool {
        self.engine.engine.contains(symbol)
    }

    /// The instruments master's token -> symbol map (replaced whole at each new import).
    fn set_tokens(&mut self, tokens: HashMap<i64, String>) {
        self.tokens = tokens;
    }

    /// Parse and keep the entries ((entry id, fields) pairs); the symbols seen for the first
    /// time -> the timestamp of their first valid tick, for the caller to load.
    fn stage<'py>(
        &mut self,
        py: Python<'py>,
        entries: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let first = PyDict::new(py);
        let fallback = self.fallback.bind(py);
        let mut held: Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> = Vec::with_capacity(16);
        for item in entries.try_iter()? {
            let item = item?;
            let entry = item.cast::<PyTuple>()?;
            let entry_id = entry.get_item(0)?;
            let fields_any = entry.get_item(1)?;
            let fields = fields_any.cast::<PyDict>()?;
            held.clear();
            let mut all_bytes = true;
            for (key, value) in fields.iter() {
                match (
                    key.cast_into_exact::<PyBytes>(),
                    value.cast_into_exact::<PyBytes>(),
                ) {
                    (Ok(k), Ok(v)) => held.push((k, v)),
                    _ => {
                        all_bytes = false;
                        break;
                    }
                }
            }
            let parsed = if all_bytes {
                let pairs: Vec<(&[u8], &[u8])> = held
                    .iter()
                    .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                    .collect();
                let at = if self.timestamp_from_entry_id {
                    entry_ms(entry_id.cast::<PyString>()?.to_str()?)
                } else {
                    None
                };
                ticks::parse_entry_with(&pairs, &self.tokens, at)
            } else {
                Parsed::Defer
            };
            let mut staged = match parsed {
                Parsed::Tick(tick) => Staged::Tick(tick),
                Parsed::Invalid { reason, error } => Staged::Invalid(reason.to_owned(), error),
                Parsed::Defer => python_parse(fallback, fields, &entry_id)?,
            };
            if let Staged::Tick(tick) = &staged {
                // Only a symbol not held yet can be foreign: the held ones were all ours.
                if self.engine.engine.needs_load(&tick.symbol)
                    && !first.contains(tick.symbol.as_str())?
                {
                    let owner = crc32(tick.symbol.as_bytes()) % self.partitions;
                    if owner == self.partition {
                        first.set_item(tick.symbol.as_str(), tick.ts_ms)?;
                    } else {
                        staged = Staged::Forward(owner);
                    }
                }
            }
            self.staged.push(staged);
        }
        Ok(first)
    }

    /// Adopt a symbol `stage` reported: its instrument facts and what Redis had for it.
    #[pyo3(signature = (symbol, kind, tick_size, strike, has_expiry, is_fno, daily_totals,
                        minute_history, session, profile, underlying_price))]
    #[allow(clippy::too_many_arguments)]
    fn load(
        &mut self,
        py: Python<'_>,
        symbol: &str,
        kind: &str,
        tick_size: f64,
        strike: Option<f64>,
        has_expiry: bool,
        is_fno: bool,
        daily_totals: Vec<(i32, i128)>,
        minute_history: Vec<(i32, Vec<(i64, i128)>)>,
        session: Option<SessionTuple>,
        profile: Option<Vec<(String, i128)>>,
        underlying_price: Option<f64>,
    ) -> PyResult<()> {
        self.engine.load(
            py,
            symbol,
            kind,
            tick_size,
            strike,
            has_expiry,
            is_fno,
            daily_totals,
            minute_history,
            session,
            profile,
            underlying_price,
        )
    }

    /// Apply what `stage` kept, in order, and forget it: (applied, newest exchange timestamp
    /// applied or 0, [(index in the staged entries, reason, error)] for the dead letters,
    /// [(index, owner partition)] for the ticks to forward).
    #[allow(clippy::type_complexity)]
    fn apply_staged<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(u64, i64, Bound<'py, PyList>, Bound<'py, PyList>)> {
        let staged = std::mem::take(&mut self.staged);
        let rejects = PyList::empty(py);
        let forwards = PyList::empty(py);
        let callable = self.engine.context.bind(py).clone();
        let mut source = PySource {
            callable: &callable,
            curves: &mut self.engine.curves,
            error: None,
        };
        let engine = &mut self.engine.engine;
        let mut applied = 0u64;
        let mut last_ts = 0i64;
        for (index, entry) in staged.into_iter().enumerate() {
            match entry {
                Staged::Invalid(reason, error) => rejects.append((index, reason, error))?,
                Staged::Forward(owner) => forwards.append((index, owner))?,
                Staged::Tick(t) => {
                    let tick = TickIn {
                        symbol: &t.symbol,
                        price: t.price,
                        ts_ms: t.ts_ms,
                        volume: t.volume,
                        cumulative_volume: t.cumulative_volume,
                        underlying_price: t.underlying_price,
                    };
                    match engine.apply(&tick, &mut source) {
                        Ok(_) => {
                            applied += 1;
                            last_ts = last_ts.max(t.ts_ms);
                        }
                        Err(EngineError::StaleSession(message)) => {
                            rejects.append((index, self.stale_reason.bind(py), message))?
                        }
                        Err(other) => return Err(to_py_err(other, source.error.take())),
                    }
                }
            }
        }
        Ok((applied, last_ts, rejects, forwards))
    }

    /// Every changed symbol's hash writes as RESP commands for the flush's MULTI/EXEC:
    /// (payload, commands, {family: writes}, session hashes written).
    fn drain<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyBytes>, usize, Bound<'py, PyDict>, usize)> {
        let mut encoded = Encoded::default();
        let mut families = [0usize; Family::ALL.len()];
        self.engine.engine.drain_into(self.dual_write, &mut |w| {
            families[w.family.index()] += 1;
            encoded.hash_write(&w.key, &w.fields, &w.absent);
        });
        let counts = PyDict::new(py);
        for family in Family::ALL {
            if families[family.index()] > 0 {
                counts.set_item(
                    self.engine.families[family.index()].bind(py),
                    families[family.index()],
                )?;
            }
        }
        let symbols = families[Family::Unified.index()];
        Ok((
            PyBytes::new(py, &encoded.bytes),
            encoded.commands,
            counts,
            symbols,
        ))
    }

    /// `drain` as a list of (key, family, [(field, value)], [absent]) (tests, tools).
    fn drain_writes<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let dual_write = self.dual_write;
        self.engine.drain(py, dual_write)
    }

    fn drop(&mut self, symbol: &str) {
        self.engine.engine.drop_symbol(symbol);
    }

    /// Heap bytes of the per-symbol state (an estimate).
    fn heap_bytes(&self) -> usize {
        self.engine.engine.heap_bytes()
    }
}

/// (symbol, price, ts_ms, volume, cumulative_volume, oi, underlying_price), as Python's `Tick`.
type ParsedTuple = (
    String,
    f64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
);

/// A deferred entry through the Python parser: a tick 7-tuple or (reason, error).
fn python_parse(
    fallback: &Bound<'_, PyAny>,
    fields: &Bound<'_, PyDict>,
    entry_id: &Bound<'_, PyAny>,
) -> PyResult<Staged> {
    let out = fallback.call1((fields, entry_id))?;
    let out = out.cast::<PyTuple>()?;
    if out.len() == 2 {
        let (reason, error): (String, String) = out.extract()?;
        return Ok(Staged::Invalid(reason, error));
    }
    let (symbol, price, ts_ms, volume, cumulative_volume, oi, underlying_price): ParsedTuple =
        out.extract()?;
    Ok(Staged::Tick(Tick {
        symbol,
        price,
        ts_ms,
        volume,
        cumulative_volume,
        oi,
        underlying_price,
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PartitionCore>()
}

#[cfg(test)]
mod tests {
    use super::{crc32, entry_ms};

    #[test]
    fn crc32_is_zlibs() {
        // pinned in tests/unit/test_partitions.py: zlib.crc32 of the same bytes
        assert_eq!(crc32(b"SBIN"), 993_902_117);
        assert_eq!(crc32(b"RELIANCE"), 3_441_801_064);
        assert_eq!(crc32(b"INDIA VIX"), 3_651_656_364);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn entry_ids_give_their_milliseconds() {
        assert_eq!(entry_ms("1765254600250-3"), Some(1765254600250));
        assert_eq!(entry_ms("17"), Some(17));
        assert_eq!(entry_ms("x-1"), None);
    }
}
