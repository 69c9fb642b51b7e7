"""Publish-to-visible latency at a fixed publish rate (half the engine's measured capacity).

A publisher XADDs ticks at the target rate in 5 ms batches and notes, per partition and batch,
the entry ids it got back and when it sent them. The XADDs are encoded before the clock starts
and their replies read in one pass (`store.replies`), as are the poller's reads, and an entry
id is parsed only where a flush ended inside a batch, so the bench process, which shares the
machine's two cores with the worker and Redis, costs about a microsecond a tick and holds the
rate (`bench_cpu_share` says what it took).
A poller reads the partitions' checkpoints (`vol:checkpoint:{stream}:{p}`) every 2 ms: the
flush writes the checkpoint in the same transaction as the state it reflects, so the moment a
checkpoint reaches an entry's id, that tick's effect is visible to every reader. Latency =
first poll that sees it - send time (at most one poll interval pessimistic).
Steady state, not a cold start: each symbol's first tick is published and consumed before the
clock starts (so no measured tick waits for its symbol to be loaded from Redis), and the first
`warmup_s` seconds of the timed phase are left out.

Where a tick's time goes, from the worker's own histograms (its /metrics, read as the sampled
window begins and after it, the warm-up left out): the apply lag (a batch's oldest entry's age
when applied), the drain and the flush round trip, each a mean over the window's batches or
flushes. A tick waits for its partition's next drain point (uniform over the flush interval),
then the drain and the round trip; publish-to-visible is that plus the apply lag, the XADD's
own wait and the poll.
"""

from __future__ import annotations

import asyncio
import bisect
import statistics
import time
import urllib.request
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
from prometheus_client.parser import text_string_to_metric_families

from shared_core.volume_files.store import keys
from shared_core.volume_files.store.replies import connection, exchange, read_replies
from shared_core.volume_files.store.resp import Commands, encode_command
from shared_core.volume_files.stream.partitions import parse_entry_id, partition_for
from shared_core.volume_files.stream.producer import publish_sync

from .analysis import command_delta
from .dev import RedisServer, free_port
from .service import (
    command_stats,
    process_cpu_s,
    redis_cpu_s,
    start_workers,
    stop_workers,
    wait_owned,
    worker_ids,
)
from .workloads import PARTITIONS, STREAM, backlog, drop_db, seed_history

BATCH_S = 0.005
POLL_S = 0.002
# One XADD exchange carries at most this much of the rate: a publisher that falls behind (a
# rate beyond what the machine publishes beside the service) stays behind, and the figure's
# rate says so, instead of sending seconds of ticks at once and outwaiting the client's socket
# timeout (redis-py 8's default: 5 s).
MAX_SEND_S = 0.05
# Below this share of the asked rate, the report says the rate was not held.
RATE_HELD = 0.95


def due_ticks(published: int, elapsed_s: float, rate: float, total: int) -> int:
    """How many ticks should have been sent by `elapsed_s`: the rate's schedule, capped at
    `total` and at MAX_SEND_S of the rate beyond what was already sent."""
    cap = published + max(1, int(rate * MAX_SEND_S))
    return min(total, int(elapsed_s * rate), cap)


@dataclass(frozen=True, slots=True)
class Latency:
    rate: float  # ticks/s actually published
    samples: int
    sampled_s: float  # the publishing time whose ticks are measured (after the warm-up)
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    worker_cpu_share: float  # of one core, during the timed phase
    bench_cpu_share: float  # the publisher and poller's process, of one core
    redis_cpu_share: float  # the server, of one core: with the others, what the 2 cores hold
    redis_command_s: dict[str, float]  # the server's seconds per command over the timed phase
    p99_ms_by_partition: tuple[float, ...]  # which partitions make the tail
    apply_lag_ms: float  # mean over batches: the oldest entry's age when applied
    drain_ms: float  # mean over flushes
    flush_write_ms: float  # mean over flushes: the fenced MULTI/EXEC round trip
    flushes: int
    hsets_per_tick: float  # HSETs the flushes ran per tick published (`CommandStats.hsets`)


# The worker's histograms the latency figure splits a tick's path by, and Latency's fields.
PARTS = {"volume_engine_apply_lag_seconds": "apply_lag_ms",
         "volume_engine_drain_duration_seconds": "drain_ms",
         "volume_engine_flush_duration_seconds": "flush_write_ms"}


def scrape(metrics_port: int) -> dict[str, tuple[float, float]]:
    """(sum, count) of each histogram in PARTS, from the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in PARTS:
            values = {s.name: s.value for s in family.samples}
            out[family.name] = (values[f"{family.name}_sum"], values[f"{family.name}_count"])
    return out


def parts_ms(before: Mapping[str, tuple[float, float]], after: Mapping[str, tuple[float, float]]
             ) -> tuple[dict[str, float], int]:
    """Each part's mean in ms between two scrapes, and the flushes in between."""
    means: dict[str, float] = {}
    for name, field in PARTS.items():
        total, count = (a - b for a, b in zip(after[name], before[name], strict=True))
        means[field] = 1000 * total / count if count else float("nan")
    flushes = int(after["volume_engine_flush_duration_seconds"][1]
                  - before["volume_engine_flush_duration_seconds"][1])
    return means, flushes


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _measure(url: str, entries: Sequence[dict[str, str]], rate: float, duration: float,
                   warmup_s: float, worker_pid: int, info_client: redis.Redis,
                   metrics_port: int) -> Latency:
    publisher = aredis.from_url(url)
    poller = aredis.from_url(url)
    routes = [keys.stream_key(STREAM, partition_for(e["symbol"], PARTITIONS)) for e in entries]
    # Per partition, the batches not yet visible: their entry ids (ascending) and send time.
    inflight: list[deque[tuple[list[bytes], float]]] = [deque() for _ in range(PARTITIONS)]
    part_of = {keys.stream_key(STREAM, p): p for p in range(PARTITIONS)}
    by_partition: list[list[float]] = [[] for _ in range(PARTITIONS)]
    n_total = min(len(entries), int(rate * duration))
    done_publishing = asyncio.Event()
    published = 0
    started = time.perf_counter()

    encoded = [encode_command(["XADD", route, "*", *(x for kv in e.items() for x in kv)])
               for route, e in zip(routes[:n_total], entries, strict=False)]
    parts = [part_of[r] for r in routes[:n_total]]

    async def publish() -> None:
        nonlocal published
        while published < n_total:
            due = due_ticks(published, time.perf_counter() - started, rate, n_total)
            if due > published:
                async with connection(publisher) as conn:  # one exchange, one timeout
                    sent = time.perf_counter()
                    await conn.send_packed_command(b"".join(encoded[published:due]))
                    ids = await read_replies(conn, due - published)
                batch: list[list[bytes]] = [[] for _ in range(PARTITIONS)]
                for p, entry_id in zip(parts[published:due], ids, strict=True):
                    batch[p].append(entry_id)
                for p, got in enumerate(batch):
                    if got:
                        inflight[p].append((got, sent))
                published = due
            await asyncio.sleep(BATCH_S)
        done_publishing.set()

    async def poll() -> None:
        reads = Commands.of([("HGET", keys.checkpoint_key(STREAM, p), keys.CHECKPOINT_LAST_ID)
                             for p in range(PARTITIONS)])  # encoded once, read in one pass
        measure_from = started + warmup_s
        while True:
            values: list[Any] = await exchange(poller, reads)
            now = time.perf_counter()
            for p, raw in enumerate(values):
                if raw is None:
                    continue
                checkpoint = parse_entry_id(raw)
                queue = inflight[p]
                while queue:
                    ids, sent = queue[0]
                    whole = parse_entry_id(ids[-1]) <= checkpoint
                    if whole:
                        queue.popleft()
                        seen = len(ids)
                    else:  # the checkpoint is inside this batch (or before it)
                        seen = bisect.bisect_right(ids, checkpoint, key=parse_entry_id)
                        if seen:
                            queue[0] = (ids[seen:], sent)
                    if seen and sent >= measure_from:
                        by_partition[p].extend([now - sent] * seen)
                    if not whole:
                        break
            if done_publishing.is_set() and not any(inflight):
                return
            await asyncio.sleep(POLL_S)

    async def scrape_after_warmup() -> dict[str, tuple[float, float]]:
        """The histograms as the sampled window begins (the warm-up's flushes left out)."""
        await asyncio.sleep(warmup_s)
        return await asyncio.to_thread(scrape, metrics_port)

    started = time.perf_counter()
    parts_before = asyncio.create_task(scrape_after_warmup())
    cpu_before = process_cpu_s(worker_pid)
    own_before = time.process_time()
    redis_before = redis_cpu_s(info_client)
    commands_before = command_stats(info_client)
    try:
        poll_task = asyncio.create_task(poll())
        await publish()
        elapsed = time.perf_counter() - started
        cpu_share = (process_cpu_s(worker_pid) - cpu_before) / elapsed
        own_share = (time.process_time() - own_before) / elapsed
        redis_share = (redis_cpu_s(info_client) - redis_before) / elapsed
        commands_after = command_stats(info_client)
        commands = command_delta(commands_before.seconds, commands_after.seconds)
        hsets = commands_after.hsets - commands_before.hsets
        await asyncio.wait_for(poll_task, 60)
        split, flushes = parts_ms(await parts_before,
                                  await asyncio.to_thread(scrape, metrics_port))
    finally:
        parts_before.cancel()  # done by then, unless the publishing failed
        await publisher.aclose()
        await poller.aclose()
    ms = sorted(v * 1000 for part in by_partition for v in part)
    return Latency(
        rate=n_total / elapsed,
        samples=len(ms),
        sampled_s=max(0.0, elapsed - warmup_s),
        p50_ms=_quantile(ms, 0.50),
        p99_ms=_quantile(ms, 0.99),
        max_ms=ms[-1] if ms else float("nan"),
        mean_ms=statistics.fmean(ms) if ms else float("nan"),
        worker_cpu_share=cpu_share,
        bench_cpu_share=own_share,
        redis_cpu_share=redis_share,
        redis_command_s=commands,
        p99_ms_by_partition=tuple(
            round(_quantile(sorted(v * 1000 for v in part), 0.99), 1) for part in by_partition
        ),
        apply_lag_ms=split["apply_lag_ms"], drain_ms=split["drain_ms"],
        flush_write_ms=split["flush_write_ms"], flushes=flushes,
        hsets_per_tick=hsets / n_total if n_total else float("nan"),
    )


def measure(
    server: RedisServer,
    db: int,
    entries: Sequence[dict[str, str]],
    *,
    rate: float,
    duration: float,
    log_dir: Path,
    histories: Mapping[str, Mapping[str, str]] | None = None,
    warmup_s: float = 1.0,
    extra: dict[str, str] | None = None,
    label: str = "",
) -> Latency:
    """One worker on an empty DB, fed live at `rate` ticks/s for about `duration` seconds."""
    drop_db(server, db)
    if histories:
        seed_history(server, db, histories.items())
    seen: set[str] = set()
    warm: list[dict[str, str]] = []
    timed: list[dict[str, str]] = []
    for entry in entries:
        symbol = entry["symbol"]
        (timed if symbol in seen else warm).append(entry)
        seen.add(symbol)
    group = f"latency-{label}" if label else "latency"
    metrics_port = free_port()
    procs = start_workers(server, db, group, 1, log_dir,
                          {**(extra or {}), "VOLUME_METRICS_PORT": str(metrics_port)})
    client = server.client(db=db)
    try:
        wait_owned(client, worker_ids(1), procs)
        publish_sync(client, warm, stream=STREAM, partitions=PARTITIONS, batch=2000)
        deadline = time.monotonic() + 120
        while backlog(client, group) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the latency worker did not consume the warm-up ticks")
            time.sleep(0.05)
        url = f"redis://127.0.0.1:{server.port}/{db}"
        return asyncio.run(_measure(url, timed, rate, duration, warmup_s, procs[0].pid, client,
                                    metrics_port))
    finally:
        stop_workers(procs)
        client.close()
        drop_db(server, db)
