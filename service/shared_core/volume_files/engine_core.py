"""The engine's tick step: a tick in, per-symbol state updated, metrics out.

Pure: every input is an argument and nothing here knows about Redis, streams or the clock. The
shells (the library engine and the stream workers) load what a symbol needs from Redis the first
time they see it (`needs_load` / `load`), feed ticks through `apply`, and turn `snapshot` into
writes. Both shells share this class, which is why a stream replay and a library replay of the
same ticks leave the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from .baseline_service import (
    Baseline,
    BaselineService,
    TimeOfDayCurve,
    expected_volume,
    relative_volume,
)
from .instruments import Instrument, InstrumentRegistry
from .market_clock import MarketCalendar
from .session_tracker import SessionState, SessionTracker, flow_rate
from .ticks import Tick
from .volume_profile_manager import ProfileSnapshot, VolumeProfile, VolumeProfileManager

_V = TypeVar("_V")


@dataclass(slots=True)
class SymbolHistory:
    """What Redis knows about a symbol before this process saw it."""

    daily_totals: dict[date, int] = field(default_factory=dict)
    minute_history: dict[date, dict[int, int]] = field(default_factory=dict)
    session: SessionState | None = None
    profile: dict[str, int] | None = None
    underlying_price: float | None = None  # the option's last spot, for moneyness


@dataclass(slots=True)
class SymbolContext:
    """Per-symbol facts that change at most once a session."""

    instrument: Instrument
    daily_totals: dict[date, int]
    minute_history: dict[date, dict[int, int]]
    baseline: Baseline | None = None
    curve: TimeOfDayCurve | None = None
    fno_adjustment: float = 1.0
    underlying_price: float | None = None
    # The F&O adjustment of the last drained snapshot; None when the baseline hash is due
    # anyway (first sight, a new session's baseline).
    drained_fno: float | None = None
    session_day: date | None = None
    days_to_expiry: int | None = None  # for session_day; F&O only
    dirty_minutes: set[int] = field(default_factory=set)
    closed: list[SymbolSnapshot] = field(default_factory=list)


@dataclass(slots=True)
class SymbolSnapshot:
    """Everything the writers need for one symbol, computed from state alone.

    Not frozen: one is built per changed symbol per flush, and a frozen dataclass's __init__
    (object.__setattr__ per field) costs several times as much. Treat it as read-only.
    """

    symbol: str
    instrument: Instrument
    session: SessionState
    minutes_elapsed: float
    flow_rate_1m: float
    flow_rate_5m: float
    baseline: Baseline | None
    fno_adjustment: float
    expected_volume: float | None
    rvol: float | None
    rvol_1m: float | None
    profile: ProfileSnapshot | None
    baseline_changed: bool  # the baseline hash differs from the last drained snapshot's
    dirty_minutes: dict[int, int]
    underlying_price: float | None = None


@dataclass(frozen=True, slots=True)
class CoreConfig:
    calendar: MarketCalendar
    registry: InstrumentRegistry
    baselines: BaselineService
    learned_curves: bool = False


class VolumeEngineCore:
    """Holds the session, profile and baseline state of the symbols one shell owns."""

    def __init__(self, config: CoreConfig) -> None:
        self.config = config
        self.calendar = config.calendar
        self.sessions = SessionTracker()
        self.profiles = VolumeProfileManager()
        self._contexts: dict[str, SymbolContext] = {}
        self._dirty: set[str] = set()

    def __len__(self) -> int:
        return len(self._contexts)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._contexts

    def symbols(self) -> list[str]:
        return list(self._contexts)

    def needs_load(self, symbol: str) -> bool:
        return symbol not in self._contexts

    def load(self, symbol: str, history: SymbolHistory, as_of: date) -> None:
        """Adopt a symbol with what Redis had for it: recorded sessions and the open session."""
        instrument = self.config.registry.resolve(symbol, as_of)
        ctx = SymbolContext(
            instrument=instrument,
            daily_totals=dict(history.daily_totals),
            minute_history=dict(history.minute_history),
            underlying_price=history.underlying_price,
        )
        self._contexts[symbol] = ctx
        if history.session is not None:
            self.sessions.restore(symbol, history.session)
            profile = VolumeProfile.from_distribution(history.profile or {}, instrument.tick_size)
            self.profiles.restore(symbol, profile)
            self._refresh_baseline(ctx, history.session.date)

    def drop(self, symbol: str) -> None:
        self._contexts.pop(symbol, None)
        self._dirty.discard(symbol)
        self.sessions.drop(symbol)
        self.profiles.drop(symbol)

    def apply(self, tick: Tick) -> int:
        """Apply one tick and return the volume it added.

        Raises StaleSessionError for a tick dated before the symbol's open session; the caller
        dead-letters it. The symbol must have been loaded.
        """
        symbol = tick.symbol
        ctx = self._contexts[symbol]
        ts = tick.ts_ms
        calendar = self.calendar
        day = calendar.trading_date(ts)
        minute = calendar.minute_of_session(ts)
        update = self.sessions.update(
            symbol,
            day=day,
            ts_ms=ts,
            minute=minute,
            price=tick.price,
            volume=tick.volume,
            cumulative=tick.cumulative_volume,
        )
        if day != ctx.session_day:
            self._open_session(symbol, ctx, update.closed, day)
        if tick.underlying_price is not None:
            ctx.underlying_price = tick.underlying_price
        increment = update.increment
        if increment:
            self.profiles.add(symbol, tick.price, increment, ctx.instrument.tick_size)
            ctx.dirty_minutes.add(minute)
        self._dirty.add(symbol)
        return increment

    def _open_session(
        self, symbol: str, ctx: SymbolContext, closed: SessionState | None, day: date
    ) -> None:
        if closed is not None:
            # The closed session's last changes are written before the new session's.
            ctx.closed.append(self._snapshot(symbol, ctx, closed))
            ctx.daily_totals[closed.date] = closed.cumulative_volume
            if self.config.learned_curves and closed.minute_volumes:
                ctx.minute_history[closed.date] = dict(closed.minute_volumes)
            ctx.dirty_minutes.clear()
            self.profiles.reset(symbol, ctx.instrument.tick_size)
        self._refresh_baseline(ctx, day)

    def _refresh_baseline(self, ctx: SymbolContext, day: date) -> None:
        service = self.config.baselines
        _keep_recent(ctx.daily_totals, day, service.lookback)
        _keep_recent(ctx.minute_history, day, service.lookback)
        ctx.session_day = day
        ctx.days_to_expiry = expiry_days(self.calendar, ctx.instrument, day)
        ctx.baseline = service.baseline(ctx.daily_totals, day)
        recent = [ctx.minute_history[d] for d in sorted(ctx.minute_history) if d < day]
        ctx.curve = service.curve_for(recent[-service.lookback :])
        ctx.drained_fno = None

    def _fno_adjustment(self, ctx: SymbolContext, day: date) -> float:
        if day == ctx.session_day:
            dte = ctx.days_to_expiry  # computed once per session day
        else:
            dte = expiry_days(self.calendar, ctx.instrument, day)
        return fno_adjustment(self.config, ctx.instrument, dte, ctx.underlying_price)

    def drain(self) -> list[SymbolSnapshot]:
        """Snapshots of every symbol changed since the last drain, closed sessions first."""
        out: list[SymbolSnapshot] = []
        for symbol in self._dirty:
            ctx = self._contexts[symbol]
            if ctx.closed:
                out.extend(ctx.closed)
                ctx.closed.clear()
            session = self.sessions.get(symbol)
            if session is not None:
                snap = self._snapshot(symbol, ctx, session)
                out.append(snap)
                ctx.drained_fno = snap.fno_adjustment
            ctx.dirty_minutes.clear()
        self._dirty.clear()
        return out

    def snapshot(self, symbol: str) -> SymbolSnapshot | None:
        """The current metrics of one symbol, without touching what is due for writing."""
        session = self.sessions.get(symbol)
        ctx = self._contexts.get(symbol)
        if session is None or ctx is None:
            return None
        return self._snapshot(symbol, ctx, session)

    def _snapshot(self, symbol: str, ctx: SymbolContext, session: SessionState) -> SymbolSnapshot:
        """Metrics from state alone (no clock), so any flush timing writes the same values."""
        minutes = self.calendar.minutes_elapsed(session.last_ts_ms)
        fno = self._fno_adjustment(ctx, session.date)
        baseline = ctx.baseline
        expected: float | None = None
        rvol: float | None = None
        rvol_1m: float | None = None
        flow_1m = flow_rate(session, 1)
        if baseline is not None and ctx.curve is not None:
            expected = expected_volume(baseline.baseline_1min, fno, ctx.curve.cumulative(minutes))
            rvol = relative_volume(session.cumulative_volume, expected)
            minute_expected = expected_volume(
                baseline.baseline_1min, fno, ctx.curve.weight(session.last_minute)
            )
            rvol_1m = relative_volume(flow_1m, minute_expected)
            if expected <= 0:
                expected = None
        profile = self.profiles.get(symbol)
        return SymbolSnapshot(
            symbol=symbol,
            instrument=ctx.instrument,
            session=session,
            minutes_elapsed=minutes,
            flow_rate_1m=flow_1m,
            flow_rate_5m=flow_rate(session, 5),
            baseline=baseline,
            fno_adjustment=fno,
            expected_volume=expected,
            rvol=rvol,
            rvol_1m=rvol_1m,
            profile=None if profile is None else profile.snapshot(session.last_price),
            # An option's adjustment moves with its underlying's price: the baseline hash is
            # rewritten when it does, not on every update.
            baseline_changed=fno != ctx.drained_fno,
            dirty_minutes={m: session.minute_volumes.get(m, 0) for m in ctx.dirty_minutes},
            underlying_price=ctx.underlying_price,
        )


def expiry_days(calendar: MarketCalendar, instrument: Instrument, day: date) -> int | None:
    """Trading days from `day` to the instrument's expiry; None for one that does not expire."""
    expiry = instrument.expiry
    return None if expiry is None else calendar.days_to_expiry(day, expiry)


def fno_adjustment(
    config: CoreConfig, instrument: Instrument, days_to_expiry: int | None,
    underlying_price: float | None,
) -> float:
    """The F&O multiplier on an instrument's baseline: exactly 1.0 for equity and index.

    The engine and the baseline import (which has no spot yet: None) share it, so an imported
    baseline hash carries the adjustment the engine writes at the session's start.
    """
    return config.baselines.multipliers.adjustment(
        instrument.kind, days_to_expiry=days_to_expiry, strike=instrument.strike,
        underlying_price=underlying_price,
    )


def _keep_recent(history: dict[date, _V], day: date, lookback: int) -> None:
    """Forget sessions no baseline from `day` on can use: those older than the `lookback`-th
    most recent one before `day`. (A later day's window holds those or newer.) Bounds a
    long-lived worker's memory, whatever the length of the history in Redis."""
    if len(history) <= lookback + 1:
        return
    before = sorted(d for d in history if d < day)
    for old in before[:-lookback]:
        del history[old]
