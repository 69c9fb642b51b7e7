"""One owned partition: read, apply, flush, ack — effectively once. The I/O shell.

A partition is processed by one task that holds all its symbols' state, so the hot path needs no
locks. Every flush is one fenced MULTI/EXEC (store/transaction.py) that writes the dirty
symbols' hashes (encoded by the core), the dead letters, the checkpoint (the last entry id the
state reflects) and the XACKs together. After a
crash the next owner reloads symbols from Redis, re-reads the pending entries and skips every id
at or below the checkpoint, so each entry's effect lands exactly once.

A tick of a symbol another partition owns (a producer with another rule) is not applied here:
the core hands it back and the flush re-publishes it to the owner's stream in the same
transaction that acks it, so it is applied once, by the owner, whatever crashes.

The worker only reads, loads, flushes and counts: the bookkeeping that makes it exactly-once is
the `PartitionLedger`'s, the tick step the `TickBatchCore`'s. Its round trips overlap the work
(`run`): a batch is read ahead while catching up, a sealed flush is written while the next
batches apply, and every reply is read in one pass (`store/replies.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aredis
import structlog
from redis.exceptions import ResponseError, WatchError

from ..cores import PYTHON
from ..engine_core import CoreConfig
from ..metrics import ServiceMetrics
from ..store import keys
from ..store.replies import exchange, raise_errors
from ..store.resp import Commands
from ..store.scripts import FlushBatch
from ..store.transaction import (
    FencedError,
    TransactionPlan,
    Watched,
    check_command,
    plan_flush,
    unwatch,
    watch,
    write_flush,
)
from ..store.wire import text
from .batch_core import Reject, StreamEntry, TickBatchCore, build_batch_core
from .ledger import PartitionLedger, SealedFlush
from .partitions import format_entry_id, parse_entry_id
from .retry import RETRYABLE, backoff, retrying

_T = TypeVar("_T")


@functools.cache
def _drain_thread() -> ThreadPoolExecutor:
    """The one thread every partition of this process drains in. One, not a pool: drains
    need no parallelism among themselves (one core's worth beside the event loop), and each
    thread that allocates gets a malloc arena of its own, which cost a 100,000-symbol worker
    30 MiB of RSS with the default pool."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="drain")


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
    timestamp_from_entry_id: bool = False  # VOLUME_TIMESTAMP_FROM_ENTRY_ID
    core: str = PYTHON  # the tick core, as cores.resolve gave it: native or python
    write_filter_keys: int = 0  # VOLUME_WRITE_FILTER_KEYS: 0 writes every drain in full
    read_linger_ms: int = 0  # VOLUME_READ_LINGER_MS: live reads at most this often (0: at once)


def drain_phase(partition: int, partitions: int, interval: float) -> float:
    """Where in the interval a partition drains: partition/partitions of it.

    The partitions' flushes share one event loop; drained at the same moment, the last one's
    ticks would wait for every other partition's snapshots too.
    """
    n = max(1, partitions)
    return interval * (partition % n) / n


def linger_delay(last_read: float, linger: float, drain_due: float, now: float) -> float:
    """How long a live read waits: until `linger` after the last one returned, but never past
    the drain point, so every tick published before a drain is still read into it."""
    return max(0.0, min(last_read + linger, drain_due) - now)


def next_drain(after: float, interval: float, phase: float) -> float:
    """The first point of the grid `phase + k * interval` strictly after `after`."""
    if interval <= 0:
        return after
    return phase + (math.floor((after - phase) / interval) + 1) * interval


class PartitionWorker:
    """Processes one partition while this worker holds its lease (token).

    Phases: recover (take over and replay what previous owners left pending), then follow the
    stream: read, process (ledger admits, core stages, worker loads new symbols, core applies,
    ledger settles), flush when due. A final flush on stop.
    """

    def __init__(
        self,
        client: aredis.Redis,
        config: PartitionConfig,
        core_config: CoreConfig,
        token: str,
        metrics: ServiceMetrics,
        core: TickBatchCore | None = None,
    ) -> None:
        self.client = client
        self.cfg = config
        self.token = token
        self.core: TickBatchCore = (
            core if core is not None else build_batch_core(
                config.core, core_config, dual_write=config.dual_write,
                timestamp_from_entry_id=config.timestamp_from_entry_id,
                partition=config.partition, partitions=config.partitions,
                write_filter_keys=config.write_filter_keys,
            )
        )
        self.metrics = metrics
        self.stream = keys.stream_key(config.stream, config.partition)
        self.ledger = PartitionLedger(source_stream=self.stream,
                                      max_deliveries=config.max_deliveries)
        self.log = structlog.get_logger().bind(partition=config.partition, worker=config.consumer)
        self.stopping = asyncio.Event()
        self._interval = config.flush_interval_ms / 1000
        self._phase = drain_phase(config.partition, config.partitions, self._interval)
        self._drain_due = next_drain(time.monotonic(), self._interval, self._phase)
        self._full_reads = 0  # full reads in a row: how long the backlog under way has been
        self._backlog_done = False  # a backlog just ended: flush now (_note_read)
        self._linger = config.read_linger_ms / 1000
        self._last_read = -math.inf  # when the last read that found entries returned (_gather)
        self._applied = metrics.ticks.labels("applied")  # labelled children, looked up once
        self._duplicates = metrics.ticks.labels("duplicate")
        self._dead_lettered = metrics.ticks.labels("dead_lettered")
        self._rerouted = metrics.ticks.labels("rerouted")
        self._rerouted_here = metrics.rerouted.labels(str(config.partition))
        self._plan: TransactionPlan | None = None  # of the ledger's flush in flight
        self._check = check_command(keys.lease_key(config.stream, config.partition),
                                    keys.checkpoint_key(config.stream, config.partition))
        # The next write's check, sent while its flush was drained (_start_flush).
        self._watching: asyncio.Task[Watched] | None = None

    @property
    def batch(self) -> FlushBatch:
        """The flush under way (the ledger's)."""
        return self.ledger.batch

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Recover what previous owners left pending, then follow the stream until stopped.

        Two round trips overlap the work instead of adding to it, each on its own pooled
        connection:

        - while catching up (the last read was a full batch) the next batch is read ahead while
          this one is processed and flushed;
        - a flush is drained and sealed in order, then written while the next batches are read
          and applied (at most one in flight: the next flush waits for it, so flushes land in
          order, each fenced on the checkpoint the previous one stored).

        Entries are still applied strictly in order. A batch read ahead when the partition ends
        (fenced) stays pending for the next owner, like any other; a flush that fails ends the
        partition at the next step, as it did when the worker waited for it.
        """
        await self._retrying(self._load_checkpoint)
        await self._retrying(self._recover)
        ahead: asyncio.Task[Sequence[StreamEntry]] | None = None
        writing: asyncio.Task[None] | None = None
        try:
            while True:
                if writing is not None and writing.done():
                    writing.result()  # a fenced flush raises here
                    writing = None
                if ahead is not None:
                    entries, ahead = await ahead, None
                elif self.stopping.is_set():
                    break
                else:
                    await self._gather()
                    if self.stopping.is_set():
                        break
                    entries = await self._read_new()
                # An empty read lingers for nothing: the next one blocks until a tick lands.
                self._last_read = time.monotonic() if entries else -math.inf
                self._note_read(len(entries))
                if self._catching_up and not self.stopping.is_set():
                    ahead = asyncio.ensure_future(self._read_new())
                if entries:
                    await self._process(entries)
                if self._flush_due():
                    if writing is not None:
                        await writing
                    writing = await self._start_flush()
            if writing is not None:
                await writing
                writing = None
        finally:
            for task in (ahead, writing):
                if task is not None:
                    task.cancel()
            if self._watching is not None:  # a write cancelled before it took its check
                watching, self._watching = self._watching, None
                with contextlib.suppress(Exception):
                    await self._give_back(watching)
        await self._retrying(self.flush)

    async def _gather(self) -> None:
        """Let a live partition's next batch gather (VOLUME_READ_LINGER_MS): a tick is visible
        only at its drain, so reading it the moment it lands buys nothing, while each read,
        stage and apply has a fixed cost that small live batches paid once per handful of ticks
        (a worker spent twice the backlog's CPU a tick at live rates, bench README). Only a live
        read comes here: catching up, `run` reads ahead instead. No wait after an empty read
        (`_last_read`): an idle partition's blocking read returns the moment a tick lands."""
        delay = linger_delay(self._last_read, self._linger, self._drain_due, time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)

    def _read_new(self) -> Awaitable[Sequence[StreamEntry]]:
        return self._retrying(functools.partial(self._read, ">", self._block_ms()))

    async def _retrying(self, op: Callable[[], Awaitable[_T]]) -> _T:
        """Run op, retrying connection losses with backoff; the fence is never retried."""
        return await retrying(op, metrics=self.metrics, log=self.log)

    def _block_ms(self) -> int:
        """Wait for new entries until the next drain is due (up to block_ms, so a long
        interval never outwaits the socket's timeout or a stop);
        while a flush is being written (its end sets the next drain), one interval at most."""
        if self.ledger.unflushed == 0:
            return self.cfg.block_ms
        if self._drain_due == math.inf:
            return max(1, min(self.cfg.block_ms, self.cfg.flush_interval_ms))
        return max(1, min(self.cfg.block_ms, int((self._drain_due - time.monotonic()) * 1000)))

    def _note_read(self, count: int) -> None:
        """Track the backlog. A short read after at least two full ones ends a backlog: its
        ticks are flushed at once instead of at the next drain (up to an interval later), as
        the flush is large already and every tick in it has waited. Live reads are never
        full, so the grid alone paces their flushes."""
        if count >= self.cfg.read_count:
            self._full_reads += 1
            return
        if self._full_reads >= 2:
            self._backlog_done = True
        self._full_reads = 0

    @property
    def _catching_up(self) -> bool:
        """The last read was a full batch: a backlog is waiting."""
        return self._full_reads > 0

    def _flush_due(self) -> bool:
        unflushed = self.ledger.unflushed
        if unflushed == 0:
            return False
        return (self._backlog_done or unflushed >= self.cfg.flush_max_entries
                or time.monotonic() >= self._drain_due)

    # -- recovering and reading -----------------------------------------------------------------

    async def _load_checkpoint(self) -> None:
        raw = await self.client.hget(
            keys.checkpoint_key(self.cfg.stream, self.cfg.partition), keys.CHECKPOINT_LAST_ID
        )
        self.ledger.restore(raw)

    async def _read(self, start: str, block: int | None) -> Sequence[StreamEntry]:
        """XREADGROUP, its reply read in one pass (`store.replies`) and made entries by the
        core: the native one keeps them as the reply's bytes, the Python one as the flat
        field lists Redis sent (no dict per entry)."""
        cfg = self.cfg
        command = ["XREADGROUP", "GROUP", cfg.group, cfg.consumer, "COUNT", str(cfg.read_count)]
        if block is not None:
            command += ["BLOCK", str(block)]
        command += ["STREAMS", self.stream, start]
        read = Commands.of([command], raw=self.core.reads_raw)
        entries = self.core.entries(raise_errors(await exchange(self.client, read)))
        if entries:
            self.metrics.read_batch.observe(len(entries))
        return entries

    async def _recover(self) -> None:
        """Take over every pending entry of the group, then replay this consumer's backlog."""
        cursor = "0-0"
        while True:
            reply: Any = await self.client.xautoclaim(
                self.stream, self.cfg.group, self.cfg.consumer, 0, cursor, count=1000,
            )
            cursor = text(reply[0])
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
            start = entries[-1].entry_id
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
                counts[text(row["message_id"])] = int(row["times_delivered"])
            if len(rows) < 1000:
                return counts
            last = parse_entry_id(rows[-1]["message_id"])
            start = format_entry_id((last[0], last[1] + 1))

    # -- processing -----------------------------------------------------------------------------

    async def _process(
        self, entries: Sequence[StreamEntry], deliveries: dict[str, int] | None = None
    ) -> None:
        """Apply a batch. The only I/O (loading new symbols) comes before any state moves and
        is retried on its own, so a lost connection never applies part of a batch twice."""
        admitted = self.ledger.admit(entries, deliveries)
        core = self.core
        new_symbols = core.stage(admitted.entries)
        if new_symbols:
            await self._retrying(functools.partial(self._load, new_symbols))
        outcome = core.apply_staged()
        self._observe_lag(entries)
        rejects = self.ledger.settle(admitted.rejects, outcome.rejects)
        if outcome.forwards:
            self.ledger.forward(outcome.forwards)
            self._rerouted.inc(len(outcome.forwards))
            self._rerouted_here.inc(len(outcome.forwards))
        self._count(outcome.applied, admitted.duplicates, outcome.last_ts_ms, rejects)

    def _observe_lag(self, entries: Sequence[StreamEntry]) -> None:
        """apply_lag: the oldest entry's age, by the time in its id (Redis's clock, which a
        worker beside it shares; a clock behind Redis's reads as no lag, not a negative one)."""
        if entries:
            received_ms = parse_entry_id(entries[0].entry_id)[0]
            self.metrics.apply_lag.observe(max(0.0, time.time() - received_ms / 1000))

    async def _load(self, first_ts_ms: dict[str, int]) -> None:
        steps = self.core.load_steps(first_ts_ms, self.cfg.learned_history_days)
        try:
            request = next(steps)
            while True:
                request = steps.send(raise_errors(await exchange(self.client, request)))
        except StopIteration:
            return

    def _count(self, applied: int, duplicates: int, last_ts_ms: int,
               rejects: Sequence[Reject]) -> None:
        if applied:
            self._applied.inc(applied)
        if duplicates:
            self._duplicates.inc(duplicates)
        if rejects:
            self._dead_lettered.inc(len(rejects))
            for r in rejects:
                self.metrics.dead_letters.labels(r.reason).inc()
        if last_ts_ms:
            self.metrics.last_exchange_ts.set(last_ts_ms / 1000)

    # -- flushing -------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything applied since the last flush in one fenced MULTI/EXEC.

        A flush whose outcome is unknown (the connection failed) stays in flight: the retry
        sends the same plan, and finds its checkpoint stored if the first one landed.

        Live, the partition drains on its grid (one interval apart, offset per partition), so a
        tick waits at most one interval plus one flush to be visible. While catching up on a
        backlog (the last read was a full batch) the next drain is one interval after the end
        of this write instead: latency is the backlog's then, and the longer spacing means
        fewer, larger flushes and a faster catch-up.
        """
        drained_at = time.monotonic()
        if await self._seal(drained_at):
            await self._write_sealed(drained_at)

    async def _start_flush(self) -> asyncio.Task[None] | None:
        """flush() with the write in the background (run's loop); None when nothing to write.
        The next drain is scheduled when the write ends, as flush() does.

        The write's first round trip (WATCH and the fence's reads) is sent as the drain
        starts and its reply awaited only by the write, so it costs the flush nothing while
        the drain outlasts it (transaction.py: an earlier WATCH fences as much)."""
        drained_at = time.monotonic()
        watching = None
        if self._plan is None:
            watching = asyncio.ensure_future(watch(self.client, self._check))
        try:
            sealed = await self._seal(drained_at)
        except BaseException:
            if watching is not None:
                with contextlib.suppress(Exception):  # the drain's error is the one to raise
                    await self._give_back(watching)
            raise
        if not sealed:
            if watching is not None:
                await self._give_back(watching)
            return None
        self._watching = watching
        self._drain_due = math.inf
        return asyncio.ensure_future(
            self._retrying(functools.partial(self._write_sealed, drained_at)))

    async def _seal(self, drained_at: float) -> bool:
        """Drain the core into the flush being built and seal it, unless one is in flight
        (a retry sends that one again); False when there is nothing to write. A core that
        drains without the GIL drains in a thread: this partition waits for it, the others
        go on reading and applying."""
        if self._plan is not None:
            return True
        self._backlog_done = False
        ledger = self.ledger
        core = self.core
        started = time.perf_counter()
        if core.drains_without_gil:
            drained = await asyncio.get_running_loop().run_in_executor(_drain_thread(), core.drain)
        else:
            drained = core.drain()
        self.metrics.drain_duration.observe(time.perf_counter() - started)
        ledger.add_writes(drained.encoded, drained.families, drained.symbols, drained.left_out)
        sealed = ledger.seal()
        if sealed is None:
            self._drained(drained_at)
            return False
        self._plan = self._plan_for(sealed)
        return True

    async def _write_sealed(self, drained_at: float) -> None:
        plan = self._plan
        assert plan is not None
        started = time.perf_counter()
        await self._write(plan)
        self.metrics.flush_duration.observe(time.perf_counter() - started)
        self._plan = None
        self.core.commit_drain()  # Redis holds the drain's writes: the write filter learns them
        done = self.ledger.flushed()
        if done.left_out:
            self.metrics.fields_left_out.inc(done.left_out)
        self.metrics.flush_symbols.observe(done.symbols)
        for family, count in done.families.items():
            self.metrics.key_writes.labels(family).inc(count)
        self._drained(drained_at)

    def _plan_for(self, sealed: SealedFlush) -> TransactionPlan:
        cfg = self.cfg
        return plan_flush(
            sealed.batch,
            encoded=sealed.encoded,
            forwards=[(keys.stream_key(cfg.stream, f.partition), f.fields)
                      for f in sealed.forwards],
            lease=keys.lease_key(cfg.stream, cfg.partition),
            checkpoint_key=keys.checkpoint_key(cfg.stream, cfg.partition),
            stream=self.stream,
            dead_stream=keys.dead_letter_key(cfg.stream),
            token=self.token,
            group=cfg.group,
            previous_checkpoint=sealed.previous_checkpoint,
        )

    async def _give_back(self, watching: asyncio.Task[Watched]) -> None:
        """A check sent for a flush that will not be written: its connection goes back."""
        try:
            await unwatch(self.client, await watching)
        except RETRYABLE as exc:  # the connection is dropped, not reused: nothing to undo
            self.log.debug("unwatch_failed", error=str(exc))

    async def _write(self, plan: TransactionPlan) -> None:
        """Send the plan until it lands; FENCED ends the partition, a lost connection is the
        caller's to retry. An EXEC that kept aborting wrote nothing: try again after a pause.
        The check sent during the drain stands for the first attempt's; a retry checks anew."""
        delays = backoff()
        while True:
            try:
                watching, self._watching = self._watching, None
                watched = await watching if watching is not None else None
                await write_flush(self.client, plan, watched=watched)
                return
            except FencedError as exc:
                self.metrics.flush_errors.labels("fenced").inc()
                raise LeaseLostError(self.stream) from exc
            except WatchError as exc:
                self.metrics.flush_errors.labels("error").inc()
                delay = next(delays)
                self.log.warning("flush_contended", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
            except ResponseError:
                self.metrics.flush_errors.labels("error").inc()
                raise
            except RETRYABLE:
                self.metrics.flush_errors.labels("connection").inc()
                raise

    def _drained(self, drained_at: float) -> None:
        if self._catching_up:
            self._drain_due = time.monotonic() + self._interval
        else:
            self._drain_due = next_drain(drained_at, self._interval, self._phase)
