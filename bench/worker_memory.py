"""A real worker's resident memory after a full session at many symbols (`memory_worker_N`).

`bench.memory` measures the Python core's state in a bare interpreter; this measures what a
deployment sizes for: one `volume-engine run` process (whatever core VOLUME_CORE selects, its
runtime, Redis client, buffers and all) after it has consumed a whole session. Every symbol is
first sent one price-only tick at the open (so all of them are held, as in `bench.memory`),
then the simulated session is published in chunks, each put in front of the worker at once
after it has drained the previous one (consumed entries are trimmed: Redis need not hold
millions), so it reads full batches as `engine` does rather than trickles.
RSS and its peak (VmRSS, VmHWM) are read from /proc once the last chunk is written.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

from shared_core.volume_files.simulator import build_universe, simulate_ticks

from .dev import RedisServer
from .service import (
    hold,
    lease_losses,
    park,
    process_memory_mib,
    release,
    start_workers,
    stop_workers,
    wait_owned,
    worker_ids,
)
from .workloads import (
    SESSION_DATE,
    backlog,
    drop_db,
    iter_history,
    publish,
    seed_history,
    stream_keys,
)

# Leases are not what this figure measures: on a loaded machine a worker taking in a backlog
# of new symbols renews late and is fenced (then replays), so the memory worker's leases live
# 30 s (renewed every 1 s as usual).
LEASE_ENV = {"VOLUME_LEASE_TTL_MS": "30000"}
# Entries put in front of the worker at a time. Each first-sight symbol costs a load and a
# snapshot, so a backlog of tens of thousands of new symbols makes flushes long enough, on a
# loaded machine, to starve lease renewal (the worker is fenced and replays); smaller
# batches keep the figure about memory.
PRIME_CHUNK = 5_000
CHUNK = 25_000


def _wait_drained(client: redis.Redis, group: str, procs: list[Any], log_dir: Path,
                  timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while backlog(client, group) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the memory worker did not drain within {timeout}s")
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"the memory worker exited early; logs in {log_dir}")
        time.sleep(0.05)


def _chunks(entries: Iterator[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    while chunk := list(itertools.islice(entries, size)):
        yield chunk


def measure(server: RedisServer, db: int, *, symbols: int, ticks: int, seed: int,
            log_dir: Path, extra: dict[str, str],
            progress: Callable[[str], None] | None = None, label: str = "") -> dict[str, Any]:
    """One worker on an empty DB fed `ticks` over the session for `symbols` symbols."""
    group = f"memory-{label}" if label else "memory"
    drop_db(server, db)
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    seed_history(server, db, iter_history(universe, seed=seed))
    client = server.client(db=db)
    for key in stream_keys():
        client.xgroup_create(key, group, id="0", mkstream=True)
    hold(client)
    procs = start_workers(server, db, group, 1, log_dir, {**LEASE_ENV, **extra})
    pid = procs[0].pid

    def feed(entries: list[dict[str, str]]) -> None:
        """The batch in front of the worker at once, as its backlog (see `service.park`)."""
        _wait_drained(client, group, procs, log_dir)
        marks = park(client, group)
        for key in stream_keys():  # all consumed and acked: Redis need not hold a session
            client.xtrim(key, maxlen=0, approximate=False)
        publish(server, entries, db=db)
        release(client, group, marks)
        if progress is not None:
            progress(f"{len(entries):,} entries in front of the worker "
                     f"({time.perf_counter() - started:.1f}s in)")

    started = time.perf_counter()
    try:
        wait_owned(client, worker_ids(1), procs)
        base_rss, _ = process_memory_mib(pid)
        open_ts = f"{SESSION_DATE.isoformat()}T09:15:00.000"
        started = time.perf_counter()
        for at in range(0, len(universe), PRIME_CHUNK):
            feed([{"symbol": inst.symbol, "price": f"{inst.price:.2f}", "timestamp": open_ts}
                  for inst in universe[at:at + PRIME_CHUNK]])
        _wait_drained(client, group, procs, log_dir)
        primed_s = time.perf_counter() - started
        fed = 0
        generator = simulate_ticks(universe, session_date=SESSION_DATE, n_ticks=ticks,
                                   seed=seed)
        for chunk in _chunks(generator, CHUNK):  # simulating overlaps the worker's drain
            feed(chunk)
            fed += len(chunk)
        _wait_drained(client, group, procs, log_dir)
        seconds = time.perf_counter() - started
        rss, peak = process_memory_mib(pid)
        sessions = sum(1 for _ in client.scan_iter(match="vol:session:*", count=5000))
    finally:
        stop_workers(procs)
        client.close()
        drop_db(server, db)
    return {
        "symbols": symbols,
        "ticks": fed,
        "primed": len(universe),
        "seconds": round(seconds, 1),
        "priming_seconds": round(primed_s, 1),
        "rss_mib": round(rss, 1),
        "peak_rss_mib": round(peak, 1),
        "base_rss_mib": round(base_rss, 1),
        "state_mib": round(rss - base_rss, 1),
        "bytes_per_symbol": round((rss - base_rss) * 1024 * 1024 / symbols),
        "sessions_written": sessions,
        "lease_losses": lease_losses(log_dir, group),
    }
