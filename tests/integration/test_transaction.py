"""The fenced MULTI/EXEC flush against a real redis-server: the FLUSH script's guarantees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from redis._parsers import _AsyncRESP2Parser
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import VolumeEngineCore
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store import keys, scripts
from shared_core.volume_files.store.codec import HashWrite, build_history, snapshot_writes
from shared_core.volume_files.store.resp import encode_hash_writes
from shared_core.volume_files.store.scripts import FlushBatch, dead_letter_fields
from shared_core.volume_files.store.transaction import (
    FencedError,
    Forwarded,
    Outcome,
    TransactionPlan,
    check_command,
    plan_flush,
    unwatch,
    watch,
    write_flush,
    write_flush_sync,
)
from shared_core.volume_files.stream.leases import LeaseClient
from shared_core.volume_files.ticks import parse_entry
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

STREAM, PARTITION, GROUP, TOKEN = "ticks", 0, "volume-engine", "w1:1"
LEASE = keys.lease_key(STREAM, PARTITION)
CHECKPOINT = keys.checkpoint_key(STREAM, PARTITION)
SOURCE = keys.stream_key(STREAM, PARTITION)
DEAD = keys.dead_letter_key(STREAM)
NAMES: dict[str, Any] = {
    "lease": LEASE, "checkpoint_key": CHECKPOINT, "stream": SOURCE, "dead_stream": DEAD,
    "group": GROUP,
}


def pending_entries(client: redis.Redis, n: int) -> list[str]:
    """n entries read by the group and not acked yet, as a partition worker holds them."""
    client.xgroup_create(SOURCE, GROUP, id="0", mkstream=True)
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(SOURCE, {"symbol": "SBIN", "n": str(i)})
    ids = [i.decode() for i in pipe.execute()]
    read = 0
    while read < n:
        reply: Any = client.xreadgroup(GROUP, "w1", {SOURCE: ">"}, count=5000)
        read += len(reply[0][1])
    return ids


def batch_for(ids: list[str], writes: list[HashWrite], dead: int = 1) -> FlushBatch:
    letters = [dead_letter_fields(reason="bad_json", error="data: invalid JSON", source_id=i,
                                  source_stream=SOURCE, payload=[("data", "{")])
               for i in ids[:dead]]
    return FlushBatch(writes=writes, acks=ids, dead_letters=letters, checkpoint=ids[-1])


def small_writes() -> list[HashWrite]:
    return [
        HashWrite("vol:session:SBIN:2025-12-09", "unified",
                  {"cumulative_volume": "1000", "tick_count": "2", "last_price": "612.35"},
                  ("rvol", "expected_volume")),
        HashWrite("ind:SBIN", "legacy", {"volume": "1000"}, ("volume_ratio",)),
        HashWrite("vol:history:SBIN", "state", {"2025-12-09": "1000"}),
    ]


def plan(batch: FlushBatch, previous: str = "", token: str = TOKEN) -> TransactionPlan:
    return plan_flush(batch, token=token, previous_checkpoint=previous, **NAMES)


def text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    return value


def end_state(client: redis.Redis) -> dict[str, Any]:
    """Every output hash, the checkpoint, what is pending, the dead letters' fields in order."""
    hashes = {}
    for key in sorted(client.scan_iter(count=1000)):
        if client.type(key) == b"hash":
            hashes[text(key)] = text(client.hgetall(key))
    entries: Any = client.xrange(DEAD)
    dead = [text([x for kv in fields.items() for x in kv]) for _, fields in entries]
    pending = client.xpending(SOURCE, GROUP)["pending"] if client.exists(SOURCE) else 0
    return {"hashes": hashes, "dead": dead, "pending": pending, "lease": text(client.get(LEASE))}


# How a flush's replies are read: kept as bytes with EXEC's array summed up natively (hiredis's
# connection, RESP2 or RESP3), or as objects (redis-py's pure-Python parser, or no extension).
READ_PATHS: dict[str, dict[str, Any]] = {
    "raw": {},
    "raw-resp3": {"protocol": 3},
    "objects": {"protocol": 2, "parser_class": _AsyncRESP2Parser},
}


@pytest.fixture(params=list(READ_PATHS))
async def aclient(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[aredis.Redis]:
    client = aredis.from_url(redis_url, **READ_PATHS[request.param])
    yield client
    await client.aclose()


async def test_state_dead_letters_checkpoint_and_acks_land_together(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    redis_client.hset("vol:session:SBIN:2025-12-09", mapping={"rvol": "1.1", "symbol": "SBIN"})
    ids = pending_entries(redis_client, 3)
    result = await write_flush(aclient, plan(batch_for(ids, small_writes())))
    assert (result.outcome, result.attempts, result.acked) == (Outcome.APPLIED, 1, 3)
    state = end_state(redis_client)
    assert state["hashes"]["vol:session:SBIN:2025-12-09"] == {
        "cumulative_volume": "1000", "tick_count": "2", "last_price": "612.35", "symbol": "SBIN",
    }
    assert state["hashes"][CHECKPOINT] == {"last_id": ids[-1]}
    assert state["pending"] == 0
    assert state["dead"] == [["reason", "bad_json", "error", "data: invalid JSON",
                              "source_id", ids[0], "source_stream", SOURCE, "data", "{"]]
    # the pooled connection came back clean: no WATCH left, no reply unread
    assert await aclient.ping() is True
    assert len(aclient.connection_pool._available_connections) == 1
    await aclient.set(CHECKPOINT + ":probe", "1")


@pytest.mark.parametrize("lease", ["w2:2", None, "expired", b"\xff\xfe not utf-8"])
async def test_a_fenced_writer_writes_nothing(
    aclient: aredis.Redis, redis_client: redis.Redis, lease: str | bytes | None
) -> None:
    if lease == "expired":
        redis_client.set(LEASE, TOKEN, px=30)
        await asyncio.sleep(0.1)
    elif lease is not None:
        redis_client.set(LEASE, lease)
    ids = pending_entries(redis_client, 3)
    before = end_state(redis_client)
    with pytest.raises(FencedError, match=r"^FENCED lease lost$") as caught:
        await write_flush(aclient, plan(batch_for(ids, small_writes())))
    assert isinstance(caught.value, ResponseError)  # what the worker's handler catches today
    assert end_state(redis_client) == before
    assert await aclient.ping() is True


async def test_checkpoint_moved_is_fenced(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 2)
    redis_client.hset(CHECKPOINT, "last_id", "5-0")  # another owner flushed since our load
    before = end_state(redis_client)
    with pytest.raises(FencedError, match=r"^FENCED checkpoint moved to 5-0$"):
        await write_flush(aclient, plan(batch_for(ids, small_writes()), previous="1-0"))
    assert end_state(redis_client) == before


async def test_without_checkpoint_only_the_lease_fences(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    redis_client.hset(CHECKPOINT, "last_id", "5-0")
    result = await write_flush(aclient, plan(FlushBatch(writes=small_writes()), previous="1-0"))
    assert result.outcome is Outcome.APPLIED
    assert redis_client.hget(CHECKPOINT, "last_id") == b"5-0"
    assert redis_client.hget("ind:SBIN", "volume") == b"1000"


async def test_lost_reply_retry_writes_nothing_twice(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 4)
    p = plan(batch_for(ids, small_writes(), dead=2))
    conn = await aclient.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    await conn.send_packed_command(p.check)
    for _ in range(3):
        await conn.read_response()
    await conn.send_packed_command(p.parts())
    deadline = time.monotonic() + 5
    while redis_client.hget(CHECKPOINT, "last_id") != ids[-1].encode():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await conn.disconnect()  # the reply is lost: the worker cannot know it landed
    await aclient.connection_pool.release(conn)
    once = end_state(redis_client)
    result = await write_flush(aclient, p)
    assert (result.outcome, result.acked) == (Outcome.ALREADY_APPLIED, 0)
    assert end_state(redis_client) == once
    assert len(once["dead"]) == 2
    assert once["pending"] == 0


async def test_timeout_mid_flush_disconnects_and_the_retry_lands_once(
    redis_url: str, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    p = plan(batch_for(ids, small_writes()))
    client = aredis.from_url(redis_url, socket_timeout=0.3)
    try:
        redis_client.client_pause(800, all=False)  # WRITE: the EXEC waits, reads do not
        with pytest.raises(RedisTimeoutError):
            await write_flush(client, p)
        assert all(not c.is_connected for c in client.connection_pool._available_connections)
        await asyncio.sleep(0.8)
        result = await write_flush(client, p)
        assert result.outcome in (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
        state = end_state(redis_client)
        assert len(state["dead"]) == 1
        assert state["pending"] == 0
        assert state["hashes"][CHECKPOINT] == {"last_id": ids[-1]}
        assert await client.ping() is True
    finally:
        redis_client.client_unpause()
        await client.aclose()


SendPacked = Callable[..., Awaitable[None]]


def before_exec(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[], object], times: int
) -> list[int]:
    """Run `action` (from another client) just before the first `times` MULTI/EXEC sends."""
    original: SendPacked = AbstractConnection.send_packed_command
    calls = [0]

    async def send(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        if isinstance(command, list) and command[0].startswith(b"*1\r\n$5\r\nMULTI"):
            calls[0] += 1
            if calls[0] <= times:
                action()
        await original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", send)
    return calls


async def test_exec_aborted_by_our_own_renewal_is_retried(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    leases = LeaseClient(aclient, STREAM, "w1", 5000)
    token = await leases.acquire(PARTITION)
    assert token is not None
    ids = pending_entries(redis_client, 3)
    renew = redis_client.register_script(scripts.RENEW)  # what the renew task sends
    calls = before_exec(monkeypatch, lambda: renew(keys=[LEASE], args=[token, 5000]), times=1)
    result = await write_flush(aclient, plan(batch_for(ids, small_writes()), token=token))
    assert (result.outcome, result.attempts, result.acked) == (Outcome.APPLIED, 2, 3)
    assert calls[0] == 2
    state = end_state(redis_client)
    assert len(state["dead"]) == 1
    assert state["pending"] == 0


async def test_lease_taken_between_watch_and_exec_writes_nothing(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    before = end_state(redis_client)
    before_exec(monkeypatch, lambda: redis_client.set(LEASE, "w2:2"), times=1)
    with pytest.raises(FencedError, match="lease lost"):
        await write_flush(aclient, plan(batch_for(ids, small_writes())))
    assert end_state(redis_client) == {**before, "lease": "w2:2"}


async def test_a_check_sent_during_the_drain_stands_for_the_first(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    watched = await watch(aclient, check_command(LEASE, CHECKPOINT))
    assert (watched.lease, watched.stored) == (TOKEN.encode(), None)
    original: SendPacked = AbstractConnection.send_packed_command
    sent: list[bytes] = []

    async def send(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent.append(command[0] if isinstance(command, list) else command)
        await original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", send)
    result = await write_flush(aclient, plan(batch_for(ids, small_writes())), watched=watched)
    assert (result.outcome, result.attempts, result.acked) == (Outcome.APPLIED, 1, 3)
    assert [c[:13] for c in sent] == [b"*1\r\n$5\r\nMULTI"]  # no second check
    assert end_state(redis_client)["hashes"][CHECKPOINT] == {"last_id": ids[-1]}
    assert len(aclient.connection_pool._available_connections) == 1


async def test_a_lease_taken_after_the_early_check_writes_nothing(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    """The WATCH was sent before the drain: a takeover any time after it aborts the EXEC, and
    the check run again finds the lease gone."""
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    before = end_state(redis_client)
    watched = await watch(aclient, check_command(LEASE, CHECKPOINT))
    redis_client.set(LEASE, "w2:2")  # while this worker drains
    with pytest.raises(FencedError, match="lease lost"):
        await write_flush(aclient, plan(batch_for(ids, small_writes())), watched=watched)
    assert end_state(redis_client) == {**before, "lease": "w2:2"}
    assert len(aclient.connection_pool._available_connections) == 1


async def test_an_early_check_seeing_another_owner_is_fenced(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, "w2:2")
    ids = pending_entries(redis_client, 3)
    before = end_state(redis_client)
    watched = await watch(aclient, check_command(LEASE, CHECKPOINT))
    with pytest.raises(FencedError, match="lease lost"):
        await write_flush(aclient, plan(batch_for(ids, small_writes())), watched=watched)
    assert end_state(redis_client) == before


async def test_an_unused_check_gives_its_connection_back_unwatched(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    await unwatch(aclient, await watch(aclient, check_command(LEASE, CHECKPOINT)))
    pool = aclient.connection_pool
    assert len(pool._available_connections) == 1
    redis_client.set(LEASE, "w2:2")  # would abort a transaction still watching it
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await conn.send_packed_command(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$5\r\n"
                                       b"probe\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n")
        replies = [await conn.read_response() for _ in range(3)]
    finally:
        await pool.release(conn)
    assert replies[-1] == [b"OK"]  # EXEC ran: nothing was watched any more
    assert redis_client.get("probe") == b"1"


async def test_endless_contention_gives_up_writing_nothing(
    aclient: aredis.Redis, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    before = end_state(redis_client)
    calls = before_exec(monkeypatch, lambda: redis_client.pexpire(LEASE, 5000), times=99)
    with pytest.raises(WatchError, match="aborted 3 times"):
        await write_flush(aclient, plan(batch_for(ids, small_writes())), max_attempts=3)
    assert calls[0] == 3
    assert end_state(redis_client) == before
    monkeypatch.undo()
    result = await write_flush(aclient, plan(batch_for(ids, small_writes())))
    assert result.outcome is Outcome.APPLIED


async def test_out_of_memory_aborts_the_whole_transaction(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    before = end_state(redis_client)
    redis_client.config_set("maxmemory", "1")  # noeviction: every write refused
    try:
        with pytest.raises(ResponseError, match="maxmemory"):
            await write_flush(aclient, plan(batch_for(ids, small_writes())))
    finally:
        redis_client.config_set("maxmemory", "0")
    assert end_state(redis_client) == before
    assert (await write_flush(aclient, plan(batch_for(ids, small_writes())))).acked == 3


def simulated_writes(symbols: int, ticks: int) -> list[HashWrite]:
    """A real flush's writes: a simulated session's ticks through the engine core."""
    core = VolumeEngineCore(load_core_config(load_settings(env={})))
    day = date(2025, 12, 9)
    universe = build_universe(symbols, session_date=day, seed=3)
    for i, inst in enumerate(universe):  # half with a baseline, half without (HDEL of ratios)
        history = {"2025-12-08": str(100_000 + i)} if i % 2 else {}
        core.load(inst.symbol, build_history(history, {}, {}, {}), day)
    for fields in simulate_ticks(universe, session_date=day, n_ticks=ticks, seed=3):
        core.apply(parse_entry(fields))
    return [w for snap in core.drain() for w in snapshot_writes(snap, dual_write=True)]


def script_flush(client: redis.Redis, batch: FlushBatch, previous: str = "") -> Any:
    script_keys, argv = scripts.flush_arguments(batch, token=TOKEN, previous_checkpoint=previous,
                                                **NAMES)
    return client.eval(scripts.FLUSH, len(script_keys), *script_keys, *argv)


@pytest.mark.parametrize("shape", ["simulated", "large"])
def test_end_state_equals_the_flush_script(
    redis_server: RedisServer, redis_url: str, shape: str
) -> None:
    if shape == "simulated":
        writes, n_ids = simulated_writes(symbols=40, ticks=3000), 50
    else:  # one hash over 4,000 fields, over 10,000 commands, over 4,000 acks
        writes = [HashWrite("vol:minutes:BIG:2025-12-09", "state",
                            {str(m): str(m * 7) for m in range(4500)}, ("gone",))]
        writes += [HashWrite(f"vol:session:S{i}:2025-12-09", "unified",
                             {"cumulative_volume": str(i), "tick_count": "1"}, ("rvol",))
                   for i in range(6000)]
        n_ids = 4500
    assert any(w.absent for w in writes)
    states = []
    for db, write in ((1, "script"), (2, "transaction")):
        client = redis_server.client(db=db)
        client.set(LEASE, TOKEN)
        for w in writes:  # fields the writes delete exist beforehand
            for a in w.absent:
                client.hset(w.key, a, "stale")
        ids = pending_entries(client, n_ids)
        batch = batch_for(ids, list(writes), dead=3)
        if write == "script":
            assert script_flush(client, batch) == n_ids
        else:
            p = plan_flush(FlushBatch(acks=batch.acks, dead_letters=batch.dead_letters,
                                      checkpoint=batch.checkpoint),
                           encoded=encode_hash_writes(writes), token=TOKEN,
                           previous_checkpoint="", **NAMES)
            if shape == "large":
                assert p.queued > 10_000
            result = write_flush_sync(client, p)
            assert (result.outcome, result.acked) == (Outcome.APPLIED, n_ids)
        state = end_state(client)
        # entry ids differ between the two databases (they are times); their places do not
        state["dead"] = [[v if v not in ids else ids.index(v) for v in f] for f in state["dead"]]
        assert state["hashes"].pop(CHECKPOINT) == {"last_id": ids[-1]}
        states.append(state)
        client.close()
    assert states[0] == states[1]
    assert states[0]["pending"] == 0
    assert len(states[0]["dead"]) == 3


def test_sync_twin_fences_and_finds_a_landed_flush(redis_client: redis.Redis) -> None:
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    p = plan(batch_for(ids, small_writes()))
    assert write_flush_sync(redis_client, p).outcome is Outcome.APPLIED
    once = end_state(redis_client)
    assert write_flush_sync(redis_client, p).outcome is Outcome.ALREADY_APPLIED
    assert end_state(redis_client) == once
    redis_client.set(LEASE, "w2:2")
    with pytest.raises(FencedError, match="lease lost"):
        write_flush_sync(redis_client, plan(batch_for(ids, small_writes()), previous=ids[-1]))
    assert redis_client.ping() is True


def test_writes_come_from_one_place() -> None:
    with pytest.raises(ValueError, match="not both"):
        plan_flush(FlushBatch(writes=small_writes()), encoded=encode_hash_writes([]),
                   token=TOKEN, previous_checkpoint="", **NAMES)
    p = plan(FlushBatch(writes=small_writes(), acks=[f"{i}-0" for i in range(4001)],
                        checkpoint="4000-0"))
    # 3 HSET + 2 HDEL, the checkpoint, two XACKs (4,000 + 1)
    assert (p.queued, p.ack_commands) == (8, 2)
    assert p.parts()[0] == b"*1\r\n$5\r\nMULTI\r\n"


async def test_a_command_failing_inside_exec_is_raised(
    aclient: aredis.Redis, redis_client: redis.Redis
) -> None:
    """WRONGTYPE (a foreign non-hash at our key) fails that write alone, as the docstring says."""
    redis_client.set(LEASE, TOKEN)
    redis_client.set("ind:SBIN", "not a hash")
    ids = pending_entries(redis_client, 2)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await write_flush(aclient, plan(batch_for(ids, small_writes())))
    assert redis_client.get("ind:SBIN") == b"not a hash"
    assert redis_client.hget("vol:history:SBIN", "2025-12-09") == b"1000"
    assert redis_client.hget(CHECKPOINT, "last_id") == ids[-1].encode()
    assert await aclient.ping() is True


def forwarded(client: redis.Redis, stream: str) -> list[list[bytes]]:
    entries: Any = client.xrange(stream)
    return [[x for kv in fields.items() for x in kv] for _, fields in entries]


def test_forwards_land_with_the_acks_once_and_never_when_fenced(
    redis_client: redis.Redis,
) -> None:
    """Like dead letters: XADDed inside the transaction, so a retry or a fence adds none."""
    redis_client.set(LEASE, TOKEN)
    ids = pending_entries(redis_client, 3)
    owner = keys.stream_key(STREAM, 5)
    raw = {b"symbol": b"SBIN", b"price": b"612.35", b"note": b"\xff\xfe"}  # bytes as read
    forwards: list[Forwarded] = [(owner, raw), (owner, {"symbol": "SBIN", "price": "612.40"})]
    p = plan_flush(batch_for(ids, small_writes()), forwards=forwards, token=TOKEN,
                   previous_checkpoint="", **NAMES)
    assert write_flush_sync(redis_client, p).outcome is Outcome.APPLIED
    expected = [[b"symbol", b"SBIN", b"price", b"612.35", b"note", b"\xff\xfe"],
                [b"symbol", b"SBIN", b"price", b"612.40"]]
    assert forwarded(redis_client, owner) == expected
    assert end_state(redis_client)["pending"] == 0
    assert write_flush_sync(redis_client, p).outcome is Outcome.ALREADY_APPLIED  # reply lost
    assert forwarded(redis_client, owner) == expected
    redis_client.set(LEASE, "w2:2")
    fenced = plan_flush(FlushBatch(acks=ids, checkpoint="99-0"), forwards=forwards,
                        token=TOKEN, previous_checkpoint=ids[-1], **NAMES)
    with pytest.raises(FencedError):
        write_flush_sync(redis_client, fenced)
    assert forwarded(redis_client, owner) == expected
