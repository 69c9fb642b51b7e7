"""The fenced flush as WATCH + MULTI/EXEC, carrying hash writes already encoded as RESP.

Same contract as the FLUSH script (store/scripts.py), kept with native commands so Redis parses
the hash writes once instead of decoding JSON in Lua and rebuilding every command:

1. `WATCH lease checkpoint`, `GET lease`, `HGET checkpoint last_id` (one round trip).
2. In the worker, the script's decision: a lease that is not our token is `FENCED lease lost`;
   with a checkpoint in the batch, a stored checkpoint equal to it means the flush already
   landed (a retry after a lost reply): `UNWATCH`, write nothing; a stored checkpoint that is
   neither it nor the previous one is `FENCED checkpoint moved to ...`.
3. `MULTI`, the hash writes, the dead letters (`XADD dead MAXLEN ~ cap * ...`), the forwards
   (`XADD owner-stream * ...`: ticks re-published to their symbol's partition), `HSET checkpoint
   last_id`, the XACKs (4,000 ids per command), `EXEC` (one round trip).

EXEC runs nothing if the lease or the checkpoint changed (or expired) after WATCH, so the check
of step 2 still holds when the writes apply: a fenced writer writes nothing, and state, dead
letters, checkpoint and acks land together. An aborted EXEC (nil) is usually our own lease
renewal (PEXPIRE from another connection touches the watched key): the check runs again, at
most `max_attempts` times, then `WatchError`. A lost reply is retried by the caller with the
same plan and finds its checkpoint stored.

Why not fewer round trips: `MULTI; EVALSHA fence; HSET ...; EXEC` is not safe, because a script
error inside a transaction fails that one command and EXEC still runs every other queued
command, so a fenced worker would write; a fence-only script followed by plain HSETs checks the
lease at one moment and writes at another. WATCH is the only native way to make the check and
the writes one atomic step. The price is one extra round trip per flush, sent while the flush is
drained (below), so it rarely delays it; bench/README.md has the measured Redis and worker
time of each option.

One difference from the script, where the contract is already broken: a command that fails
while EXEC runs (WRONGTYPE, when something else stored a non-hash at one of our keys) does not
stop the others, so the checkpoint and the acks land beside the failed write and `write_flush`
raises the error; the script stops at that command instead (earlier writes and dead letters
stay, no checkpoint, and every retry adds the dead letters again). Neither rolls back. A full
Redis (maxmemory, noeviction) refuses the commands as they are queued, so EXEC writes nothing.

The check need not wait for the flush: it names only the partition's two keys, so the worker
sends it (`watch`) while the flush is still being drained, and `write_flush(watched=...)` takes
up from what it saw. A WATCH sent earlier fences at least as much (EXEC still aborts on any
change since); the first round trip just leaves the flush's critical path.

The bytes go through a connection taken from the client's pool with `send_packed_command`
(nothing is re-encoded) and exactly the expected replies are read: WATCH, GET, HGET (and UNWATCH),
then MULTI's OK, one QUEUED per queued command, EXEC's array (those in one pass,
`replies.read_raw`: kept as bytes and EXEC's array summed up natively where the connection
allows, else read as objects). On any error the connection is
disconnected before it goes back to the pool, so no half-read reply or live WATCH leaks.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import redis
import redis.asyncio as aredis
from redis.asyncio.connection import AbstractConnection as AsyncConnection
from redis.exceptions import ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import keys
from .replies import exec_summary, raise_errors, read_raw
from .resp import (
    HSET_CHUNK,
    EncodedWrites,
    encode_command,
    encode_hash_writes,
    encode_text_command,
)
from .scripts import FlushBatch
from .wire import Fields, field_pairs

_MULTI = encode_command(["MULTI"])
_EXEC = encode_command(["EXEC"])
_UNWATCH = encode_command(["UNWATCH"])
_ABORTED = -1  # EXEC answered nil: a watched key changed

# An entry to add to another stream in the flush: its stream key and fields, as read (a
# mapping, or a raw reply's flat list).
Forwarded = tuple[str, Fields]


class FencedError(ResponseError):
    """The flush was refused: another worker owns the partition, or its checkpoint moved.

    A ResponseError whose text starts with FENCED, like the script's error reply, so callers
    that handle the script's refusal handle this one unchanged.
    """


class Outcome(enum.Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"  # a retry found its own checkpoint stored


@dataclass(frozen=True, slots=True)
class WriteResult:
    outcome: Outcome
    attempts: int  # check-and-EXEC rounds (more than 1 after an aborted EXEC)
    acked: int  # entries XACK removed from the pending list (0 when already applied)


@dataclass(frozen=True, slots=True)
class TransactionPlan:
    """Everything one fenced flush sends, encoded once, reused as it is by every retry."""

    token: str
    checkpoint: str
    previous_checkpoint: str
    check: bytes  # WATCH, GET lease, HGET checkpoint last_id
    writes: bytes  # the hash writes (RESP), between MULTI and the tail
    tail: bytes  # XADDs, HSET checkpoint, XACKs, EXEC
    queued: int  # commands between MULTI and EXEC: one QUEUED reply each
    ack_commands: int  # the last ones queued

    def parts(self) -> list[bytes]:
        """MULTI ... EXEC as separate buffers: the payload is never copied into a new one."""
        return [_MULTI, self.writes, self.tail]

    def decide(self, lease: bytes | None, stored: bytes | None) -> Outcome | FencedError | None:
        """The FLUSH script's checks on what WATCH saw: None means write."""
        if lease != self.token.encode():  # bytes: whatever another writer left there
            return FencedError("FENCED lease lost")
        if self.checkpoint:
            current = stored.decode(errors="replace") if stored is not None else ""
            if current == self.checkpoint:
                return Outcome.ALREADY_APPLIED
            if current != self.previous_checkpoint:
                return FencedError(f"FENCED checkpoint moved to {current}")
        return None

    def acked(self, replies: Sequence[object]) -> int:
        """Raise the first failed command's error, else count the acks in EXEC's array."""
        error = next((r for r in replies if isinstance(r, Exception)), None)
        whole = error is None and len(replies) == self.queued
        tail = replies[len(replies) - self.ack_commands :] if whole and self.ack_commands else ()
        return self.summed(len(replies), error, sum(int(r) for r in tail))  # type: ignore[call-overload]

    def summed(self, length: int, error: Exception | None, acks: int) -> int:
        """EXEC's array summed up (its length, its first failed command's error, the acks in
        its tail; `replies.exec_summary` reads them off the bytes): the error raised, or a
        length other than the commands queued, else the acks."""
        if error is not None:
            raise error
        if length != self.queued:
            raise ResponseError(f"EXEC returned {length} replies, expected {self.queued}")
        return acks


def _chunked(head: Sequence[str], items: Sequence[str]) -> list[bytes]:
    """`head` + the items, HSET_CHUNK at a time (XACK and its entry ids: ASCII)."""
    return [encode_text_command([*head, *items[i : i + HSET_CHUNK]])
            for i in range(0, len(items), HSET_CHUNK)]


def check_command(lease: str, checkpoint_key: str) -> bytes:
    """WATCH both keys, then read them: the first round trip of every flush of a partition."""
    return b"".join((
        encode_command(["WATCH", lease, checkpoint_key]),
        encode_command(["GET", lease]),
        encode_command(["HGET", checkpoint_key, keys.CHECKPOINT_LAST_ID]),
    ))


def plan_flush(
    batch: FlushBatch,
    *,
    lease: str,
    checkpoint_key: str,
    stream: str,
    dead_stream: str,
    token: str,
    group: str,
    previous_checkpoint: str,
    dead_letter_cap: int = 100_000,
    encoded: EncodedWrites | None = None,
    forwards: Sequence[Forwarded] = (),
) -> TransactionPlan:
    """The plan of one fenced flush; the arguments are flush_arguments', so either path fits.

    `encoded` carries the hash writes when they come already encoded (the Rust core); they then
    stand for `batch.writes`, which must be empty so there is one source of truth. `forwards`
    are XADDed (new ids, fields in their order) after the dead letters, so they land with the
    acks of the entries they came from, or not at all.
    """
    if encoded is None:
        encoded = encode_hash_writes(batch.writes)
    elif batch.writes:
        raise ValueError("pass the hash writes either encoded or in batch.writes, not both")
    check = check_command(lease, checkpoint_key)
    tail: list[bytes] = []
    cap = str(dead_letter_cap)
    for letter in batch.dead_letters:
        args = ["XADD", dead_stream, "MAXLEN", "~", cap, "*"]
        for k, v in letter.items():
            args += (k, v)
        tail.append(encode_command(args))
    for target, fields in forwards:
        command: list[bytes | str] = ["XADD", target, "*"]
        for name, value in field_pairs(fields):
            command += (name, value)
        tail.append(encode_command(command))
    if batch.checkpoint:
        tail.append(encode_command(["HSET", checkpoint_key, keys.CHECKPOINT_LAST_ID,
                                    batch.checkpoint]))
    acks = _chunked(["XACK", stream, group], batch.acks)
    tail += acks
    queued = encoded.commands + len(tail)
    tail.append(_EXEC)
    return TransactionPlan(
        token=token, checkpoint=batch.checkpoint, previous_checkpoint=previous_checkpoint,
        check=check, writes=encoded.payload, tail=b"".join(tail), queued=queued,
        ack_commands=len(acks),
    )


def _contended(attempts: int) -> WatchError:
    return WatchError(f"flush EXEC aborted {attempts} times: the lease or checkpoint kept "
                      "changing between WATCH and EXEC")


async def _read(conn: AsyncConnection) -> object:
    # No timeout per reply (an asyncio timer each cost more than the read): the caller bounds
    # the whole exchange with the connection's socket timeout instead.
    return await conn.read_response(disable_decoding=True, timeout=math.inf)


async def _check(conn: AsyncConnection, check: bytes) -> tuple[bytes | None, bytes | None]:
    """Send the check; what GET lease and HGET checkpoint saw (WATCH's OK read past)."""
    await conn.send_packed_command(check)
    await _read(conn)  # WATCH: OK
    lease = await _read(conn)
    stored = await _read(conn)
    return lease, stored  # type: ignore[return-value]


async def _attempt(
    conn: AsyncConnection, plan: TransactionPlan,
    seen: tuple[bytes | None, bytes | None] | None = None,
) -> Outcome | FencedError | int:
    """One check (unless `seen` is what a check sent earlier on this connection read) and,
    when it passes, one MULTI/EXEC: the acks, or _ABORTED (EXEC nil)."""
    lease, stored = seen if seen is not None else await _check(conn, plan.check)
    verdict = plan.decide(lease, stored)
    if verdict is not None:
        await conn.send_packed_command(_UNWATCH)
        await _read(conn)
        return verdict
    await conn.send_packed_command(plan.parts())
    # MULTI's OK, one QUEUED per command and EXEC's array, read in one pass: as bytes where
    # the connection allows (EXEC's array summed up natively), else as objects.
    # A command refused as it was queued (OOM) aborts EXEC: its error is raised.
    replies = raise_errors(await read_raw(conn, plan.queued + 2))
    if isinstance(replies, list):
        executed = replies[-1]
        return _ABORTED if executed is None else plan.acked(executed)
    summary = exec_summary(replies, plan.ack_commands)
    return _ABORTED if summary is None else plan.summed(*summary)


@dataclass(slots=True)
class Watched:
    """A pooled connection WATCHing a partition's lease and checkpoint, and what it read:
    a flush's first round trip, made while the flush was still being drained (`watch`).
    Hand it to `write_flush` or to `unwatch`, exactly once: either returns the connection."""

    conn: AsyncConnection
    lease: bytes | None
    stored: bytes | None


async def watch(client: aredis.Redis, check: bytes) -> Watched:
    """Send `check` (`check_command`) on a connection of the pool and read what it saw."""
    pool = client.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        try:
            async with asyncio.timeout(conn.socket_timeout):
                lease, stored = await _check(conn, check)
        except TimeoutError:
            raise RedisTimeoutError("timeout in the fenced flush's check") from None
    except BaseException:
        await conn.disconnect(nowait=True)
        await pool.release(conn)
        raise
    return Watched(conn, lease, stored)


async def unwatch(client: aredis.Redis, watched: Watched) -> None:
    """Give back a watching connection that will write nothing (the flush had nothing to)."""
    conn = watched.conn
    try:
        async with asyncio.timeout(conn.socket_timeout):
            await conn.send_packed_command(_UNWATCH)
            await _read(conn)
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    finally:
        await client.connection_pool.release(conn)


async def write_flush(
    client: aredis.Redis, plan: TransactionPlan, *, max_attempts: int = 5,
    watched: Watched | None = None,
) -> WriteResult:
    """Run the plan on a connection of the client's pool (see the module docstring); with
    `watched`, on its connection, its check standing for the first attempt's.

    Raises FencedError (nothing written), WatchError (EXEC aborted `max_attempts` times;
    nothing written), or the connection's error (the outcome is unknown: retry the same plan).
    """
    pool = client.connection_pool
    if watched is not None:
        conn = watched.conn
        seen: tuple[bytes | None, bytes | None] | None = (watched.lease, watched.stored)
    else:
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        seen = None
    try:
        for attempt in range(1, max_attempts + 1):
            try:
                async with asyncio.timeout(conn.socket_timeout):
                    result = await _attempt(conn, plan, seen)
            except TimeoutError:
                raise RedisTimeoutError("timeout in the fenced flush") from None
            seen = None
            if isinstance(result, FencedError):
                raise result
            if isinstance(result, Outcome):
                return WriteResult(result, attempt, 0)
            if result != _ABORTED:
                return WriteResult(Outcome.APPLIED, attempt, result)
        raise _contended(max_attempts)
    except (FencedError, WatchError):
        raise  # raised with the connection clean: no WATCH left, every reply read
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    finally:
        await pool.release(conn)


class _SyncConnection(Protocol):
    """What the sync twin uses of redis.Connection (whose methods are untyped)."""

    def send_packed_command(self, command: list[bytes]) -> None: ...
    def read_response(self, disable_decoding: bool = ...) -> object: ...
    def disconnect(self) -> None: ...


def _attempt_sync(conn: _SyncConnection, plan: TransactionPlan) -> Outcome | FencedError | int:
    conn.send_packed_command([plan.check])  # a list: the sync client iterates it
    conn.read_response(disable_decoding=True)
    lease = conn.read_response(disable_decoding=True)
    stored = conn.read_response(disable_decoding=True)
    verdict = plan.decide(lease, stored)  # type: ignore[arg-type]
    if verdict is not None:
        conn.send_packed_command([_UNWATCH])
        conn.read_response(disable_decoding=True)
        return verdict
    conn.send_packed_command(plan.parts())
    conn.read_response(disable_decoding=True)
    for _ in range(plan.queued):
        conn.read_response(disable_decoding=True)
    replies = conn.read_response(disable_decoding=True)
    return _ABORTED if replies is None else plan.acked(replies)  # type: ignore[arg-type]


def write_flush_sync(
    client: redis.Redis, plan: TransactionPlan, *, max_attempts: int = 5
) -> WriteResult:
    """write_flush for a synchronous client (the library engine, tools, benchmarks).

    The socket timeout bounds each read here (the socket carries it), so no overall deadline.
    """
    pool = client.connection_pool
    raw = pool.get_connection()
    conn = cast(_SyncConnection, raw)
    try:
        for attempt in range(1, max_attempts + 1):
            result = _attempt_sync(conn, plan)
            if isinstance(result, FencedError):
                raise result
            if isinstance(result, Outcome):
                return WriteResult(result, attempt, 0)
            if result != _ABORTED:
                return WriteResult(Outcome.APPLIED, attempt, result)
        raise _contended(max_attempts)
    except (FencedError, WatchError):
        raise
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(raw)
