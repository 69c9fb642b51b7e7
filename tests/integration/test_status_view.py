"""`volume-engine status` against a live in-process service, then after it has left."""

from __future__ import annotations

import asyncio
import dataclasses
import io

import pytest
import redis
from rich.console import Console

from shared_core.volume_files.cli import main
from shared_core.volume_files.settings import Settings, load_settings
from shared_core.volume_files.status_view import collect, parse_lease, render, run_status
from shared_core.volume_files.store import keys
from shared_core.volume_files.stream.runtime import VolumeService
from tests import stream_support as ss

pytestmark = pytest.mark.integration

WORKER = "status-w1"


def _settings(url: str) -> Settings:
    return dataclasses.replace(
        load_settings(env=ss.core_env()), redis_url=url, stream=ss.STREAM, partitions=ss.PARTITIONS,
        group=ss.GROUP, worker_id=WORKER, metrics_port=0, lease_ttl_ms=1500,
        renew_interval_ms=250, flush_interval_ms=100, block_ms=200,
    )


def _text(settings: Settings) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    assert run_status(settings, console) == 0
    return console.export_text()


async def _until(condition: object, within: float = 15.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_parse_lease() -> None:
    assert parse_lease(b"host-1:worker:7") == ("host-1:worker", "7")
    assert parse_lease(None) == (None, None)


async def test_status_shows_owners_lag_dead_letters_and_workers(
    redis_url: str, redis_client: redis.Redis
) -> None:
    settings = _settings(redis_url)
    ticks = [
        {"symbol": "RELIANCE", "price": "1500", "volume": "10", "timestamp": "2025-12-09T10:00:00"},
        {"symbol": "TCS", "price": "3100", "volume": "5", "timestamp": "2025-12-09T10:00:01"},
        {"symbol": "BAD", "price": "-1", "volume": "5", "timestamp": "2025-12-09T10:00:02"},
    ]
    ss.publish(redis_client, ticks)
    service = VolumeService(settings)
    task = asyncio.create_task(service.run(install_signals=False))
    try:
        await _until(lambda: len(service.owned) == ss.PARTITIONS)
        await asyncio.to_thread(ss.wait_consumed, redis_client, 30.0)
        report = collect(redis_client, settings)
        assert [p.owner for p in report.partitions] == [WORKER] * ss.PARTITIONS
        assert all(p.lag == 0 and p.pending == 0 for p in report.partitions)
        assert sum(p.length for p in report.partitions) == 3
        assert report.dead_letters == 1
        assert [w.worker for w in report.workers] == [WORKER]
        await _until(lambda: collect(redis_client, settings).workers[0].partitions
                     == tuple(range(ss.PARTITIONS)))
        text = _text(settings)
        for p in range(ss.PARTITIONS):
            assert f"{keys.stream_key(ss.STREAM, p)} " in text
        assert text.count(WORKER) == ss.PARTITIONS + 1  # each partition + the workers table
        assert f"{ss.PARTITIONS}/{ss.PARTITIONS} partitions owned" in text
        assert "dead letters: 1 in ticks:dead" in text
        assert "0, 1, 2, 3" in text
        assert "migration:" in text
    finally:
        service.request_stop()
        await asyncio.wait_for(task, 30)

    text = _text(settings)
    assert "unowned" in text
    assert f"0/{ss.PARTITIONS} partitions owned" in text
    assert "No live workers" in text


def test_status_on_an_empty_redis_and_through_the_cli(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = collect(redis.Redis.from_url(redis_url), _settings(redis_url))
    assert all(p.owner is None and p.lag is None and p.length == 0 for p in report.partitions)
    assert report.dead_letters == 0
    text = Console(record=True, width=120, file=io.StringIO())
    text.print(render(report))
    assert "No live workers" in text.export_text()
    assert main(["--redis-url", redis_url, "status"]) == 0
    out = capsys.readouterr().out
    assert "ticks:7" in out  # the default 8 partitions
    assert "migration: no reads counted yet" in out


def test_status_names_streams_past_the_last_partition(redis_url: str) -> None:
    """A producer with 16 partitions for the service's 4 wrote where no worker reads."""
    client = redis.Redis.from_url(redis_url)
    settings = _settings(redis_url)
    for p in (9, 15):
        for _ in range(p - 7):
            client.xadd(keys.stream_key(ss.STREAM, p), {"symbol": "SBIN", "price": "1"})
    client.xadd(keys.stream_key(ss.STREAM, 2), {"symbol": "SBIN", "price": "1"})
    report = collect(client, settings)
    assert report.unread == (("ticks:9", 2), ("ticks:15", 8))
    out = _text(settings)
    assert "entries no worker reads: ticks:9 (2), ticks:15 (8)" in out
    assert "more partitions than the service's 4" in out
    client.delete(keys.stream_key(ss.STREAM, 9), keys.stream_key(ss.STREAM, 15))
    assert collect(client, settings).unread == ()
    assert "no worker reads" not in _text(settings)
