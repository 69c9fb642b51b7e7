"""The shared instruments master in Redis: one copy for every worker, library engine and producer.

Kite's full dump is about 100,000 rows, more than a Kubernetes ConfigMap holds, so it lives in
Redis instead of a mounted file. An import writes the encoded rows to a staging key, then one
MULTI renames it over `vol:instruments:master` and bumps the version in `vol:instruments:info`:
a reader sees the old master or the new one, never a mix, and readers fetch the version and the
rows in one MULTI too. Watchers poll only the version (one HGET), so polling is cheap.

The rows are stored parsed (JSON arrays, gzip'd and base64'd: about 1.5 MB for the full dump,
and plain ASCII, so clients with decode_responses read it too), so a reload does not redo the
CSV validation the import already reported on.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import redis
import redis.asyncio as aredis

from ..instruments import Instrument, InstrumentKind, InstrumentRegistry
from ..instruments_master import LazyInstruments, MasterRow, MasterTables, key_rows, master_tables
from . import keys
from .wire import Command

FORMAT = 1
_ROW_LENGTH = 10
_KINDS = {kind.value: kind for kind in InstrumentKind}  # a dict lookup; Enum() is ~50x slower


class StoredMasterError(ValueError):
    """The stored rows cannot be decoded (written by another version, or damaged)."""


@dataclass(frozen=True, slots=True)
class StoredMaster:
    version: int
    tables: MasterTables


# -- encoding (pure) ---------------------------------------------------------------------------


def encode_rows(rows: Iterable[MasterRow]) -> bytes:
    body = [
        [
            r.token,
            r.exchange,
            i.symbol,
            i.underlying,
            i.kind.value,
            i.expiry.isoformat() if i.expiry else None,
            i.strike,
            i.option_type,
            i.tick_size,
            i.lot_size,
        ]
        for r in rows
        for i in (r.instrument,)
    ]
    packed = gzip.compress(orjson.dumps({"format": FORMAT, "rows": body}), compresslevel=6, mtime=0)
    return base64.b64encode(packed)


def _stored_rows(blob: bytes | str) -> list[list[Any]]:
    try:
        doc = orjson.loads(gzip.decompress(base64.b64decode(blob, validate=True)))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else None
            raise StoredMasterError(f"stored master has format {found!r}, not {FORMAT}")
        rows = doc["rows"]
        if not isinstance(rows, list) or any(
            not isinstance(r, list) or len(r) != _ROW_LENGTH or r[4] not in _KINDS for r in rows
        ):  # checked here, not at the first lookup in a worker's hot path
            raise StoredMasterError("stored master rows are not rows")
        return rows
    except StoredMasterError:
        raise
    except (OSError, EOFError, ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise StoredMasterError(f"stored master cannot be decoded: {exc!r}") from None


def _instrument(row: list[Any]) -> Instrument:
    _, _, symbol, underlying, kind, expiry, strike, option_type, tick_size, lot_size = row
    try:
        return Instrument(symbol, underlying, _KINDS[kind], _date(expiry), strike, option_type,
                          tick_size, lot_size)
    except (KeyError, ValueError, TypeError) as exc:
        raise StoredMasterError(f"stored master row {row!r}: {exc!r}") from None


def decode_tables(blob: bytes | str) -> MasterTables:
    """The registry's tables; each instrument is built when first looked up."""
    keyed, tokens = key_rows((r[0], r[1], r[2], r) for r in _stored_rows(blob))
    return MasterTables(LazyInstruments(keyed, _instrument), tokens)


def decode_rows(blob: bytes | str) -> list[MasterRow]:
    """Every stored row, built at once (for tools and tests; reloads use decode_tables)."""
    return [MasterRow(r[0], r[1], _instrument(r)) for r in _stored_rows(blob)]


@functools.lru_cache(maxsize=4096)
def _date_cached(text: str) -> date:
    return date.fromisoformat(text)


def _date(text: str | None) -> date | None:
    return _date_cached(text) if text else None


def _version(raw: Any) -> int | None:
    return None if raw is None else int(raw)


# The reads as commands, for sans-I/O plans (the library engines): the version alone, then the
# version and the rows in one transaction, read back by `version_of` and `stored_master`.
VERSION_READ: Command = ("HGET", keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD)
MASTER_READ: tuple[Command, ...] = (VERSION_READ, ("GET", keys.INSTRUMENTS_MASTER_KEY))


def version_of(replies: Sequence[Any]) -> int | None:
    return _version(replies[0])


def stored_master(replies: Sequence[Any]) -> StoredMaster | None:
    return _stored(replies)


def _stored(replies: Sequence[Any]) -> StoredMaster | None:
    version, blob = replies
    if version is None or blob is None:
        return None
    return StoredMaster(int(version), decode_tables(blob))


# -- synchronous (the CLI, producers, the library engine) ----------------------------------------


def import_master(
    client: redis.Redis,
    rows: Sequence[MasterRow],
    *,
    source: str,
    skipped: int,
    imported_at: str,
) -> int:
    """Replace the shared master with `rows` atomically; returns the new version.

    Raises StoredMasterError, before writing anything, when the stored version is not a number
    (EXEC would run the rename and fail only the version bump, so watchers would miss it).
    """
    current = client.hget(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD)
    try:
        _version(current)
    except ValueError:
        raise StoredMasterError(
            f"{keys.INSTRUMENTS_INFO_KEY} {keys.INSTRUMENTS_VERSION_FIELD} is {current!r}, not a "
            f"number; delete the key to start the versions over"
        ) from None
    tables = master_tables(rows)
    staging = keys.instruments_staging_key(uuid.uuid4().hex)
    client.set(staging, encode_rows(rows))
    try:
        pipe = client.pipeline(transaction=True)
        pipe.rename(staging, keys.INSTRUMENTS_MASTER_KEY)
        pipe.hset(keys.INSTRUMENTS_INFO_KEY, mapping={
            "rows": len(rows), "tokens": len(tables.tokens), "skipped": skipped,
            "source": source, "imported_at": imported_at,
        })
        pipe.hincrby(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD, 1)
        replies = pipe.execute()
    finally:
        client.delete(staging)  # gone already after a successful RENAME
    return int(replies[-1])


def master_info(client: redis.Redis) -> dict[str, str]:
    raw: dict[bytes | str, bytes | str] = client.hgetall(keys.INSTRUMENTS_INFO_KEY)
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }


def read_version_sync(client: redis.Redis) -> int | None:
    return _version(client.hget(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD))


def load_master_sync(client: redis.Redis) -> StoredMaster | None:
    """The shared master, or None when none was imported."""
    pipe = client.pipeline(transaction=True)
    pipe.hget(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD)
    pipe.get(keys.INSTRUMENTS_MASTER_KEY)
    return _stored(pipe.execute())


def adopt_shared_master(client: redis.Redis, registry: InstrumentRegistry) -> int | None:
    """Install the shared master into `registry` if there is one; returns its version.

    Without an imported master the registry keeps what it had (VOLUME_INSTRUMENTS_CSV, or
    symbol parsing alone).
    """
    stored = load_master_sync(client)
    if stored is None:
        return None
    registry.replace_master(stored.tables.instruments, stored.tables.tokens)
    return stored.version


# -- asynchronous (the stream runtime) -----------------------------------------------------------


async def read_version(client: aredis.Redis) -> int | None:
    return _version(await client.hget(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD))


async def load_master_async(client: aredis.Redis) -> tuple[int, bytes | str] | None:
    """The version and the encoded rows, read together; decode with `decode_rows`."""
    pipe = client.pipeline(transaction=True)
    pipe.hget(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD)
    pipe.get(keys.INSTRUMENTS_MASTER_KEY)
    version, blob = await pipe.execute()
    if version is None or blob is None:
        return None
    return int(version), blob


async def load_master(client: aredis.Redis) -> StoredMaster | None:
    """The shared master, or None when none was imported (decoded on the event loop)."""
    stored = await load_master_async(client)
    return None if stored is None else StoredMaster(stored[0], decode_tables(stored[1]))
