"""Publishing ticks to the partitioned streams, with the same routing rule the workers use.

Crawlers, the `publish` command, the demo and the tests all go through here, so a symbol never
lands in two partitions. A raw KiteTicker tick names only its `instrument_token`: given the
instruments master's token map (`tokens`, e.g. `InstrumentRegistry.tokens` after
`store.instruments_store.adopt_shared_master`), it is routed by the symbol the token stands for,
the same symbol the worker will resolve it to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, cast

import orjson
import redis
import redis.asyncio as aredis

from ..store import keys
from .partitions import partition_for

Entry = Mapping[str, str]
Tokens = Mapping[int, str]
NO_TOKENS: Tokens = MappingProxyType({})


def entry_symbol(entry: Entry, tokens: Tokens = NO_TOKENS) -> str:
    """The routing symbol of an entry (flat or `data` JSON); '' when there is none.

    Read with the parser's precedence (`ticks.parse_entry`): `data` JSON keys win over flat
    fields, `symbol` over `tradingsymbol` over `instrument_token` (through `tokens`), so an
    entry lands in its symbol's partition.
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
    for source in sources:
        token = source.get("instrument_token")
        if token is not None and token != "":
            return tokens.get(_token(token), "")
    return ""


def _token(raw: object) -> int:
    """The token as the parser reads it (738561, "738561", 738561.0); -1 when it is none."""
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return -1  # not a token: the worker dead-letters it with the reason
    return int(number) if number.is_integer() else -1


def route(entry: Entry, stream: str, partitions: int, tokens: Tokens = NO_TOKENS) -> str:
    """The stream key an entry belongs in; entries without a (known) symbol go to partition 0."""
    symbol = entry_symbol(entry, tokens)
    return keys.stream_key(stream, partition_for(symbol, partitions) if symbol else 0)


def _rounds(
    entries: Iterable[Entry], stream: str, partitions: int, batch: int, tokens: Tokens
) -> Iterator[list[tuple[str, Entry]]]:
    """The (stream key, fields) XADDs of both producers, in pipeline rounds of `batch`.

    The last round holds the rest and may be empty (then the pipeline sends nothing).
    """
    xadds: list[tuple[str, Entry]] = []
    for entry in entries:
        xadds.append((route(entry, stream, partitions, tokens), dict(entry)))
        if len(xadds) == batch:
            yield xadds
            xadds = []
    yield xadds


class TickProducer:
    """Async producer: pipelined XADDs, one round trip per `batch` entries."""

    def __init__(self, client: aredis.Redis, *, stream: str = "ticks", partitions: int = 8,
                 batch: int = 1000, tokens: Tokens = NO_TOKENS) -> None:
        self.client = client
        self.stream = stream
        self.partitions = partitions
        self.batch = batch
        self.tokens = tokens

    async def publish(self, entries: Iterable[Entry]) -> int:
        count = 0
        pipe = self.client.pipeline(transaction=False)
        for xadds in _rounds(entries, self.stream, self.partitions, self.batch, self.tokens):
            for key, fields in xadds:
                pipe.xadd(key, cast(Any, fields))
            count += len(xadds)
            await pipe.execute()
        return count


def publish_sync(
    client: redis.Redis, entries: Iterable[Entry], *, stream: str = "ticks",
    partitions: int = 8, batch: int = 1000, tokens: Tokens = NO_TOKENS,
) -> int:
    """The synchronous twin, for crawlers that are not asyncio programs."""
    count = 0
    pipe = client.pipeline(transaction=False)
    for xadds in _rounds(entries, stream, partitions, batch, tokens):
        for key, fields in xadds:
            pipe.xadd(key, cast(Any, fields))
        count += len(xadds)
        pipe.execute()
    return count
