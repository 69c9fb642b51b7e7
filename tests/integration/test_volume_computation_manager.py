"""The legacy adapter: the old dict shape, filled by the unified engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis

from shared_core.volume_files.dev.sample_data import YESBANK_FILE, daily_totals, yesbank_ticks
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.ticks import TickError
from shared_core.volume_files.volume_computation_manager import VolumeComputationManager

pytestmark = pytest.mark.integration

LEGACY_KEYS = {"symbol", "incremental_volume", *keys.LEGACY_FIELDS}


def manager(client: redis.Redis, **kwargs: Any) -> VolumeComputationManager:
    return VolumeComputationManager(client, settings=load_settings(env={}), **kwargs)


def test_first_tick_has_the_legacy_shape_and_no_ratios(redis_client: redis.Redis) -> None:
    out = manager(redis_client).calculate_volume_metrics(
        "RELIANCE", {"volume": 500, "price": 1250.5, "timestamp": "2025-01-06T09:20:30"}
    )
    assert out == {
        "symbol": "RELIANCE",
        "incremental_volume": 500,
        "volume": 500,
        "volume_ratio": None,
        "avg_volume": None,
        "expected_volume": None,
        "last_price": 1250.5,
        "volume_per_minute": 500.0,
        "volume_per_minute_5m": 100.0,
        "tick_count": 1,
        "timestamp": "2025-01-06T09:20:30.000+05:30",
    }
    assert set(out) == LEGACY_KEYS


def test_values_match_the_engine_and_the_legacy_hash(
    redis_client: redis.Redis, shared_data: Path
) -> None:
    path = shared_data / YESBANK_FILE
    m = manager(redis_client, dual_write=True)
    out: dict[str, Any] = {}
    for tick in yesbank_ticks(path, days=2):
        out = m.calculate_volume_metrics(None, tick)
    totals = daily_totals(path)
    assert set(out) == LEGACY_KEYS
    assert out["volume"] == totals[date(2019, 1, 2)]
    assert out["avg_volume"] == totals[date(2019, 1, 1)]
    assert isinstance(out["volume_ratio"], float)
    assert out["volume_ratio"] == pytest.approx(out["volume"] / out["expected_volume"])
    assert type(out["volume"]) is int
    assert type(out["tick_count"]) is int
    assert type(out["incremental_volume"]) is int

    snapshot = m.engine.core.snapshot("YESBANK")
    assert snapshot is not None
    assert out["volume_ratio"] == snapshot.rvol
    assert out["volume_per_minute"] == snapshot.flow_rate_1m

    stored = codec.decode_hash(redis_client.hgetall(keys.legacy_key("YESBANK")))
    assert set(stored) == set(keys.LEGACY_FIELDS)
    assert stored == {
        "volume": codec.fmt_int(out["volume"]),
        "volume_ratio": codec.fmt_float(out["volume_ratio"]),
        "avg_volume": codec.fmt_float(out["avg_volume"], 3),
        "expected_volume": codec.fmt_float(out["expected_volume"], 3),
        "last_price": codec.fmt_price(out["last_price"]),
        "volume_per_minute": codec.fmt_float(out["volume_per_minute"], 3),
        "volume_per_minute_5m": codec.fmt_float(out["volume_per_minute_5m"], 3),
        "tick_count": codec.fmt_int(out["tick_count"]),
        "timestamp": out["timestamp"],
    }


def test_kite_cumulative_ticks_add_only_their_rise(redis_client: redis.Redis) -> None:
    m = manager(redis_client)
    base = {"last_price": 100.0, "last_quantity": 5, "average_price": 99.9}
    first = m.calculate_volume_metrics(
        "INFY", {**base, "volume": 1000, "timestamp": "2025-01-06T09:16:00"}
    )
    second = m.calculate_volume_metrics(
        "INFY", {**base, "volume": 1250, "timestamp": "2025-01-06T09:16:05"}
    )
    stale = m.calculate_volume_metrics(
        "INFY", {**base, "volume": 1200, "timestamp": "2025-01-06T09:16:04"}
    )
    assert (first["incremental_volume"], first["volume"]) == (1000, 1000)
    assert (second["incremental_volume"], second["volume"]) == (250, 1250)
    assert (stale["incremental_volume"], stale["volume"]) == (0, 1250)
    assert stale["tick_count"] == 3
    assert stale["timestamp"] == "2025-01-06T09:16:05.000+05:30"


def test_dual_write_off_leaves_no_legacy_hash(redis_client: redis.Redis) -> None:
    out = manager(redis_client, dual_write=False).calculate_volume_metrics(
        "TCS", {"volume": 10, "price": 4000, "timestamp": "2025-01-06T10:00:00"}
    )
    assert out["volume"] == 10
    assert not redis_client.exists(keys.legacy_key("TCS"))
    assert redis_client.exists(keys.session_key("TCS", "2025-01-06"))


def test_invalid_tick_raises_and_writes_nothing(redis_client: redis.Redis) -> None:
    m = manager(redis_client)
    with pytest.raises(TickError) as err:
        m.calculate_volume_metrics(
            "TCS", {"volume": 10, "price": -1, "timestamp": "2025-01-06T10:00:00"}
        )
    assert err.value.field == "price"
    assert redis_client.dbsize() == 0
