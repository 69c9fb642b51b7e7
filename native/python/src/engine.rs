//! `NativeEngine`: the Rust engine (`volume_core::engine`) as one Python object per
//! partition, plus the codec and scan functions the differential tests compare directly.
//!
//! The session context comes from a Python callable given to the constructor,
//! `context(symbol, day, daily_totals, minute_history) -> (baseline | None, curve, dte_factor)`
//! with `day` in days since 1970-01-01, `daily_totals` a list of (day, total), `minute_history`
//! a list of (day, {minute: volume}), `baseline` a (sessions, baseline_1min, avg_volume_20d)
//! tuple and `curve` a `TimeOfDayCurve`. Curves are converted once per Python object (cached
//! by identity, the object kept alive while cached), so the shared default curve is one
//! `Arc<Curve>` for every symbol.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use volume_core::baseline::{Baseline, Curve};
use volume_core::clock::Clock;
use volume_core::codec::{self, Family, HashWrite, KeyTemplate, KeyTemplates};
use volume_core::engine::{
    ContextSource, Engine, EngineConfig, EngineError, History, InstrumentInfo, Kind,
    SessionContext, TickIn,
};
use volume_core::profile::{Profile, TickSpec};
use volume_core::scan;
use volume_core::session::Session;
use volume_core::write_filter::WriteFilter;

pyo3::import_exception!(shared_core.volume_files.session_tracker, StaleSessionError);

/// Curves converted so far, by the identity of their Python object.
#[derive(Default)]
pub(crate) struct CurveCache {
    map: HashMap<usize, (Py<PyAny>, Arc<Curve>)>,
}

/// Curves kept by identity. Learned curves are one per symbol and session, so the cache is
/// bounded: an evicted curve stays with the symbols holding it (an `Arc`) and is only
/// converted again if its object comes back. Keeping the Python object while cached keeps its
/// identity from being reused.
const CURVE_CACHE_LIMIT: usize = 64;

impl CurveCache {
    fn get(&mut self, curve: &Bound<'_, PyAny>) -> PyResult<Arc<Curve>> {
        let id = curve.as_ptr() as usize;
        if let Some((_, c)) = self.map.get(&id) {
            return Ok(c.clone());
        }
        let points: Vec<f64> = curve.getattr("points")?.extract()?;
        let converted = Arc::new(Curve::new(points).map_err(PyValueError::new_err)?);
        if self.map.len() >= CURVE_CACHE_LIMIT {
            // Keep the most shared curve (the default one), drop the rest.
            let keep = self
                .map
                .iter()
                .max_by_key(|(_, (_, c))| Arc::strong_count(c))
                .map(|(k, _)| *k);
            self.map.retain(|k, _| Some(*k) == keep);
        }
        self.map
            .insert(id, (curve.clone().unbind(), converted.clone()));
        Ok(converted)
    }
}

/// A volume as a Python int: through `i64` where it fits (every real one), which CPython
/// makes directly; an `i128` goes through a byte array.
fn int(py: Python<'_>, v: i128) -> PyResult<Bound<'_, PyAny>> {
    Ok(match i64::try_from(v) {
        Ok(small) => small.into_pyobject(py)?.into_any(),
        Err(_) => v.into_pyobject(py)?.into_any(),
    })
}

pub(crate) struct PySource<'a, 'py> {
    pub(crate) callable: &'a Bound<'py, PyAny>,
    pub(crate) curves: &'a mut CurveCache,
    pub(crate) error: Option<PyErr>,
}

impl PySource<'_, '_> {
    fn call(
        &mut self,
        symbol: &str,
        day: i32,
        totals: &[(i32, i128)],
        minutes: &[(i32, Vec<(i64, i128)>)],
    ) -> PyResult<SessionContext> {
        let py = self.callable.py();
        // A dict, as the baseline takes them (no list of tuples for Python to turn into one).
        let daily = PyDict::new(py);
        for &(d, v) in totals {
            daily.set_item(d, int(py, v)?)?;
        }
        let history = PyList::empty(py);
        for (d, buckets) in minutes {
            let dict = PyDict::new(py);
            for &(m, v) in buckets {
                dict.set_item(m, int(py, v)?)?;
            }
            history.append((*d, dict))?;
        }
        let out = self.callable.call1((symbol, day, daily, history))?;
        let (baseline, curve, dte_factor): (Option<(i64, f64, f64)>, Bound<'_, PyAny>, f64) =
            out.extract()?;
        Ok(SessionContext {
            baseline: baseline.map(|(sessions, baseline_1min, avg_volume_20d)| Baseline {
                sessions,
                baseline_1min,
                avg_volume_20d,
            }),
            curve: self.curves.get(&curve)?,
            dte_factor,
        })
    }
}

impl ContextSource for PySource<'_, '_> {
    fn session_context(
        &mut self,
        symbol: &str,
        day: i32,
        daily_totals: &[(i32, i128)],
        minute_history: &[(i32, Vec<(i64, i128)>)],
    ) -> Result<SessionContext, String> {
        self.call(symbol, day, daily_totals, minute_history)
            .map_err(|e| {
                let text = e.to_string();
                self.error = Some(e);
                text
            })
    }
}

pub(crate) fn to_py_err(err: EngineError, source_error: Option<PyErr>) -> PyErr {
    match err {
        EngineError::StaleSession(m) => StaleSessionError::new_err(m),
        EngineError::NotLoaded(s) => PyKeyError::new_err(s),
        EngineError::InvalidTick(m) | EngineError::BadHistory(m) => PyValueError::new_err(m),
        EngineError::Context(m) => source_error.unwrap_or_else(|| PyRuntimeError::new_err(m)),
    }
}

fn required<'py, T: FromPyObjectOwned<'py>>(dict: &Bound<'py, PyDict>, name: &str) -> PyResult<T> {
    dict.get_item(name)?
        .ok_or_else(|| PyKeyError::new_err(format!("config: missing {name:?}")))?
        .extract()
        .map_err(Into::into)
}

/// (symbol, price, ts_ms, volume, cumulative_volume, oi, underlying_price)
type TickTuple<'py> = (
    Bound<'py, PyString>,
    f64,
    i64,
    Option<i64>,
    Option<i64>,
    Bound<'py, PyAny>,
    Option<f64>,
);

pub(crate) type SessionTuple = (i32, i128, i64, f64, i64, i64, Vec<(i64, i128)>);

/// The Rust engine: per-symbol session, profile and baseline state of one partition.
#[pyclass(module = "shared_core.volume_files._native")]
pub struct NativeEngine {
    pub(crate) engine: Engine,
    pub(crate) context: Py<PyAny>,
    pub(crate) curves: CurveCache,
    pub(crate) families: Vec<Py<PyString>>, // by Family::index
}

fn write_to_py<'py>(
    py: Python<'py>,
    families: &[Py<PyString>],
    w: &HashWrite,
) -> PyResult<Bound<'py, PyTuple>> {
    let fields = PyList::new(py, w.fields.iter().map(|(k, v)| (k.as_ref(), v)))?;
    let absent = PyList::new(py, w.absent.iter().map(|a| a.as_ref()))?;
    PyTuple::new(
        py,
        [
            PyString::new(py, &w.key).into_any(),
            families[w.family.index()].bind(py).clone().into_any(),
            fields.into_any(),
            absent.into_any(),
        ],
    )
}

impl NativeEngine {
    fn writes_to_py<'py>(
        &self,
        py: Python<'py>,
        writes: Vec<HashWrite>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for w in &writes {
            out.append(write_to_py(py, &self.families, w)?)?;
        }
        Ok(out)
    }

    /// `drain`, each write through `filter` first (the partition's write filter).
    pub(crate) fn drain_through<'py>(
        &mut self,
        py: Python<'py>,
        dual_write: bool,
        filter: Option<&mut WriteFilter>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let families = &self.families;
        let mut failed: Option<PyErr> = None;
        self.engine.drain_filtered(dual_write, filter, &mut |w| {
            if failed.is_none() {
                if let Err(e) = write_to_py(py, families, w).and_then(|t| out.append(t)) {
                    failed = Some(e);
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

#[pymethods]
impl NativeEngine {
    #[new]
    pub(crate) fn new(
        py: Python<'_>,
        config: &Bound<'_, PyDict>,
        context: Py<PyAny>,
    ) -> PyResult<Self> {
        let keys: Bound<'_, PyDict> = required(config, "keys")?;
        let key = |name: &str| -> PyResult<KeyTemplate> {
            let text: String = required(&keys, name)?;
            Ok(KeyTemplate::parse(&text))
        };
        let families_cfg: Bound<'_, PyDict> = required(config, "families")?;
        let mut families = Vec::new();
        for (family, name) in Family::ALL
            .iter()
            .zip(["unified", "baseline", "profile", "legacy", "state"])
        {
            debug_assert_eq!(family.index(), families.len());
            let text: String = required(&families_cfg, name)?;
            families.push(PyString::intern(py, &text).unbind());
        }
        let minutes: i64 = required(config, "session_minutes")?;
        if minutes < 1 {
            return Err(PyValueError::new_err("session_minutes must be >= 1"));
        }
        let lookback: usize = required(config, "lookback")?;
        let engine = Engine::new(EngineConfig {
            clock: Clock::new(required(config, "session_open_ms")?, minutes),
            lookback,
            learned_curves: required(config, "learned_curves")?,
            moneyness: required(config, "moneyness")?,
            keys: KeyTemplates {
                session: key("session")?,
                baseline: key("baseline")?,
                poc: key("poc")?,
                profile_session: key("profile_session")?,
                legacy: key("legacy")?,
                history: key("history")?,
                minutes: key("minutes")?,
            },
            legacy_fields: required(config, "legacy_fields")?,
        });
        Ok(NativeEngine {
            engine,
            context,
            curves: CurveCache::default(),
            families,
        })
    }

    fn __len__(&self) -> usize {
        self.engine.len()
    }

    fn __contains__(&self, symbol: &str) -> bool {
        self.engine.contains(symbol)
    }

    fn needs_load(&self, symbol: &str) -> bool {
        self.engine.needs_load(symbol)
    }

    fn symbols(&self) -> Vec<String> {
        self.engine
            .symbols()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Adopt a symbol: its instrument facts and what Redis had for it.
    #[pyo3(signature = (symbol, kind, tick_size, strike, has_expiry, is_fno, daily_totals,
                        minute_history, session, profile, underlying_price))]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
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
        let info = InstrumentInfo {
            kind: Kind::parse(kind).map_err(PyValueError::new_err)?,
            tick_size,
            strike,
            has_expiry,
            is_fno,
        };
        let session = match session {
            None => None,
            Some((day, cumulative, ticks, price, ts, minute, buckets)) => {
                let mut s = Session::new(day);
                s.cumulative_volume = cumulative;
                s.tick_count = ticks;
                s.last_price = price;
                s.last_ts_ms = ts;
                s.last_minute = minute;
                for (m, v) in buckets {
                    if v < 0 {
                        return Err(PyValueError::new_err(format!(
                            "negative volume {v} at minute {m}"
                        )));
                    }
                    if v > 0 {
                        s.minute_volumes.add(m, v);
                    }
                }
                Some(s)
            }
        };
        let history = History {
            daily_totals,
            minute_history,
            session,
            profile,
            underlying_price,
        };
        let callable = self.context.bind(py).clone();
        let mut source = PySource {
            callable: &callable,
            curves: &mut self.curves,
            error: None,
        };
        let result = self.engine.load(symbol, info, history, &mut source);
        let error = source.error.take();
        result.map_err(|e| to_py_err(e, error))
    }

    /// Apply one tick, (symbol, price, ts_ms, volume, cumulative_volume, oi, underlying_price);
    /// the volume it added. Raises StaleSessionError for a tick before the open session.
    fn apply(&mut self, py: Python<'_>, tick: &Bound<'_, PyTuple>) -> PyResult<i128> {
        let (symbol, price, ts_ms, volume, cumulative, _oi, underlying): TickTuple<'_> =
            tick.extract()?;
        let symbol = symbol.to_str()?;
        let t = TickIn {
            symbol,
            price,
            ts_ms,
            volume,
            cumulative_volume: cumulative,
            underlying_price: underlying,
        };
        let callable = self.context.bind(py).clone();
        let mut source = PySource {
            callable: &callable,
            curves: &mut self.curves,
            error: None,
        };
        let result = self.engine.apply(&t, &mut source);
        let error = source.error.take();
        result.map_err(|e| to_py_err(e, error))
    }

    /// Writes of every symbol changed since the last drain, each symbol's closed sessions
    /// first: a list of (key, family, [(field, value)], [absent field]).
    pub(crate) fn drain<'py>(
        &mut self,
        py: Python<'py>,
        dual_write: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        self.drain_through(py, dual_write, None)
    }

    /// The current writes of one symbol (None before its first tick), nothing marked drained.
    fn snapshot_writes<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        dual_write: bool,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        match self.engine.snapshot_writes(symbol, dual_write) {
            Some(w) => Ok(Some(self.writes_to_py(py, w)?)),
            None => Ok(None),
        }
    }

    fn drop(&mut self, symbol: &str) {
        self.engine.drop_symbol(symbol);
    }

    /// Heap bytes of the per-symbol state (an estimate).
    fn heap_bytes(&self) -> usize {
        self.engine.heap_bytes()
    }
}

fn spec(tick_size: f64) -> PyResult<TickSpec> {
    TickSpec::new(tick_size).map_err(PyValueError::new_err)
}

/// `profile_scan.scan` without the sum of squares: (poc, peak, lo, hi, support, resistance).
#[pyfunction(name = "scan")]
#[allow(clippy::type_complexity)]
fn scan_py(
    keys: Vec<i64>,
    vals: Vec<i128>,
    total: i128,
    num: i128,
    den: i128,
    reference: Option<i64>,
    max_levels: usize,
) -> PyResult<(i64, i128, i64, i64, Vec<i64>, Vec<i64>)> {
    if keys.is_empty() || keys.len() != vals.len() {
        return Err(PyValueError::new_err(
            "keys and vals must be non-empty and of equal length",
        ));
    }
    if total <= 0 || num <= 0 || den <= 0 || num > den {
        return Err(PyValueError::new_err("need total > 0 and 0 < num <= den"));
    }
    let s = scan::scan(&keys, &vals, total, num, den, reference, max_levels);
    Ok((s.poc, s.peak, s.lo, s.hi, s.support, s.resistance))
}

/// `profile_scan.scan`'s kernel: the `Scan` 7-tuple, the sum of squared volumes last.
/// OverflowError beyond exact 128-bit range (the caller then runs the Python reference).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn profile_scan(
    keys: Vec<i64>,
    vals: Vec<i128>,
    total: i128,
    num: i128,
    den: i128,
    reference: Option<i64>,
    max_levels: i64,
) -> PyResult<(i64, i128, i64, i64, Vec<i64>, Vec<i64>, i128)> {
    let max_levels =
        usize::try_from(max_levels).map_err(|_| PyValueError::new_err("need max_levels >= 0"))?;
    let overflow = || pyo3::exceptions::PyOverflowError::new_err("beyond 128-bit range");
    // The scan multiplies the total by the fraction and the level count: keep that exact.
    if total
        .checked_mul(den.max(num))
        .and_then(|t| t.checked_mul(4 * keys.len() as i128 + 4))
        .is_none()
    {
        return Err(overflow());
    }
    let mut sum_sq: i128 = 0;
    for &v in &vals {
        sum_sq = v
            .checked_mul(v)
            .and_then(|sq| sum_sq.checked_add(sq))
            .ok_or_else(overflow)?;
    }
    let (poc, peak, lo, hi, support, resistance) =
        scan_py(keys, vals, total, num, den, reference, max_levels)?;
    Ok((poc, peak, lo, hi, support, resistance, sum_sq))
}

/// `profile_scan.strength` of levels with these volumes.
#[pyfunction]
fn strength(vals: Vec<i128>, total: i128) -> f64 {
    scan::strength(&vals, total)
}

#[pyfunction]
fn fmt_float(value: f64, digits: usize) -> PyResult<String> {
    if !value.is_finite() {
        return Err(PyValueError::new_err(format!(
            "refusing to write non-finite number {value}"
        )));
    }
    Ok(codec::fmt_float(value, digits))
}

#[pyfunction]
fn fmt_price(value: f64) -> PyResult<String> {
    if !value.is_finite() {
        return Err(PyValueError::new_err(format!(
            "refusing to write non-finite price {value}"
        )));
    }
    Ok(codec::fmt_price(value))
}

#[pyfunction]
fn fmt_timestamp(ts_ms: i64) -> String {
    codec::fmt_timestamp(ts_ms)
}

/// A list of floats as orjson writes it.
#[pyfunction]
fn levels_json(levels: Vec<f64>) -> PyResult<String> {
    if levels.iter().any(|v| !v.is_finite()) {
        return Err(PyValueError::new_err("levels must be finite"));
    }
    Ok(codec::levels_json(&levels))
}

#[pyfunction]
fn level_of(price: f64, tick_size: f64) -> PyResult<i64> {
    Ok(spec(tick_size)?.level_of(price))
}

#[pyfunction]
fn price_of(level: i64, tick_size: f64) -> PyResult<f64> {
    Ok(spec(tick_size)?.price_of(level))
}

#[pyfunction]
fn price_str(level: i64, tick_size: f64) -> PyResult<String> {
    let mut out = String::new();
    spec(tick_size)?.price_str(level, &mut out);
    Ok(out)
}

/// A restored distribution's levels: [(level, volume)] ascending.
#[pyfunction]
fn distribution_levels(dist: Vec<(String, i128)>, tick_size: f64) -> PyResult<Vec<(i64, i128)>> {
    let profile =
        Profile::from_distribution(&dist, &spec(tick_size)?).map_err(PyValueError::new_err)?;
    Ok(profile.levels.iter().collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeEngine>()?;
    m.add_function(wrap_pyfunction!(scan_py, m)?)?;
    m.add_function(wrap_pyfunction!(profile_scan, m)?)?;
    m.add_function(wrap_pyfunction!(strength, m)?)?;
    m.add_function(wrap_pyfunction!(fmt_float, m)?)?;
    m.add_function(wrap_pyfunction!(fmt_price, m)?)?;
    m.add_function(wrap_pyfunction!(fmt_timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(levels_json, m)?)?;
    m.add_function(wrap_pyfunction!(level_of, m)?)?;
    m.add_function(wrap_pyfunction!(price_of, m)?)?;
    m.add_function(wrap_pyfunction!(price_str, m)?)?;
    m.add_function(wrap_pyfunction!(distribution_levels, m)?)?;
    Ok(())
}
