"""Fault tests: workers killed with SIGKILL, Redis restarted, SIGTERM under load.

Each ends by comparing the whole output state with a single clean in-process run of the same
ticks: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared_core.volume_files.store import keys
from tests import stream_support as ss
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.fault]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _publish_slowly(client: redis.Redis, ticks: list[dict[str, str]], chunks: int,
                    pause: float) -> Iterator[int]:
    size = max(1, len(ticks) // chunks + 1)
    for i in range(0, len(ticks), size):
        ss.publish(client, ticks[i:i + size])
        yield i
        time.sleep(pause)


def _owners(client: redis.Redis) -> set[str]:
    out = set()
    for p in range(ss.PARTITIONS):
        value = client.get(keys.lease_key(ss.STREAM, p))
        if value:
            out.add(ss.text(value).rsplit(":", 1)[0])
    return out


def test_sigkill_of_one_of_three_workers_loses_and_doubles_nothing(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis,
    workers: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    ticks = ss.recorded_session(n_sim=12000, yesbank_days=3)
    for name in ("w-a", "w-b", "w-c"):
        workers.append(ss.start_worker(redis_url, name, tmp_path))
    killed = False
    for step, _ in enumerate(_publish_slowly(redis_client, ticks, chunks=20, pause=0.15)):
        if step == 3:
            deadline = time.monotonic() + 15
            while len(_owners(redis_client)) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
        if step == 8 and not killed:
            assert "w-a" in _owners(redis_client), "the victim must own partitions when killed"
            victim = workers[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = True
        if step == 12:
            workers.append(ss.start_worker(redis_url, "w-d", tmp_path))
    assert killed
    ss.wait_consumed(redis_client, timeout=120)
    got = ss.dump_state(redis_client)
    expected = ss.reference_state(redis_server.client(db=2), ticks)
    assert got == expected
    assert "w-a" not in _owners(redis_client)
    for proc in workers[1:]:
        assert proc.poll() is None, "a surviving worker exited"


def test_redis_restart_mid_stream_with_persistence(
    tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    with RedisServer(persistence=True) as server:
        client = server.client()
        ticks = ss.recorded_session(n_sim=6000, yesbank_days=2)
        workers.append(ss.start_worker(server.url, "w-r", tmp_path))
        half = len(ticks) // 2
        ss.publish(client, ticks[:half])
        time.sleep(1.0)
        server.restart()
        client = server.client()
        ss.publish(client, ticks[half:])
        ss.wait_consumed(client, timeout=120)
        got = ss.dump_state(client)
        expected = ss.reference_state(server.client(db=2), ticks)
        assert got == expected
        assert workers[0].poll() is None, "the worker must survive a Redis restart"


def test_sigterm_under_load_exits_zero_and_leaves_nothing_applied_unacked(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis,
    workers: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    ticks = ss.recorded_session(n_sim=20000, yesbank_days=2)
    worker = ss.start_worker(redis_url, "w-t", tmp_path)
    workers.append(worker)
    ss.publish(redis_client, ticks)
    time.sleep(1.5)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    for p in range(ss.PARTITIONS):
        stream = keys.stream_key(ss.STREAM, p)
        assert redis_client.xpending(stream, ss.GROUP)["pending"] == 0
        assert redis_client.get(keys.lease_key(ss.STREAM, p)) is None
    assert redis_client.zscore(keys.workers_key(ss.STREAM), "w-t") is None
    workers.append(ss.start_worker(redis_url, "w-t2", tmp_path))
    ss.wait_consumed(redis_client, timeout=120)
    assert ss.dump_state(redis_client) == ss.reference_state(redis_server.client(db=2), ticks)
