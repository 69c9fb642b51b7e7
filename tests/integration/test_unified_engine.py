"""The library engine against a real redis-server: the README call, the output contract,
dual-write, restarts, and the sync/async twins writing the same state."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aredis

from shared_core.volume_files.dev.sample_data import YESBANK_FILE, daily_totals, yesbank_ticks
from shared_core.volume_files.settings import Settings, load_settings
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.unified_engine import AsyncUnifiedVolumeEngine, UnifiedVolumeEngine
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

SYMBOL = "YESBANK"
PLAIN_INT = re.compile(r"^-?\d+$")
PLAIN_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
PRICE_KEY = re.compile(r"^\d+\.\d{2,}$")
DAYS = [date(2019, 1, 1), date(2019, 1, 2), date(2019, 1, 3), date(2019, 1, 4)]


@pytest.fixture
def settings() -> Settings:
    """The shipped config only: the machine's VOLUME_* variables must not change results."""
    return load_settings(env={})


@pytest.fixture
def yesbank(shared_data: Path) -> Path:
    return shared_data / YESBANK_FILE


def ticks(path: Path, days: int, symbol: str = SYMBOL) -> list[dict[str, str]]:
    return [{k: v for k, v in t.items() if k != "symbol"}
            for t in yesbank_ticks(path, days=days, symbol=symbol)]


def replay(engine: UnifiedVolumeEngine, symbol: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for row in rows:
        result = engine.process_tick(symbol, row)
    return result


def dump(client: redis.Redis) -> dict[str, Any]:
    """Every key: its type, and the decoded fields for hashes (no DUMP: readable diffs)."""
    out: dict[str, Any] = {}
    for raw in client.scan_iter(count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        out[key] = (kind, codec.decode_hash(client.hgetall(key)) if kind == "hash" else None)
    return out


def test_readme_example_runs_as_written(
    redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = UnifiedVolumeEngine(redis_client)
    result = engine.process_tick("NSENIFTY27JAN25000CE", {"volume": 500, "price": 120.5, "timestamp": "2025-12-21T10:00:00"})  # noqa: E501
    print(f"RVOL: {result['ratios']['cumulative']}")
    assert capsys.readouterr().out == "RVOL: None\n"
    assert result["cumulative_volume"] == 500
    assert result["incremental_volume"] == 500
    assert result["last_price"] == 120.5
    assert result["instrument_type"] == "option"
    assert result["expected_volume"] is None
    assert result["baseline"] is None
    session = codec.decode_hash(redis_client.hgetall(
        keys.session_key("NSENIFTY27JAN25000CE", "2025-12-21")))
    assert session["cumulative_volume"] == "500"
    assert "rvol" not in session


def _is_plain(value: str) -> bool:
    return bool(PLAIN_DECIMAL.match(value))


def test_output_contract_types(
    redis_client: redis.Redis, settings: Settings, yesbank: Path
) -> None:
    """Every key and field of the README's output table, with the types it promises."""
    engine = UnifiedVolumeEngine(redis_client, settings=settings, dual_write=True)
    rows = ticks(yesbank, 3)
    result = replay(engine, SYMBOL, rows)
    day = DAYS[2]
    totals = daily_totals(yesbank)

    session = codec.decode_hash(redis_client.hgetall(keys.session_key(SYMBOL, day)))
    for name in ("cumulative_volume", "tick_count"):
        assert PLAIN_INT.match(session[name]), (name, session[name])
    for name in ("minutes_elapsed", "last_price", "rvol", "expected_volume",
                 "flow_rate_1m", "flow_rate_5m"):
        assert _is_plain(session[name]), (name, session[name])
    assert int(session["cumulative_volume"]) == totals[day] == result["cumulative_volume"]
    bars = sum(1 for r in rows if r["timestamp"].startswith(day.isoformat()))
    assert int(session["tick_count"]) == bars > 375  # the closing-session bars count too
    assert float(session["minutes_elapsed"]) == 375.0  # the last bar is after the close
    stamp = datetime.fromisoformat(session["exchange_timestamp"])
    assert stamp.isoformat() == "2019-01-03T15:40:00+05:30"
    assert float(session["rvol"]) > 0

    baseline = codec.decode_hash(redis_client.hgetall(keys.baseline_key(SYMBOL)))
    assert set(baseline) == set(keys.BASELINE_FIELDS)
    for name in ("baseline_1min", "avg_volume_20d", "fno_adjustment"):
        assert _is_plain(baseline[name]), (name, baseline[name])
    assert baseline["fno_adjustment"] == "1"
    assert baseline["is_fno"] == "0"
    assert baseline["sessions"] == "2"
    assert baseline["avg_volume_20d"] == codec.fmt_float((totals[DAYS[0]] + totals[DAYS[1]]) / 2, 3)
    # after the close, expected volume is avg_volume_20d * fno_adjustment whatever the curve
    assert float(session["expected_volume"]) == pytest.approx(float(baseline["avg_volume_20d"]))

    poc = codec.decode_hash(redis_client.hgetall(keys.poc_key(SYMBOL)))
    assert set(poc) == set(keys.POC_FIELDS)
    assert PLAIN_INT.match(poc["poc_volume"])
    for name in ("poc_price", "value_area_high", "value_area_low", "profile_strength"):
        assert _is_plain(poc[name]), (name, poc[name])
    assert 0.0 <= float(poc["profile_strength"]) <= 1.0
    assert float(poc["value_area_low"]) <= float(poc["poc_price"]) <= float(poc["value_area_high"])

    profile = codec.decode_hash(redis_client.hgetall(keys.profile_session_key(SYMBOL, day)))
    assert set(profile) == set(keys.PROFILE_SESSION_FIELDS)
    assert {k: profile[k] for k in keys.POC_FIELDS} == poc
    distribution = orjson.loads(profile["price_volume_distribution"])
    assert isinstance(distribution, dict)
    assert all(PRICE_KEY.match(k) and type(v) is int and v > 0 for k, v in distribution.items())
    assert list(distribution) == sorted(distribution, key=float)
    assert sum(distribution.values()) == int(profile["total_volume"]) == totals[day]
    at_poc = [v for k, v in distribution.items() if float(k) == float(poc["poc_price"])]
    assert at_poc == [int(poc["poc_volume"])] == [max(distribution.values())]
    for name in ("support_levels", "resistance_levels"):
        levels = orjson.loads(profile[name])
        assert isinstance(levels, list)
        assert all(isinstance(x, float | int) for x in levels)
    support = orjson.loads(profile["support_levels"])
    resistance = orjson.loads(profile["resistance_levels"])
    last = float(session["last_price"])
    assert all(x < last for x in support)
    assert all(x > last for x in resistance)

    legacy = codec.decode_hash(redis_client.hgetall(keys.legacy_key(SYMBOL)))
    assert set(legacy) == set(keys.LEGACY_FIELDS)
    for old, new in keys.LEGACY_FIELDS.items():
        source = baseline if new == "avg_volume_20d" else session
        assert legacy[old] == source[new], old

    # no inf, nan or exponent anywhere, in any key
    for _key, (_kind, fields) in dump(redis_client).items():
        for value in (fields or {}).values():
            assert not re.search(r"inf|nan|\de[+-]?\d", value.lower()), value


def test_option_symbol_writes_fno_baseline(
    redis_client: redis.Redis, settings: Settings, yesbank: Path
) -> None:
    symbol = "NIFTY19JAN11000CE"  # expires 2019-01-31: real bars replayed as an option
    engine = UnifiedVolumeEngine(redis_client, settings=settings)
    result = replay(engine, symbol, ticks(yesbank, 2, symbol))
    baseline = codec.decode_hash(redis_client.hgetall(keys.baseline_key(symbol)))
    assert baseline["is_fno"] == "1"
    assert result["instrument_type"] == "option"
    assert result["baseline"]["is_fno"] is True
    assert baseline["fno_adjustment"] == codec.fmt_float(result["baseline"]["fno_adjustment"])
    session = codec.decode_hash(redis_client.hgetall(keys.session_key(symbol, DAYS[1])))
    assert session["instrument_type"] == "option"
    expected = float(baseline["avg_volume_20d"]) * result["baseline"]["fno_adjustment"]
    assert float(session["expected_volume"]) == pytest.approx(expected, rel=1e-6)


def test_dual_write_on_and_off(
    redis_client: redis.Redis, redis_server: RedisServer, settings: Settings, yesbank: Path
) -> None:
    rows = ticks(yesbank, 2)
    replay(UnifiedVolumeEngine(redis_client, settings=settings, dual_write=True), SYMBOL, rows)
    other = redis_server.client(db=2)
    try:
        replay(UnifiedVolumeEngine(other, settings=settings, dual_write=False), SYMBOL, rows)
        on, off = dump(redis_client), dump(other)
    finally:
        other.flushdb()
        other.close()
    assert set(on) - set(off) == {keys.legacy_key(SYMBOL)}
    assert {k: v for k, v in on.items() if k != keys.legacy_key(SYMBOL)} == off
    assert not [k for k in off if k.startswith("ind:")]
    # profiles are never dual-written: the legacy hash holds indicator fields only
    assert set(on[keys.legacy_key(SYMBOL)][1]) == set(keys.LEGACY_FIELDS)


def test_baselines_survive_a_restart(
    redis_client: redis.Redis, settings: Settings, yesbank: Path
) -> None:
    totals = daily_totals(yesbank)
    rows = ticks(yesbank, 4)
    first_three = [r for r in rows if date.fromisoformat(r["timestamp"][:10]) < DAYS[3]]
    replay(UnifiedVolumeEngine(redis_client, settings=settings), SYMBOL, first_three)
    history = codec.parse_history(codec.decode_hash(
        redis_client.hgetall(keys.history_key(SYMBOL))))
    assert history == {d: totals[d] for d in DAYS[:3]}

    # a new process, the next day: the baseline comes from Redis alone
    engine = UnifiedVolumeEngine(redis_client, settings=settings)
    first = engine.process_tick(SYMBOL, rows[len(first_three)])
    assert first["ratios"]["cumulative"] is None  # 09:15:00: nothing is expected yet
    result = replay(engine, SYMBOL, rows[len(first_three) + 1 : len(first_three) + 30])
    mean = (totals[DAYS[0]] + totals[DAYS[1]] + totals[DAYS[2]]) / 3
    assert result["date"] == "2019-01-04"
    assert result["baseline"]["avg_volume_20d"] == mean
    assert result["baseline"]["sessions"] == 3
    assert result["ratios"]["cumulative"] is not None
    assert result["ratios"]["cumulative"] > 0
    baseline = codec.decode_hash(redis_client.hgetall(keys.baseline_key(SYMBOL)))
    assert baseline["avg_volume_20d"] == codec.fmt_float(mean, 3)
    assert baseline["sessions"] == "3"
    session = codec.decode_hash(redis_client.hgetall(keys.session_key(SYMBOL, DAYS[3])))
    assert session["rvol"] == codec.fmt_float(result["ratios"]["cumulative"])


def test_restart_mid_session_equals_one_clean_run(
    redis_client: redis.Redis, redis_server: RedisServer, settings: Settings, yesbank: Path
) -> None:
    rows = ticks(yesbank, 3)
    cut = len(rows) - 150  # inside the third session
    replay(UnifiedVolumeEngine(redis_client, settings=settings), SYMBOL, rows[:cut])
    replay(UnifiedVolumeEngine(redis_client, settings=settings), SYMBOL, rows[cut:])
    clean = redis_server.client(db=2)
    try:
        replay(UnifiedVolumeEngine(clean, settings=settings), SYMBOL, rows)
        expected = dump(clean)
    finally:
        clean.flushdb()
        clean.close()
    assert dump(redis_client) == expected


def _mixed_ticks(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Two symbols interleaved, two sessions each, plus Kite-style cumulative ticks."""
    a = ticks(path, 2)
    b = ticks(path, 2, "NIFTY19JAN11000CE")
    for x, y in zip(a, b, strict=True):
        yield SYMBOL, x
        yield "NIFTY19JAN11000CE", {**y, "price": str(float(y["price"]) + 0.05)}
    cumulative = 0
    for row in islice(ticks(path, 1), 60):
        cumulative += int(row["volume"])
        yield "KITE", {"last_price": row["price"], "volume_traded": str(cumulative),
                       "exchange_timestamp": row["timestamp"]}


async def test_sync_and_async_engines_write_identical_state(
    redis_client: redis.Redis, redis_server: RedisServer, settings: Settings, yesbank: Path
) -> None:
    stream = list(_mixed_ticks(yesbank))
    sync_engine = UnifiedVolumeEngine(redis_client, settings=settings)
    sync_results = [sync_engine.process_tick(s, t) for s, t in stream]
    sync_state = dump(redis_client)
    redis_client.flushdb()

    client = aredis.Redis(host="127.0.0.1", port=redis_server.port, db=1)
    try:
        async_engine = AsyncUnifiedVolumeEngine(client, settings=settings)
        async_results = [await async_engine.process_tick(s, t) for s, t in stream]
    finally:
        await client.aclose()
    assert async_results == sync_results
    assert dump(redis_client) == sync_state
    assert len(sync_state) > 10
    assert keys.session_key("KITE", DAYS[0]) in sync_state
