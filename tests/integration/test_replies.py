"""Replies read in one pass against a real redis-server: the same objects a pipeline returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aredis
from redis._parsers import _AsyncRESP2Parser
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import BusyLoadingError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared_core.volume_files.store import replies
from shared_core.volume_files.store.codec import decode_hash
from shared_core.volume_files.store.replies import (
    connection,
    exchange,
    exec_summary,
    raise_errors,
    read_raw,
    read_replies,
    stream_entries,
)
from shared_core.volume_files.store.resp import Commands, encode_command
from shared_core.volume_files.stream.retry import RETRYABLE
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aredis.Redis]:
    c = aredis.from_url(redis_url, db=1)
    yield c
    await c.aclose()


async def _seed(client: aredis.Redis, hashes: int, fields: int) -> list[str]:
    names = [f"h:{i}" for i in range(hashes)]
    pipe = client.pipeline(transaction=False)
    for i, name in enumerate(names):
        pipe.hset(name, mapping={f"f{j}": f"{i}:{j}" * 7 for j in range(fields)})
    await pipe.execute()
    return names


async def test_many_replies_across_socket_reads_match_a_pipeline(
    client: aredis.Redis,
) -> None:
    names = await _seed(client, 2_000, 12)  # ~2.5 MB of replies: many 64 KiB reads
    commands = [("HGETALL", n) for n in [*names, "missing"]] + [("GET", "missing")]
    raw = await exchange(client, Commands.of(commands))
    pipe = client.pipeline(transaction=False)
    for n in [*names, "missing"]:
        pipe.hgetall(n)
    expected = await pipe.execute()
    assert len(raw) == len(commands)
    assert [_as_dict(r) for r in raw[:-1]] == expected
    assert raw[-1] is None
    # The connection went back clean: the next command on the pool reads its own reply.
    assert await client.ping() is True


def _as_dict(reply: object) -> object:
    """A map reply as a dict, whichever protocol the connection speaks."""
    if isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    return reply


@pytest.mark.parametrize("protocol", [2, 3])
async def test_both_protocols_decode_to_the_same_hashes(redis_url: str, protocol: int) -> None:
    client = aredis.from_url(redis_url, db=1, protocol=protocol)
    try:
        await client.hset("h", mapping={"a": "1", "b": "2"})
        (raw,) = await exchange(client, Commands.of([("HGETALL", "h")]))
        assert decode_hash(raw) == {"a": "1", "b": "2"}
    finally:
        await client.aclose()


async def test_error_replies_come_back_in_place(client: aredis.Redis) -> None:
    await client.set("s", "x")
    raw = await exchange(client, Commands.of([("HGETALL", "s"), ("GET", "s"), ("INCR", "s")]))
    assert isinstance(raw[0], ResponseError)
    assert "WRONGTYPE" in str(raw[0])
    assert raw[1] == b"x"
    assert isinstance(raw[2], ResponseError)
    assert await client.get("s") == b"x"


async def test_the_public_parser_gives_the_same_replies(redis_url: str) -> None:
    plain = aredis.from_url(redis_url, db=1, protocol=2, parser_class=_AsyncRESP2Parser)
    fast = aredis.from_url(redis_url, db=1, protocol=2)
    try:
        names = await _seed(fast, 50, 5)
        commands = Commands.of(
            [("HGETALL", n) for n in names] + [("HGETALL", "missing"), ("INCR", "h:0")]
        )
        a, b = await exchange(plain, commands), await exchange(fast, commands)
        assert a[:-1] == b[:-1]
        assert type(a[-1]) is type(b[-1])
        assert isinstance(a[-1], ResponseError)
    finally:
        await plain.aclose()
        await fast.aclose()


async def test_nothing_to_send_is_no_round_trip(client: aredis.Redis) -> None:
    assert await exchange(client, Commands.of([])) == []


async def _blocked_read(client: aredis.Redis, error: type[Exception]) -> AbstractConnection:
    """Read a reply that is not coming (BLPOP on nothing); it must raise `error`."""
    async def blocked() -> None:
        async with connection(client) as conn:
            used.append(conn)
            await conn.send_packed_command(encode_command(["BLPOP", "nothing", "5"]))
            await read_replies(conn, 1)
    used: list[AbstractConnection] = []
    with pytest.raises(error):
        await blocked()
    return used[0]


async def test_a_reply_that_never_comes_times_out_and_the_connection_is_dropped(
    redis_url: str,
) -> None:
    client = aredis.from_url(redis_url, db=1, socket_timeout=0.2)
    try:
        conn = await _blocked_read(client, RedisTimeoutError)
        assert conn.is_connected is False
        assert await client.ping() is True  # a fresh connection, no stale BLPOP reply
    finally:
        await client.aclose()


async def test_a_server_that_goes_away_mid_read_raises_connection_error(
    redis_server: RedisServer, redis_url: str,
) -> None:
    client = aredis.from_url(redis_url, db=1)
    admin = aredis.from_url(redis_url, db=1)
    try:
        await client.ping()
        async with connection(client) as probe:
            name = f"victim-{id(probe)}"
            await probe.send_packed_command(encode_command(["CLIENT", "SETNAME", name]))
            await read_replies(probe, 1)
        async def kill_soon() -> None:
            await asyncio.sleep(0.1)
            await admin.client_kill_filter(_type="normal", skipme=True)
        killer = asyncio.ensure_future(kill_soon())
        conn = await _blocked_read(client, RedisConnectionError)
        await killer
        assert conn.is_connected is False
    finally:
        await client.aclose()
        await admin.aclose()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_stream_entries_of_a_raw_read_in_both_protocols(
    redis_url: str, protocol: int,
) -> None:
    client = aredis.from_url(redis_url, db=1, protocol=protocol)
    try:
        await client.xgroup_create("s", "g", id="0", mkstream=True)
        ids = [await client.xadd("s", {"symbol": "SBIN", "price": str(600 + i)})
               for i in range(3)]
        read = Commands.of([("XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "s", ">")])
        (reply,) = await exchange(client, read)
        entries = stream_entries(reply)
        assert [e[0] for e in entries] == ids
        assert entries[1][1] == [b"symbol", b"SBIN", b"price", b"601"]
        (nothing,) = await exchange(client, read)
        assert stream_entries(nothing) == []
        await client.xdel("s", ids[0])  # trimmed while pending: its fields come back nil
        again = Commands.of([("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0")])
        (pending,) = await exchange(client, again)
        assert [(e[0], bool(e[1])) for e in stream_entries(pending)] == [
            (ids[0], False), (ids[1], True), (ids[2], True)]
    finally:
        await client.aclose()


async def test_the_service_client_reads_in_one_pass(client: aredis.Redis) -> None:
    """The default client has the hiredis parser this module drains directly: were redis-py
    to move it, the fallback would keep replies right but lose the speed, and this says so."""
    assert replies._PARSER is not None
    async with connection(client) as conn:
        assert isinstance(conn._parser, replies._PARSER)


async def _read_objects(conn: AbstractConnection, count: int) -> list[object]:
    """read_raw's replies as objects (the native core reads them as bytes)."""
    raw = await read_raw(conn, count)
    objects: list[object] = raw.objects()
    return objects


@pytest.mark.parametrize("read", [read_replies, _read_objects], ids=["objects", "raw"])
async def test_a_push_message_between_replies_is_not_taken_for_one(
    redis_url: str, read: Callable[[AbstractConnection, int], Awaitable[list[object]]],
) -> None:
    """RESP3 lets the server push out-of-band messages on the connection (here a client-side
    caching invalidation): they are handed to redis-py's parser, or skipped by a raw read,
    never counted as replies."""
    if read is _read_objects and replies._RAW is None:
        pytest.skip("the native extension is not built")
    client = aredis.from_url(redis_url, db=1, protocol=3)
    other = aredis.from_url(redis_url, db=1)
    try:
        await other.set("tracked", "1")
        async with connection(client) as conn:
            await conn.send_packed_command(Commands.of(
                [("CLIENT", "TRACKING", "ON"), ("GET", "tracked")]).payload)
            assert await read(conn, 2) == [b"OK", b"1"]
            await other.set("tracked", "2")  # invalidates: a push is now on its way
            await asyncio.sleep(0.05)
            await conn.send_packed_command(Commands.of(
                [("PING",), ("SET", "plain", "x"), ("ECHO", "last")]).payload)
            assert await read(conn, 3) == [b"PONG", b"OK", b"last"]
            await conn.send_packed_command(Commands.of([("CLIENT", "TRACKING", "OFF")]).payload)
            assert await read_replies(conn, 1) == [b"OK"]
    finally:
        await client.aclose()
        await other.aclose()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_raw_replies_across_socket_reads_are_the_bytes_of_the_objects(
    redis_url: str, protocol: int,
) -> None:
    """The native core reads a load's replies as bytes: the same replies hiredis makes into
    objects, over many 64 KiB reads, in either protocol."""
    if replies._RAW is None:
        pytest.skip("the native extension is not built")
    client = aredis.from_url(redis_url, db=1, protocol=protocol)
    try:
        names = await _seed(client, 2_000, 12)
        commands = [("HGETALL", n) for n in [*names, "missing"]] + [("GET", "missing")]
        raw = raise_errors(await exchange(client, Commands.of(commands, raw=True)))
        assert isinstance(raw, replies._RAW)
        assert len(raw) == len(commands)
        assert raw.objects() == await exchange(client, Commands.of(commands))
        assert await client.ping() is True  # nothing left behind on the connection
    finally:
        await client.aclose()


async def test_a_raw_error_reply_is_raised_and_the_connection_stays_clean(
    client: aredis.Redis,
) -> None:
    if replies._RAW is None:
        pytest.skip("the native extension is not built")
    await client.set("s", "x")
    commands = Commands.of([("GET", "s"), ("HGETALL", "s"), ("INCR", "s")], raw=True)
    raw = await exchange(client, commands)
    assert raw.objects()[0] == b"x"
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        raise_errors(raw)
    assert await client.get("s") == b"x"


async def test_raw_reads_fall_back_to_objects_with_the_pure_python_parser(
    redis_url: str,
) -> None:
    plain = aredis.from_url(redis_url, db=1, protocol=2, parser_class=_AsyncRESP2Parser)
    try:
        await plain.hset("h", mapping={"a": "1"})
        got = await exchange(plain, Commands.of([("HGETALL", "h")], raw=True))
        assert isinstance(got, list)
        assert decode_hash(got[0]) == {"a": "1"}
    finally:
        await plain.aclose()


async def _raw_blocked(client: aredis.Redis, used: list[AbstractConnection]) -> None:
    async with connection(client) as conn:
        used.append(conn)
        await conn.send_packed_command(encode_command(["BLPOP", "nothing", "5"]))
        await read_raw(conn, 1)


async def test_a_server_that_goes_away_mid_raw_read_raises_connection_error(
    redis_url: str,
) -> None:
    if replies._RAW is None:
        pytest.skip("the native extension is not built")
    client = aredis.from_url(redis_url, db=1)
    admin = aredis.from_url(redis_url, db=1)
    try:
        await client.ping()
        async def kill_soon() -> None:
            await asyncio.sleep(0.1)
            await admin.client_kill_filter(_type="normal", skipme=True)
        killer = asyncio.ensure_future(kill_soon())
        used: list[AbstractConnection] = []
        with pytest.raises(RedisConnectionError):
            await _raw_blocked(client, used)
        await killer
        assert used[0].is_connected is False
        assert await client.ping() is True
    finally:
        await client.aclose()
        await admin.aclose()


async def test_a_raw_error_reply_raises_the_class_redis_py_would(client: aredis.Redis) -> None:
    """redis-py maps an error's code to its class (LOADING: BusyLoadingError, a connection
    error the worker retries in place; NOSCRIPT: NoScriptError): a raw read raises the same."""
    if replies._RAW is None:
        pytest.skip("the native extension is not built")
    command = [("EVALSHA", "0" * 40, "0")]
    with pytest.raises(NoScriptError):
        raise_errors(await exchange(client, Commands.of(command)))
    with pytest.raises(NoScriptError):
        raise_errors(await exchange(client, Commands.of(command, raw=True)))
    loading = replies._ERROR("LOADING Redis is loading the dataset in memory")
    assert isinstance(loading, BusyLoadingError)
    assert isinstance(loading, RETRYABLE)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_an_exec_array_summed_up_off_the_bytes_as_its_objects_say(
    redis_url: str, protocol: int
) -> None:
    """A transaction's replies read raw: EXEC's length, first failure and the tail's sum, as
    the objects of the same transaction give them; nil when a WATCHed key moved."""
    if replies._RAW is None:
        pytest.skip("the native extension is not built")
    client = aredis.from_url(redis_url, db=1, protocol=protocol)
    try:
        await client.set("s", "x")
        commands = [["MULTI"], ["HSET", "h", "a", "1", "b", "2"], ["HSET", "s", "a", "1"],
                    ["HSET", "h", "c", "3"], ["DEL", "h2"], ["EXEC"]]
        payload = b"".join(encode_command(c) for c in commands)
        async with connection(client) as conn:
            await conn.send_packed_command(payload)
            raw = await read_raw(conn, len(commands))
            assert isinstance(raw, replies._RAW)
            length, error, acks = exec_summary(raw, 2) or (0, None, 0)
            assert (length, acks) == (4, 1)  # HSET h c: 1 new field, DEL h2: 0
            assert isinstance(error, ResponseError)
            assert "WRONGTYPE" in str(error)
            await conn.send_packed_command(payload)
            objects = await read_replies(conn, len(commands))
        assert len(objects[-1]) == length
        assert str(next(r for r in objects[-1] if isinstance(r, Exception))) == str(error)
        # Aborted: a WATCHed key written by another client between WATCH and EXEC.
        async with connection(client) as conn:
            await conn.send_packed_command(encode_command(["WATCH", "w"]))
            await read_replies(conn, 1)
            await client.set("w", "moved")
            await conn.send_packed_command(payload)
            raw = await read_raw(conn, len(commands))
            assert exec_summary(raw, 2) is None
    finally:
        await client.aclose()
