"""Helpers for the streaming tests: tick sources, a reference run, state dumps, waiting."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import redis

from shared_core.volume_files.session_tracker import StaleSessionError
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store import keys
from shared_core.volume_files.stream.producer import publish_sync
from shared_core.volume_files.ticks import TickError
from shared_core.volume_files.unified_engine import UnifiedVolumeEngine

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
YESBANK = SHARED_DATA / "nse-yesbank-minute-2019H1.csv.gz"
OUTPUT_PATTERNS = (
    "vol:session:*", "vol:baseline:*", "volume_profile:*", "ind:*", "vol:history:*",
    "vol:minutes:*",
)
STREAM = "ticks"
PARTITIONS = 4
GROUP = "volume-engine"


def recorded_session(n_sim: int = 3000, yesbank_days: int = 3) -> list[dict[str, str]]:
    """Real YESBANK bars over several sessions (date rolls, baselines) plus a simulated F&O mix."""
    ticks: list[dict[str, str]] = []
    if YESBANK.is_file():
        from shared_core.volume_files.dev.sample_data import yesbank_ticks

        ticks.extend(yesbank_ticks(YESBANK, days=yesbank_days))
    day = date(2025, 12, 9)
    universe = build_universe(60, session_date=day, seed=11)
    ticks.extend(simulate_ticks(universe, session_date=day, n_ticks=n_sim, seed=11))
    return ticks


def reference_state(client: redis.Redis, ticks: Iterable[Mapping[str, str]]) -> dict[str, object]:
    """What a single clean in-process run leaves in Redis (client's DB must be empty)."""
    engine = UnifiedVolumeEngine(client)
    for tick in ticks:
        with contextlib.suppress(TickError, StaleSessionError):
            engine.process_tick(None, tick)
    return dump_state(client)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def dump_state(client: redis.Redis) -> dict[str, object]:
    out: dict[str, object] = {}
    for pattern in OUTPUT_PATTERNS:
        for key in client.scan_iter(match=pattern, count=1000):
            out[text(key)] = {text(k): text(v) for k, v in client.hgetall(key).items()}
    return out


def publish(client: redis.Redis, ticks: Iterable[Mapping[str, str]]) -> int:
    return publish_sync(client, ticks, stream=STREAM, partitions=PARTITIONS)


def backlog(client: redis.Redis) -> int:
    """Entries not yet delivered plus entries delivered but not acknowledged, all partitions.

    A partition whose stream or group does not exist yet counts as one waiting entry, so a
    caller never mistakes "no worker has started" for "all consumed".
    """
    total = 0
    for p in range(PARTITIONS):
        stream = keys.stream_key(STREAM, p)
        if not client.exists(stream):
            total += 1
            continue
        groups = [g for g in client.xinfo_groups(stream) if text(g["name"]) == GROUP]
        if not groups:
            total += 1
        for g in groups:
            lag = g.get("lag")
            if lag is None:  # Redis cannot tell (after a restart, say): count what is left
                left: Any = client.xrange(stream, min=f"({text(g['last-delivered-id'])}", max="+")
                lag = len(left)
            total += int(g["pending"]) + int(lag)
    return total


def wait_consumed(client: redis.Redis, timeout: float = 120.0, settle: float = 0.3) -> None:
    """Until every partition's group has nothing undelivered and nothing pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if backlog(client) == 0:
                time.sleep(settle)
                if backlog(client) == 0:
                    return
        except redis.exceptions.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"streams not consumed within {timeout}s (backlog {backlog(client)})")


def core_env() -> dict[str, str]:
    """VOLUME_CORE as the test run sets it (CI runs the stream tests once per core); unset,
    the service picks (native where built)."""
    core = os.environ.get("VOLUME_CORE")
    return {"VOLUME_CORE": core} if core else {}


def core() -> str:
    """The tick core the stream tests run: VOLUME_CORE resolved (cores.resolve)."""
    from shared_core.volume_files import cores

    return cores.resolve(os.environ.get("VOLUME_CORE", "auto"))


def service_env(redis_url: str, worker_id: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "VOLUME_REDIS_URL": redis_url,
        "VOLUME_STREAM": STREAM,
        "VOLUME_PARTITIONS": str(PARTITIONS),
        "VOLUME_GROUP": GROUP,
        "VOLUME_WORKER_ID": worker_id,
        "VOLUME_METRICS_PORT": "0",
        "VOLUME_LEASE_TTL_MS": "1500",
        "VOLUME_RENEW_INTERVAL_MS": "250",
        "VOLUME_FLUSH_INTERVAL_MS": "100",
        "VOLUME_BLOCK_MS": "200",
        "VOLUME_LOG_LEVEL": "warning",
    })
    env.update(extra)
    return env


def start_worker(redis_url: str, worker_id: str, log_dir: Path, **extra: str
                 ) -> subprocess.Popen[bytes]:
    log = (log_dir / f"{worker_id}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "shared_core.volume_files.cli", "run"],
        env=service_env(redis_url, worker_id, **extra), stdout=log, stderr=subprocess.STDOUT,
    )
