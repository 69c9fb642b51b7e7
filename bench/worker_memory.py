"""A real worker's resident memory after a full session at many symbols (`memory_worker_N`).

`bench.memory` measures the Python core's state in a bare interpreter; this measures what a
deployment sizes for: one `volume-engine run` process (whatever core VOLUME_CORE selects, its
runtime, Redis client, buffers and all) after it has consumed a whole session. Every symbol is
first sent one price-only tick at the open (so all of them are held, as in `bench.memory`),
then the simulated session is published in chunks, each after the worker has drained the
previous one (the consumed entries are trimmed, so Redis does not hold millions of entries).
RSS and its peak (VmRSS, VmHWM) are read from /proc once the last chunk is written.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from shared_core.volume_files.simulator import build_universe, simulate_ticks

from .dev import RedisServer
from .service import process_memory_mib, start_workers, stop_workers, wait_owned, worker_ids
from .workloads import (
    SESSION_DATE,
    backlog,
    drop_db,
    iter_history,
    publish,
    seed_history,
    stream_keys,
)

GROUP = "memory"
CHUNK = 100_000


def _wait_drained(client: redis.Redis, procs: list[Any], log_dir: Path,
                  timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while backlog(client, GROUP) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the memory worker did not drain within {timeout}s")
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"the memory worker exited early; logs in {log_dir}")
        time.sleep(0.05)


def _chunks(entries: Iterator[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    while chunk := list(itertools.islice(entries, size)):
        yield chunk


def measure(server: RedisServer, db: int, *, symbols: int, ticks: int, seed: int,
            log_dir: Path, extra: dict[str, str]) -> dict[str, Any]:
    """One worker on an empty DB fed `ticks` over the session for `symbols` symbols."""
    drop_db(server, db)
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    seed_history(server, db, iter_history(universe, seed=seed))
    client = server.client(db=db)
    for key in stream_keys():
        client.xgroup_create(key, GROUP, id="0", mkstream=True)
    procs = start_workers(server, db, GROUP, 1, log_dir, extra)
    pid = procs[0].pid
    try:
        wait_owned(client, worker_ids(1), procs)
        base_rss, _ = process_memory_mib(pid)
        open_ts = f"{SESSION_DATE.isoformat()}T09:15:00.000"
        started = time.perf_counter()
        publish(server, ({"symbol": inst.symbol, "price": f"{inst.price:.2f}",
                          "timestamp": open_ts} for inst in universe), db=db)
        fed = 0
        generator = simulate_ticks(universe, session_date=SESSION_DATE, n_ticks=ticks,
                                   seed=seed)
        for chunk in _chunks(generator, CHUNK):  # simulating overlaps the worker's drain
            _wait_drained(client, procs, log_dir)
            for key in stream_keys():
                client.xtrim(key, maxlen=0, approximate=False)
            publish(server, chunk, db=db)
            fed += len(chunk)
        _wait_drained(client, procs, log_dir)
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
        "rss_mib": round(rss, 1),
        "peak_rss_mib": round(peak, 1),
        "base_rss_mib": round(base_rss, 1),
        "state_mib": round(rss - base_rss, 1),
        "bytes_per_symbol": round((rss - base_rss) * 1024 * 1024 / symbols),
        "sessions_written": sessions,
    }
