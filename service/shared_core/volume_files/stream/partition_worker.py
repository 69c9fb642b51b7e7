"""One owned partition: read, apply, flush, ack — effectively once.

A partition is processed by one task that holds all its symbols' state, so the hot path needs no
locks. Every flush is one fenced script call that writes the dirty symbols' hashes, the dead
letters, the checkpoint (the last entry id the state reflects) and the XACKs together. After a
crash the next owner reloads symbols from Redis, re-reads the pending entries and skips every id
at or below the checkpoint, so each entry's effect lands exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aredis
import structlog
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..engine_core import CoreConfig, VolumeEngineCore
from ..metrics import ServiceMetrics
from ..session_tracker import StaleSessionError
from ..store import keys
from ..store.codec import snapshot_writes
from ..store.loader import SymbolLoad
from ..store.scripts import FlushBatch, dead_letter_fields, flush_arguments
from ..ticks import Tick, TickError, parse_entry
from .partitions import format_entry_id, parse_entry_id

RETRYABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
Entry = tuple[Any, Any]


class LeaseLostError(Exception):
    """The flush was fenced: another worker owns the partition now."""


@dataclass(frozen=True, slots=True)
class PartitionConfig:
    stream: str
    partition: int
    group: str
    consumer: str
    read_count: int
    block_ms: int
    flush_interval_ms: int
    flush_max_entries: int
    max_deliveries: int
    dual_write: bool
    learned_history_days: int = 0
    partitions: int = 1  # of the stream: spaces the partitions' drains across the interval


def drain_phase(partition: int, partitions: int, interval: float) -> float:
    """Where in the interval a partition drains: partition/partitions of it.

    The partitions' flushes share one event loop; drained at the same moment, the last one's
    ticks would wait for every other partition's snapshots too.
    """
    n = max(1, partitions)
    return interval * (partition % n) / n


def next_drain(after: float, interval: float, phase: float) -> float:
    """The first point of the grid `phase + k * interval` strictly after `after`."""
    if interval <= 0:
        return after
    return phase + (math.floor((after - phase) / interval) + 1) * interval


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class PartitionWorker:
    """Processes one partition while this worker holds its lease (token)."""

    def __init__(
        self,
        client: aredis.Redis,
        config: PartitionConfig,
        core_config: CoreConfig,
        token: str,
        flush_script: AsyncScript,
        metrics: ServiceMetrics,
    ) -> None:
        self.client = client
        self.cfg = config
        self.token = token
        self.core = VolumeEngineCore(core_config)
        self.flush_script = flush_script
        self.metrics = metrics
        self.stream = keys.stream_key(config.stream, config.partition)
        self.log = structlog.get_logger().bind(partition=config.partition, worker=config.consumer)
        self.stopping = asyncio.Event()
        self.checkpoint: tuple[int, int] = (0, 0)
        self._stored_checkpoint = ""
        self.batch = FlushBatch()
        self._unflushed = 0
        self._interval = config.flush_interval_ms / 1000
        self._phase = drain_phase(config.partition, config.partitions, self._interval)
        self._drain_due = next_drain(time.monotonic(), self._interval, self._phase)
        self._catching_up = False  # the last read was a full batch: a backlog is waiting
        self._label = str(config.partition)
        self._applied = metrics.ticks.labels("applied")  # labelled children, looked up once
        self._duplicates = metrics.ticks.labels("duplicate")

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Recover what previous owners left pending, then follow the stream until stopped."""
        await self._retrying(self._load_checkpoint)
        await self._retrying(self._recover)
        while not self.stopping.is_set():
            block = self.cfg.block_ms if self._unflushed == 0 else max(
                1, int((self._drain_due - time.monotonic()) * 1000)
            )
            entries = await self._retrying(functools.partial(self._read, ">", block))
            self._catching_up = len(entries) >= self.cfg.read_count
            if entries:
                await self._retrying(functools.partial(self._process, entries))
            if self._flush_due():
                await self._retrying(self.flush)
        await self._retrying(self.flush)

    async def _retrying(self, op: Any) -> Any:
        """Run op, retrying connection losses with backoff; the fence is never retried."""
        delay = 0.05
        while True:
            try:
                return await op()
            except RETRYABLE as exc:
                self.metrics.reconnects.inc()
                self.log.warning("redis_unavailable", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _flush_due(self) -> bool:
        if self._unflushed == 0:
            return False
        return (
            self._unflushed >= self.cfg.flush_max_entries
            or time.monotonic() >= self._drain_due
        )

    # -- reading --------------------------------------------------------------------------------

    async def _load_checkpoint(self) -> None:
        raw = await self.client.hget(
            keys.checkpoint_key(self.cfg.stream, self.cfg.partition), keys.CHECKPOINT_LAST_ID
        )
        self._stored_checkpoint = _text(raw) if raw else ""
        self.checkpoint = parse_entry_id(raw) if raw else (0, 0)

    async def _read(self, start: str, block: int | None) -> list[Entry]:
        reply = await self.client.xreadgroup(
            self.cfg.group, self.cfg.consumer, {self.stream: start},
            count=self.cfg.read_count, block=block,
        )
        if not reply:
            return []
        entries: list[Entry] = cast(Any, reply)[0][1]
        self.metrics.read_batch.observe(len(entries))
        return entries

    async def _recover(self) -> None:
        """Take over every pending entry of the group, then replay this consumer's backlog."""
        cursor = "0-0"
        while True:
            reply: Any = await self.client.xautoclaim(
                self.stream, self.cfg.group, self.cfg.consumer, 0, cursor, count=1000,
            )
            cursor = _text(reply[0])
            claimed = reply[1]
            if claimed:
                self.metrics.reclaimed.inc(len(claimed))
            if cursor == "0-0":
                break
        deliveries = await self._delivery_counts()
        start = "0-0"
        while True:
            entries = await self._read(start, None)
            if not entries:
                break
            await self._process(entries, deliveries)
            start = _text(entries[-1][0])
        await self.flush()

    async def _delivery_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        start = "-"
        while True:
            rows: Any = await self.client.xpending_range(
                self.stream, self.cfg.group, min=start, max="+", count=1000,
                consumername=self.cfg.consumer,
            )
            for row in rows:
                counts[_text(row["message_id"])] = int(row["times_delivered"])
            if len(rows) < 1000:
                return counts
            last = parse_entry_id(rows[-1]["message_id"])
            start = format_entry_id((last[0], last[1] + 1))

    # -- applying -------------------------------------------------------------------------------

    async def _process(
        self, entries: Sequence[Entry], deliveries: dict[str, int] | None = None
    ) -> None:
        """Apply a batch. Loading happens before any state moves, so a retry is safe."""
        parsed: list[tuple[str, Any, Tick | TickError | None]] = []
        unknown: dict[str, Tick] = {}
        needs_load = self.core.needs_load
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if type(raw_id) is bytes else _text(raw_id)
            outcome: Tick | TickError | None = None
            if fields:
                try:
                    outcome = parse_entry(fields)
                except TickError as exc:
                    outcome = exc
            if type(outcome) is Tick and needs_load(outcome.symbol):
                unknown.setdefault(outcome.symbol, outcome)
            parsed.append((entry_id, fields, outcome))
        if unknown:
            await self._load(unknown)
        self._apply(parsed, deliveries or {})

    def _apply(
        self,
        parsed: list[tuple[str, Any, Tick | TickError | None]],
        deliveries: dict[str, int],
    ) -> None:
        if not parsed:
            return
        # Entries of one read are in id order, so when the first is past the checkpoint and
        # none has a delivery history (the normal, non-recovery case), none is a duplicate and
        # the per-entry id checks can be skipped.
        if deliveries or parse_entry_id(parsed[0][0]) <= self.checkpoint:
            self._apply_checked(parsed, deliveries)
            return
        batch = self.batch
        batch.acks.extend([entry_id for entry_id, _, _ in parsed])
        last_id = parsed[-1][0]
        self.checkpoint = parse_entry_id(last_id)
        batch.checkpoint = last_id
        self._unflushed += len(parsed)
        apply = self.core.apply
        applied = 0
        last_ts = 0
        for entry_id, fields, outcome in parsed:
            if type(outcome) is Tick:
                try:
                    apply(outcome)
                except StaleSessionError as exc:
                    self._dead_letter(entry_id, fields, "stale_session", str(exc))
                    continue
                applied += 1
                if outcome.ts_ms > last_ts:
                    last_ts = outcome.ts_ms
            elif isinstance(outcome, TickError):  # (None: trimmed away while pending)
                self._dead_letter(entry_id, fields, outcome.reason, str(outcome))
        self._count(applied, 0, last_ts)

    def _apply_checked(
        self,
        parsed: list[tuple[str, Any, Tick | TickError | None]],
        deliveries: dict[str, int],
    ) -> None:
        """One entry at a time: skip what the checkpoint covers, dead-letter redeliveries."""
        applied = 0
        duplicates = 0
        last_ts = 0
        batch = self.batch
        for entry_id, fields, outcome in parsed:
            batch.acks.append(entry_id)
            eid = parse_entry_id(entry_id)
            if eid <= self.checkpoint:
                duplicates += 1
                continue
            self.checkpoint = eid
            batch.checkpoint = entry_id
            self._unflushed += 1
            if outcome is None:  # trimmed away while pending: nothing left to apply
                continue
            delivered = deliveries.get(entry_id, 0)
            if delivered > self.cfg.max_deliveries:
                self._dead_letter(entry_id, fields, "max_deliveries",
                                  f"delivered {delivered} times without success")
            elif isinstance(outcome, TickError):
                self._dead_letter(entry_id, fields, outcome.reason, str(outcome))
            else:
                try:
                    self.core.apply(outcome)
                except StaleSessionError as exc:
                    self._dead_letter(entry_id, fields, "stale_session", str(exc))
                    continue
                applied += 1
                if outcome.ts_ms > last_ts:
                    last_ts = outcome.ts_ms
        self._count(applied, duplicates, last_ts)

    def _count(self, applied: int, duplicates: int, last_ts: int) -> None:
        if applied:
            self._applied.inc(applied)
        if duplicates:
            self._duplicates.inc(duplicates)
        if last_ts:
            self.metrics.last_exchange_ts.set(last_ts / 1000)

    async def _load(self, first_ticks: dict[str, Tick]) -> None:
        plan = SymbolLoad(list(first_ticks), minute_history_days=self.cfg.learned_history_days)
        pipe = self.client.pipeline(transaction=False)
        for command in plan.first():
            pipe.execute_command(*command)
        second = plan.second(await pipe.execute())
        replies: list[Any] = []
        if second:
            pipe = self.client.pipeline(transaction=False)
            for command in second:
                pipe.execute_command(*command)
            replies = await pipe.execute()
        calendar = self.core.calendar
        for symbol, history in plan.result(replies).items():
            self.core.load(symbol, history, calendar.trading_date(first_ticks[symbol].ts_ms))

    def _dead_letter(self, entry_id: str, fields: Any, reason: str, error: str) -> None:
        payload = [(_text(k), _text(v)) for k, v in fields.items()]
        self.batch.dead_letters.append(dead_letter_fields(
            reason=reason, error=error, source_id=entry_id, source_stream=self.stream,
            payload=payload,
        ))
        self.metrics.ticks.labels("dead_lettered").inc()
        self.metrics.dead_letters.labels(reason).inc()

    # -- flushing -------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything applied since the last flush in one fenced script call.

        Live, the partition drains on its grid (one interval apart, offset per partition), so a
        tick waits at most one interval plus one flush to be visible. While catching up on a
        backlog (the last read was a full batch) the next drain is one interval after the end
        of this write instead: latency is the backlog's then, and the longer spacing means
        fewer, larger flushes and a faster catch-up.
        """
        drained_at = time.monotonic()
        batch = self.batch
        for snap in self.core.drain():
            batch.writes.extend(snapshot_writes(snap, dual_write=self.cfg.dual_write))
        if not batch:
            self._drained(drained_at)
            return
        script_keys, argv = flush_arguments(
            batch,
            lease=keys.lease_key(self.cfg.stream, self.cfg.partition),
            checkpoint_key=keys.checkpoint_key(self.cfg.stream, self.cfg.partition),
            stream=self.stream,
            dead_stream=keys.dead_letter_key(self.cfg.stream),
            token=self.token,
            group=self.cfg.group,
            previous_checkpoint=self._stored_checkpoint,
        )
        started = time.perf_counter()
        try:
            await self.flush_script(keys=script_keys, args=argv)
        except ResponseError as exc:
            if "FENCED" in str(exc):
                self.metrics.flush_errors.labels("fenced").inc()
                raise LeaseLostError(self.stream) from exc
            self.metrics.flush_errors.labels("error").inc()
            raise
        except RETRYABLE:
            self.metrics.flush_errors.labels("connection").inc()
            raise
        self.metrics.flush_duration.observe(time.perf_counter() - started)
        if batch.checkpoint:
            self._stored_checkpoint = batch.checkpoint
        # Counted per family first: a labelled child lookup per write cost more than the write.
        families: dict[str, int] = {}
        symbols: set[str] = set()
        for w in batch.writes:
            families[w.family] = families.get(w.family, 0) + 1
            if w.family == keys.FAMILY_UNIFIED:
                symbols.add(w.key)
        self.metrics.flush_symbols.observe(len(symbols))
        for family, count in families.items():
            self.metrics.key_writes.labels(family).inc(count)
        self.batch = FlushBatch()
        self._unflushed = 0
        self._drained(drained_at)

    def _drained(self, drained_at: float) -> None:
        if self._catching_up:
            self._drain_due = time.monotonic() + self._interval
        else:
            self._drain_due = next_drain(drained_at, self._interval, self._phase)
