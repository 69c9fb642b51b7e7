"""Misrouted ticks against real worker processes: applied once, by their symbol's owner.

Two producers publish the same symbols at once, one by the service's rule and one by a rule of
its own (or another partition count); the end state must be exactly a clean run's. The ticks
carry per-tick quantities and distinct timestamps, so the state does not depend on how the two
producers' entries interleave (see README, Routing).
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from shared_core.volume_files.store import keys
from shared_core.volume_files.stream.partitions import partition_for
from tests import stream_support as ss
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

Rule = Callable[[str], int]


def crawler_rule(symbol: str) -> int:
    """A crawler's own rule: another hash."""
    return zlib.adler32(symbol.encode()) % ss.PARTITIONS


def two_partition_rule(symbol: str) -> int:
    """A producer configured with 2 partitions where the service has 4."""
    return partition_for(symbol, 2)


def split_ticks(symbols: int = 24, n: int = 3000, seed: int = 7) -> list[dict[str, str]]:
    """One session of per-tick quantities, every tick of a symbol at its own time."""
    rng = random.Random(seed)
    names = [f"SYM{i:02d}" for i in range(symbols)]
    start = datetime(2025, 12, 9, 9, 15)
    return [
        {"symbol": rng.choice(names), "price": f"{100 + rng.randrange(40) * 0.05:.2f}",
         "volume": str(rng.randrange(1, 500)),
         "timestamp": (start + timedelta(milliseconds=250 * i)).isoformat(timespec="milliseconds")}
        for i in range(n)
    ]


def publish_by(client: redis.Redis, ticks: list[dict[str, str]], rule: Rule) -> None:
    pipe = client.pipeline(transaction=False)
    for tick in ticks:
        pipe.xadd(keys.stream_key(ss.STREAM, rule(tick["symbol"])), tick)  # type: ignore[arg-type]
    pipe.execute()


def producers_at_once(url: str, ticks: list[dict[str, str]], rule: Rule, chunks: int,
                      pause: float) -> Iterator[int]:
    """Even ticks by the service's rule, odd ones by `rule`, from two threads at once."""
    size = max(1, len(ticks) // chunks + 1)
    for step, i in enumerate(range(0, len(ticks), size)):
        chunk = ticks[i:i + size]
        rules: list[Rule] = [lambda s: partition_for(s, ss.PARTITIONS), rule]
        threads = [threading.Thread(target=publish_by,
                                    args=(redis.Redis.from_url(url, db=1), chunk[k::2], r))
                   for k, r in enumerate(rules)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        yield step
        time.sleep(pause)


def misrouted(ticks: list[dict[str, str]], chunks: int, rule: Rule) -> int:
    """How many ticks producers_at_once puts outside their symbol's partition."""
    size = max(1, len(ticks) // chunks + 1)
    by_rule = [t for i in range(0, len(ticks), size) for t in ticks[i:i + size][1::2]]
    return sum(1 for t in by_rule
               if rule(t["symbol"]) != partition_for(t["symbol"], ss.PARTITIONS))


def entries_read(client: redis.Redis) -> int:
    """Entries the group read for the first time, over all partitions (redeliveries excluded)."""
    total = 0
    for p in range(ss.PARTITIONS):
        groups: Any = client.xinfo_groups(keys.stream_key(ss.STREAM, p))
        total += sum(int(g["entries-read"] or 0) for g in groups if ss.text(g["name"]) == ss.GROUP)
    return total


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("rule", [crawler_rule, two_partition_rule])
def test_two_producers_with_different_rules_give_a_clean_runs_state(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis,
    workers: list[subprocess.Popen[bytes]], tmp_path: Path, rule: Rule,
) -> None:
    ticks = split_ticks()
    rerouted = misrouted(ticks, 10, rule)
    assert rerouted > len(ticks) // 5  # the rules really disagree
    for name in ("w-a", "w-b"):
        workers.append(ss.start_worker(redis_url, name, tmp_path))
    for _ in producers_at_once(redis_url, ticks, rule, chunks=10, pause=0.1):
        pass
    ss.wait_consumed(redis_client, timeout=120)
    assert ss.dump_state(redis_client) == ss.reference_state(redis_server.client(db=2), ticks)
    # every forward was added exactly once: the group read each tick once, the rerouted twice
    assert entries_read(redis_client) == len(ticks) + rerouted
    assert redis_client.xlen(keys.dead_letter_key(ss.STREAM)) == 0


@pytest.mark.fault
def test_sigkill_while_forwarding_loses_and_doubles_nothing(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis,
    workers: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    ticks = split_ticks(symbols=40, n=8000, seed=9)
    rerouted = misrouted(ticks, 20, crawler_rule)
    for name in ("w-a", "w-b"):
        workers.append(ss.start_worker(redis_url, name, tmp_path))
    killed = False
    for step in producers_at_once(redis_url, ticks, crawler_rule, chunks=20, pause=0.15):
        if step == 2:
            deadline = time.monotonic() + 15
            while len(owners(redis_client)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        if step == 8:
            assert "w-a" in owners(redis_client)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            killed = True
        if step == 12:
            workers.append(ss.start_worker(redis_url, "w-c", tmp_path))
    assert killed
    ss.wait_consumed(redis_client, timeout=120)
    assert ss.dump_state(redis_client) == ss.reference_state(redis_server.client(db=2), ticks)
    assert entries_read(redis_client) == len(ticks) + rerouted


def owners(client: redis.Redis) -> set[str]:
    out = set()
    for p in range(ss.PARTITIONS):
        value = client.get(keys.lease_key(ss.STREAM, p))
        if value:
            out.add(ss.text(value).rsplit(":", 1)[0])
    return out
