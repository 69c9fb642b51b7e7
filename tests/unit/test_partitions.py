from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.stream.partitions import (
    format_entry_id,
    next_entry_id,
    parse_entry_id,
    partition_for,
    reroute,
)


@pytest.mark.parametrize(
    ("symbol", "crc", "p8", "p16"),
    [
        ("SBIN", 993_902_117, 5, 5),
        ("RELIANCE", 3_441_801_064, 0, 8),
        ("YESBANK", 3_300_315_148, 4, 12),
        ("NIFTY25JAN25000CE", 1_622_176_599, 7, 7),
        ("NSENIFTY27JAN25000CE", 1_905_069_019, 3, 11),
        ("INDIA VIX", 3_651_656_364, 4, 12),
        ("M&M", 1_286_633_864, 0, 8),
    ],
)
def test_partition_is_crc32_mod_p(symbol: str, crc: int, p8: int, p16: int) -> None:
    # pinned values: producers in other languages implement the same rule
    assert zlib.crc32(symbol.encode()) == crc
    assert partition_for(symbol, 8) == p8
    assert partition_for(symbol, 16) == p16
    assert partition_for(symbol, 1) == 0


@given(st.text(min_size=1, max_size=64), st.integers(1, 64))
def test_partition_matches_zlib_for_any_symbol(symbol: str, partitions: int) -> None:
    p = partition_for(symbol, partitions)
    assert p == zlib.crc32(symbol.encode("utf-8")) % partitions
    assert 0 <= p < partitions


@pytest.mark.parametrize(
    ("entry_id", "parsed"),
    [
        ("1736135100000-0", (1_736_135_100_000, 0)),
        (b"1736135100000-17", (1_736_135_100_000, 17)),
        ("0-0", (0, 0)),
        ("42", (42, 0)),
        ("18446744073709551615-18446744073709551615", (2**64 - 1, 2**64 - 1)),
    ],
)
def test_parse_entry_id(entry_id: str | bytes, parsed: tuple[int, int]) -> None:
    assert parse_entry_id(entry_id) == parsed


def test_entry_ids_compare_as_integers_not_strings() -> None:
    assert "9-1" > "10-0"  # the trap
    assert parse_entry_id("9-1") < parse_entry_id("10-0")
    assert parse_entry_id("10-9") < parse_entry_id("10-10")
    assert parse_entry_id(b"5-0") == parse_entry_id("5")
    ids = ["10-0", "9-1", "9-10", "100-0", "9-2"]
    assert sorted(ids, key=parse_entry_id) == ["9-1", "9-2", "9-10", "10-0", "100-0"]


def test_format_and_next() -> None:
    assert format_entry_id((1_736_135_100_000, 3)) == "1736135100000-3"
    assert next_entry_id((9, 9)) == (9, 10)
    assert parse_entry_id(format_entry_id(next_entry_id((10, 0)))) == (10, 1)


@given(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)))
def test_entry_id_round_trip_and_successor(entry_id: tuple[int, int]) -> None:
    text = format_entry_id(entry_id)
    assert parse_entry_id(text) == entry_id
    assert parse_entry_id(text.encode()) == entry_id
    assert next_entry_id(entry_id) > entry_id


@pytest.mark.parametrize("bad", ["", "abc-1", "1-x", "-"])
def test_malformed_entry_id_raises(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        parse_entry_id(bad)


def test_a_tick_is_rerouted_to_its_symbols_partition_unless_it_is_there() -> None:
    assert reroute("SBIN", 5, 8) is None
    assert reroute("SBIN", 0, 8) == 5
    assert reroute("RELIANCE", 0, 16) == 8  # a producer on 8 partitions put it in 0
    assert reroute("RELIANCE", 0, 8) is None
    assert reroute("ANYTHING", 0, 1) is None  # one partition owns every symbol


@given(st.text(min_size=1, max_size=20), st.integers(1, 64), st.integers(0, 63))
def test_rerouting_lands_where_no_further_reroute_happens(
    symbol: str, partitions: int, landed: int
) -> None:
    landed %= partitions
    owner = reroute(symbol, landed, partitions)
    target = landed if owner is None else owner
    assert target == partition_for(symbol, partitions)
    assert reroute(symbol, target, partitions) is None
