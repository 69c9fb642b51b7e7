"""One partition worker against real Redis: fencing, idempotent flushes, redelivery limits."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.metrics import ServiceMetrics
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import keys, transaction
from shared_core.volume_files.store.transaction import TransactionPlan, Watched, WriteResult
from shared_core.volume_files.stream import partition_worker
from shared_core.volume_files.stream.leases import LeaseClient
from shared_core.volume_files.stream.partition_worker import (
    LeaseLostError,
    PartitionConfig,
    PartitionWorker,
)
from shared_core.volume_files.stream.partitions import format_entry_id, partition_for
from shared_core.volume_files.stream.runtime import ensure_groups
from tests import stream_support as ss
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration
STREAM = keys.stream_key(ss.STREAM, 0)


def _config(consumer: str = "c1", max_deliveries: int = 5,
            partitions: int = 1, write_filter_keys: int = 0,
            flush_interval_ms: int = 50, read_linger_ms: int = 0) -> PartitionConfig:
    return PartitionConfig(
        stream=ss.STREAM, partition=0, group=ss.GROUP, consumer=consumer, read_count=100,
        block_ms=50, flush_interval_ms=flush_interval_ms, flush_max_entries=1000,
        max_deliveries=max_deliveries, dual_write=True, partitions=partitions, core=ss.core(),
        write_filter_keys=write_filter_keys, read_linger_ms=read_linger_ms,
    )


@pytest.fixture
async def aclient(redis_url: str) -> AsyncIterator[aredis.Redis]:
    client = aredis.from_url(redis_url)
    await ensure_groups(client, ss.STREAM, 1, ss.GROUP)
    yield client
    await client.aclose()


async def _worker(aclient: aredis.Redis, consumer: str = "c1", **kw: Any
                  ) -> tuple[PartitionWorker, LeaseClient, str]:
    leases = LeaseClient(aclient, ss.STREAM, consumer, 5000)
    token = await leases.acquire(0)
    assert token is not None
    settings = dataclasses.replace(load_settings(env=ss.core_env()))
    worker = PartitionWorker(
        aclient, _config(consumer, **kw), load_core_config(settings), token, ServiceMetrics(),
    )
    return worker, leases, token


def _ticks(n: int) -> list[dict[str, str]]:
    return [
        {"symbol": "SBIN", "price": f"{600 + i % 7 * 0.05:.2f}", "volume": str(10 + i),
         "timestamp": f"2025-12-09T10:{i // 60 % 60:02d}:{i % 60:02d}"}
        for i in range(n)
    ]


async def test_recovery_applies_pending_entries_once(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    for tick in _ticks(30):
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient)
    await worker._load_checkpoint()
    await worker._recover()
    entries = await worker._read(">", 10)
    await worker._process(entries)
    await worker.flush()
    state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
    assert state[b"cumulative_volume"] == str(sum(10 + i for i in range(30))).encode()
    assert state[b"tick_count"] == b"30"
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 0
    checkpoint = redis_client.hget(keys.checkpoint_key(ss.STREAM, 0), keys.CHECKPOINT_LAST_ID)
    newest: Any = redis_client.xrevrange(STREAM, count=1)
    assert checkpoint == newest[0][0]


async def test_the_apply_lag_and_the_drain_are_observed(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    """apply_lag is the oldest entry's age by its id: an entry Redis received 3 s before it
    is read shows at least 3 s; each drain of a flush is timed."""
    received_ms = int(time.time() * 1000) - 3000
    redis_client.xadd(STREAM, _ticks(1)[0], id=f"{received_ms}-0")  # type: ignore[arg-type]
    redis_client.xadd(STREAM, _ticks(2)[1])  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient)
    registry = worker.metrics.registry
    await worker._load_checkpoint()
    await worker._process(await worker._read(">", 10))
    await worker.flush()
    lag_count = registry.get_sample_value("volume_engine_apply_lag_seconds_count")
    lag_sum = registry.get_sample_value("volume_engine_apply_lag_seconds_sum")
    assert lag_count == 1
    assert lag_sum is not None
    assert 3.0 <= lag_sum < 60.0
    assert registry.get_sample_value("volume_engine_apply_lag_seconds_bucket",
                                     {"le": "2.5"}) == 0
    assert registry.get_sample_value("volume_engine_drain_duration_seconds_count") == 1
    drained = registry.get_sample_value("volume_engine_drain_duration_seconds_sum")
    assert drained is not None
    assert 0.0 < drained < 5.0


async def test_entries_at_or_below_checkpoint_are_acked_not_applied(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    ids = [redis_client.xadd(STREAM, t) for t in _ticks(10)]  # type: ignore[arg-type]
    redis_client.hset(keys.checkpoint_key(ss.STREAM, 0), keys.CHECKPOINT_LAST_ID, ids[5])
    worker, _, _ = await _worker(aclient)
    await worker._load_checkpoint()
    await worker._process(await worker._read(">", 10))
    await worker.flush()
    state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
    assert state[b"tick_count"] == b"4"
    assert state[b"cumulative_volume"] == str(sum(10 + i for i in range(6, 10))).encode()
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 0


async def test_a_worker_that_lost_its_lease_cannot_write(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    for tick in _ticks(5):
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient)
    await worker._load_checkpoint()
    await worker._process(await worker._read(">", 10))
    # The lease expires during a pause and another worker takes the partition.
    redis_client.delete(keys.lease_key(ss.STREAM, 0))
    other = LeaseClient(aclient, ss.STREAM, "c2", 5000)
    assert await other.acquire(0) is not None
    with pytest.raises(LeaseLostError):
        await worker.flush()
    assert not redis_client.exists(keys.session_key("SBIN", "2025-12-09"))
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 5
    assert not redis_client.exists(keys.checkpoint_key(ss.STREAM, 0))


async def test_a_lease_taken_while_the_flush_drains_writes_nothing(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background flush sends its check as the drain starts: a takeover after that check
    saw this worker's lease (while the drain runs) still fences the write."""
    for tick in _ticks(5):
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    worker, _, token = await _worker(aclient)
    await worker._load_checkpoint()
    await worker._process(await worker._read(">", 10))
    checked: list[bytes | None] = []
    original_watch = transaction.watch

    async def watch_then_taken(client: aredis.Redis, check: bytes) -> Watched:
        watched = await original_watch(client, check)
        checked.append(watched.lease)
        redis_client.set(keys.lease_key(ss.STREAM, 0), "c2:other")
        return watched

    monkeypatch.setattr(partition_worker, "watch", watch_then_taken)
    writing = await worker._start_flush()
    assert writing is not None
    with pytest.raises(LeaseLostError):
        await writing
    assert checked == [token.encode()]
    assert not redis_client.exists(keys.session_key("SBIN", "2025-12-09"))
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 5
    assert len(aclient.connection_pool._in_use_connections) == 0


async def test_a_drain_that_fails_raises_its_error_and_gives_the_check_back(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_client.xadd(STREAM, _ticks(1)[0])  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient)
    await worker._load_checkpoint()
    await worker._process(await worker._read(">", 10))

    def broken() -> Any:
        raise RuntimeError("drain failed")

    monkeypatch.setattr(worker.core, "drain", broken)
    with pytest.raises(RuntimeError, match="drain failed"):
        await worker._start_flush()
    assert worker._watching is None
    assert len(aclient.connection_pool._in_use_connections) == 0


async def test_a_flush_with_nothing_to_write_gives_its_check_back(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    worker, _, _ = await _worker(aclient)
    await worker._load_checkpoint()
    assert await worker._start_flush() is None
    assert worker._watching is None
    assert len(aclient.connection_pool._in_use_connections) == 0


async def test_a_retried_flush_writes_nothing_twice(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_client.xadd(STREAM, {"symbol": "BAD", "price": "x", "timestamp": "1"})
    redis_client.xadd(STREAM, _ticks(1)[0])  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient)
    await worker._load_checkpoint()
    await worker._process(await worker._read(">", 10))
    sent: list[TransactionPlan] = []

    async def reply_lost(client: aredis.Redis, plan: TransactionPlan,
                         watched: Watched | None = None) -> WriteResult:
        sent.append(plan)
        result = await transaction.write_flush(client, plan, watched=watched)
        if len(sent) == 1:  # it landed, but the worker never hears so
            raise redis.exceptions.ConnectionError("connection lost reading the EXEC reply")
        return result

    monkeypatch.setattr(partition_worker, "write_flush", reply_lost)
    with pytest.raises(redis.exceptions.ConnectionError):
        await worker.flush()
    once = ss.dump_state(redis_client), redis_client.xlen(keys.dead_letter_key(ss.STREAM))
    assert once[1] == 1
    assert worker.ledger.stored_checkpoint == ""  # unconfirmed
    await worker.flush()  # what the worker's retry does
    assert sent[1] is sent[0]  # the same bytes
    assert (ss.dump_state(redis_client), redis_client.xlen(keys.dead_letter_key(ss.STREAM))) == once
    assert redis_client.hget(keys.session_key("SBIN", "2025-12-09"), "tick_count") == b"1"
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 0
    assert worker.ledger.stored_checkpoint == format_entry_id(worker.ledger.checkpoint)
    assert worker.metrics.flush_errors.labels("connection")._value.get() == 1


async def test_an_entry_delivered_too_often_is_dead_lettered(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    entry_id = redis_client.xadd(STREAM, _ticks(1)[0])  # type: ignore[arg-type]
    redis_client.xreadgroup(ss.GROUP, "crashy", {STREAM: ">"})
    for _ in range(6):  # six more owners claimed it and died before flushing
        redis_client.xclaim(STREAM, ss.GROUP, "crashy", 0, [entry_id])
    worker, _, _ = await _worker(aclient, max_deliveries=5)
    await worker._load_checkpoint()
    await worker._recover()
    dead: Any = redis_client.xrange(keys.dead_letter_key(ss.STREAM))
    assert len(dead) == 1
    assert dead[0][1][b"reason"] == b"max_deliveries"
    assert dead[0][1][b"source_id"] == entry_id
    assert dead[0][1][b"symbol"] == b"SBIN"
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 0
    assert not redis_client.exists(keys.session_key("SBIN", "2025-12-09"))


async def test_state_is_rebuilt_from_redis_by_a_new_owner(
    aclient: aredis.Redis, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    ticks = _ticks(40)
    for tick in ticks[:20]:
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    first, leases, token = await _worker(aclient, "c1")
    await first._load_checkpoint()
    await first._process(await first._read(">", 100))
    await first.flush()
    await leases.release(0, token)
    for tick in ticks[20:]:
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    second, _, _ = await _worker(aclient, "c2")
    await second._load_checkpoint()
    await second._recover()
    await second._process(await second._read(">", 100))
    await second.flush()
    got = ss.dump_state(redis_client)
    expected = ss.reference_state(redis_server.client(db=2), ticks)
    assert got == expected


async def test_a_forwarded_tick_lands_once_in_its_owners_stream_after_a_crash_and_a_lost_reply(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of 2 partitions, SBIN is 1's and RELIANCE 0's: SBIN ticks read from 0 go to 1."""
    assert (partition_for("SBIN", 2), partition_for("RELIANCE", 2)) == (1, 0)
    sbin = _ticks(2)
    reliance = {**sbin[0], "symbol": "RELIANCE"}
    for tick in (sbin[0], reliance, sbin[1]):
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    first, leases, token = await _worker(aclient, "c1", partitions=2)
    await first._load_checkpoint()
    await first._process(await first._read(">", 10))
    assert first.metrics.rerouted.labels("0")._value.get() == 2
    await leases.release(0, token)  # it dies before its flush: nothing forwarded yet
    owner_stream = keys.stream_key(ss.STREAM, 1)
    assert redis_client.xlen(owner_stream) == 0

    second, _, _ = await _worker(aclient, "c2", partitions=2)
    calls: list[TransactionPlan] = []

    async def reply_lost(client: aredis.Redis, plan: TransactionPlan,
                         watched: Watched | None = None) -> WriteResult:
        calls.append(plan)
        result = await transaction.write_flush(client, plan, watched=watched)
        if len(calls) == 1:
            raise redis.exceptions.ConnectionError("connection lost reading the EXEC reply")
        return result

    monkeypatch.setattr(partition_worker, "write_flush", reply_lost)
    await second._load_checkpoint()
    with pytest.raises(redis.exceptions.ConnectionError):
        await second._recover()  # claims, replays and flushes: the reply is lost
    await second.flush()  # the retry
    assert calls[1] is calls[0]
    entries: Any = redis_client.xrange(owner_stream)
    assert [{ss.text(k): ss.text(v) for k, v in f.items()} for _, f in entries] == sbin
    assert not redis_client.exists(keys.session_key("SBIN", "2025-12-09"))
    assert redis_client.hget(keys.session_key("RELIANCE", "2025-12-09"), "tick_count") == b"1"
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 0
    assert second.metrics.ticks.labels("rerouted")._value.get() == 2


@pytest.mark.parametrize("write_filter_keys", [0, 40, 100_000])
async def test_a_backlog_read_ahead_and_flushed_behind_lands_as_a_clean_run(
    aclient: aredis.Redis, redis_client: redis.Redis, redis_server: RedisServer,
    write_filter_keys: int,
) -> None:
    """run() on a backlog of many batches: the next batch is read ahead and each flush written
    while the next batches apply. The end state is a clean in-process run's, nothing pending;
    with a write filter too (40 keys: fewer than the session writes, so keys are forgotten and
    written in full again), which leaves fields out."""
    ticks = ss.recorded_session(n_sim=2500, yesbank_days=2)
    for tick in ticks:
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient, partitions=1, write_filter_keys=write_filter_keys)
    worker.cfg = dataclasses.replace(worker.cfg, flush_max_entries=150)
    metrics = worker.metrics
    task = asyncio.ensure_future(worker.run())
    await _eventually(lambda: not (redis_client.xpending(STREAM, ss.GROUP)["pending"]
                                   or _lag(redis_client)))
    worker.stop()
    await asyncio.wait_for(task, 30)
    (flushes,) = metrics.flush_duration.collect()
    assert sum(s.value for s in flushes.samples if s.name.endswith("_count")) >= 5
    assert ss.dump_state(redis_client) == ss.reference_state(redis_server.client(db=2), ticks)
    left_out = metrics.fields_left_out._value.get()
    assert (left_out > 0) == (write_filter_keys > 0)
    newest: Any = redis_client.xrevrange(STREAM, count=1)
    checkpoint = redis_client.hget(keys.checkpoint_key(ss.STREAM, 0), keys.CHECKPOINT_LAST_ID)
    assert checkpoint == newest[0][0]


async def test_the_end_of_a_backlog_is_flushed_at_once_and_live_reads_wait_for_the_grid(
    aclient: aredis.Redis, redis_client: redis.Redis,
) -> None:
    """With a drain only once a minute: a backlog of several full reads is visible as soon as
    the worker catches up, while ticks arriving afterwards (short reads) wait for the grid."""
    for tick in _ticks(450):
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient, flush_interval_ms=60_000)
    task = asyncio.ensure_future(worker.run())
    try:
        await _eventually(lambda: not (redis_client.xpending(STREAM, ss.GROUP)["pending"]
                                       or _lag(redis_client)))
        state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
        assert int(state[b"tick_count"]) == 450
        for tick in _ticks(460)[450:]:
            redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
        await _eventually(lambda: not _lag(redis_client))  # read, not flushed
        await asyncio.sleep(0.3)
        assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 10
        state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
        assert int(state[b"tick_count"]) == 450
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
    assert int(state[b"tick_count"]) == 460  # the final flush on stop


@pytest.mark.parametrize("linger_ms", [0, 60])
async def test_live_reads_linger_into_batches_and_every_tick_lands_once(
    aclient: aredis.Redis, redis_client: redis.Redis, linger_ms: int,
) -> None:
    """Ticks trickling in one every 3 ms for 0.6 s: with a 60 ms linger the partition reads
    at most one batch per linger or drain (the drains come every 150 ms) instead of one per
    tick or two; either way each tick is applied exactly once and stop flushes the rest."""
    ticks = _ticks(200)
    worker, _, _ = await _worker(aclient, flush_interval_ms=150, read_linger_ms=linger_ms)
    task = asyncio.ensure_future(worker.run())
    try:
        for tick in ticks:
            await aclient.xadd(STREAM, tick)  # type: ignore[arg-type]
            await asyncio.sleep(0.003)
        await _eventually(lambda: not _lag(redis_client))
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
    assert int(state[b"tick_count"]) == 200
    assert state[b"cumulative_volume"] == str(sum(10 + i for i in range(200))).encode()
    assert redis_client.xpending(STREAM, ss.GROUP)["pending"] == 0
    registry = worker.metrics.registry
    reads = registry.get_sample_value("volume_engine_read_batch_entries_count")
    assert registry.get_sample_value("volume_engine_read_batch_entries_sum") == 200
    assert reads is not None
    elapsed_s = 200 * 0.003
    if linger_ms:
        # one read per linger, plus one at each drain point, plus slack for a slow loop
        assert reads <= elapsed_s / 0.060 + elapsed_s / 0.150 + 10
    else:
        assert reads > elapsed_s / 0.060 + elapsed_s / 0.150 + 10


async def test_an_idle_partition_reads_a_new_tick_at_once_whatever_the_linger(
    aclient: aredis.Redis, redis_client: redis.Redis,
) -> None:
    """The linger follows a read that found ticks, never an empty one: a partition idle for
    longer than its linger is in its blocking read when a tick lands, and reads it at once."""
    worker, _, _ = await _worker(aclient, flush_interval_ms=60_000, read_linger_ms=400)
    registry = worker.metrics.registry

    def applied() -> float | None:
        return registry.get_sample_value("volume_engine_ticks_total", {"outcome": "applied"})

    task = asyncio.ensure_future(worker.run())
    try:
        for n, tick in enumerate(_ticks(3), start=1):
            await asyncio.sleep(1.0)  # past the linger: reads come back empty (block_ms=50)
            assert worker._last_read == -math.inf
            await aclient.xadd(STREAM, tick)  # type: ignore[arg-type]
            sent = time.monotonic()
            await _eventually(lambda n=n: applied() == n, poll=0.005)  # type: ignore[misc]
            assert time.monotonic() - sent < 0.2
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
    assert int(state[b"tick_count"]) == 3


async def test_a_flush_fenced_behind_the_loop_ends_the_partition(
    aclient: aredis.Redis, redis_client: redis.Redis,
) -> None:
    """The lease is taken while run() works through a backlog: the background flush is
    refused, run() raises, and nothing past the last flush that landed is acked."""
    for tick in _ticks(3000):
        redis_client.xadd(STREAM, tick)  # type: ignore[arg-type]
    worker, _, _ = await _worker(aclient)
    worker.cfg = dataclasses.replace(worker.cfg, flush_max_entries=200)
    task = asyncio.ensure_future(worker.run())
    await _eventually(lambda: bool(redis_client.exists(keys.checkpoint_key(ss.STREAM, 0))),
                      poll=0.005)
    redis_client.delete(keys.lease_key(ss.STREAM, 0))
    other = LeaseClient(aclient, ss.STREAM, "c2", 5000)
    assert await other.acquire(0) is not None
    with pytest.raises(LeaseLostError):
        await asyncio.wait_for(task, 30)
    checkpoint: Any = redis_client.hget(keys.checkpoint_key(ss.STREAM, 0),
                                        keys.CHECKPOINT_LAST_ID)
    state = redis_client.hgetall(keys.session_key("SBIN", "2025-12-09"))
    applied = int(state[b"tick_count"])
    ids: Any = redis_client.xrange(STREAM)
    assert ids[applied - 1][0] == checkpoint  # the state is exactly what the checkpoint says
    pending = redis_client.xpending(STREAM, ss.GROUP)["pending"]
    lag = _lag(redis_client)
    assert applied + pending + lag == 3000  # every entry acked with its effect, or still due


async def _eventually(check: Callable[[], bool], *, poll: float = 0.05) -> None:
    for _ in range(int(60 / poll)):
        if check():
            return
        await asyncio.sleep(poll)
    raise AssertionError("the condition did not hold in time")


def _lag(client: redis.Redis) -> int:
    groups: Any = client.xinfo_groups(STREAM)
    return sum(int(g.get("lag") or 0) for g in groups)
