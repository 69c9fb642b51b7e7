"""The partitioning rule producers and workers share, and stream entry ids as integers."""

from __future__ import annotations

import zlib

from ..store.wire import text


def partition_for(symbol: str, partitions: int) -> int:
    """`zlib.crc32(symbol) % P`: a symbol always lands in the same partition."""
    return zlib.crc32(symbol.encode()) % partitions


def reroute(symbol: str, partition: int, partitions: int) -> int | None:
    """Where a tick of `symbol` read from `partition` must go: its owner, None when it is here.

    Routing is the producer's best effort; the owner of the symbol's partition is the only one
    that holds its state, so a tick found elsewhere is forwarded, never applied where it landed.
    """
    owner = partition_for(symbol, partitions)
    return None if owner == partition else owner


def parse_entry_id(entry_id: bytes | str) -> tuple[int, int]:
    """`ms-seq` as a pair of ints, so ids compare numerically, never as strings."""
    ms, _, seq = text(entry_id).partition("-")
    return int(ms), int(seq or 0)


def format_entry_id(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def next_entry_id(entry_id: tuple[int, int]) -> tuple[int, int]:
    return entry_id[0], entry_id[1] + 1
