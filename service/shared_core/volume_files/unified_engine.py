"""The in-process library engine: one tick in, metrics out, Redis updated.

`UnifiedVolumeEngine` works with a plain synchronous `redis.Redis` (the legacy in-process use);
`AsyncUnifiedVolumeEngine` is its twin for `redis.asyncio`. Both are thin: parsing, the tick step
and the hash contents come from the shared core and codec, so they write the same keys and the
same values as the streaming service does for the same ticks.

Both use the shared instruments master (`volume-engine instruments import`), as the workers do:
it is read at the first tick, and again whenever a tick's instrument_token is not in it (one
HGET of the version; the rows only when an import happened since).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio as aredis

from .core_config import load_core_config
from .engine_core import CoreConfig, SymbolSnapshot, VolumeEngineCore
from .key_usage_tracker import KeyUsageTracker
from .settings import Settings, load_settings
from .store import instruments_store
from .store.codec import HashWrite, snapshot_writes
from .store.loader import SymbolLoad
from .store.plans import Plan, Round, run_plan, run_plan_async
from .store.wire import Command
from .ticks import UNKNOWN_INSTRUMENT, Tick, TickError, parse_tick


def snapshot_result(snap: SymbolSnapshot, increment: int) -> dict[str, Any]:
    """The dict `process_tick` returns: plain Python numbers, None where not computable."""
    s = snap.session
    baseline = snap.baseline
    profile = snap.profile
    return {
        "symbol": snap.symbol,
        "date": s.date.isoformat(),
        "instrument_type": snap.instrument.kind.value,
        "incremental_volume": increment,
        "cumulative_volume": s.cumulative_volume,
        "tick_count": s.tick_count,
        "last_price": s.last_price,
        "minutes_elapsed": snap.minutes_elapsed,
        "expected_volume": snap.expected_volume,
        "ratios": {"cumulative": snap.rvol, "per_minute": snap.rvol_1m},
        "flow_rates": {"1m": snap.flow_rate_1m, "5m": snap.flow_rate_5m},
        "baseline": None if baseline is None else {
            "avg_volume_20d": baseline.avg_volume_20d,
            "baseline_1min": baseline.baseline_1min,
            "sessions": baseline.sessions,
            "fno_adjustment": snap.fno_adjustment,
            "is_fno": snap.instrument.is_fno,
        },
        "profile": None if profile is None else {
            "poc_price": profile.poc_price,
            "poc_volume": profile.poc_volume,
            "value_area_high": profile.value_area_high,
            "value_area_low": profile.value_area_low,
            "profile_strength": profile.profile_strength,
            "support_levels": profile.support_levels,
            "resistance_levels": profile.resistance_levels,
        },
        "exchange_timestamp_ms": s.last_ts_ms,
    }


class _EngineLogic:
    """What both twins share: everything but running the commands."""

    def __init__(
        self,
        settings: Settings | None,
        core_config: CoreConfig | None,
        dual_write: bool | None,
        key_usage: KeyUsageTracker | None,
    ) -> None:
        if core_config is None:
            settings = settings if settings is not None else load_settings()
            core_config = load_core_config(settings)
        self.core = VolumeEngineCore(core_config)
        self.dual_write = (
            dual_write if dual_write is not None
            else settings.dual_write if settings is not None else True
        )
        self.key_usage = key_usage
        lookback = core_config.baselines.lookback if core_config.learned_curves else 0
        self._minute_history_days = lookback
        self.registry = core_config.registry
        self.instruments_version: int | None = None  # of the shared master in the registry
        self.instruments_checked = False

    def refresh(self) -> Plan[bool]:
        """Adopt the shared master if an import happened since; True when it did."""
        self.instruments_checked = True
        version = instruments_store.version_of((yield Round([instruments_store.VERSION_READ])))
        if version is None or version == self.instruments_version:
            return False
        stored = instruments_store.stored_master(
            (yield Round(instruments_store.MASTER_READ, transaction=True))
        )
        if stored is None or stored.version == self.instruments_version:
            return False
        tables = stored.tables
        self.registry.replace_master(tables.instruments, tables.tokens)
        self.instruments_version = stored.version
        return True

    def parse(self, symbol: str | None, tick: Mapping[str, object]) -> Plan[Tick]:
        """The tick, its token resolved through the shared master: read at the first tick and
        again when a token is unknown (an import may have added it)."""
        if not self.instruments_checked:
            yield from self.refresh()
        try:
            return parse_tick(symbol, tick, tokens=self.registry.tokens)
        except TickError as exc:
            if exc.reason != UNKNOWN_INSTRUMENT or not (yield from self.refresh()):
                raise
        return parse_tick(symbol, tick, tokens=self.registry.tokens)

    def process(self, symbol: str | None, tick: Mapping[str, object]) -> Plan[dict[str, Any]]:
        """One tick: load its symbol if new (two reads), apply, write (one transaction)."""
        parsed = yield from self.parse(symbol, tick)
        core = self.core
        if core.needs_load(parsed.symbol):
            load = SymbolLoad([parsed.symbol], minute_history_days=self._minute_history_days)
            second = load.second((yield Round(load.first())))
            histories = load.result((yield Round(second)))
            day = core.calendar.trading_date(parsed.ts_ms)
            core.load(parsed.symbol, histories[parsed.symbol], day)
        increment = core.apply(parsed)
        snaps = core.drain()
        yield Round(self.write_commands(snaps), transaction=True)
        return snapshot_result(snaps[-1], increment)

    def write_commands(self, snaps: Sequence[SymbolSnapshot]) -> list[Command]:
        writes: list[HashWrite] = []
        for snap in snaps:
            writes.extend(snapshot_writes(snap, dual_write=self.dual_write))
        commands: list[Command] = []
        for w in writes:
            flat: list[str] = []
            for field, value in w.fields.items():
                flat += (field, value)
            commands.append(("HSET", w.key, *flat))
            if w.absent:
                commands.append(("HDEL", w.key, *w.absent))
            if self.key_usage is not None:
                self.key_usage.record_write(w.family)
        if self.key_usage is not None:
            commands.extend(self.key_usage.commands())
        return commands


ClientT = TypeVar("ClientT", redis.Redis, aredis.Redis)


class _EngineFront(Generic[ClientT]):
    """What the twins' constructors share: the client and the shared logic."""

    def __init__(
        self,
        redis_client: ClientT,
        *,
        settings: Settings | None = None,
        core_config: CoreConfig | None = None,
        dual_write: bool | None = None,
        key_usage: KeyUsageTracker | None = None,
    ) -> None:
        self.redis: ClientT = redis_client
        self._logic = _EngineLogic(settings, core_config, dual_write, key_usage)
        self.core = self._logic.core


class UnifiedVolumeEngine(_EngineFront[redis.Redis]):
    """Synchronous engine for in-process use with `redis.Redis`.

    >>> engine = UnifiedVolumeEngine(redis_client)
    >>> result = engine.process_tick("NSENIFTY27JAN25000CE",
    ...     {"volume": 500, "price": 120.5, "timestamp": "2025-12-21T10:00:00"})
    >>> result["ratios"]["cumulative"]
    """

    def process_tick(self, symbol: str | None, tick: Mapping[str, object]) -> dict[str, Any]:
        """Apply one tick; raises TickError (invalid input) or StaleSessionError (old date)."""
        return run_plan(self.redis, self._logic.process(symbol, tick))

    def refresh_instruments(self) -> bool:
        """Adopt the shared master if an import happened since; True when it did."""
        return run_plan(self.redis, self._logic.refresh())


class AsyncUnifiedVolumeEngine(_EngineFront[aredis.Redis]):
    """The `redis.asyncio` twin of UnifiedVolumeEngine; same plan, same keys, same values."""

    async def refresh_instruments(self) -> bool:
        """Adopt the shared master if an import happened since; True when it did."""
        return await run_plan_async(self.redis, self._logic.refresh())

    async def process_tick(self, symbol: str | None, tick: Mapping[str, object]) -> dict[str, Any]:
        """Apply one tick; raises TickError (invalid input) or StaleSessionError (old date)."""
        return await run_plan_async(self.redis, self._logic.process(symbol, tick))
