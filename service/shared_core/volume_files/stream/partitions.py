"""The partitioning rule producers and workers share, and stream entry ids as integers."""

from __future__ import annotations

import zlib

from ..store.wire import text


def partition_for(symbol: str, partitions: int) -> int:
    """`zlib.crc32(symbol) % P`: a symbol always lands in the same partition."""
    return zlib.crc32(symbol.encode()) % partitions


def parse_entry_id(entry_id: bytes | str) -> tuple[int, int]:
    """`ms-seq` as a pair of ints, so ids compare numerically, never as strings."""
    ms, _, seq = text(entry_id).partition("-")
    return int(ms), int(seq or 0)


def format_entry_id(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def next_entry_id(entry_id: tuple[int, int]) -> tuple[int, int]:
    return entry_id[0], entry_id[1] + 1
