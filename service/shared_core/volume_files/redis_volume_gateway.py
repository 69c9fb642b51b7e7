"""The read API for the rest of the system: the engine's output, typed, batched and counted.

Dashboards and strategies read `vol:session`, `vol:baseline` and `volume_profile:*` through this
module instead of spelling keys, so the key schema can change in one place (store/keys.py).

- A symbol (or date) with no data reads as None, never as an exception; a hash that exists but
  cannot be parsed raises `GatewayDataError` naming the key and field, because silently
  returning None there would hide a writer bug.
- `day=None` means the symbol's latest session: the greatest date in `vol:history:{symbol}`.
  Finding it and reading that session's hash is one small read-only Lua script per symbol, so
  even "latest" reads of many symbols are a single pipelined round trip. (The script builds the
  session key from a prefix it is given: fine on a single Redis or a replica set, not on Cluster.)
- Every read is counted in a KeyUsageTracker (`reads:{family}` in `vol:migration:stats`) and the
  HINCRBYs travel in the same pipeline as the read: migration progress costs no round trip.
- The sync and async gateways share every plan and parser below; they differ only in `await`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar

import orjson
import redis
import redis.asyncio as aredis

from .key_usage_tracker import KeyUsageTracker
from .store import keys
from .store.plans import Plan, Round, one_round, run_plan, run_plan_async, then
from .store.wire import Command, text

Day = dt.date | str | None
T = TypeVar("T")

# KEYS[1] = vol:history:{symbol}; ARGV[1] = the key prefix the latest date is appended to.
# Returns {latest date, HGETALL as a flat array} or nil when the history is empty.
_LATEST_SCRIPT = """
local latest = false
for _, d in ipairs(redis.call('HKEYS', KEYS[1])) do
  if not latest or d > latest then latest = d end
end
if not latest then return false end
return {latest, redis.call('HGETALL', ARGV[1] .. latest)}
"""


class GatewayDataError(ValueError):
    """A hash exists but does not hold what the engine writes (wrong or missing field)."""


# -- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionMetrics:
    """`vol:session:{symbol}:{date}`; the ratios are None while there is no baseline."""

    symbol: str
    date: dt.date
    cumulative_volume: int
    tick_count: int
    last_price: float
    minutes_elapsed: float
    flow_rate_1m: float
    flow_rate_5m: float
    rvol: float | None
    rvol_1m: float | None
    expected_volume: float | None
    exchange_timestamp: dt.datetime  # aware, exchange time (+05:30)
    instrument_type: str | None


@dataclass(frozen=True, slots=True)
class BaselineInfo:
    """`vol:baseline:{symbol}`: what expected volume is built from.

    The engine writes the hash from a symbol's first tick (F&O factor, `is_fno`); the averages
    are None (and `sessions` 0) until the symbol has a recorded session before the current one.
    """

    symbol: str
    baseline_1min: float | None
    avg_volume_20d: float | None
    sessions: int
    fno_adjustment: float
    is_fno: bool


@dataclass(frozen=True, slots=True)
class PocInfo:
    """`volume_profile:poc:{symbol}`: the latest session's point of control and value area."""

    symbol: str
    poc_price: float
    poc_volume: int
    value_area_high: float
    value_area_low: float
    profile_strength: float
    exchange_timestamp: dt.datetime


@dataclass(frozen=True, slots=True)
class VolumeProfileInfo:
    """`volume_profile:session:{symbol}:{date}`, with the JSON fields parsed.

    `distribution` maps price -> volume in ascending price order (levels with volume only);
    support and resistance are nearest-first, as the engine wrote them.
    """

    symbol: str
    date: dt.date
    poc_price: float
    poc_volume: int
    value_area_high: float
    value_area_low: float
    profile_strength: float
    total_volume: int
    distribution: dict[float, int]
    support_levels: tuple[float, ...]
    resistance_levels: tuple[float, ...]
    exchange_timestamp: dt.datetime


# -- Pure parsing -------------------------------------------------------------------------------


def as_hash(reply: Any) -> dict[str, str]:
    """An HGETALL reply (a dict under RESP3 or after redis-py's callback, a flat array from
    Lua) as str -> str."""
    if reply is None:
        return {}
    if isinstance(reply, Mapping):
        return {text(k): text(v) for k, v in reply.items()}
    items = list(reply)
    return {text(items[i]): text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def parse_latest_reply(reply: Any) -> tuple[str | None, dict[str, str]]:
    """The script's reply: (latest date or None, that date's hash)."""
    if not reply:
        return None, {}
    return text(reply[0]), as_hash(reply[1])


class _Fields:
    """Typed access to one hash's fields, with errors that name the key and field."""

    __slots__ = ("key", "raw")

    def __init__(self, key: str, raw: Mapping[str, str]) -> None:
        self.key = key
        self.raw = raw

    def error(self, name: str, what: str) -> GatewayDataError:
        return GatewayDataError(f"{self.key}: field {name!r} {what}")

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if value is None:
            raise self.error(name, "is missing")
        return value

    def integer(self, name: str) -> int:
        value = self.text(name)
        try:
            return int(value)
        except ValueError:
            raise self.error(name, f"is not an integer: {value!r}") from None

    def number(self, name: str) -> float:
        value = self.text(name)
        try:
            return float(value)
        except ValueError:
            raise self.error(name, f"is not a number: {value!r}") from None

    def optional_number(self, name: str) -> float | None:
        return None if name not in self.raw else self.number(name)

    def optional_integer(self, name: str) -> int | None:
        return None if name not in self.raw else self.integer(name)

    def timestamp(self, name: str) -> dt.datetime:
        value = self.text(name)
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise self.error(name, f"is not an ISO 8601 timestamp: {value!r}") from None

    def day(self, name: str, default: str | None) -> dt.date:
        value = self.raw.get(name, default)
        if value is None:
            raise self.error(name, "is missing")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(name, f"is not a YYYY-MM-DD date: {value!r}") from None

    def json(self, name: str) -> Any:
        value = self.text(name)
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise self.error(name, f"is not valid JSON: {value[:60]!r}") from None


def parse_session(symbol: str, day: str | None, raw: Mapping[str, str]) -> SessionMetrics | None:
    """A session hash as SessionMetrics; None for an empty (absent) hash."""
    if not raw:
        return None
    f = _Fields(keys.session_key(symbol, day or "?"), raw)
    return SessionMetrics(
        symbol=symbol,
        date=f.day("date", day),
        cumulative_volume=f.integer("cumulative_volume"),
        tick_count=f.integer("tick_count"),
        last_price=f.number("last_price"),
        minutes_elapsed=f.number("minutes_elapsed"),
        flow_rate_1m=f.number("flow_rate_1m"),
        flow_rate_5m=f.number("flow_rate_5m"),
        rvol=f.optional_number("rvol"),
        rvol_1m=f.optional_number("rvol_1m"),
        expected_volume=f.optional_number("expected_volume"),
        exchange_timestamp=f.timestamp("exchange_timestamp"),
        instrument_type=raw.get("instrument_type"),
    )


def parse_baseline(symbol: str, raw: Mapping[str, str]) -> BaselineInfo | None:
    if not raw:
        return None
    f = _Fields(keys.baseline_key(symbol), raw)
    return BaselineInfo(
        symbol=symbol,
        baseline_1min=f.optional_number("baseline_1min"),
        avg_volume_20d=f.optional_number("avg_volume_20d"),
        sessions=f.optional_integer("sessions") or 0,
        fno_adjustment=f.number("fno_adjustment"),
        is_fno=f.text("is_fno") == "1",
    )


def parse_poc(symbol: str, raw: Mapping[str, str]) -> PocInfo | None:
    if not raw:
        return None
    f = _Fields(keys.poc_key(symbol), raw)
    return PocInfo(
        symbol=symbol,
        poc_price=f.number("poc_price"),
        poc_volume=f.integer("poc_volume"),
        value_area_high=f.number("value_area_high"),
        value_area_low=f.number("value_area_low"),
        profile_strength=f.number("profile_strength"),
        exchange_timestamp=f.timestamp("exchange_timestamp"),
    )


def _levels(f: _Fields, name: str) -> tuple[float, ...]:
    value = f.json(name)
    if not isinstance(value, list):
        raise f.error(name, "is not a JSON array")
    return tuple(float(x) for x in value)


def parse_profile(
    symbol: str, day: str | None, raw: Mapping[str, str]
) -> VolumeProfileInfo | None:
    if not raw:
        return None
    f = _Fields(keys.profile_session_key(symbol, day or "?"), raw)
    dist = f.json("price_volume_distribution")
    if not isinstance(dist, dict):
        raise f.error("price_volume_distribution", "is not a JSON object")
    try:
        distribution = dict(sorted((float(p), int(v)) for p, v in dist.items()))
    except (TypeError, ValueError):
        raise f.error("price_volume_distribution", "is not price -> volume") from None
    return VolumeProfileInfo(
        symbol=symbol,
        date=f.day("date", day),
        poc_price=f.number("poc_price"),
        poc_volume=f.integer("poc_volume"),
        value_area_high=f.number("value_area_high"),
        value_area_low=f.number("value_area_low"),
        profile_strength=f.number("profile_strength"),
        total_volume=f.integer("total_volume"),
        distribution=distribution,
        support_levels=_levels(f, "support_levels"),
        resistance_levels=_levels(f, "resistance_levels"),
        exchange_timestamp=f.timestamp("exchange_timestamp"),
    )


# -- Plans: commands to send and how to read the replies (shared by both executors) -------------


def _day_text(day: Day) -> str | None:
    if day is None:
        return None
    if isinstance(day, dt.date):
        return day.isoformat()
    return dt.date.fromisoformat(day).isoformat()  # validates before anything is sent


def _unique(symbols: Iterable[str]) -> list[str]:
    if isinstance(symbols, str):
        raise TypeError("symbols must be an iterable of symbols, not one string")
    return list(dict.fromkeys(symbols))


def _counted(
    tracker: KeyUsageTracker, family: str, reads: list[Command], parse: Callable[[Sequence[Any]], T]
) -> Plan[T]:
    """One round: the reads, then the usage HINCRBYs (their replies follow the reads')."""
    if reads:
        tracker.record_read(family, len(reads))
    return one_round(Round([*reads, *tracker.commands()]), parse)


def _dated_plan(
    tracker: KeyUsageTracker,
    family: str,
    symbols: list[str],
    day: Day,
    key_of: Callable[[str, str], str],
    parse_one: Callable[[str, str | None, Mapping[str, str]], T | None],
) -> Plan[dict[str, T | None]]:
    """Per symbol: the hash for `day`, or (day None) for the latest date in its history."""
    text = _day_text(day)
    if text is None:
        reads: list[Command] = [
            ("EVAL", _LATEST_SCRIPT, "1", keys.history_key(s), key_of(s, "")) for s in symbols
        ]

        def parse_latest(replies: Sequence[Any]) -> dict[str, T | None]:
            out: dict[str, T | None] = {}
            for symbol, reply in zip(symbols, replies, strict=False):
                latest, raw = parse_latest_reply(reply)
                out[symbol] = parse_one(symbol, latest, raw)
            return out

        return _counted(tracker, family, reads, parse_latest)

    reads = [("HGETALL", key_of(s, text)) for s in symbols]

    def parse_dated(replies: Sequence[Any]) -> dict[str, T | None]:
        return {
            s: parse_one(s, text, as_hash(r)) for s, r in zip(symbols, replies, strict=False)
        }

    return _counted(tracker, family, reads, parse_dated)


def _plain_plan(
    tracker: KeyUsageTracker,
    family: str,
    symbols: list[str],
    key_of: Callable[[str], str],
    parse_one: Callable[[str, Mapping[str, str]], T | None],
) -> Plan[dict[str, T | None]]:
    reads: list[Command] = [("HGETALL", key_of(s)) for s in symbols]

    def parse(replies: Sequence[Any]) -> dict[str, T | None]:
        return {s: parse_one(s, as_hash(r)) for s, r in zip(symbols, replies, strict=False)}

    return _counted(tracker, family, reads, parse)


def _parse_legacy(symbol: str, raw: Mapping[str, str]) -> dict[str, str] | None:
    return dict(raw) if raw else None


class _Plans:
    """Builds every read's plan; the executors below only run them."""

    def __init__(self, key_usage: KeyUsageTracker | None) -> None:
        # Reads are always counted: migration progress is measured from them.
        self.key_usage = key_usage if key_usage is not None else KeyUsageTracker()

    def many_session_metrics(
        self, symbols: Iterable[str], day: Day
    ) -> Plan[dict[str, SessionMetrics | None]]:
        return _dated_plan(
            self.key_usage, keys.FAMILY_UNIFIED, _unique(symbols), day, keys.session_key,
            parse_session,
        )

    def session_metrics(self, symbol: str, day: Day) -> Plan[SessionMetrics | None]:
        return then(self.many_session_metrics([symbol], day), itemgetter(symbol))

    def rvol(self, symbol: str, day: Day) -> Plan[float | None]:
        return then(self.session_metrics(symbol, day), lambda m: None if m is None else m.rvol)

    def profile(self, symbol: str, day: Day) -> Plan[VolumeProfileInfo | None]:
        plan = _dated_plan(
            self.key_usage, keys.FAMILY_PROFILE, [symbol], day, keys.profile_session_key,
            parse_profile,
        )
        return then(plan, itemgetter(symbol))

    def baseline(self, symbol: str) -> Plan[BaselineInfo | None]:
        plan = _plain_plan(
            self.key_usage, keys.FAMILY_BASELINE, [symbol], keys.baseline_key, parse_baseline
        )
        return then(plan, itemgetter(symbol))

    def many_poc(self, symbols: Iterable[str]) -> Plan[dict[str, PocInfo | None]]:
        return _plain_plan(
            self.key_usage, keys.FAMILY_PROFILE, _unique(symbols), keys.poc_key, parse_poc
        )

    def poc(self, symbol: str) -> Plan[PocInfo | None]:
        return then(self.many_poc([symbol]), itemgetter(symbol))

    def legacy(self, symbol: str) -> Plan[dict[str, str] | None]:
        plan = _plain_plan(
            self.key_usage, keys.FAMILY_LEGACY, [symbol], keys.legacy_key, _parse_legacy
        )
        return then(plan, itemgetter(symbol))


# -- Executors: one line a method, each running the plan of the same name -----------------------


class _GatewayFront:
    def __init__(self, key_usage: KeyUsageTracker | None) -> None:
        self._plans = _Plans(key_usage)
        self.key_usage = self._plans.key_usage


class RedisVolumeGateway(_GatewayFront):
    """Reads for `redis.Redis`; one pipelined round trip per call, however many symbols.

    >>> gw = RedisVolumeGateway(redis.Redis(db=1))
    >>> gw.rvol("RELIANCE")                       # latest session, None before a baseline
    >>> gw.many_session_metrics(["RELIANCE", "TCS"], day=date(2025, 1, 6))
    """

    def __init__(self, redis_client: redis.Redis, key_usage: KeyUsageTracker | None = None) -> None:
        super().__init__(key_usage)
        self.redis = redis_client

    def session_metrics(self, symbol: str, day: Day = None) -> SessionMetrics | None:
        return run_plan(self.redis, self._plans.session_metrics(symbol, day))

    def many_session_metrics(
        self, symbols: Iterable[str], day: Day = None
    ) -> dict[str, SessionMetrics | None]:
        return run_plan(self.redis, self._plans.many_session_metrics(symbols, day))

    def rvol(self, symbol: str, day: Day = None) -> float | None:
        return run_plan(self.redis, self._plans.rvol(symbol, day))

    def baseline(self, symbol: str) -> BaselineInfo | None:
        return run_plan(self.redis, self._plans.baseline(symbol))

    def poc(self, symbol: str) -> PocInfo | None:
        return run_plan(self.redis, self._plans.poc(symbol))

    def many_poc(self, symbols: Iterable[str]) -> dict[str, PocInfo | None]:
        return run_plan(self.redis, self._plans.many_poc(symbols))

    def profile(self, symbol: str, day: Day = None) -> VolumeProfileInfo | None:
        return run_plan(self.redis, self._plans.profile(symbol, day))

    def legacy(self, symbol: str) -> dict[str, str] | None:
        return run_plan(self.redis, self._plans.legacy(symbol))


class AsyncRedisVolumeGateway(_GatewayFront):
    """The `redis.asyncio` twin of RedisVolumeGateway: same plans, same results."""

    def __init__(
        self, redis_client: aredis.Redis, key_usage: KeyUsageTracker | None = None
    ) -> None:
        super().__init__(key_usage)
        self.redis = redis_client

    async def session_metrics(self, symbol: str, day: Day = None) -> SessionMetrics | None:
        return await run_plan_async(self.redis, self._plans.session_metrics(symbol, day))

    async def many_session_metrics(
        self, symbols: Iterable[str], day: Day = None
    ) -> dict[str, SessionMetrics | None]:
        return await run_plan_async(self.redis, self._plans.many_session_metrics(symbols, day))

    async def rvol(self, symbol: str, day: Day = None) -> float | None:
        return await run_plan_async(self.redis, self._plans.rvol(symbol, day))

    async def baseline(self, symbol: str) -> BaselineInfo | None:
        return await run_plan_async(self.redis, self._plans.baseline(symbol))

    async def poc(self, symbol: str) -> PocInfo | None:
        return await run_plan_async(self.redis, self._plans.poc(symbol))

    async def many_poc(self, symbols: Iterable[str]) -> dict[str, PocInfo | None]:
        return await run_plan_async(self.redis, self._plans.many_poc(symbols))

    async def profile(self, symbol: str, day: Day = None) -> VolumeProfileInfo | None:
        return await run_plan_async(self.redis, self._plans.profile(symbol, day))

    async def legacy(self, symbol: str) -> dict[str, str] | None:
        return await run_plan_async(self.redis, self._plans.legacy(symbol))
