"""The read API against what the engine really wrote."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import redis.asyncio as aredis

from shared_core.volume_files.dev.sample_data import YESBANK_FILE, daily_totals, yesbank_ticks
from shared_core.volume_files.key_usage_tracker import KeyUsageTracker, parse_stats
from shared_core.volume_files.redis_volume_gateway import (
    AsyncRedisVolumeGateway,
    BaselineInfo,
    GatewayDataError,
    PocInfo,
    RedisVolumeGateway,
    SessionMetrics,
    VolumeProfileInfo,
)
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.unified_engine import UnifiedVolumeEngine
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

SYMBOL = "YESBANK"
OTHER = "YESBANK2"
D1, D2, D3 = date(2019, 1, 1), date(2019, 1, 2), date(2019, 1, 3)
IST = timezone(timedelta(hours=5, minutes=30))


class CountingConnection(redis.Connection):
    """Counts writes to the socket: a pipeline is one write, so one write is one round trip."""

    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sends += 1
        cast(Any, super()).send_packed_command(command, check_health)


@pytest.fixture
def engine_results(redis_client: redis.Redis, shared_data: Path) -> dict[str, dict[str, Any]]:
    """Three YESBANK sessions under SYMBOL and two under OTHER; the last result of each."""
    engine = UnifiedVolumeEngine(redis_client, settings=load_settings(env={}))
    path = shared_data / YESBANK_FILE
    last: dict[str, dict[str, Any]] = {}
    for symbol, days in ((SYMBOL, 3), (OTHER, 2)):
        for tick in yesbank_ticks(path, days=days, symbol=symbol):
            last[symbol] = engine.process_tick(None, tick)
    return last


@pytest.fixture
def gateway(redis_client: redis.Redis) -> RedisVolumeGateway:
    return RedisVolumeGateway(redis_client)


def test_session_metrics_reads_back_the_latest_session(
    gateway: RedisVolumeGateway, engine_results: dict[str, dict[str, Any]], shared_data: Path
) -> None:
    result = engine_results[SYMBOL]
    metrics = gateway.session_metrics(SYMBOL)
    assert isinstance(metrics, SessionMetrics)
    assert metrics.symbol == SYMBOL
    assert metrics.date == D3
    assert metrics.cumulative_volume == result["cumulative_volume"]
    assert metrics.cumulative_volume == daily_totals(shared_data / YESBANK_FILE)[D3]
    assert metrics.tick_count == result["tick_count"]
    assert metrics.last_price == result["last_price"]
    assert metrics.minutes_elapsed == 375.0
    assert metrics.exchange_timestamp == datetime(2019, 1, 3, 15, 40, tzinfo=IST)
    assert metrics.instrument_type == "equity"
    assert metrics.rvol is not None
    assert metrics.rvol == float(codec.fmt_float(result["ratios"]["cumulative"]))
    assert metrics.expected_volume == pytest.approx(result["expected_volume"], abs=1e-3)
    assert metrics.flow_rate_5m == pytest.approx(result["flow_rates"]["5m"], abs=1e-3)
    assert gateway.rvol(SYMBOL) == metrics.rvol
    assert gateway.session_metrics(SYMBOL, D3) == metrics
    assert gateway.session_metrics(SYMBOL, "2019-01-03") == metrics


def test_explicit_day_reads_an_older_session(
    gateway: RedisVolumeGateway, engine_results: dict[str, dict[str, Any]], shared_data: Path
) -> None:
    first = gateway.session_metrics(SYMBOL, D1)
    assert first is not None
    assert first.date == D1
    assert first.rvol is None  # no baseline on the first recorded day
    assert first.expected_volume is None
    assert gateway.rvol(SYMBOL, D1) is None
    assert first.cumulative_volume == daily_totals(shared_data / YESBANK_FILE)[D1]


def test_baseline_poc_and_profile(
    gateway: RedisVolumeGateway, engine_results: dict[str, dict[str, Any]], shared_data: Path
) -> None:
    totals = daily_totals(shared_data / YESBANK_FILE)
    baseline = gateway.baseline(SYMBOL)
    assert baseline == BaselineInfo(
        symbol=SYMBOL,
        baseline_1min=float(codec.fmt_float((totals[D1] + totals[D2]) / 2 / 375, 3)),
        avg_volume_20d=float(codec.fmt_float((totals[D1] + totals[D2]) / 2, 3)),
        sessions=2, fno_adjustment=1.0, is_fno=False,
    )
    result_profile = engine_results[SYMBOL]["profile"]
    poc = gateway.poc(SYMBOL)
    assert isinstance(poc, PocInfo)
    assert poc.poc_price == result_profile["poc_price"]
    assert poc.poc_volume == result_profile["poc_volume"]
    assert poc.value_area_high == result_profile["value_area_high"]
    assert poc.value_area_low == result_profile["value_area_low"]
    assert poc.exchange_timestamp == datetime(2019, 1, 3, 15, 40, tzinfo=IST)

    profile = gateway.profile(SYMBOL)
    assert isinstance(profile, VolumeProfileInfo)
    assert profile.date == D3
    assert profile.total_volume == totals[D3] == sum(profile.distribution.values())
    assert list(profile.distribution) == sorted(profile.distribution)
    assert profile.distribution[poc.poc_price] == poc.poc_volume
    assert list(profile.support_levels) == result_profile["support_levels"]
    assert list(profile.resistance_levels) == result_profile["resistance_levels"]
    assert (profile.poc_price, profile.poc_volume) == (poc.poc_price, poc.poc_volume)
    older = gateway.profile(SYMBOL, D1)
    assert older is not None
    assert older.date == D1
    assert older.total_volume == totals[D1]


def test_unknown_symbols_and_days_read_as_none(
    gateway: RedisVolumeGateway, engine_results: dict[str, dict[str, Any]]
) -> None:
    assert gateway.session_metrics("NOPE") is None
    assert gateway.session_metrics("NOPE", D1) is None
    assert gateway.session_metrics(SYMBOL, date(2030, 1, 1)) is None
    assert gateway.rvol("NOPE") is None
    assert gateway.baseline("NOPE") is None
    assert gateway.poc("NOPE") is None
    assert gateway.profile("NOPE") is None
    assert gateway.profile(SYMBOL, date(2030, 1, 1)) is None
    assert gateway.legacy("NOPE") is None
    assert gateway.many_session_metrics([]) == {}
    assert gateway.many_poc(["NOPE", "NADA"]) == {"NOPE": None, "NADA": None}


def test_legacy_reads_the_dual_written_hash(
    gateway: RedisVolumeGateway, engine_results: dict[str, dict[str, Any]]
) -> None:
    legacy = gateway.legacy(SYMBOL)
    assert legacy is not None
    assert set(legacy) == set(keys.LEGACY_FIELDS)
    metrics = gateway.session_metrics(SYMBOL)
    assert metrics is not None
    assert int(legacy["volume"]) == metrics.cumulative_volume
    assert float(legacy["volume_ratio"]) == metrics.rvol


def test_batched_reads_are_one_round_trip(
    redis_server: RedisServer, engine_results: dict[str, dict[str, Any]]
) -> None:
    class Counting(CountingConnection):
        sends = 0

    pool = redis.ConnectionPool(host="127.0.0.1", port=redis_server.port, db=1,
                                connection_class=Counting)
    client = redis.Redis(connection_pool=pool)
    gateway = RedisVolumeGateway(client)
    symbols = [SYMBOL, OTHER, "NOPE", SYMBOL]
    try:
        client.ping()
        client.config_resetstat()
        Counting.sends = 0
        latest = gateway.many_session_metrics(symbols)
        assert Counting.sends == 1
        dated = gateway.many_session_metrics(symbols, day=D2)
        pocs = gateway.many_poc(symbols)
        assert Counting.sends == 3
        stats = client.info("commandstats")
    finally:
        client.close()
    # one script per distinct symbol for "latest"; the usage HINCRBY rode along each time
    assert stats["cmdstat_eval"]["calls"] == 3
    assert stats["cmdstat_hincrby"]["calls"] == 3
    assert list(latest) == [SYMBOL, OTHER, "NOPE"]
    reference = RedisVolumeGateway(redis_server.client(db=1))
    try:
        assert latest == {s: reference.session_metrics(s) for s in (SYMBOL, OTHER, "NOPE")}
        assert dated == {s: reference.session_metrics(s, D2) for s in (SYMBOL, OTHER, "NOPE")}
        assert pocs == {s: reference.poc(s) for s in (SYMBOL, OTHER, "NOPE")}
    finally:
        reference.redis.close()
    other = latest[OTHER]
    assert other is not None
    assert other.date == D2
    assert latest["NOPE"] is None


def test_reads_are_counted_in_migration_stats(
    redis_client: redis.Redis, engine_results: dict[str, dict[str, Any]]
) -> None:
    redis_client.delete(keys.MIGRATION_STATS_KEY)
    tracker = KeyUsageTracker()
    gateway = RedisVolumeGateway(redis_client, tracker)
    gateway.session_metrics(SYMBOL)
    gateway.many_session_metrics([SYMBOL, OTHER, "NOPE"], D2)
    gateway.rvol(SYMBOL)
    gateway.baseline(SYMBOL)
    gateway.poc(SYMBOL)
    gateway.many_poc([SYMBOL, OTHER])
    gateway.profile(SYMBOL)
    gateway.legacy(SYMBOL)
    gateway.legacy("NOPE")
    stats = parse_stats(redis_client.hgetall(keys.MIGRATION_STATS_KEY))
    assert stats == {
        "reads:unified": 5,
        "reads:baseline": 1,
        "reads:profile": 4,
        "reads:legacy": 2,
    }
    assert tracker.commands() == []  # everything pending went out with the reads


def test_a_default_gateway_counts_too(
    gateway: RedisVolumeGateway, redis_client: redis.Redis
) -> None:
    assert gateway.session_metrics("NOPE") is None
    stats = parse_stats(redis_client.hgetall(keys.MIGRATION_STATS_KEY))
    assert stats == {"reads:unified": 1}


def test_baseline_before_any_recorded_session(
    gateway: RedisVolumeGateway, redis_client: redis.Redis
) -> None:
    engine = UnifiedVolumeEngine(redis_client, settings=load_settings(env={}))
    engine.process_tick("NIFTY25JAN24000CE", {"volume": 50, "price": 120.5,
                                              "timestamp": "2025-01-06T10:00:00"})
    info = gateway.baseline("NIFTY25JAN24000CE")
    assert info is not None
    assert (info.avg_volume_20d, info.baseline_1min, info.sessions) == (None, None, 0)
    assert info.is_fno is True
    assert info.fno_adjustment > 0


def test_corrupt_hash_raises_naming_key_and_field(
    gateway: RedisVolumeGateway, redis_client: redis.Redis
) -> None:
    redis_client.hset(keys.baseline_key("BAD"), mapping={"baseline_1min": "x", "is_fno": "0",
                                                         "fno_adjustment": "1"})
    with pytest.raises(GatewayDataError, match=r"vol:baseline:BAD: field 'baseline_1min'"):
        gateway.baseline("BAD")
    redis_client.hset(keys.history_key("BAD"), "2019-01-01", "10")
    redis_client.hset(keys.session_key("BAD", D1), mapping={"cumulative_volume": "10"})
    with pytest.raises(GatewayDataError, match="vol:session:BAD:2019-01-01: field 'tick_count'"):
        gateway.session_metrics("BAD")


def test_a_string_is_not_a_list_of_symbols(gateway: RedisVolumeGateway) -> None:
    with pytest.raises(TypeError):
        gateway.many_poc(SYMBOL)


async def test_async_gateway_agrees_with_sync(
    redis_server: RedisServer, gateway: RedisVolumeGateway,
    engine_results: dict[str, dict[str, Any]],
) -> None:
    client = aredis.Redis(host="127.0.0.1", port=redis_server.port, db=1)
    try:
        agw = AsyncRedisVolumeGateway(client)
        symbols = [SYMBOL, OTHER, "NOPE"]
        assert await agw.many_session_metrics(symbols) == gateway.many_session_metrics(symbols)
        assert await agw.many_session_metrics(symbols, D1) == gateway.many_session_metrics(
            symbols, D1
        )
        assert await agw.many_poc(symbols) == gateway.many_poc(symbols)
        for s in symbols:
            assert await agw.session_metrics(s) == gateway.session_metrics(s)
            assert await agw.rvol(s) == gateway.rvol(s)
            assert await agw.baseline(s) == gateway.baseline(s)
            assert await agw.poc(s) == gateway.poc(s)
            assert await agw.profile(s) == gateway.profile(s)
            assert await agw.profile(s, D2) == gateway.profile(s, D2)
            assert await agw.legacy(s) == gateway.legacy(s)
        stats = parse_stats(await client.hgetall(keys.MIGRATION_STATS_KEY))
    finally:
        await client.aclose()
    assert stats["reads:unified"] == 2 * (3 + 3 + 3 + 3)


def test_results_are_frozen(
    gateway: RedisVolumeGateway, engine_results: dict[str, dict[str, Any]]
) -> None:
    metrics = gateway.session_metrics(SYMBOL)
    assert metrics is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        metrics.rvol = 2.0  # type: ignore[misc]
