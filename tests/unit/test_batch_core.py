"""The Python batch core alone: staging, loading, one apply loop, and what a drain writes."""

from __future__ import annotations

from datetime import date, datetime, time

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import CoreConfig, SymbolHistory, VolumeEngineCore
from shared_core.volume_files.market_clock import IST
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store.codec import snapshot_writes
from shared_core.volume_files.store.resp import EncodedWrites, encode_hash_writes
from shared_core.volume_files.store.wire import field_map
from shared_core.volume_files.stream.batch_core import (
    Forward,
    PythonBatchCore,
    StreamEntry,
    TickBatchCore,
)
from shared_core.volume_files.stream.partitions import partition_for
from shared_core.volume_files.ticks import parse_entry

CONFIG: CoreConfig = load_core_config(load_settings(env={}))
D1 = date(2025, 12, 9)  # a Tuesday
D2 = date(2025, 12, 10)


def ts(day: date, hh: int, mm: int, ss: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm, ss), tzinfo=IST).timestamp() * 1000)


def entry(entry_id: str, symbol: str, at: int, volume: int = 10,
          price: str = "600.05") -> StreamEntry:
    return StreamEntry(entry_id, {b"symbol": symbol.encode(), b"price": price.encode(),
                                  b"volume": str(volume).encode(),
                                  b"timestamp": str(at).encode()})


def loaded(core: PythonBatchCore, first: dict[str, int]) -> None:
    for symbol, first_ts in first.items():
        core.load(symbol, SymbolHistory(), first_ts)


def test_it_is_a_tick_batch_core() -> None:
    core: TickBatchCore = PythonBatchCore(CONFIG, dual_write=True)
    assert len(core) == 0


def test_stage_reports_each_new_symbol_once_with_its_first_valid_tick() -> None:
    core = PythonBatchCore(CONFIG, dual_write=True)
    first = core.stage([
        StreamEntry("1-0", {b"symbol": b"SBIN", b"price": b"x", b"timestamp": b"1"}),
        entry("2-0", "SBIN", ts(D1, 10, 0, 5)),
        entry("3-0", "INFY", ts(D1, 10, 0, 7)),
        entry("4-0", "SBIN", ts(D1, 10, 0, 1)),
    ])
    assert first == {"SBIN": ts(D1, 10, 0, 5), "INFY": ts(D1, 10, 0, 7)}
    loaded(core, first)
    assert len(core) == 2
    core.apply_staged()
    assert core.stage([entry("5-0", "SBIN", ts(D1, 10, 1))]) == {}


def test_apply_staged_applies_in_order_and_names_every_reject() -> None:
    core = PythonBatchCore(CONFIG, dual_write=True)
    bad = {b"symbol": b"SBIN", b"price": b"-1", b"timestamp": b"1"}
    loaded(core, core.stage([
        entry("1-0", "SBIN", ts(D2, 10, 0), volume=7),
        StreamEntry("2-0", bad),
        entry("3-0", "SBIN", ts(D1, 10, 0)),  # before the open session
        entry("4-0", "SBIN", ts(D2, 10, 2), volume=5),
    ]))
    outcome = core.apply_staged()
    assert outcome.applied == 2
    assert outcome.last_ts_ms == ts(D2, 10, 2)
    assert [(r.entry_id, r.reason) for r in outcome.rejects] == [
        ("2-0", "non_positive"), ("3-0", "stale_session")]
    assert outcome.rejects[0].fields is bad
    assert outcome.rejects[0].error.startswith("price: ")
    assert outcome.rejects[1].error
    again = core.apply_staged()
    assert (again.applied, again.last_ts_ms, again.rejects) == (0, 0, [])


def test_drain_writes_what_the_engine_core_and_codec_write() -> None:
    entries = [entry(f"{i}-0", sym, ts(D1, 10, i % 60), volume=10 + i)
               for i, sym in enumerate(["SBIN", "INFY", "SBIN", "TCS", "SBIN"] * 3)]
    core = PythonBatchCore(CONFIG, dual_write=True)
    loaded(core, core.stage(entries))
    core.apply_staged()
    drained = core.drain_writes()

    reference = VolumeEngineCore(CONFIG)
    for _, fields in entries:
        tick = parse_entry(field_map(fields))
        if reference.needs_load(tick.symbol):
            reference.load(tick.symbol, SymbolHistory(), D1)
        reference.apply(tick)
    expected = sorted(
        (w for snap in reference.drain() for w in snapshot_writes(snap, dual_write=True)),
        key=lambda w: w.key)
    assert sorted(drained.writes, key=lambda w: w.key) == expected
    assert drained.symbols == 3
    assert sum(drained.families.values()) == len(drained.writes)
    assert drained.families["unified"] == 3
    assert drained.families["legacy"] == 3
    assert core.drain_writes().writes == []


def test_drain_leaves_the_legacy_hash_out_without_dual_write() -> None:
    core = PythonBatchCore(CONFIG, dual_write=False)
    loaded(core, core.stage([entry("1-0", "SBIN", ts(D1, 10, 0))]))
    core.apply_staged()
    drained = core.drain_writes()
    assert "legacy" not in drained.families
    assert drained.symbols == 1


def test_a_symbol_crossing_sessions_writes_both_session_hashes() -> None:
    core = PythonBatchCore(CONFIG, dual_write=True)
    loaded(core, core.stage([entry("1-0", "SBIN", ts(D1, 15, 0)),
                             entry("2-0", "SBIN", ts(D2, 9, 20))]))
    core.apply_staged()
    drained = core.drain_writes()
    sessions = [w.key for w in drained.writes if w.family == "unified"]
    assert sessions == ["vol:session:SBIN:2025-12-09", "vol:session:SBIN:2025-12-10"]
    assert drained.symbols == 2


def test_drain_hands_the_flush_its_writes_encoded() -> None:
    """drain() is drain_writes() in the RESP layout, with the same counts (twin cores)."""
    entries = [entry(f"{i}-0", sym, ts(D1, 10, i), volume=5 + i)
               for i, sym in enumerate(["SBIN", "INFY", "SBIN"])]
    cores = [PythonBatchCore(CONFIG, dual_write=True) for _ in range(2)]
    for core in cores:
        loaded(core, core.stage(entries))
        core.apply_staged()
    as_objects = cores[0].drain_writes()
    encoded = cores[1].drain()
    assert encoded.encoded == encode_hash_writes(as_objects.writes)
    assert encoded.encoded.commands > len(as_objects.writes) // 2 > 0
    assert (encoded.families, encoded.symbols) == (as_objects.families, as_objects.symbols)
    assert cores[1].drain().encoded == EncodedWrites(b"", 0)


def test_a_tick_of_another_partitions_symbol_is_forwarded_not_applied() -> None:
    """SBIN belongs to partition 5 of 8 and INFY to 2: a core of partition 5 keeps SBIN only."""
    assert (partition_for("SBIN", 8), partition_for("INFY", 8)) == (5, 2)
    core = PythonBatchCore(CONFIG, dual_write=True, partition=5, partitions=8)
    bad = {b"symbol": b"INFY", b"price": b"-1", b"timestamp": b"1"}
    entries = [
        entry("1-0", "INFY", ts(D1, 10, 0), volume=7),
        entry("2-0", "SBIN", ts(D1, 10, 0, 1)),
        StreamEntry("3-0", bad),
        entry("4-0", "INFY", ts(D1, 10, 0, 2), volume=9),
    ]
    first = core.stage(entries)
    assert first == {"SBIN": ts(D1, 10, 0, 1)}  # INFY is never loaded here
    loaded(core, first)
    outcome = core.apply_staged()
    assert outcome.applied == 1
    assert outcome.forwards == [Forward("1-0", entries[0].fields, 2),
                                Forward("4-0", entries[3].fields, 2)]
    assert outcome.forwards[0].fields is entries[0].fields  # the original fields, as read
    assert [(r.entry_id, r.reason) for r in outcome.rejects] == [("3-0", "non_positive")]
    assert len(core) == 1
    drained = core.drain_writes()
    assert {w.key for w in drained.writes if w.family == "unified"} == {
        "vol:session:SBIN:2025-12-09"}
    assert all("INFY" not in w.key for w in drained.writes)


def test_a_core_of_the_owning_partition_applies_what_another_forwarded() -> None:
    core = PythonBatchCore(CONFIG, dual_write=True, partition=2, partitions=8)
    loaded(core, core.stage([entry("9-0", "INFY", ts(D1, 10, 0), volume=7)]))
    outcome = core.apply_staged()
    assert (outcome.applied, outcome.forwards) == (1, [])
