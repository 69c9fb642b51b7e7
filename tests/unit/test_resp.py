"""The RESP layout of a flush's hash writes: the contract the Rust core's encoder matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.resp import (
    HSET_CHUNK,
    EncodedWrites,
    encode_command,
    encode_hash_writes,
    encode_text_command,
)


def parse(payload: bytes) -> list[list[bytes]]:
    """Every command in a RESP payload, read by hiredis (an independent parser)."""
    reader = hiredis.Reader()
    reader.feed(payload)
    out: list[list[bytes]] = []
    while (reply := reader.gets()) is not False:
        out.append(reply)
    return out


def expected(writes: Sequence[HashWrite]) -> list[list[bytes]]:
    """The layout written out longhand: HSET chunks in dict order, then HDEL chunks."""
    out: list[list[bytes]] = []
    for w in writes:
        flat = [x.encode() for kv in w.fields.items() for x in kv]
        for i in range(0, len(flat), HSET_CHUNK):
            out.append([b"HSET", w.key.encode(), *flat[i : i + HSET_CHUNK]])
        gone = [a.encode() for a in w.absent]
        for i in range(0, len(gone), HSET_CHUNK):
            out.append([b"HDEL", w.key.encode(), *gone[i : i + HSET_CHUNK]])
    return out


def test_command_bytes() -> None:
    assert encode_command(["SET", "k", b"v\r\n"]) == (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n")
    assert encode_command(["GET", "₹"]) == b"*2\r\n$3\r\nGET\r\n$3\r\n\xe2\x82\xb9\r\n"
    assert encode_command(["PING"]) == b"*1\r\n$4\r\nPING\r\n"


def test_hash_write_bytes() -> None:
    writes = [
        HashWrite("vol:session:SBIN:2025-01-06", "unified",
                  {"cumulative_volume": "1000", "rvol": "1.5"}, ("rvol_1m",)),
        HashWrite("ind:SBIN", "legacy", {}, ("volume_ratio", "avg_volume")),
        HashWrite("vol:history:SBIN", "state", {"2025-01-06": "1000"}),
    ]
    assert encode_hash_writes(writes) == EncodedWrites(
        b"*6\r\n$4\r\nHSET\r\n$27\r\nvol:session:SBIN:2025-01-06\r\n"
        b"$17\r\ncumulative_volume\r\n$4\r\n1000\r\n$4\r\nrvol\r\n$3\r\n1.5\r\n"
        b"*3\r\n$4\r\nHDEL\r\n$27\r\nvol:session:SBIN:2025-01-06\r\n$7\r\nrvol_1m\r\n"
        b"*4\r\n$4\r\nHDEL\r\n$8\r\nind:SBIN\r\n$12\r\nvolume_ratio\r\n$10\r\navg_volume\r\n"
        b"*4\r\n$4\r\nHSET\r\n$16\r\nvol:history:SBIN\r\n$10\r\n2025-01-06\r\n$4\r\n1000\r\n",
        4,
    )
    assert encode_hash_writes([]) == EncodedWrites(b"", 0)
    assert encode_hash_writes([HashWrite("k", "state", {})]) == EncodedWrites(b"", 0)


def test_chunks_like_the_script() -> None:
    fields = {f"m{i}": str(i) for i in range(4500)}  # 9,000 arguments: 4,000 + 4,000 + 1,000
    absent = tuple(f"gone{i}" for i in range(4001))
    writes = [HashWrite("vol:minutes:X:2025-01-06", "state", fields, absent)]
    encoded = encode_hash_writes(writes)
    commands = parse(encoded.payload)
    assert encoded.commands == len(commands) == 5
    assert [len(c) - 2 for c in commands] == [4000, 4000, 1000, 4000, 1]
    assert commands == expected(writes)
    exactly = encode_hash_writes([HashWrite("k", "state", {f"f{i}": "v" for i in range(2000)})])
    assert exactly.commands == 1


text = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates
hash_writes = st.lists(
    st.builds(
        HashWrite,
        key=text, family=st.sampled_from(["unified", "legacy", "state"]),
        fields=st.dictionaries(text, text, max_size=6),
        absent=st.lists(text, max_size=3).map(tuple),
    ),
    max_size=8,
)


@given(hash_writes)
@settings(max_examples=300)
def test_layout_for_any_writes(writes: list[HashWrite]) -> None:
    encoded = encode_hash_writes(writes)
    commands = expected(writes)
    assert parse(encoded.payload) == commands
    assert encoded.commands == len(commands)
    # byte for byte what a general-purpose encoder (hiredis, in C) makes of the same commands
    pack: Any = hiredis.pack_command
    assert encoded.payload == b"".join(pack(tuple(c)) for c in commands)


@given(st.lists(st.one_of(text, st.binary(max_size=10)), min_size=1, max_size=6))
def test_command_matches_hiredis(args: list[str | bytes]) -> None:
    pack: Any = hiredis.pack_command
    assert encode_command(args) == pack(tuple(args))
    assert parse(encode_command(args)) == [[a.encode() if isinstance(a, str) else a
                                           for a in args]]


@given(st.lists(text, min_size=1, max_size=8))
def test_text_commands_match_the_general_encoder(args: list[str]) -> None:
    """Entry ids and names take the one-string way; any other text falls back, same bytes."""
    assert encode_text_command(args) == encode_command(args)
    ids = [f"{1736135100000 + i}-{i % 3}" for i in range(50)]
    assert encode_text_command(["XACK", "ticks:0", "g", *ids]) == encode_command(
        ["XACK", "ticks:0", "g", *ids])
