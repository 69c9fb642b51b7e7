"""Publishing ticks to the partitioned streams, with the same routing rule the workers use.

Crawlers, the `publish` command, the demo and the tests all go through here, so a symbol never
lands in two partitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import orjson
import redis
import redis.asyncio as aredis

from ..store import keys
from .partitions import partition_for

Entry = Mapping[str, str]


def entry_symbol(entry: Entry) -> str:
    """The routing symbol of an entry (flat or `data` JSON); '' when there is none.

    Read with the parser's precedence (`ticks.parse_entry`): `data` JSON keys win over flat
    fields, `symbol` over `tradingsymbol`, so an entry lands in its symbol's partition.
    """
    nested: object = None
    if entry.get("data"):
        # bad JSON is dead-lettered by the worker, wherever it lands
        with contextlib.suppress(orjson.JSONDecodeError):
            nested = orjson.loads(entry["data"])
    sources = (nested, entry) if isinstance(nested, dict) else (entry,)
    for name in ("symbol", "tradingsymbol"):
        for source in sources:
            symbol = source.get(name)
            if symbol is not None and symbol != "":
                return str(symbol).strip()
    return ""


def route(entry: Entry, stream: str, partitions: int) -> str:
    """The stream key an entry belongs in; entries without a symbol go to partition 0."""
    symbol = entry_symbol(entry)
    return keys.stream_key(stream, partition_for(symbol, partitions) if symbol else 0)


def _rounds(
    entries: Iterable[Entry], stream: str, partitions: int, batch: int
) -> Iterator[list[tuple[str, Entry]]]:
    """The (stream key, fields) XADDs of both producers, in pipeline rounds of `batch`.

    The last round holds the rest and may be empty (then the pipeline sends nothing).
    """
    xadds: list[tuple[str, Entry]] = []
    for entry in entries:
        xadds.append((route(entry, stream, partitions), dict(entry)))
        if len(xadds) == batch:
            yield xadds
            xadds = []
    yield xadds


class TickProducer:
    """Async producer: pipelined XADDs, one round trip per `batch` entries."""

    def __init__(self, client: aredis.Redis, *, stream: str = "ticks", partitions: int = 8,
                 batch: int = 1000) -> None:
        self.client = client
        self.stream = stream
        self.partitions = partitions
        self.batch = batch

    async def publish(self, entries: Iterable[Entry]) -> int:
        count = 0
        pipe = self.client.pipeline(transaction=False)
        for xadds in _rounds(entries, self.stream, self.partitions, self.batch):
            for key, fields in xadds:
                pipe.xadd(key, cast(Any, fields))
            count += len(xadds)
            await pipe.execute()
        return count


def publish_sync(
    client: redis.Redis, entries: Iterable[Entry], *, stream: str = "ticks",
    partitions: int = 8, batch: int = 1000,
) -> int:
    """The synchronous twin, for crawlers that are not asyncio programs."""
    count = 0
    pipe = client.pipeline(transaction=False)
    for xadds in _rounds(entries, stream, partitions, batch):
        for key, fields in xadds:
            pipe.xadd(key, cast(Any, fields))
        count += len(xadds)
        pipe.execute()
    return count
