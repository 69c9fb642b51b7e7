"""The Rust engine (`_native.NativeEngine`) against the Python reference, write for write.

The same CoreConfig drives VolumeEngineCore (+ codec.snapshot_writes) and NativeEngineCore over
random multi-symbol tick streams, and both must give identical hash writes at every drain
(compared per symbol: the Python drain iterates a set), identical increments and identical
stale-session errors. Restores go through a real redis-server: every drain's writes are stored,
and a symbol is dropped and reloaded the way the shells do (`store.loader.SymbolLoad`, hence
`codec.build_history`). The codec's number formats, the level rounding and the scan are also
compared function by function, and the real sample data is replayed through both engines.

Without the extension built the module is skipped, unless VOLUME_REQUIRE_NATIVE=1 (CI sets it):
then a missing extension is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_core.volume_files import profile_scan
from shared_core.volume_files import settings as cfg_settings
from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.dev import sample_data
from shared_core.volume_files.engine_core import CoreConfig, SymbolHistory, VolumeEngineCore
from shared_core.volume_files.instruments import Instrument, InstrumentKind, InstrumentRegistry
from shared_core.volume_files.market_clock import IST
from shared_core.volume_files.native_engine import NativeEngineCore, native_available
from shared_core.volume_files.session_tracker import StaleSessionError
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.loader import SymbolLoad
from shared_core.volume_files.ticks import Tick, parse_entry
from shared_core.volume_files.volume_profile_manager import VolumeProfile

if not native_available():
    if os.environ.get("VOLUME_REQUIRE_NATIVE") == "1":
        pytest.fail("the Rust extension _native (NativeEngine) is not built", pytrace=False)
    pytest.skip(
        "the Rust extension _native (NativeEngine) is not built: install with cargo on PATH",
        allow_module_level=True,
    )

from shared_core.volume_files import _native

TICK_SIZES = (0.05, 0.01, 0.5, 1.0, 0.0025)
DAYS = (date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8), date(2025, 1, 9), date(2025, 1, 10))
PAST = (date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 2),
        date(2025, 1, 3))


def core_config(**env: str) -> CoreConfig:
    config = load_core_config(cfg_settings.load_settings(env=env))
    master = [
        Instrument("PENNY", "PENNY", InstrumentKind.EQUITY, tick_size=0.01),
        Instrument("HALF", "HALF", InstrumentKind.EQUITY, tick_size=0.5),
        Instrument("ONE", "ONE", InstrumentKind.EQUITY, tick_size=1.0),
        Instrument("FINE25JAN410CE", "FINE", InstrumentKind.OPTION, expiry=date(2025, 1, 30),
                   strike=410.0, option_type="CE", tick_size=0.0025),
    ]
    return replace(config, registry=InstrumentRegistry(config.calendar, master))


CONFIGS = {
    "default": core_config(),
    "flat": core_config(VOLUME_CURVE="flat"),
    "learned": core_config(VOLUME_CURVE="learned", VOLUME_LOOKBACK_SESSIONS="3",
                           VOLUME_MIN_LEARNED_SESSIONS="1"),
}

# symbol -> (base price, tick, strike or None)
SYMBOLS: dict[str, tuple[float, float, float | None]] = {
    "SBIN": (612.35, 0.05, None),
    "NIFTY": (23500.0, 0.05, None),
    "NIFTY25JANFUT": (23600.0, 0.05, None),
    "NIFTY25JAN24000CE": (150.0, 0.05, 24000.0),
    "NIFTY2510923500PE": (80.0, 0.05, 23500.0),
    "PENNY": (12.34, 0.01, None),
    "HALF": (250.0, 0.5, None),
    "ONE": (1200.0, 1.0, None),
    "FINE25JAN410CE": (4.2, 0.0025, 410.0),
}
NAMES = sorted(SYMBOLS)


def ts(day: date, seconds: float) -> int:
    """Epoch ms of `seconds` after 09:15 exchange time on `day`."""
    start = datetime.combine(day, time(9, 15), tzinfo=IST)
    return int((start + timedelta(seconds=seconds)).timestamp() * 1000)


# -- Comparing writes -----------------------------------------------------------------------


Normal = tuple[str, str, Any, tuple[str, ...]]


def normal(write: HashWrite) -> Normal:
    """A write as compared: the minutes hash's field order is the Python side's set order, so
    its fields compare as a dict; every other write compares field order too."""
    if write.key.startswith(keys.minutes_key("", "")[: -1]) and write.family == keys.FAMILY_STATE:
        return write.key, write.family, sorted(write.fields.items()), write.absent
    return write.key, write.family, list(write.fields.items()), write.absent


def by_symbol(writes: Iterable[HashWrite]) -> dict[str, list[Normal]]:
    """Writes grouped per symbol, in order: each snapshot's writes start with its session hash,
    which names the symbol."""
    out: dict[str, list[Normal]] = {}
    current: list[Normal] | None = None
    for w in writes:
        if w.family == keys.FAMILY_UNIFIED:
            current = out.setdefault(w.fields["symbol"], [])
        assert current is not None, f"a write before any session write: {w}"
        current.append(normal(w))
    return out


def python_writes(core: VolumeEngineCore, dual_write: bool) -> list[HashWrite]:
    return [w for snap in core.drain() for w in codec.snapshot_writes(snap, dual_write=dual_write)]


def store(client: redis.Redis, writes: list[HashWrite]) -> None:
    pipe = client.pipeline(transaction=False)
    for w in writes:
        pipe.hset(w.key, mapping=w.fields)  # type: ignore[arg-type]
        if w.absent:
            pipe.hdel(w.key, *w.absent)
    pipe.execute()


def load_history(client: redis.Redis, symbol: str, minute_days: int) -> SymbolHistory:
    plan = SymbolLoad([symbol], minute_history_days=minute_days)

    def run(commands: list[tuple[str, ...]]) -> list[Any]:
        pipe: Any = client.pipeline(transaction=False)  # its execute_command is untyped
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = pipe.execute()
        return replies

    replies = run(plan.first())
    second = plan.second(replies)
    return plan.result(run(second))[symbol]


@dataclass
class Pair:
    """The two engines over one Redis database, driven in lockstep."""

    config: CoreConfig
    client: redis.Redis
    py: VolumeEngineCore = field(init=False)
    rs: NativeEngineCore = field(init=False)
    drains: int = 0

    def __post_init__(self) -> None:
        self.py = VolumeEngineCore(self.config)
        self.rs = NativeEngineCore(self.config)

    @property
    def minute_days(self) -> int:
        return self.config.baselines.lookback if self.config.learned_curves else 0

    def load(self, symbol: str, as_of: date) -> None:
        history = load_history(self.client, symbol, self.minute_days)
        self.py.load(symbol, history, as_of)
        again = load_history(self.client, symbol, self.minute_days)  # its own objects
        self.rs.load(symbol, again, as_of)

    def apply(self, tick: Tick) -> None:
        if self.py.needs_load(tick.symbol):
            assert self.rs.needs_load(tick.symbol)
            self.load(tick.symbol, self.config.calendar.trading_date(tick.ts_ms))
        try:
            expected: int | str = self.py.apply(tick)
        except StaleSessionError as exc:
            expected = f"stale: {exc}"
        try:
            got: int | str = self.rs.apply(tick)
        except StaleSessionError as exc:
            got = f"stale: {exc}"
        assert got == expected, tick

    def drain(self, dual_write: bool) -> None:
        self.drains += 1
        want = python_writes(self.py, dual_write)
        got = self.rs.drain(dual_write=dual_write)
        assert by_symbol(got) == by_symbol(want), f"drain {self.drains}"
        store(self.client, want)

    def restore(self, symbol: str, as_of: date) -> None:
        """Drop the symbol from both and reload it from what the drains stored."""
        self.drain(dual_write=True)
        self.py.drop(symbol)
        self.rs.drop(symbol)
        self.load(symbol, as_of)

    def check_snapshots(self, dual_write: bool) -> None:
        for symbol in self.py.symbols():
            snap = self.py.snapshot(symbol)
            want = None if snap is None else codec.snapshot_writes(snap, dual_write=dual_write)
            got = self.rs.snapshot_writes(symbol, dual_write=dual_write)
            assert (got and by_symbol(got)) == (want and by_symbol(want)), symbol


# -- Random streams -------------------------------------------------------------------------

HUGE = 2**57  # level sums stay within orjson's 64-bit integers over a whole example

ticks_ops = st.tuples(
    st.just("tick"),
    st.sampled_from(NAMES),
    st.sampled_from((-1, 0, 0, 0, 0, 0, 0, 0, 1)),  # day step: stale, same, next
    st.integers(-50 * 60, 440 * 60),  # seconds from the open: pre-open to after the close
    st.integers(0, 999),  # ms
    st.one_of(st.integers(-60, 60), st.floats(0.8, 1.2)),  # half ticks from base, or a factor
    st.integers(0, 99),  # volume form
    st.integers(0, 5000),
    st.one_of(st.none(), st.floats(0.85, 1.15)),  # underlying vs strike
)
drain_ops = st.tuples(st.just("drain"), st.booleans())
restore_ops = st.tuples(st.just("restore"), st.sampled_from(NAMES))
scripts = st.lists(
    st.one_of(ticks_ops, ticks_ops, ticks_ops, ticks_ops, ticks_ops, drain_ops, restore_ops),
    min_size=1,
    max_size=70,
)
# Now and then a total past 64 bits: the session context hands totals to Python through i64
# where they fit, through a byte array where not.
past_totals = st.dictionaries(
    st.sampled_from(NAMES),
    st.lists(st.one_of(st.integers(0, 10**7), st.integers(0, 10**7), st.just(2**64 + 7)),
             min_size=0, max_size=5),
    max_size=5,
)


@dataclass
class Stream:
    """Per-symbol state of the generator: current day, cumulative volume."""

    day: dict[str, int] = field(default_factory=dict)
    cumulative: dict[str, int] = field(default_factory=dict)

    def tick(self, op: tuple[Any, ...]) -> Tick:
        _, symbol, step, seconds, ms, price_spec, form, amount, spot = op
        base, tick_size, strike = SYMBOLS[symbol]
        current = self.day.get(symbol, 0)
        index = min(max(current + step, 0), len(DAYS) - 1)
        if index > current:
            self.cumulative[symbol] = 0
        self.day[symbol] = max(current, index)
        if isinstance(price_spec, int):
            price = float(Decimal(repr(base)) + Decimal(price_spec) * Decimal(repr(tick_size)) / 2)
        else:
            price = base * price_spec
        volume: int | None = None
        cumulative: int | None = None
        if form < 40:
            volume = amount
        elif form < 42:
            volume = HUGE + amount
        elif form < 45:
            volume = None  # a price-only tick
        elif form < 50:
            volume = 0
        else:
            last = self.cumulative.get(symbol, 0)
            rise = amount - 400 if form < 97 else HUGE
            cumulative = max(0, last + rise)
            self.cumulative[symbol] = max(last, cumulative)
            volume = amount if form % 7 == 0 else None
        underlying = None if (spot is None or strike is None) else strike * spot
        return Tick(symbol=symbol, price=price, ts_ms=ts(DAYS[index], seconds + ms / 1000),
                    volume=volume, cumulative_volume=cumulative, underlying_price=underlying)


def seed_history(client: redis.Redis, totals: dict[str, list[int]]) -> None:
    for symbol, values in totals.items():
        for day, value in zip(PAST, values, strict=False):
            client.hset(keys.history_key(symbol), day.isoformat(), str(value))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(config=st.sampled_from(sorted(CONFIGS)), script=scripts, totals=past_totals,
       final_dual=st.booleans())
def test_random_streams_give_identical_writes(
    redis_client: redis.Redis, config: str, script: list[tuple[Any, ...]],
    totals: dict[str, list[int]], final_dual: bool,
) -> None:
    redis_client.flushdb()
    seed_history(redis_client, totals)
    pair = Pair(CONFIGS[config], redis_client)
    stream = Stream()
    for op in script:
        if op[0] == "tick":
            pair.apply(stream.tick(op))
        elif op[0] == "drain":
            pair.drain(op[1])
        elif not pair.py.needs_load(op[1]):
            pair.restore(op[1], DAYS[stream.day.get(op[1], 0)])
    pair.check_snapshots(final_dual)
    pair.drain(final_dual)
    assert len(pair.rs) == len(pair.py)


def test_a_session_roll_with_learned_curves_and_a_restore(redis_client: redis.Redis) -> None:
    """Six sessions of minute volumes: the learned curve kicks in and the lookback trims."""
    pair = Pair(CONFIGS["learned"], redis_client)
    for i, day in enumerate((*PAST, *DAYS)):
        for minute in range(0, 375, 25):
            volume = 100 + 17 * minute + 1000 * i
            pair.apply(Tick("SBIN", 612.35 + 0.05 * (minute % 7), ts(day, minute * 60 + 5),
                            volume, None))
            pair.apply(Tick("NIFTY25JAN24000CE", 150 + 0.025 * (minute % 5), ts(day, minute * 60),
                            None, volume * (minute + 1), underlying_price=23900.0 + minute))
        pair.drain(dual_write=i % 2 == 0)
        if i == 6:
            pair.restore("SBIN", day)
    pair.check_snapshots(True)


def test_stale_ticks_raise_the_same_error(redis_client: redis.Redis) -> None:
    pair = Pair(CONFIGS["default"], redis_client)
    pair.apply(Tick("SBIN", 612.35, ts(DAYS[1], 60), 10, None))
    with pytest.raises(StaleSessionError) as rust:
        pair.rs.apply(Tick("SBIN", 612.35, ts(DAYS[0], 60), 10, None))
    with pytest.raises(StaleSessionError) as python:
        pair.py.apply(Tick("SBIN", 612.35, ts(DAYS[0], 60), 10, None))
    assert str(rust.value) == str(python.value)
    assert "2025-01-06 is before the current session 2025-01-07" in str(rust.value)
    pair.drain(dual_write=True)


def test_a_symbol_never_loaded_is_a_key_error() -> None:
    rs = NativeEngineCore(CONFIGS["default"])
    with pytest.raises(KeyError):
        rs.apply(Tick("SBIN", 1.0, ts(DAYS[0], 0), 1, None))
    assert rs.needs_load("SBIN")
    assert len(rs) == 0


# -- Real data ------------------------------------------------------------------------------


def replay(pair: Pair, ticks: Iterable[Tick], every: int) -> int:
    count = 0
    for count, tick in enumerate(ticks, start=1):
        pair.apply(tick)
        if count % every == 0:
            pair.drain(dual_write=count % (2 * every) == 0)
    pair.drain(dual_write=True)
    return count


@pytest.mark.parametrize("config", ["default", "learned"])
def test_yesbank_bars_replay_identically(
    redis_client: redis.Redis, shared_data: Path, config: str
) -> None:
    path = shared_data / sample_data.YESBANK_FILE
    ticks = (parse_entry(t) for t in sample_data.yesbank_ticks(path, days=12))
    pair = Pair(CONFIGS[config], redis_client)
    assert replay(pair, ticks, every=97) > 4000
    pair.check_snapshots(True)


def test_btcusdt_trades_replay_identically(redis_client: redis.Redis, shared_data: Path) -> None:
    path = shared_data / sample_data.BINANCE_FILE
    ticks = (parse_entry(t) for t in islice(sample_data.binance_trades(path), 6000))
    pair = Pair(CONFIGS["default"], redis_client)
    assert replay(pair, ticks, every=250) == 6000
    pair.check_snapshots(False)


# -- The codec's formats --------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=3000)
@given(value=st.one_of(finite, st.floats(-2e9, 2e9), st.integers(-10**12, 10**12).map(
    lambda n: n / 1000)), digits=st.sampled_from((3, 6)))
def test_fmt_float_matches(value: float, digits: int) -> None:
    assert _native.fmt_float(value, digits) == codec.fmt_float(value, digits)


@settings(max_examples=3000)
@given(value=finite)
def test_fmt_price_and_json_floats_match(value: float) -> None:
    assert _native.fmt_price(value) == codec.fmt_price(value)
    assert _native.levels_json([value, -value]) == orjson.dumps([value, -value]).decode()


@pytest.mark.parametrize("value", [600.0, 0.1, 1e16, 1e15, 1.5e-5, 1e-5, 1e-6, 1e-7, 1.2345e20,
                                   9999999999999998.0, 0.0, 5e-324, 1.7976931348623157e308])
def test_json_floats_at_the_layout_edges(value: float) -> None:
    assert _native.levels_json([value]) == orjson.dumps([value]).decode()
    assert _native.fmt_price(value) == codec.fmt_price(value)


@settings(max_examples=2000)
@given(ts_ms=st.one_of(st.integers(0, 4 * 10**12 + 10**9),
                       st.integers(0, 253_402_200_000_000)))
def test_fmt_timestamp_matches(ts_ms: int) -> None:
    assert _native.fmt_timestamp(ts_ms) == codec.fmt_timestamp(ts_ms)


# -- Levels and the scan --------------------------------------------------------------------


@settings(max_examples=3000)
@given(tick=st.sampled_from(TICK_SIZES), half=st.integers(0, 2 * 10**8),
       price=st.floats(1e-4, 1e7), exact=st.booleans())
def test_levels_match(tick: float, half: int, price: float, exact: bool) -> None:
    if exact:  # an exact half (or whole) tick in decimal, which binary cannot hold
        price = float(Decimal(half) * Decimal(repr(tick)) / 2)
    if price <= 0:
        return
    profile = VolumeProfile(tick)
    level = profile.level_of(price)
    assert _native.level_of(price, tick) == level
    assert _native.price_str(level, tick) == profile.price_str(level)
    assert _native.price_of(level, tick) == profile.price_of(level)


@settings(max_examples=500)
@given(tick=st.sampled_from(TICK_SIZES), finer=st.sampled_from((0.01, 0.001, 0.05)),
       volumes=st.dictionaries(st.integers(-5, 10**6), st.integers(0, 2**62), max_size=30))
def test_restored_distributions_match(
    tick: float, finer: float, volumes: dict[int, int]
) -> None:
    writer = VolumeProfile(finer)
    dist = {writer.price_str(level): v for level, v in volumes.items()}
    want = VolumeProfile.from_distribution(dist, tick).levels
    assert _native.distribution_levels(list(dist.items()), tick) == sorted(want.items())


dense = st.lists(st.integers(1, 2**61), min_size=1, max_size=60).flatmap(
    lambda vals: st.integers(-1000, 1000).map(lambda lo: dict(enumerate(vals, start=lo))))
tied = st.dictionaries(st.integers(0, 40), st.sampled_from((1, 2, 5, 5, 9)), min_size=1,
                       max_size=40)
sparse = st.dictionaries(st.integers(-10**9, 10**9), st.integers(1, 2**61), min_size=1,
                         max_size=25)


@settings(max_examples=2000)
@given(volumes=st.one_of(dense, tied, sparse), ref=st.one_of(st.none(), st.integers(-50, 1100)),
       ratio=st.sampled_from(((7, 10), (1, 2), (1, 1), (9, 10), (1, 100))),
       max_levels=st.integers(0, 4))
def test_scan_matches_the_reference(
    volumes: dict[int, int], ref: int | None, ratio: tuple[int, int], max_levels: int
) -> None:
    keys_ = sorted(volumes)
    vals = [volumes[k] for k in keys_]
    total = sum(vals)
    num, den = ratio
    want = profile_scan.scan_levels(keys_, vals, total, num, den, ref, max_levels)
    got = _native.scan(keys_, vals, total, num, den, ref, max_levels)
    assert got == want[:6]
    assert _native.strength(vals, total) == profile_scan.strength(len(vals), total, want[6])


@pytest.mark.parametrize(("volume", "limit"), [(10, 2000), (100_000, 3000)])
def test_memory_per_symbol_stays_small(volume: int, limit: int) -> None:
    """A symbol that traded in every minute of a session over a hundred levels: its minute
    buckets and levels are 2-byte slots while the volumes fit, 4-byte ones after; the rest is
    fixed per symbol (about 600 bytes with its name and five recorded sessions)."""
    rs = NativeEngineCore(CONFIGS["default"])
    for i in range(200):
        symbol = f"SYM{i}"
        rs.load(symbol, SymbolHistory(daily_totals=dict.fromkeys(PAST, 10**6)), DAYS[0])
        for minute in range(375):
            price = 100 + 0.05 * (minute % 100)
            rs.apply(Tick(symbol, price, ts(DAYS[0], minute * 60), volume, None))
    rs.drain(dual_write=False)
    per_symbol = rs._engine.heap_bytes() / 200
    assert per_symbol < limit, per_symbol


def test_session_contexts_days_to_expiry_factor_per_day_and_expiry() -> None:
    """The factor is cached per (day, expiry); each is the calendar's and the multipliers'
    own, across days, expiries and the cache's clearing when full."""
    from shared_core.volume_files import native_engine

    config = CONFIGS["default"]
    contexts = native_engine.SessionContexts(config)
    expiries = [date(2025, 1, 9), date(2025, 1, 30), date(2025, 2, 27), None]
    for i, expiry in enumerate(expiries):
        contexts.expiries[f"S{i}"] = expiry
    for _ in range(2):  # the second time from the cache
        for day in DAYS:
            number = native_engine._day(day)
            for i, expiry in enumerate(expiries):
                _, _, factor = contexts(f"S{i}", number, {}, [])
                dte = None if expiry is None else config.calendar.days_to_expiry(day, expiry)
                assert factor == config.baselines.multipliers.dte_factor(dte)
    factors = {contexts(f"S{i}", native_engine._day(d), {}, [])[2]
               for i in range(3) for d in DAYS}
    assert len(factors) > 1  # the table has bands: the factor is not a constant here
    contexts._dte_factors.update(
        {(k, date(2030, 1, 1)): 0.0 for k in range(native_engine._DTE_FACTORS_HELD)})
    contexts.expiries["NEW"] = date(2025, 3, 27)  # not held: computed, after a clearing
    _, _, factor = contexts("NEW", native_engine._day(DAYS[0]), {}, [])
    assert len(contexts._dte_factors) == 1
    assert factor == config.baselines.multipliers.dte_factor(
        config.calendar.days_to_expiry(DAYS[0], date(2025, 3, 27)))
