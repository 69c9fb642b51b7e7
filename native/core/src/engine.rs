//! The engine's tick step over many symbols: `engine_core.VolumeEngineCore` in Rust, giving
//! the same hash writes byte for byte (through `codec`).
//!
//! What stays in Python is handed in: each symbol's instrument facts at `load`
//! (`InstrumentInfo`), and at every session open a `SessionContext` (baseline, time-of-day
//! curve, days-to-expiry factor) from a `ContextSource`, given the symbol's recorded daily
//! totals and (learned curves only) its closed sessions' minute volumes. The engine keeps
//! those histories itself, trimmed like `_keep_recent` with the configured lookback.
//!
//! API: `Engine::new(EngineConfig)`, `needs_load`, `load`, `apply(&TickIn, source) ->
//! Result<increment>`, `drain(dual_write) -> Vec<HashWrite>` (per symbol: closed sessions
//! first; `drain_into` hands them to a sink one by one), `snapshot_writes(symbol,
//! dual_write)` (the current writes, nothing marked drained), `drop_symbol`, `len`.
//!
//! Differences from the Python core, all outside what its parser produces: a tick with a
//! negative per-tick volume or a price beyond 2**62 ticks is refused before any state changes
//! (`InvalidTick`); a level's volume beyond 2**64 is written
//! where orjson (hence the Python codec) raises.
//!
//! Per-symbol state is compact: one shared `Arc<str>` name (the index key and the slot share
//! it), profile levels and minute buckets as `Counts` (16/32-bit slots), daily totals as
//! varints (`DailyTotals`), curves shared by `Arc`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::baseline::{expected_volume, moneyness_factor, relative_volume, Baseline, Curve};
use crate::clock::Clock;
use crate::codec::{Codec, HashWrite, KeyTemplates, Snapshot};
use crate::counts::Counts;
use crate::history::DailyTotals;
use crate::profile::{Profile, TickSpec, MAX_QUOTIENT};
use crate::session::{self, Session, SessionTick};
use crate::write_filter::WriteFilter;

/// What kind of instrument (`InstrumentKind`); only futures and options are adjusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Equity,
    Index,
    Future,
    Option,
}

impl Kind {
    /// From `InstrumentKind.value`.
    pub fn parse(value: &str) -> Result<Kind, String> {
        match value {
            "equity" => Ok(Kind::Equity),
            "index" => Ok(Kind::Index),
            "future" => Ok(Kind::Future),
            "option" => Ok(Kind::Option),
            other => Err(format!("unknown instrument kind {other:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Equity => "equity",
            Kind::Index => "index",
            Kind::Future => "future",
            Kind::Option => "option",
        }
    }
}

/// The instrument facts Python resolves (`InstrumentRegistry.resolve`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstrumentInfo {
    pub kind: Kind,
    pub tick_size: f64,
    pub strike: Option<f64>,
    pub has_expiry: bool,
    pub is_fno: bool,
}

/// Per-session facts computed by Python at each session open.
#[derive(Clone, Debug)]
pub struct SessionContext {
    pub baseline: Option<Baseline>,
    pub curve: Arc<Curve>,
    /// `FnoMultipliers.dte_factor(days_to_expiry)` for the session's date.
    pub dte_factor: f64,
}

/// Where session contexts come from (in the bindings: a Python callable).
pub trait ContextSource {
    /// `day`: days since 1970-01-01; the histories are the symbol's, oldest first.
    fn session_context(
        &mut self,
        symbol: &str,
        day: i32,
        daily_totals: &[(i32, i128)],
        minute_history: &[(i32, Vec<(i64, i128)>)],
    ) -> Result<SessionContext, String>;
}

/// What Redis knew about a symbol before this engine saw it (`SymbolHistory`).
#[derive(Clone, Debug, Default)]
pub struct History {
    pub daily_totals: Vec<(i32, i128)>,
    pub minute_history: Vec<(i32, Vec<(i64, i128)>)>,
    pub session: Option<Session>,
    /// The open session's distribution: (price text, volume).
    pub profile: Option<Vec<(String, i128)>>,
    pub underlying_price: Option<f64>,
}

/// One tick, in the core's units.
#[derive(Clone, Copy, Debug)]
pub struct TickIn<'a> {
    pub symbol: &'a str,
    pub price: f64,
    pub ts_ms: i64,
    pub volume: Option<i64>,
    pub cumulative_volume: Option<i64>,
    pub underlying_price: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// `apply` for a symbol never loaded.
    NotLoaded(String),
    /// Dated before the symbol's open session: the text of Python's StaleSessionError.
    StaleSession(String),
    /// A tick Python's parser would not have produced (negative volume, a price beyond 2**62
    /// ticks); nothing was changed.
    InvalidTick(String),
    /// A history that cannot be adopted (bad distribution key, negative volume).
    BadHistory(String),
    /// The context source failed.
    Context(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::NotLoaded(s) => write!(f, "{s}: not loaded"),
            EngineError::StaleSession(m)
            | EngineError::InvalidTick(m)
            | EngineError::BadHistory(m)
            | EngineError::Context(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for EngineError {}

pub struct EngineConfig {
    pub clock: Clock,
    /// Recorded sessions a baseline averages (`BaselineService.lookback`).
    pub lookback: usize,
    /// Keep closed sessions' minute volumes for learned curves.
    pub learned_curves: bool,
    /// `FnoMultipliers.moneyness`: (max percent, multiplier), ascending.
    pub moneyness: Vec<(f64, f64)>,
    pub keys: KeyTemplates,
    /// `keys.LEGACY_FIELDS` as (legacy name, unified name).
    pub legacy_fields: Vec<(String, String)>,
}

struct Symbol {
    name: Arc<str>,
    kind: Kind,
    is_fno: bool,
    tick: TickSpec,
    strike: Option<f64>,
    daily_totals: DailyTotals,
    minute_history: Vec<(i32, Counts)>,
    baseline: Option<Baseline>,
    curve: Option<Arc<Curve>>,
    dte_factor: f64,
    underlying: Option<f64>,
    /// The F&O adjustment of the last drained snapshot; None when the baseline hash is due.
    drained_fno: Option<f64>,
    session_day: Option<i32>,
    dirty_minutes: Vec<i16>, // sorted, unique; minutes of session fit: -555..=884
    /// Closed sessions' writes (encoded with the legacy write; its index) awaiting a drain.
    closed: Vec<(Vec<HashWrite>, Option<usize>)>,
    session: Option<Session>,
    profile: Option<Profile>,
    dirty: bool,
}

struct Shared {
    clock: Clock,
    lookback: usize,
    learned_curves: bool,
    moneyness: Vec<(f64, f64)>,
    codec: Codec,
}

pub struct Engine {
    shared: Shared,
    index: HashMap<Arc<str>, u32>,
    slots: Vec<Option<Symbol>>,
    free: Vec<u32>,
    dirty: Vec<u32>,
    /// The drain's hash writes for one symbol, their buffers reused symbol after symbol.
    scratch: Vec<HashWrite>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            shared: Shared {
                clock: config.clock,
                lookback: config.lookback.max(1),
                learned_curves: config.learned_curves,
                moneyness: config.moneyness,
                codec: Codec::new(config.keys, &config.legacy_fields),
            },
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, symbol: &str) -> bool {
        self.index.contains_key(symbol)
    }

    pub fn needs_load(&self, symbol: &str) -> bool {
        !self.contains(symbol)
    }

    /// The keys this engine writes, and so reads back at first sight.
    pub fn keys(&self) -> &KeyTemplates {
        self.shared.codec.keys()
    }

    pub fn symbols(&self) -> Vec<&str> {
        self.index.keys().map(|k| &**k).collect()
    }

    /// Adopt a symbol with what Redis had for it: recorded sessions and the open session.
    pub fn load(
        &mut self,
        symbol: &str,
        info: InstrumentInfo,
        history: History,
        source: &mut dyn ContextSource,
    ) -> Result<(), EngineError> {
        let tick = TickSpec::new(info.tick_size).map_err(EngineError::BadHistory)?;
        let restored = match history.session {
            Some(session) => {
                let dist = history.profile.unwrap_or_default();
                let profile =
                    Profile::from_distribution(&dist, &tick).map_err(EngineError::BadHistory)?;
                Some((session, profile))
            }
            None => None,
        };
        let daily_totals = DailyTotals::from_pairs(&history.daily_totals);
        let mut minute_history = Vec::with_capacity(history.minute_history.len());
        for (day, minutes) in history.minute_history {
            minute_history.push((day, counts_of(&minutes)?));
        }
        minute_history.sort_by_key(|(d, _)| *d);

        let idx = match self.index.get(symbol) {
            Some(&i) => i,
            None => {
                let name: Arc<str> = Arc::from(symbol);
                let i = self.free.pop().unwrap_or_else(|| {
                    self.slots.push(None);
                    (self.slots.len() - 1) as u32
                });
                self.index.insert(name.clone(), i);
                self.slots[i as usize] = Some(Symbol {
                    name,
                    kind: info.kind,
                    is_fno: info.is_fno,
                    tick,
                    strike: info.strike,
                    daily_totals: DailyTotals::default(),
                    minute_history: Vec::new(),
                    baseline: None,
                    curve: None,
                    dte_factor: 1.0,
                    underlying: None,
                    drained_fno: None,
                    session_day: None,
                    dirty_minutes: Vec::new(),
                    closed: Vec::new(),
                    session: None,
                    profile: None,
                    dirty: false,
                });
                i
            }
        };
        let sym = self.slots[idx as usize].as_mut().expect("slot in use");
        // A reload replaces the context; the session and profile stay unless restored (as the
        // Python core's trackers keep them).
        sym.kind = info.kind;
        sym.is_fno = info.is_fno;
        sym.tick = tick;
        sym.strike = info.strike;
        sym.daily_totals = daily_totals;
        sym.minute_history = minute_history;
        sym.baseline = None;
        sym.curve = None;
        sym.dte_factor = 1.0;
        sym.underlying = history.underlying_price;
        sym.drained_fno = None;
        sym.session_day = None;
        sym.dirty_minutes.clear();
        sym.closed.clear();
        if let Some((session, profile)) = restored {
            let day = session.day;
            sym.session = Some(session);
            sym.profile = Some(profile);
            refresh_baseline(&self.shared, sym, day, source)?;
        }
        Ok(())
    }

    pub fn drop_symbol(&mut self, symbol: &str) {
        if let Some(i) = self.index.remove(symbol) {
            self.slots[i as usize] = None;
            self.free.push(i);
        }
    }

    /// Apply one tick; the volume it added.
    pub fn apply(
        &mut self,
        tick: &TickIn<'_>,
        source: &mut dyn ContextSource,
    ) -> Result<i128, EngineError> {
        let symbol = tick.symbol;
        let idx = *self
            .index
            .get(symbol)
            .ok_or_else(|| EngineError::NotLoaded(symbol.to_string()))?;
        let shared = &self.shared;
        let sym = self.slots[idx as usize].as_mut().expect("indexed slot");
        if tick.cumulative_volume.is_none() {
            if let Some(v) = tick.volume.filter(|&v| v < 0) {
                return Err(EngineError::InvalidTick(format!(
                    "{symbol}: negative volume {v}"
                )));
            }
        }
        if !(tick.price.is_finite() && (tick.price / sym.tick.tick).abs() < MAX_QUOTIENT) {
            return Err(EngineError::InvalidTick(format!(
                "{symbol}: price {} is beyond 2**62 ticks",
                tick.price
            )));
        }
        let clock = shared.clock;
        let day = clock.trading_date(tick.ts_ms);
        let minute = clock.minute_of_session(tick.ts_ms);
        let t = SessionTick {
            day,
            ts_ms: tick.ts_ms,
            minute,
            price: tick.price,
            volume: tick.volume,
            cumulative: tick.cumulative_volume,
        };
        let update =
            session::update(&mut sym.session, symbol, &t).map_err(EngineError::StaleSession)?;
        if sym.session_day != Some(day) {
            open_session(shared, sym, update.closed, day, source)?;
        }
        if tick.underlying_price.is_some() {
            sym.underlying = tick.underlying_price;
        }
        if update.increment != 0 {
            let level = sym.tick.level_of(tick.price);
            sym.profile
                .get_or_insert_with(Profile::default)
                .add(level, update.increment);
            let m = minute as i16; // minute_of_session is within one day
            if let Err(i) = sym.dirty_minutes.binary_search(&m) {
                sym.dirty_minutes.insert(i, m);
            }
        }
        if !sym.dirty {
            sym.dirty = true;
            self.dirty.push(idx);
        }
        Ok(update.increment)
    }

    /// The writes of every symbol changed since the last drain, closed sessions first.
    pub fn drain(&mut self, dual_write: bool) -> Vec<HashWrite> {
        let mut out = Vec::new();
        self.drain_into(dual_write, &mut |w| out.push(w.clone()));
        out
    }

    /// `drain`, handing each write to `sink` as it is made (which may trim it: the write
    /// filter does): a caller encoding or converting writes holds one symbol's at a time, in
    /// buffers reused from symbol to symbol.
    pub fn drain_into(&mut self, dual_write: bool, sink: &mut dyn FnMut(&mut HashWrite)) {
        let dirty = std::mem::take(&mut self.dirty);
        let mut scratch = std::mem::take(&mut self.scratch);
        for &idx in &dirty {
            let Some(sym) = self.slots[idx as usize].as_mut() else {
                continue;
            };
            if !sym.dirty {
                continue; // a dropped symbol's slot, reused
            }
            sym.dirty = false;
            for (writes, legacy) in sym.closed.drain(..) {
                for (i, mut w) in writes.into_iter().enumerate() {
                    if dual_write || Some(i) != legacy {
                        sink(&mut w);
                    }
                }
            }
            if let Some(session) = &sym.session {
                let snap = snapshot(&self.shared, sym, session);
                let fno = snap.fno_adjustment;
                let codec = &self.shared.codec;
                let (n, _) = codec.snapshot_writes_into(snap, dual_write, &mut scratch);
                for w in &mut scratch[..n] {
                    sink(w);
                }
                sym.drained_fno = Some(fno);
            }
            sym.dirty_minutes.clear();
            sym.dirty_minutes.shrink_to(8);
        }
        self.scratch = scratch;
        self.dirty = dirty;
        self.dirty.clear();
        self.dirty.shrink_to(1024);
    }

    /// `drain_into` through the write filter, when there is one: a new drain begins and only
    /// what Redis does not hold yet reaches `sink`.
    pub fn drain_filtered(
        &mut self,
        dual_write: bool,
        filter: Option<&mut WriteFilter>,
        sink: &mut dyn FnMut(&mut HashWrite),
    ) {
        match filter {
            None => self.drain_into(dual_write, sink),
            Some(f) => {
                f.begin();
                self.drain_into(dual_write, &mut |w| {
                    if f.filter(w) {
                        sink(w);
                    }
                });
            }
        }
    }

    /// The current snapshot's writes of one symbol, without touching what is due.
    pub fn snapshot_writes(&self, symbol: &str, dual_write: bool) -> Option<Vec<HashWrite>> {
        let sym = self.slots[*self.index.get(symbol)? as usize].as_ref()?;
        let session = sym.session.as_ref()?;
        let snap = snapshot(&self.shared, sym, session);
        Some(self.shared.codec.snapshot_writes(snap, dual_write).0)
    }

    /// Heap bytes of the per-symbol state (an estimate for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<Option<Symbol>>();
        let mut total = self.slots.capacity() * per_slot;
        total += self.index.capacity() * (std::mem::size_of::<(Arc<str>, u32)>() + 1);
        for sym in self.slots.iter().flatten() {
            total += sym.name.len() + 16;
            total += sym.daily_totals.heap_bytes();
            total += sym
                .minute_history
                .iter()
                .map(|(_, c)| c.heap_bytes() + 40)
                .sum::<usize>();
            total += sym.dirty_minutes.capacity() * 2;
            total += sym
                .session
                .as_ref()
                .map_or(0, |s| s.minute_volumes.heap_bytes());
            total += sym.profile.as_ref().map_or(0, |p| p.levels.heap_bytes());
        }
        total
    }
}

fn counts_of(pairs: &[(i64, i128)]) -> Result<Counts, EngineError> {
    let mut counts = Counts::new();
    for &(k, v) in pairs {
        if v < 0 {
            return Err(EngineError::BadHistory(format!(
                "negative volume {v} at minute {k}"
            )));
        }
        if v > 0 {
            counts.add(k, v);
        }
    }
    counts.shrink_to_fit();
    Ok(counts)
}

fn open_session(
    shared: &Shared,
    sym: &mut Symbol,
    closed: Option<Session>,
    day: i32,
    source: &mut dyn ContextSource,
) -> Result<(), EngineError> {
    if let Some(closed) = closed {
        // The closed session's last changes are written before the new session's.
        let snap = snapshot(shared, sym, &closed);
        sym.closed.push(shared.codec.snapshot_writes(snap, true));
        sym.daily_totals.set(closed.day, closed.cumulative_volume);
        if shared.learned_curves && !closed.minute_volumes.is_empty() {
            let mut minutes = closed.minute_volumes;
            minutes.shrink_to_fit();
            match sym
                .minute_history
                .binary_search_by_key(&closed.day, |(d, _)| *d)
            {
                Ok(i) => sym.minute_history[i].1 = minutes,
                Err(i) => sym.minute_history.insert(i, (closed.day, minutes)),
            }
        }
        sym.dirty_minutes.clear();
        sym.profile = Some(Profile::default());
    }
    refresh_baseline(shared, sym, day, source)
}

/// Forget sessions no baseline from `day` on can use (`engine_core._keep_recent`).
fn keep_recent<T>(history: &mut Vec<T>, day: i32, lookback: usize, day_of: impl Fn(&T) -> i32) {
    if history.len() <= lookback + 1 {
        return;
    }
    let before = history.iter().filter(|t| day_of(t) < day).count(); // sorted: a prefix
    if before > lookback {
        history.drain(..before - lookback);
    }
}

fn refresh_baseline(
    shared: &Shared,
    sym: &mut Symbol,
    day: i32,
    source: &mut dyn ContextSource,
) -> Result<(), EngineError> {
    sym.daily_totals.keep_recent(day, shared.lookback);
    keep_recent(&mut sym.minute_history, day, shared.lookback, |(d, _)| *d);
    sym.session_day = Some(day);
    let totals = sym.daily_totals.pairs();
    let minutes: Vec<(i32, Vec<(i64, i128)>)> = sym
        .minute_history
        .iter()
        .map(|(d, c)| (*d, c.iter().collect()))
        .collect();
    let ctx = source
        .session_context(&sym.name, day, &totals, &minutes)
        .map_err(EngineError::Context)?;
    sym.baseline = ctx.baseline;
    sym.curve = Some(ctx.curve);
    sym.dte_factor = ctx.dte_factor;
    sym.drained_fno = None;
    Ok(())
}

fn fno_adjustment(shared: &Shared, sym: &Symbol) -> f64 {
    match sym.kind {
        Kind::Equity | Kind::Index => 1.0,
        Kind::Future => sym.dte_factor,
        Kind::Option => {
            sym.dte_factor * moneyness_factor(&shared.moneyness, sym.strike, sym.underlying)
        }
    }
}

/// Metrics from state alone (no clock), so any drain timing writes the same values.
fn snapshot<'a>(shared: &Shared, sym: &'a Symbol, session: &'a Session) -> Snapshot<'a> {
    let minutes = shared.clock.minutes_elapsed(session.last_ts_ms);
    let fno = fno_adjustment(shared, sym);
    let flow_1m = session.flow_rate(1);
    let (mut expected, mut rvol, mut rvol_1m) = (None, None, None);
    if let (Some(b), Some(curve)) = (&sym.baseline, &sym.curve) {
        let exp = expected_volume(b.baseline_1min, fno, curve.cumulative(minutes));
        rvol = relative_volume(session.cumulative_volume as f64, exp);
        let minute_expected =
            expected_volume(b.baseline_1min, fno, curve.weight(session.last_minute));
        rvol_1m = relative_volume(flow_1m, minute_expected);
        expected = if exp <= 0.0 { None } else { Some(exp) };
    }
    Snapshot {
        symbol: &sym.name,
        instrument_type: sym.kind.as_str(),
        is_fno: sym.is_fno,
        session,
        minutes_elapsed: minutes,
        flow_rate_1m: flow_1m,
        flow_rate_5m: session.flow_rate(5),
        baseline: sym.baseline,
        fno_adjustment: fno,
        expected_volume: expected,
        rvol,
        rvol_1m,
        profile: sym
            .profile
            .as_ref()
            .and_then(|p| p.snapshot(Some(session.last_price), &sym.tick)),
        // An option's adjustment moves with its underlying: the baseline hash is rewritten
        // when it does, not on every update.
        baseline_changed: Some(fno) != sym.drained_fno,
        dirty_minutes: sym
            .dirty_minutes
            .iter()
            .map(|&m| (m as i64, session.minute_volumes.get(m as i64)))
            .collect(),
        underlying_price: sym.underlying,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Family, Fields, KeyTemplate};

    struct Flat {
        curve: Arc<Curve>,
        calls: Vec<(String, i32, usize)>,
    }

    impl ContextSource for Flat {
        fn session_context(
            &mut self,
            symbol: &str,
            day: i32,
            totals: &[(i32, i128)],
            _minutes: &[(i32, Vec<(i64, i128)>)],
        ) -> Result<SessionContext, String> {
            self.calls.push((symbol.to_string(), day, totals.len()));
            let past: Vec<i128> = totals.iter().filter(|t| t.0 < day).map(|t| t.1).collect();
            let baseline = (!past.is_empty()).then(|| {
                let avg = past.iter().sum::<i128>() as f64 / past.len() as f64;
                Baseline {
                    sessions: past.len() as i64,
                    baseline_1min: avg / 375.0,
                    avg_volume_20d: avg,
                }
            });
            Ok(SessionContext {
                baseline,
                curve: self.curve.clone(),
                dte_factor: 1.0,
            })
        }
    }

    fn engine() -> Engine {
        let t = KeyTemplate::parse;
        Engine::new(EngineConfig {
            clock: Clock::new((9 * 60 + 15) * 60_000, 375),
            lookback: 20,
            learned_curves: false,
            moneyness: vec![],
            keys: KeyTemplates {
                session: t("vol:session:{symbol}:{date}"),
                baseline: t("vol:baseline:{symbol}"),
                poc: t("volume_profile:poc:{symbol}"),
                profile_session: t("volume_profile:session:{symbol}:{date}"),
                legacy: t("ind:{symbol}"),
                history: t("vol:history:{symbol}"),
                minutes: t("vol:minutes:{symbol}:{date}"),
            },
            legacy_fields: vec![
                ("volume".into(), "cumulative_volume".into()),
                ("avg_volume".into(), "avg_volume_20d".into()),
            ],
        })
    }

    fn source() -> Flat {
        Flat {
            curve: Arc::new(Curve::new((0..=375).map(|k| k as f64).collect()).unwrap()),
            calls: vec![],
        }
    }

    const EQUITY: InstrumentInfo = InstrumentInfo {
        kind: Kind::Equity,
        tick_size: 0.05,
        strike: None,
        has_expiry: false,
        is_fno: false,
    };
    // 2025-01-06T09:15:00+05:30
    const OPEN: i64 = 1_736_135_100_000;
    const DAY: i32 = 20_094;

    fn tick(ts_ms: i64, volume: i64) -> TickIn<'static> {
        TickIn {
            symbol: "SBIN",
            price: 612.35,
            ts_ms,
            volume: Some(volume),
            cumulative_volume: None,
            underlying_price: None,
        }
    }

    fn field<'a>(w: &'a HashWrite, name: &str) -> Option<&'a str> {
        w.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn ticks_to_writes() {
        let mut e = engine();
        let mut src = source();
        e.load(
            "SBIN",
            EQUITY,
            History {
                daily_totals: vec![(DAY - 1, 37_500)],
                ..Default::default()
            },
            &mut src,
        )
        .unwrap();
        assert!(!e.needs_load("SBIN"));
        assert_eq!(
            e.apply(&tick(OPEN + 60 * 60_000, 600), &mut src).unwrap(),
            600
        );
        let writes = e.drain(true);
        let keys: Vec<&str> = writes.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "vol:session:SBIN:2025-01-06",
                "vol:baseline:SBIN",
                "volume_profile:poc:SBIN",
                "volume_profile:session:SBIN:2025-01-06",
                "ind:SBIN",
                "vol:history:SBIN",
                "vol:minutes:SBIN:2025-01-06",
            ]
        );
        let session = &writes[0];
        assert_eq!(field(session, "cumulative_volume"), Some("600"));
        assert_eq!(field(session, "minutes_elapsed"), Some("60"));
        assert_eq!(field(session, "expected_volume"), Some("6000"));
        assert_eq!(field(session, "rvol"), Some("0.1"));
        assert_eq!(
            field(&writes[3], "price_volume_distribution"),
            Some(r#"{"612.35":600}"#)
        );
        assert_eq!(field(&writes[4], "avg_volume"), Some("37500"));
        assert_eq!(writes[6].fields, Fields::from_pairs([("60", "600")]));
        assert_eq!(writes[1].family, Family::Baseline);
        // nothing changed: nothing to drain; the baseline is not rewritten on the next change
        assert!(e.drain(true).is_empty());
        e.apply(&tick(OPEN + 61 * 60_000, 1), &mut src).unwrap();
        assert!(e
            .drain(false)
            .iter()
            .all(|w| w.family != Family::Baseline && w.family != Family::Legacy));
    }

    #[test]
    fn a_new_date_writes_the_closed_session_first_and_stale_ticks_fail() {
        let mut e = engine();
        let mut src = source();
        e.load("SBIN", EQUITY, History::default(), &mut src)
            .unwrap();
        e.apply(&tick(OPEN, 300), &mut src).unwrap();
        e.apply(&tick(OPEN + 86_400_000, 50), &mut src).unwrap();
        let writes = e.drain(false);
        assert_eq!(writes[0].key, "vol:session:SBIN:2025-01-06");
        let current = writes
            .iter()
            .position(|w| w.key == "vol:session:SBIN:2025-01-07")
            .unwrap();
        assert_eq!(field(&writes[current], "avg_volume_20d"), None);
        assert!(writes
            .iter()
            .any(|w| field(w, "avg_volume_20d") == Some("300")));
        let err = e.apply(&tick(OPEN, 1), &mut src).unwrap_err();
        assert_eq!(
            err,
            EngineError::StaleSession(
                "SBIN: tick dated 2025-01-06 is before the current session 2025-01-07".into()
            )
        );
        assert_eq!(
            src.calls.iter().map(|c| c.2).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }

    #[test]
    fn restore_continues_the_session() {
        let mut e = engine();
        let mut src = source();
        let mut session = Session::new(DAY);
        session.cumulative_volume = 1000;
        session.tick_count = 3;
        session.last_price = 612.0;
        session.last_ts_ms = OPEN;
        session.minute_volumes.add(0, 1000);
        let history = History {
            daily_totals: vec![(DAY, 1000)],
            session: Some(session),
            profile: Some(vec![("612.00".into(), 1000)]),
            ..Default::default()
        };
        e.load("SBIN", EQUITY, history, &mut src).unwrap();
        e.apply(&tick(OPEN + 30_000, 5), &mut src).unwrap();
        let writes = e.drain(false);
        assert_eq!(field(&writes[0], "cumulative_volume"), Some("1005"));
        assert_eq!(field(&writes[0], "flow_rate_1m"), Some("1005"));
        let profile = writes
            .iter()
            .find(|w| w.key.starts_with("volume_profile:session"))
            .unwrap();
        assert_eq!(
            field(profile, "price_volume_distribution"),
            Some(r#"{"612.00":1000,"612.35":5}"#)
        );
        assert_eq!(src.calls.len(), 1); // the restored session's context; no second open
        e.drop_symbol("SBIN");
        assert!(e.needs_load("SBIN"));
        assert!(e.apply(&tick(OPEN, 1), &mut src).is_err());
    }
}
