"""Sending commands already encoded as RESP and reading their replies in one pass.

redis-py reads a pipeline's or a transaction's replies one awaited `read_response` at a time:
a coroutine chain, a timeout scope and a parser call per reply. A flush reads one `+QUEUED`
per hash write and a first-sight load one reply per hash it reads, so that per-reply cost was a
fifth of a worker's time (bench/README.md, "The shell around the native core"). Here the
connection's own hiredis reader is drained in a tight loop, and the socket read only when it
needs more bytes: the replies are the same objects redis-py would return with decoding off.

The hiredis parser's reader and the connection's stream are redis-py internals (redis 5 to 8
have them under these names); on any other parser the public `read_response` is used, one
reply at a time, so the result never depends on which path ran.
"""

from __future__ import annotations

import asyncio
import importlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.connection import AbstractConnection as AsyncConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .resp import Commands

_READ_SIZE = 1 << 16


def _hiredis_parser() -> tuple[Any, Any]:
    """redis-py's async hiredis parser class and its "no complete reply" sentinel, or Nones
    where this redis-py has them elsewhere (then every read takes the public path)."""
    try:
        module = importlib.import_module("redis._parsers.hiredis")
    except ImportError:  # pragma: no cover - a redis-py without that module
        return None, None
    return getattr(module, "_AsyncHiredisParser", None), getattr(module, "NOT_ENOUGH_DATA", None)


_PARSER, _NOT_ENOUGH_DATA = _hiredis_parser()


def _push_type() -> Any:
    """hiredis's type for RESP3 push messages (hiredis >= 3.2), or None."""
    try:
        import hiredis
    except ImportError:  # pragma: no cover - redis[hiredis] is a dependency
        return None
    return getattr(hiredis, "PushNotification", None)


def _raw_replies() -> Any:
    """The native core's `RawReplies` (replies kept as bytes), or None without the extension."""
    try:
        from .. import _native
    except ImportError:
        return None
    return getattr(_native, "RawReplies", None)


_RAW = _raw_replies()


def _error_parser() -> Any:
    """redis-py's error-reply parser (text -> its exception: LOADING a BusyLoadingError, which
    is a connection error to retry, READONLY a ReadOnlyError...), the one its hiredis reader
    uses; else plain ResponseError."""
    try:
        from redis._parsers.base import BaseParser
    except ImportError:  # pragma: no cover - a redis-py without that module
        return ResponseError
    return BaseParser.parse_error


_ERROR = _error_parser()
_PUSH = _push_type()
# Replies that are not a command's answer: a lost connection, or an out-of-band push.
_NOT_AN_ANSWER: tuple[type, ...] = (RedisConnectionError,) + ((_PUSH,) if _PUSH else ())


async def read_replies(conn: AsyncConnection, count: int) -> list[Any]:
    """The next `count` replies on `conn`, undecoded; an error reply is an exception object
    in its place (as redis-py returns it inside a pipeline), not raised."""
    parser: Any = getattr(conn, "_parser", None)
    reader: Any = getattr(parser, "_reader", None)
    stream: Any = getattr(conn, "_reader", None)
    if (_PARSER is None or _NOT_ENOUGH_DATA is None or not isinstance(parser, _PARSER)
            or reader is None or stream is None):
        return [await _read_one(conn) for _ in range(count)]
    gets = reader.gets
    out: list[Any] = []
    append = out.append
    while len(out) < count:
        reply = gets(False)
        if reply is _NOT_ENOUGH_DATA:
            data = await stream.read(_READ_SIZE)
            if not data:
                raise RedisConnectionError("Connection closed by server.")
            reader.feed(data)
            continue
        if isinstance(reply, _NOT_AN_ANSWER):
            if isinstance(reply, RedisConnectionError):
                raise reply
            # Out of band (RESP3: invalidations, a managed server's maintenance notices), not
            # a reply to our commands: redis-py's parser handles it as it would have.
            await parser.handle_push_response(reply)
            continue
        append(reply)
    return out


async def read_raw(conn: AsyncConnection, count: int) -> Any:
    """The next `count` replies as one `_native.RawReplies`: the bytes as they came, for the
    native core to read without a Python object per field (RESP2 or RESP3; out-of-band pushes
    skipped: the service's connections never ask for any). Only where nothing is buffered
    ahead of them (hiredis's parser, its reader empty); else the objects, as `read_replies`
    gives them."""
    parser: Any = getattr(conn, "_parser", None)
    reader: Any = getattr(parser, "_reader", None)
    stream: Any = getattr(conn, "_reader", None)
    if (_RAW is None or _PARSER is None or not isinstance(parser, _PARSER) or reader is None
            or stream is None or reader.has_data()):
        return await read_replies(conn, count)
    raw = _RAW(count)
    try:
        while not raw.feed(await stream.read(_READ_SIZE) or _closed()):
            pass
    except ValueError as exc:  # not RESP, or bytes past the replies: as redis-py says it
        raise InvalidResponse(f"unreadable reply: {exc}") from None
    return raw


def exec_summary(replies: Any, tail: int) -> tuple[int, Exception | None, int] | None:
    """The last of `read_raw`'s replies as a transaction's EXEC array, without an object per
    reply (a flush's holds one per hash write): None when it is nil (aborted), else its
    length, its first failed command's error (the class redis-py would have raised) and the
    sum of its last `tail` replies."""
    summary = replies.exec_summary(tail)
    if summary is None:
        return None
    length, error, acks = summary
    return length, None if error is None else _ERROR(error), acks


def _closed() -> bytes:
    raise RedisConnectionError("Connection closed by server.")


def raise_errors(replies: Any) -> Any:
    """The replies, once none is an error reply; else the first one raised (what
    `pipeline.execute` does by default). Raw replies (`read_raw`) raise their first error."""
    if _RAW is not None and isinstance(replies, _RAW):
        if replies.error is not None:
            raise _ERROR(replies.error)  # the class redis-py would have raised
        return replies
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _read_one(conn: AsyncConnection) -> Any:
    """One reply through the public API, an error reply in place (it raises it, read)."""
    try:
        return await conn.read_response(disable_decoding=True, timeout=math.inf)
    except ResponseError as exc:
        return exc


def stream_entries(reply: Any) -> list[Any]:
    """The [id, fields] entries of a raw XREAD/XREADGROUP reply for one stream: a map of
    stream to entries under RESP3, a list of [stream, entries] under RESP2, nil when none.
    Fields are the flat name, value, ... list (nil for an entry trimmed while pending)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
    else:
        ((_, entries),) = reply
    return entries or []


@asynccontextmanager
async def connection(client: aredis.Redis) -> AsyncIterator[AsyncConnection]:
    """A connection of the client's pool for one exchange, bounded as a whole by the
    connection's socket timeout (not per reply: a timer each would cost more than the read).
    On any error it is disconnected before it goes back, so no half-read reply is left for
    the next user."""
    pool = client.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        try:
            async with asyncio.timeout(conn.socket_timeout):
                yield conn
        except TimeoutError:
            raise RedisTimeoutError("timeout reading replies") from None
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    finally:
        await pool.release(conn)


async def exchange(client: aredis.Redis, commands: Commands) -> Any:
    """Send `commands` and return their replies (a pipeline without transaction, read in
    one pass): a list with error replies as exception objects in place, or, for raw
    commands where the connection allows it, `read_raw`'s bytes."""
    if not commands.count:
        return []
    async with connection(client) as conn:
        await conn.send_packed_command(commands.payload)
        if commands.raw:
            return await read_raw(conn, commands.count)
        return await read_replies(conn, commands.count)
