from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.scripts import (
    FLUSH,
    FlushBatch,
    dead_letter_fields,
    flush_arguments,
)

ARGS: dict[str, Any] = {
    "lease": "vol:lease:ticks:3",
    "checkpoint_key": "vol:checkpoint:ticks:3",
    "stream": "ticks:3",
    "dead_stream": "ticks:dead",
    "token": "w-1:7",
    "group": "volume-engine",
    "previous_checkpoint": "100-0",
}


def decode(argv: list[str]) -> dict[str, Any]:
    """Read ARGV the way FLUSH does."""
    out: dict[str, Any] = {
        "token": argv[0], "group": argv[1], "checkpoint": argv[2], "cap": argv[3],
        "previous": argv[4], "acks": orjson.loads(argv[5]), "writes": orjson.loads(argv[6]),
    }
    i = 7
    n_dead = int(argv[i])
    i += 1
    letters = []
    for _ in range(n_dead):
        nf = int(argv[i])
        i += 1
        flat = argv[i : i + nf]
        letters.append(dict(zip(flat[::2], flat[1::2], strict=True)))
        i += nf
    out["dead"] = letters
    out["rest"] = argv[i:]
    return out


def test_flush_layout() -> None:
    batch = FlushBatch(
        writes=[
            HashWrite("vol:session:SBIN:2025-01-06", "unified",
                      {"cumulative_volume": "1000", "tick_count": "2"},
                      ("rvol", "expected_volume")),
            HashWrite("vol:history:SBIN", "state", {"2025-01-06": "1000"}),
        ],
        acks=["101-0", "101-1", "102-0"],
        dead_letters=[{"reason": "bad_json", "error": "data: invalid JSON",
                       "source_id": "101-1", "source_stream": "ticks:3", "data": "{"}],
        checkpoint="102-0",
    )
    keys, argv = flush_arguments(batch, dead_letter_cap=5000, **ARGS)
    assert keys == [
        "vol:lease:ticks:3", "vol:checkpoint:ticks:3", "ticks:3", "ticks:dead",
        "vol:session:SBIN:2025-01-06", "vol:history:SBIN",
    ]
    assert argv[:5] == ["w-1:7", "volume-engine", "102-0", "5000", "100-0"]
    assert decode(argv) == {
        "token": "w-1:7", "group": "volume-engine", "checkpoint": "102-0", "cap": "5000",
        "previous": "100-0",
        "acks": ["101-0", "101-1", "102-0"],
        "writes": [
            [{"cumulative_volume": "1000", "tick_count": "2"}, ["rvol", "expected_volume"]],
            [{"2025-01-06": "1000"}, []],
        ],
        "dead": [{"reason": "bad_json", "error": "data: invalid JSON", "source_id": "101-1",
                  "source_stream": "ticks:3", "data": "{"}],
        "rest": [],
    }
    assert argv[7] == "1"
    assert argv[8] == "10"  # five field/value pairs
    assert len(argv) == 9 + 10
    assert all(isinstance(a, str) for a in argv)


def test_empty_batch_layout() -> None:
    batch = FlushBatch()
    assert not batch
    keys, argv = flush_arguments(batch, **ARGS)
    assert keys == ["vol:lease:ticks:3", "vol:checkpoint:ticks:3", "ticks:3", "ticks:dead"]
    assert argv == ["w-1:7", "volume-engine", "", "100000", "100-0", "[]", "[]", "0"]


def test_a_write_with_only_absent_fields() -> None:
    batch = FlushBatch(writes=[HashWrite("ind:SBIN", "legacy", {}, ("volume_ratio",))])
    assert batch
    _, argv = flush_arguments(batch, **ARGS)
    assert decode(argv)["writes"] == [[{}, ["volume_ratio"]]]


@pytest.mark.parametrize(
    "batch",
    [FlushBatch(acks=["1-0"]), FlushBatch(checkpoint="1-0"),
     FlushBatch(dead_letters=[{"reason": "x"}]), FlushBatch(writes=[HashWrite("k", "state", {})])],
)
def test_batch_truthiness(batch: FlushBatch) -> None:
    assert batch


def test_script_checks_the_lease_before_anything_else() -> None:
    first = FLUSH.strip().splitlines()[0]
    assert first == "if redis.call('GET', KEYS[1]) ~= ARGV[1] then"


fields = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=5)
writes = st.builds(
    HashWrite, st.text(min_size=1, max_size=12), st.just("state"), fields,
    st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
)


@given(
    st.lists(writes, max_size=5),
    st.lists(st.text(min_size=1, max_size=10), max_size=6),
    st.lists(fields, max_size=3),
    st.text(max_size=10),
)
def test_layout_round_trip(
    ws: list[HashWrite], acks: list[str], dead: list[dict[str, str]], checkpoint: str
) -> None:
    batch = FlushBatch(writes=ws, acks=acks, dead_letters=dead, checkpoint=checkpoint)
    keys, argv = flush_arguments(batch, **ARGS)
    assert keys[4:] == [w.key for w in ws]
    got = decode(argv)
    assert got["acks"] == acks
    assert got["writes"] == [[w.fields, list(w.absent)] for w in ws]
    assert got["dead"] == dead
    assert got["rest"] == []
    assert got["checkpoint"] == checkpoint


# -- Dead letters ------------------------------------------------------------------------------


def test_dead_letter_keeps_the_original_fields() -> None:
    letter = dead_letter_fields(
        reason="non_positive", error="price: must be > 0, got -1", source_id="5-0",
        source_stream="ticks:2",
        payload=[("symbol", "SBIN"), ("price", "-1"), ("timestamp", "1736135100")],
    )
    assert letter == {
        "reason": "non_positive", "error": "price: must be > 0, got -1", "source_id": "5-0",
        "source_stream": "ticks:2", "symbol": "SBIN", "price": "-1", "timestamp": "1736135100",
    }
    assert list(letter)[:4] == ["reason", "error", "source_id", "source_stream"]


def test_dead_letter_renames_clashing_fields() -> None:
    letter = dead_letter_fields(
        reason="bad_symbol", error="symbol: bad", source_id="6-0", source_stream="ticks:0",
        payload=[("reason", "crawler says hi"), ("symbol", "A B"), ("source_id", "crawler-9"),
                 ("error", "")],
    )
    assert letter == {
        "reason": "bad_symbol", "error": "symbol: bad", "source_id": "6-0",
        "source_stream": "ticks:0", "orig_reason": "crawler says hi", "symbol": "A B",
        "orig_source_id": "crawler-9", "orig_error": "",
    }


def test_dead_letter_never_drops_an_original_value() -> None:
    payload = [("orig_reason", "a"), ("reason", "b")]
    letter = dead_letter_fields(reason="bad_json", error="e", source_id="1-0",
                                source_stream="ticks:0", payload=payload)
    assert sorted(v for k, v in letter.items() if k.endswith("reason") and k != "reason") == [
        "a", "b"]
