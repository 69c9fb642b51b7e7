"""The Rust engine (`_native.NativeEngine`) driven by the same CoreConfig as VolumeEngineCore.

The native core holds the per-symbol state and encodes the hash writes; what stays in Python is
handed to it: instruments are resolved here (`InstrumentRegistry`), and at every session open
the native engine calls back for the session context (baseline, time-of-day curve and
days-to-expiry factor), computed by the same `BaselineService` and `MarketCalendar` the Python
core uses. Key templates, legacy field names and family names come from `store/keys.py`, so no
key is spelled in Rust. Writes come back as the codec's `HashWrite`s.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from .baseline_service import TimeOfDayCurve
from .engine_core import CoreConfig, SymbolHistory
from .instruments import Instrument
from .store import keys
from .store.codec import HashWrite
from .ticks import Tick

__all__ = [
    "NativeEngineCore", "SessionContexts", "load_arguments", "native_available", "native_config",
]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_NativeEngine: type[_native.NativeEngine] | None
try:
    from . import _native

    _NativeEngine = _native.NativeEngine
except (ImportError, AttributeError):  # pragma: no cover - depends on how it was built
    _NativeEngine = None


def native_available() -> bool:
    return _NativeEngine is not None


def _day(d: date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> date:
    """Cached: every symbol's session context converts the same few dozen days."""
    return date.fromordinal(_EPOCH_ORDINAL + day)


def native_config(config: CoreConfig) -> dict[str, Any]:
    """The NativeEngine constructor's config dict for a CoreConfig."""
    hours = config.calendar.hours
    service = config.baselines
    sym, day = "{symbol}", "{date}"
    return {
        "session_open_ms": (hours.open.hour * 60 + hours.open.minute) * 60_000,
        "session_minutes": hours.minutes,
        "lookback": service.lookback,
        "learned_curves": config.learned_curves,
        "moneyness": [(float(bound), float(mult)) for bound, mult in service.multipliers.moneyness],
        "keys": {
            "session": keys.session_key(sym, day),
            "baseline": keys.baseline_key(sym),
            "poc": keys.poc_key(sym),
            "profile_session": keys.profile_session_key(sym, day),
            "legacy": keys.legacy_key(sym),
            "history": keys.history_key(sym),
            "minutes": keys.minutes_key(sym, day),
        },
        "legacy_fields": list(keys.LEGACY_FIELDS.items()),
        "families": {
            "unified": keys.FAMILY_UNIFIED,
            "baseline": keys.FAMILY_BASELINE,
            "profile": keys.FAMILY_PROFILE,
            "legacy": keys.FAMILY_LEGACY,
            "state": keys.FAMILY_STATE,
        },
    }


_DTE_FACTORS_HELD = 4096  # (day, expiry) pairs: a day has a few hundred expiries at most

Context = tuple[tuple[int, float, float] | None, TimeOfDayCurve, float]
RawWrite = tuple[str, str, list[tuple[str, str]], list[str]]


class SessionContexts:
    """The native engine's session-context callback: `VolumeEngineCore._refresh_baseline`'s
    computations (baseline, curve, days-to-expiry factor) by the same services, so both cores
    open a session with the same numbers. Knows each loaded symbol's expiry."""

    def __init__(self, config: CoreConfig) -> None:
        self.config = config
        self.expiries: dict[str, date | None] = {}
        # (day, expiry) -> days-to-expiry factor: the thousands of contracts of one expiry
        # open their sessions on the same day with the same factor.
        self._dte_factors: dict[tuple[int, date], float] = {}

    def __call__(
        self,
        symbol: str,
        day: int,
        daily_totals: Mapping[int, int],
        minute_history: Sequence[tuple[int, dict[int, int]]],
    ) -> Context:
        service = self.config.baselines
        baseline = service.baseline(daily_totals, day)  # day numbers order as dates
        recent = [m for d, m in minute_history if d < day]  # oldest first
        curve = service.curve_for(recent[-service.lookback :])
        expiry = self.expiries.get(symbol)
        base = None if baseline is None else (
            baseline.sessions, baseline.baseline_1min, baseline.avg_volume_20d,
        )
        if expiry is None:
            return base, curve, service.multipliers.dte_factor(None)
        factor = self._dte_factors.get((day, expiry))
        if factor is None:
            if len(self._dte_factors) >= _DTE_FACTORS_HELD:
                self._dte_factors.clear()  # days gone by; today's come back at once
            dte = self.config.calendar.days_to_expiry(_date(day), expiry)
            factor = self._dte_factors[(day, expiry)] = service.multipliers.dte_factor(dte)
        return base, curve, factor


def load_arguments(symbol: str, instrument: Instrument, history: SymbolHistory) -> tuple[Any, ...]:
    """`NativeEngine.load`'s / `PartitionCore.load`'s arguments for a symbol's history."""
    s = history.session
    session = None if s is None else (
        _day(s.date), s.cumulative_volume, s.tick_count, s.last_price, s.last_ts_ms,
        s.last_minute, list(s.minute_volumes.items()),
    )
    return (
        symbol,
        instrument.kind.value,
        instrument.tick_size,
        instrument.strike,
        instrument.expiry is not None,
        instrument.is_fno,
        [(_day(d), v) for d, v in history.daily_totals.items()],
        [(_day(d), list(m.items())) for d, m in sorted(history.minute_history.items())],
        session,
        None if history.profile is None else list(history.profile.items()),
        history.underlying_price,
    )


class NativeEngineCore:
    """VolumeEngineCore's interface over the Rust engine; `drain` returns the writes."""

    def __init__(self, config: CoreConfig) -> None:
        if _NativeEngine is None:
            raise RuntimeError("the native extension (_native) is not built with the engine")
        self.config = config
        self.calendar = config.calendar
        self._contexts = SessionContexts(config)
        self._engine = _NativeEngine(native_config(config), self._contexts)

    def __len__(self) -> int:
        return len(self._engine)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol in self._engine

    def needs_load(self, symbol: str) -> bool:
        return bool(self._engine.needs_load(symbol))

    def load(self, symbol: str, history: SymbolHistory, as_of: date) -> None:
        instrument = self.config.registry.resolve(symbol, as_of)
        self._contexts.expiries[symbol] = instrument.expiry
        self._engine.load(*load_arguments(symbol, instrument, history))

    def drop(self, symbol: str) -> None:
        self._engine.drop(symbol)
        self._contexts.expiries.pop(symbol, None)

    def apply(self, tick: Tick) -> int:
        """The volume the tick added; raises StaleSessionError as VolumeEngineCore does."""
        return int(self._engine.apply((
            tick.symbol, tick.price, tick.ts_ms, tick.volume, tick.cumulative_volume, tick.oi,
            tick.underlying_price,
        )))

    def drain(self, *, dual_write: bool) -> list[HashWrite]:
        """Every write due since the last drain, each symbol's closed sessions first."""
        return _writes(self._engine.drain(dual_write))

    def snapshot_writes(self, symbol: str, *, dual_write: bool) -> list[HashWrite] | None:
        raw = self._engine.snapshot_writes(symbol, dual_write)
        return None if raw is None else _writes(raw)


def _writes(raw: list[RawWrite]) -> list[HashWrite]:
    return [HashWrite(key, family, dict(fields), tuple(absent))
            for key, family, fields, absent in raw]
