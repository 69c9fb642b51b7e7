"""The streaming service against a real redis-server: exactness, dead letters, metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
import pytest
import redis

from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import keys
from shared_core.volume_files.stream.runtime import VolumeService
from tests import stream_support as ss
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration


def _settings(url: str, worker: str = "w1") -> object:
    return dataclasses.replace(
        load_settings(env=ss.core_env()),
        redis_url=url, stream=ss.STREAM, partitions=ss.PARTITIONS, group=ss.GROUP,
        worker_id=worker, metrics_port=0, lease_ttl_ms=1500, renew_interval_ms=250,
        flush_interval_ms=100, block_ms=200,
    )


@pytest.fixture
async def service(redis_url: str) -> AsyncIterator[VolumeService]:
    svc = VolumeService(_settings(redis_url))  # type: ignore[arg-type]
    task = asyncio.create_task(svc.run(install_signals=False))
    yield svc
    svc.request_stop()
    await asyncio.wait_for(task, 30)


async def _consumed(client: redis.Redis) -> None:
    await asyncio.to_thread(ss.wait_consumed, client)


async def test_single_worker_matches_in_process_engine(
    service: VolumeService, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    ticks = ss.recorded_session()
    ss.publish(redis_client, ticks)
    await _consumed(redis_client)
    got = ss.dump_state(redis_client)
    reference_client = redis_server.client(db=2)
    expected = ss.reference_state(reference_client, ticks)
    assert got.keys() == expected.keys()
    assert got == expected
    assert len(expected) > 100


async def test_groups_start_at_zero_so_early_ticks_count(
    redis_url: str, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    ticks = ss.recorded_session(n_sim=500, yesbank_days=1)
    ss.publish(redis_client, ticks)  # before any worker exists
    svc = VolumeService(_settings(redis_url))  # type: ignore[arg-type]
    task = asyncio.create_task(svc.run(install_signals=False))
    await _consumed(redis_client)
    svc.request_stop()
    await asyncio.wait_for(task, 30)
    assert ss.dump_state(redis_client) == ss.reference_state(redis_server.client(db=2), ticks)


def _malformed(n: int) -> list[dict[str, str]]:
    kinds: list[dict[str, str]] = [
        {"price": "10", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD1", "price": "abc", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD2", "price": "-5", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD3", "price": "nan", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD4", "price": "10", "volume": "-3", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD5", "price": "10", "volume": "2.5", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD6", "price": "10", "timestamp": "yesterday"},
        {"symbol": "X" * 80, "price": "10", "timestamp": "2025-12-09T10:00:00"},
        {"data": "{not json"},
        {"symbol": "BAD7", "price": "10", "timestamp": "2025-12-09T10:00:00", "pad": "x" * 9000},
        {"symbol": "BAD8", "price": "inf", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "BAD9", "timestamp": "2025-12-09T10:00:00"},
    ]
    return [kinds[i % len(kinds)] for i in range(n)]


async def test_malformed_entries_are_dead_lettered_and_valid_state_is_exact(
    service: VolumeService, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    valid = ss.recorded_session(n_sim=2000, yesbank_days=2)
    bad = _malformed(1000)
    mixed: list[dict[str, str]] = []
    step = max(1, len(valid) // len(bad))
    for i, tick in enumerate(valid):
        mixed.append(tick)
        if i % step == 0 and bad:
            mixed.append(bad.pop())
    mixed.extend(bad)
    ss.publish(redis_client, mixed)
    await _consumed(redis_client)
    dead: Any = redis_client.xrange(keys.dead_letter_key(ss.STREAM))
    assert len(dead) == 1000
    reasons = {fields[b"reason"].decode() for _, fields in dead}
    assert {"missing_field", "invalid_number", "non_positive", "non_finite", "negative_volume",
            "non_integer_volume", "bad_timestamp", "symbol_too_long", "bad_json",
            "payload_too_large"} <= reasons
    for _, fields in dead:
        assert fields[b"error"]
        assert fields[b"source_id"]
        assert fields[b"source_stream"]
    assert ss.dump_state(redis_client) == ss.reference_state(redis_server.client(db=2), valid)
    assert not service._stop.is_set()


async def test_metrics_endpoint_passes_promtool(
    service: VolumeService, redis_client: redis.Redis
) -> None:
    ss.publish(redis_client, ss.recorded_session(n_sim=300, yesbank_days=1))
    await _consumed(redis_client)
    port = service.metrics_port
    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    )
    text = body.decode()
    assert 'volume_engine_ticks_total{outcome="applied"}' in text
    assert "symbol" not in text.split("# HELP")[0]
    health = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
    )
    assert health == 200
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); .ci/run installs it")
    result = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=body, capture_output=True
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


async def test_worker_health_key_and_membership(
    service: VolumeService, redis_client: redis.Redis
) -> None:
    for _ in range(100):
        raw = redis_client.get(keys.worker_health_key("w1"))
        if raw and len(orjson.loads(raw)["partitions"]) == ss.PARTITIONS:
            break
        await asyncio.sleep(0.1)
    assert raw is not None
    assert orjson.loads(raw)["partitions"] == list(range(ss.PARTITIONS))
    assert redis_client.zscore(keys.workers_key(ss.STREAM), "w1") is not None


async def test_trimming_keeps_pending_entries_and_departed_consumers_are_forgotten(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared_core.volume_files.stream import runtime

    monkeypatch.setattr(runtime, "TRIM_EVERY_S", 0.3)
    stream0 = keys.stream_key(ss.STREAM, 0)
    redis_client.xgroup_create(stream0, ss.GROUP, id="0", mkstream=True)
    redis_client.xgroup_create(stream0, "other-reader", id="0", mkstream=True)
    redis_client.xgroup_createconsumer(stream0, ss.GROUP, "ghost")
    ss.publish(redis_client, ss.recorded_session(n_sim=400, yesbank_days=0))
    first_other = redis_client.xreadgroup("other-reader", "r", {stream0: ">"}, count=1)
    held_id = cast(Any, first_other)[0][1][0][0]  # pending in another group: must survive
    settings = dataclasses.replace(
        _settings(redis_url), lease_ttl_ms=200, renew_interval_ms=100  # type: ignore[type-var]
    )
    svc = VolumeService(settings)  # type: ignore[arg-type]
    task = asyncio.create_task(svc.run(install_signals=False))
    await _consumed(redis_client)
    await asyncio.sleep(2.5)
    svc.request_stop()
    await asyncio.wait_for(task, 30)
    assert redis_client.xrange(stream0, min=held_id, max=held_id)
    assert redis_client.xlen(stream0) > 0
    others = [keys.stream_key(ss.STREAM, p) for p in range(1, ss.PARTITIONS)]
    assert sum(redis_client.xlen(s) for s in others) == 0  # every group is done with them
    consumers = {ss.text(c["name"]) for c in redis_client.xinfo_consumers(stream0, ss.GROUP)}
    assert "ghost" not in consumers
