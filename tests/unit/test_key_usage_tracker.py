from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.key_usage_tracker import (
    KeyUsageTracker,
    migration_progress,
    parse_stats,
    progress_line,
)
from shared_core.volume_files.store import keys

STATS = keys.MIGRATION_STATS_KEY


def test_nothing_counted_sends_nothing() -> None:
    assert KeyUsageTracker().commands() == []


def test_counts_become_sorted_hincrby_commands_and_reset() -> None:
    tracker = KeyUsageTracker()
    tracker.record_write(keys.FAMILY_UNIFIED)
    tracker.record_write(keys.FAMILY_UNIFIED, 2)
    tracker.record_read(keys.FAMILY_LEGACY, 5)
    tracker.record_write(keys.FAMILY_BASELINE)
    assert tracker.commands() == [
        ("HINCRBY", STATS, "reads:legacy", "5"),
        ("HINCRBY", STATS, "writes:baseline", "1"),
        ("HINCRBY", STATS, "writes:unified", "3"),
    ]
    assert tracker.commands() == []


def test_zero_counts_are_not_sent() -> None:
    tracker = KeyUsageTracker()
    tracker.record_read(keys.FAMILY_PROFILE, 0)
    assert tracker.commands() == []


@given(st.lists(st.tuples(st.sampled_from(["r", "w"]), st.integers(1, 50)), max_size=40))
def test_commands_sum_what_was_recorded(events: list[tuple[str, int]]) -> None:
    tracker = KeyUsageTracker()
    for kind, n in events:
        if kind == "r":
            tracker.record_read(keys.FAMILY_UNIFIED, n)
        else:
            tracker.record_write(keys.FAMILY_UNIFIED, n)
    sent = {c[2]: int(c[3]) for c in tracker.commands()}
    reads = sum(n for k, n in events if k == "r")
    writes = sum(n for k, n in events if k == "w")
    assert sent.get("reads:unified", 0) == reads
    assert sent.get("writes:unified", 0) == writes


def test_parse_stats_accepts_bytes_and_str() -> None:
    assert parse_stats({b"reads:unified": b"7", b"writes:legacy": b"2"}) == {
        "reads:unified": 7,
        "writes:legacy": 2,
    }
    assert parse_stats({"reads:legacy": "3"}) == {"reads:legacy": 3}


def test_migration_progress_counts_every_unified_family_against_legacy() -> None:
    assert migration_progress({}) is None
    assert migration_progress({"writes:unified": 10}) is None
    stats = {"reads:unified": 3, "reads:profile": 2, "reads:baseline": 1, "reads:legacy": 2}
    assert migration_progress(stats) == pytest.approx(0.75)
    assert migration_progress({"reads:legacy": 4}) == 0.0
    assert migration_progress({"reads:unified": 4}) == 1.0


def test_progress_line() -> None:
    assert progress_line({}) == "migration: no reads counted yet; writes: none"
    line = progress_line({"reads:unified": 1, "reads:legacy": 1, "writes:unified": 4,
                          "writes:legacy": 4})
    assert line == "migration: 50.0% of reads from unified keys; writes: legacy=4, unified=4"
