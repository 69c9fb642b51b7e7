//! `PartitionCore`: one partition's tick step as one native object, called per read batch and
//! per drain (the `TickBatchCore` protocol of `stream/batch_core.py`).
//!
//! `stage` takes the batch's raw entries as redis-py returns them and parses each one in Rust
//! (`volume_core::ticks`), deferring to the Python parser (a callable given to the constructor)
//! only for an entry the native parser is not certain to read exactly as Python does. `load`
//! adopts the symbols `stage` reported as new, `apply_staged` runs the engine over the staged
//! ticks, and `drain` hands back every changed hash already encoded as the flush's RESP
//! commands, so no Python object is made per tick, per write or per field on the hot path.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use volume_core::clock::iso_date;
use volume_core::codec::Family;
use volume_core::engine::{EngineError, History, InstrumentInfo, Kind, TickIn};
use volume_core::resp::Encoded;
use volume_core::restore::{self, HistoryPlan, Pairs, SecondPhase};
use volume_core::ticks::{self, Parsed, Tick};
use volume_core::write_filter::WriteFilter;

use crate::engine::{to_py_err, NativeEngine, PySource, SessionTuple};
use crate::replies::{RawEntries, RawReplies};

/// What `stage` made of one entry, until `apply_staged`.
enum Staged {
    Tick(Tick),
    Invalid(String, String),
}

/// A symbol being loaded at first sight, between `plan_loads` and `finish_loads`.
struct PendingLoad {
    symbol: String,
    info: InstrumentInfo,
    /// Phase one's reading of the history hash (set by `read_histories`).
    plan: Option<HistoryPlan>,
}

/// The instrument facts the loader hands over per symbol:
/// (symbol, kind, tick_size, strike, has_expiry, is_fno).
type Facts = (String, String, f64, Option<f64>, bool, bool);

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
    /// Symbols of this batch another partition owns -> that partition: forwarded, not applied.
    foreign: HashMap<String, u32>,
    /// The first-sight load under way (`plan_loads` .. `finish_loads`).
    loading: Vec<PendingLoad>,
    /// The last drain's payload size, reserved for the next one.
    drain_bytes: usize,
    /// Write less: what the committed drains left in Redis (None: write everything).
    filter: Option<WriteFilter>,
}

/// The most a drain reserves up front (a huge drain after a backlog is not kept reserved).
const MAX_DRAIN_RESERVE: usize = 16 << 20;

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
    /// `config` as for `NativeEngine` plus `dual_write`, `timestamp_from_entry_id` and
    /// `stale_reason` (the dead-letter reason of a tick before its symbol's open session).
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
        // Keys the write filter remembers; absent or 0: no filter, every drain writes in full.
        let filter_keys: usize = match config.get_item("write_filter_keys")? {
            Some(n) => n.extract()?,
            None => 0,
        };
        Ok(PartitionCore {
            engine: NativeEngine::new(py, config, context)?,
            fallback,
            tokens: HashMap::new(),
            timestamp_from_entry_id,
            dual_write,
            stale_reason: PyString::intern(py, &stale).unbind(),
            staged: Vec::new(),
            foreign: HashMap::new(),
            loading: Vec::new(),
            drain_bytes: 0,
            filter: (filter_keys > 0).then(|| WriteFilter::new(filter_keys)),
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
        let fallback = self.fallback.clone_ref(py);
        let fallback = fallback.bind(py);
        let mut held: Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> = Vec::with_capacity(16);
        for item in entries.try_iter()? {
            let item = item?;
            let entry = item.cast::<PyTuple>()?;
            let entry_id = entry.get_item(0)?;
            let fields = entry.get_item(1)?;
            let all_bytes = fill_pairs(&fields, &mut held)?;
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
            self.keep(
                parsed,
                || python_parse(fallback, &fields, &entry_id),
                &first,
            )?;
        }
        Ok(first)
    }

    /// `stage` for entries kept as the reply's bytes (`RawEntries`): no Python object is made
    /// per entry, but for one the native parser defers to Python. Entries trimmed while
    /// pending (no fields) are skipped, as the ledger leaves them out of a list.
    fn stage_raw<'py>(
        &mut self,
        py: Python<'py>,
        entries: PyRef<'py, RawEntries>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let first = PyDict::new(py);
        let fallback = self.fallback.clone_ref(py);
        let fallback = fallback.bind(py);
        let mut pairs = Vec::new();
        for i in 0..entries.len() {
            if !entries.pairs_into(i, &mut pairs) {
                continue;
            }
            let at = if self.timestamp_from_entry_id {
                entry_ms(entries.id(i))
            } else {
                None
            };
            let parsed = ticks::parse_entry_with(&pairs, &self.tokens, at);
            let defer = || {
                let id = PyString::new(py, entries.id(i)).into_any();
                python_parse(fallback, &entries.fields_object(py, i)?, &id)
            };
            self.keep(parsed, defer, &first)?;
        }
        Ok(first)
    }

    /// A symbol `stage` reported that another partition owns (the routing rule is Python's,
    /// `partitions.reroute`): its staged ticks are handed back as forwards, not applied.
    fn forward_symbol(&mut self, symbol: String, partition: u32) {
        self.foreign.insert(symbol, partition);
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

    /// Phase one of loading new symbols (`store/loader.py`'s plan, read natively): keep the
    /// symbols not held yet with their instrument facts, and return the HGETALLs of their
    /// history hashes as one RESP payload (payload, commands). Starts a new load: a retried
    /// one plans again from here.
    fn plan_loads<'py>(
        &mut self,
        py: Python<'py>,
        facts: Vec<Facts>,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        self.loading.clear();
        let mut out = Encoded::default();
        let engine = &self.engine.engine;
        for (symbol, kind, tick_size, strike, has_expiry, is_fno) in facts {
            if !engine.needs_load(&symbol) {
                continue;
            }
            let key = engine.keys().history.render(&symbol, "");
            out.command(&[b"HGETALL", key.as_bytes()]);
            let kind = Kind::parse(&kind).map_err(pyo3::exceptions::PyValueError::new_err)?;
            self.loading.push(PendingLoad {
                symbol,
                info: InstrumentInfo {
                    kind,
                    tick_size,
                    strike,
                    has_expiry,
                    is_fno,
                },
                plan: None,
            });
        }
        Ok((PyBytes::new(py, &out.bytes), out.commands))
    }

    /// Phase two: read phase one's replies (one history hash per planned symbol, as redis-py
    /// returns HGETALL undecoded: a dict, or a flat list) and return the HGETALLs of the
    /// latest day's session, minutes and profile and the recent days' minutes (payload,
    /// commands, deferred symbols). A symbol whose history is not text this service writes
    /// is deferred: dropped from this load, for the Python reference to load.
    fn read_histories<'py>(
        &mut self,
        py: Python<'py>,
        replies: &Bound<'py, PyAny>,
        minute_history_days: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, usize, Vec<String>)> {
        let source = ReplySource::of(replies)?;
        let replies = source.pairs()?;
        if replies.len() != self.loading.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{} history replies for {} symbols",
                replies.len(),
                self.loading.len()
            )));
        }
        let keys = self.engine.engine.keys();
        let mut out = Encoded::default();
        let mut deferred = Vec::new();
        let mut kept = Vec::with_capacity(self.loading.len());
        for (mut load, pairs) in std::mem::take(&mut self.loading).into_iter().zip(replies) {
            let plan = pairs
                .as_ref()
                .and_then(|p| restore::read_history(p, minute_history_days));
            let Some(plan) = plan else {
                deferred.push(load.symbol);
                continue;
            };
            if let Some(day) = plan.latest {
                let date = iso_date(i64::from(day));
                for key in [&keys.session, &keys.minutes, &keys.profile_session] {
                    out.command(&[b"HGETALL", key.render(&load.symbol, &date).as_bytes()]);
                }
            }
            for day in &plan.recent {
                let key = keys
                    .minutes
                    .render(&load.symbol, &iso_date(i64::from(*day)));
                out.command(&[b"HGETALL", key.as_bytes()]);
            }
            load.plan = Some(plan);
            kept.push(load);
        }
        self.loading = kept;
        Ok((PyBytes::new(py, &out.bytes), out.commands, deferred))
    }

    /// Adopt the symbols being loaded from phase two's replies (in the order of the commands
    /// `read_histories` returned); the symbols deferred to the Python reference.
    fn finish_loads(
        &mut self,
        py: Python<'_>,
        replies: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<String>> {
        let loading = std::mem::take(&mut self.loading);
        let source = ReplySource::of(replies)?;
        let replies = source.pairs()?;
        let expected: usize = loading
            .iter()
            .map(|l| l.plan.as_ref().map_or(0, HistoryPlan::replies))
            .sum();
        if replies.len() != expected {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{} replies for a phase two of {expected}",
                replies.len()
            )));
        }
        let callable = self.engine.context.bind(py).clone();
        let mut deferred = Vec::new();
        let mut at = 0;
        for load in loading {
            let Some(plan) = load.plan else {
                deferred.push(load.symbol);
                continue;
            };
            let count = plan.replies();
            let held: Option<Vec<&Pairs<'_>>> = replies[at..at + count]
                .iter()
                .map(Option::as_deref)
                .collect();
            at += count;
            let Some(history) = held.and_then(|held| restore_held(plan, &held)) else {
                deferred.push(load.symbol);
                continue;
            };
            let mut source = PySource {
                callable: &callable,
                curves: &mut self.engine.curves,
                error: None,
            };
            let result = self
                .engine
                .engine
                .load(&load.symbol, load.info, history, &mut source);
            let error = source.error.take();
            result.map_err(|e| to_py_err(e, error))?;
        }
        Ok(deferred)
    }

    /// Apply what `stage` kept, in order, and forget it: (applied, newest exchange timestamp
    /// applied or 0, [(index in the staged entries, reason, error)] for the dead letters,
    /// [(index, owner partition)] for the forwards).
    #[allow(clippy::type_complexity)]
    fn apply_staged<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(u64, i64, Bound<'py, PyList>, Bound<'py, PyList>)> {
        let staged = std::mem::take(&mut self.staged);
        let foreign = std::mem::take(&mut self.foreign);
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
                Staged::Tick(t) if !foreign.is_empty() && foreign.contains_key(&t.symbol) => {
                    forwards.append((index, foreign[&t.symbol]))?
                }
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
    /// (payload, commands, {family: writes}, session hashes written, fields the write filter
    /// left out).
    fn drain<'py>(&mut self, py: Python<'py>) -> PyResult<DrainTuple<'py>> {
        let mut encoded = Encoded::default();
        // About what the last drain took: the buffer is not regrown (copied) as it fills.
        encoded.bytes.reserve(self.drain_bytes);
        let mut families = [0usize; Family::ALL.len()];
        let engine = &mut self.engine.engine;
        let dual_write = self.dual_write;
        let filter = self.filter.as_mut();
        // Pure Rust from here to the payload: without the GIL, so a worker that drains in a
        // thread (the service does) keeps parsing and applying other partitions meanwhile.
        py.detach(|| {
            engine.drain_filtered(dual_write, filter, &mut |w| {
                families[w.family.index()] += 1;
                encoded.hash_write(&w.key, &w.fields, &w.absent);
            })
        });
        self.drain_bytes = encoded.bytes.len().min(MAX_DRAIN_RESERVE);
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
        let left_out = self.filter.as_ref().map_or(0, WriteFilter::left_out);
        Ok((
            PyBytes::new(py, &encoded.bytes),
            encoded.commands,
            counts,
            symbols,
            left_out,
        ))
    }

    /// `drain` as a list of (key, family, [(field, value)], [absent]) (tests, tools), and the
    /// fields the write filter left out.
    fn drain_writes<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, usize)> {
        let dual_write = self.dual_write;
        let writes = self
            .engine
            .drain_through(py, dual_write, self.filter.as_mut())?;
        Ok((
            writes,
            self.filter.as_ref().map_or(0, WriteFilter::left_out),
        ))
    }

    /// Redis holds the last drain's writes (the flush landed): the write filter learns them.
    /// A drain never committed is forgotten by the next one, which writes its keys in full.
    fn commit_drain(&mut self) {
        if let Some(f) = self.filter.as_mut() {
            f.commit();
        }
    }

    fn drop(&mut self, symbol: &str) {
        self.engine.engine.drop_symbol(symbol);
    }

    /// Heap bytes of the per-symbol state (an estimate).
    fn heap_bytes(&self) -> usize {
        self.engine.engine.heap_bytes() + self.filter.as_ref().map_or(0, WriteFilter::heap_bytes)
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

/// (payload, commands, {family: writes}, session hashes written, fields left out).
type DrainTuple<'py> = (Bound<'py, PyBytes>, usize, Bound<'py, PyDict>, usize, usize);

type HeldPairs<'py> = Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>;

/// `restore::restore` over one symbol's phase-two replies, held in `HistoryPlan::replies`
/// order (the latest day's session, minutes and profile when there is one, then the recent
/// days' minutes); `None` to defer it.
fn restore_held(plan: HistoryPlan, held: &[&Pairs<'_>]) -> Option<History> {
    let empty: &Pairs<'_> = &[];
    let (session, minutes, profile, recent) = if plan.latest.is_some() {
        (held[0], held[1], held[2], &held[3..])
    } else {
        (empty, empty, empty, held)
    };
    restore::restore(
        plan,
        &SecondPhase {
            session,
            minutes,
            profile,
            recent,
        },
    )
}

/// A load's replies: the raw bytes (`RawReplies`), or redis-py's objects (a list), held.
enum ReplySource<'py> {
    Raw(PyRef<'py, RawReplies>),
    Objects(Vec<Option<HeldPairs<'py>>>),
}

impl<'py> ReplySource<'py> {
    fn of(replies: &Bound<'py, PyAny>) -> PyResult<ReplySource<'py>> {
        if let Ok(raw) = replies.cast::<RawReplies>() {
            return Ok(ReplySource::Raw(raw.borrow()));
        }
        let list = replies.cast::<PyList>()?;
        list.iter()
            .map(|r| reply_pairs(&r))
            .collect::<PyResult<_>>()
            .map(ReplySource::Objects)
    }

    /// Each HGETALL reply's (field, value) pairs, or None to defer it.
    #[allow(clippy::type_complexity)]
    fn pairs(&self) -> PyResult<Vec<Option<Vec<(&[u8], &[u8])>>>> {
        match self {
            ReplySource::Raw(raw) => raw.hash_pairs(),
            ReplySource::Objects(held) => Ok(held
                .iter()
                .map(|h| h.as_ref().map(|h| as_pairs(h)))
                .collect()),
        }
    }
}

/// Fill `out` with a hash's or stream entry's (field, value) byte strings, held: a dict
/// (redis-py's callbacks, RESP3 maps) or the flat list of a raw reply. False when it is
/// anything else (text with decode_responses, an odd list): the caller defers to Python.
fn fill_pairs<'py>(fields: &Bound<'py, PyAny>, out: &mut HeldPairs<'py>) -> PyResult<bool> {
    out.clear();
    if let Ok(map) = fields.cast::<PyDict>() {
        out.reserve(map.len());
        for (k, v) in map.iter() {
            match (
                k.cast_into_exact::<PyBytes>(),
                v.cast_into_exact::<PyBytes>(),
            ) {
                (Ok(k), Ok(v)) => out.push((k, v)),
                _ => return Ok(false),
            }
        }
    } else if let Ok(list) = fields.cast::<PyList>() {
        if list.len() % 2 != 0 {
            return Ok(false);
        }
        out.reserve(list.len() / 2);
        let mut items = list.iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            match (
                k.cast_into_exact::<PyBytes>(),
                v.cast_into_exact::<PyBytes>(),
            ) {
                (Ok(k), Ok(v)) => out.push((k, v)),
                _ => return Ok(false),
            }
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// An HGETALL reply's pairs, held (`fill_pairs`), or `None` to defer.
fn reply_pairs<'py>(reply: &Bound<'py, PyAny>) -> PyResult<Option<HeldPairs<'py>>> {
    let mut out = Vec::new();
    Ok(fill_pairs(reply, &mut out)?.then_some(out))
}

#[allow(clippy::type_complexity)]
fn as_pairs<'a>(held: &'a [(Bound<'_, PyBytes>, Bound<'_, PyBytes>)]) -> Vec<(&'a [u8], &'a [u8])> {
    held.iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect()
}

/// A deferred entry through the Python parser: a tick 7-tuple or (reason, error).
fn python_parse(
    fallback: &Bound<'_, PyAny>,
    fields: &Bound<'_, PyAny>,
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

impl PartitionCore {
    /// Keep what the native parser made of an entry (`defer`: the Python parser's reading,
    /// for an entry it defers); a tick of a symbol not held yet is reported in `first` (its
    /// first valid tick's timestamp) for the caller to load.
    fn keep(
        &mut self,
        parsed: Parsed,
        defer: impl FnOnce() -> PyResult<Staged>,
        first: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let staged = match parsed {
            Parsed::Tick(tick) => Staged::Tick(tick),
            Parsed::Invalid { reason, error } => Staged::Invalid(reason.to_owned(), error),
            Parsed::Defer => defer()?,
        };
        if let Staged::Tick(tick) = &staged {
            if self.engine.engine.needs_load(&tick.symbol)
                && !first.contains(tick.symbol.as_str())?
            {
                first.set_item(tick.symbol.as_str(), tick.ts_ms)?;
            }
        }
        self.staged.push(staged);
        Ok(())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PartitionCore>()
}

#[cfg(test)]
mod tests {
    use super::entry_ms;

    #[test]
    fn entry_ids_give_their_milliseconds() {
        assert_eq!(entry_ms("1765254600250-3"), Some(1765254600250));
        assert_eq!(entry_ms("17"), Some(17));
        assert_eq!(entry_ms("x-1"), None);
    }
}
