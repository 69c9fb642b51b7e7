"""The two reference consumers the engine is measured against.

- ceiling: does nothing with the entries. One asyncio task per partition on one pooled client,
  exactly like the service: XREADGROUP COUNT read_count, then XACK the same ids. Nothing a
  consumer on this Redis client stack does can drain the streams faster.
- ceiling_raw: the same do-nothing consumer on the service's own read path: each XREADGROUP
  reply kept as its bytes (`_native.RawReplies`, where the extension is built) and only its
  entry ids made Python strings, for the XACK. Where the redis-py consumer's parsing (a tuple
  and a dict per entry) saturates its core first, this is the nearer to Redis's own limit.
- naive: the straightforward per-tick port of the old code: every entry goes through the
  library engine (`UnifiedVolumeEngine.process_tick`), which writes that tick's hashes with one
  HSET pipeline (a MULTI/EXEC round trip) per tick. It is slow, so it runs for a time budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aredis

from shared_core.volume_files.session_tracker import StaleSessionError
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store.replies import exchange, raise_errors
from shared_core.volume_files.store.resp import Commands
from shared_core.volume_files.stream.batch_core import read_entries
from shared_core.volume_files.ticks import TickError
from shared_core.volume_files.unified_engine import UnifiedVolumeEngine

from .dev import RedisServer
from .workloads import seed_history, stream_keys


@dataclass(frozen=True, slots=True)
class Drained:
    ticks: int
    seconds: float

    @property
    def ticks_per_s(self) -> float:
        return self.ticks / self.seconds if self.seconds > 0 else 0.0


# One read and its ack on `stream`; returns how many entries it took (0: the stream is done).
Batch = Callable[[aredis.Redis, str], Awaitable[int]]


def _redis_py_batch(group: str, read_count: int) -> Batch:
    async def batch(client: aredis.Redis, stream: str) -> int:
        reply: Any = await client.xreadgroup(group, "ceiling", {stream: ">"}, count=read_count)
        if not reply:
            return 0
        ids = [entry_id for entry_id, _ in reply[0][1]]
        await client.xack(stream, group, *ids)
        return len(ids)

    return batch


def _entry_ids(replies: Any) -> list[str]:
    """One XREADGROUP's entry ids: from the reply's bytes where it was read raw."""
    from shared_core.volume_files import _native

    if isinstance(replies, _native.RawReplies):
        return _native.RawEntries(replies).ids()
    return [entry.entry_id for entry in read_entries(replies)]


def _raw_batch(group: str, read_count: int) -> Batch:
    reads: dict[str, Commands] = {}  # encoded once per stream

    async def batch(client: aredis.Redis, stream: str) -> int:
        read = reads.get(stream)
        if read is None:
            read = reads[stream] = Commands.of(
                [("XREADGROUP", "GROUP", group, "ceiling", "COUNT", str(read_count),
                  "STREAMS", stream, ">")], raw=True)
        ids = _entry_ids(raise_errors(await exchange(client, read)))
        if ids:
            raise_errors(await exchange(client, Commands.of([("XACK", stream, group, *ids)])))
        return len(ids)

    return batch


async def _ceiling(url: str, batch: Batch) -> Drained:
    """One task per partition on one pooled client, as the service reads."""
    client = aredis.from_url(url)
    counts: list[int] = []

    async def drain(stream: str) -> None:
        n = 0
        while got := await batch(client, stream):
            n += got
        counts.append(n)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(drain(stream) for stream in stream_keys()))
        return Drained(sum(counts), time.perf_counter() - started)
    finally:
        await client.aclose()


def ceiling(server: RedisServer, db: int, group: str, read_count: int, *,
            raw: bool = False) -> Drained:
    """Drain the copy in `db` (its group must exist at id 0) with the do-nothing consumer;
    `raw`: on the service's read path (needs `cores.native_available()`)."""
    url = f"redis://127.0.0.1:{server.port}/{db}"
    make = _raw_batch if raw else _redis_py_batch
    return asyncio.run(_ceiling(url, make(group, read_count)))


def naive(
    server: RedisServer, db: int, out_db: int, group: str, read_count: int, budget_s: float,
    histories: Mapping[str, Mapping[str, str]] | None = None,
) -> Drained:
    """Per-tick engine over the copy in `db`, writing to `out_db`, for about `budget_s`."""
    if histories:
        seed_history(server, out_db, histories.items())
    reader = server.client(db=db)
    writer = server.client(db=out_db)
    engine = UnifiedVolumeEngine(writer, settings=load_settings(env={}))
    streams = stream_keys()
    done: set[str] = set()
    ticks = 0
    started = time.perf_counter()
    deadline = started + budget_s
    try:
        while len(done) < len(streams) and time.perf_counter() < deadline:
            for stream in streams:
                if stream in done:
                    continue
                reply: Any = reader.xreadgroup(group, "naive", {stream: ">"}, count=read_count)
                if not reply:
                    done.add(stream)
                    continue
                entries = reply[0][1]
                for _, fields in entries:
                    tick = {k.decode(): v.decode() for k, v in cast(dict[bytes, bytes],
                                                                    fields).items()}
                    with contextlib.suppress(TickError, StaleSessionError):
                        engine.process_tick(None, tick)
                reader.xack(stream, group, *[entry_id for entry_id, _ in entries])
                ticks += len(entries)
                if time.perf_counter() >= deadline:
                    break
        return Drained(ticks, time.perf_counter() - started)
    finally:
        reader.close()
        writer.close()

