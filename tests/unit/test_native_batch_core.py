"""The native batch core (`NativeBatchCore` over `_native.PartitionCore`) against the Python one.

Both get the same batches of raw stream entries (every tick form, invalid entries, raw Kite
token ticks, several trading dates, stale and late ticks, symbols restored from Redis state) and
must report the same new symbols, apply the same ticks, dead-letter the same entries with the
same reason and text, and drain byte-identical hash writes; the native drain's RESP payload is
exactly what `store.resp` encodes for those writes.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files import cores
from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import CoreConfig, SymbolHistory
from shared_core.volume_files.instruments import InstrumentRegistry
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.resp import encode_hash_writes
from shared_core.volume_files.stream.batch_core import (
    BatchOutcome,
    PythonBatchCore,
    StreamEntry,
    entry_ids,
    with_fields,
)
from shared_core.volume_files.stream.partitions import partition_for

if not cores.native_available():
    if os.environ.get("VOLUME_REQUIRE_NATIVE") == "1":
        raise AssertionError("VOLUME_REQUIRE_NATIVE=1 but the native core is not built")
    pytest.skip("the native core (_native.PartitionCore) is not built", allow_module_level=True)

from shared_core.volume_files import _native
from shared_core.volume_files.stream.native_batch_core import NativeBatchCore, RawBatch

BASE = load_core_config(load_settings(env={}))
TOKENS = {256265: "NIFTY 50", 260105: "NIFTY BANK", 738561: "RELIANCE", 11111: "SBIN"}
SYMBOLS = ("SBIN", "RELIANCE", "NIFTY25JANFUT", "NIFTY25JAN24000CE", "BANKNIFTY2510950000PE",
           "NIFTY 50", "INFY")
DAYS = (date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8))
MINUTES_PREFIX = keys.minutes_key("\0", "\0").split("\0")[0]  # "vol:minutes:"


def config(learned: bool = False) -> CoreConfig:
    registry = InstrumentRegistry(BASE.calendar, tokens=TOKENS)
    return replace(BASE, registry=registry, learned_curves=learned)


def cores_for(cfg: CoreConfig, *, dual_write: bool, from_id: bool = False,
              partition: int = 0, partitions: int = 1, write_filter_keys: int = 0,
              ) -> tuple[PythonBatchCore, NativeBatchCore]:
    """Both cores as partition 0 of `partitions` (other partitions' symbols are forwarded)."""
    return (
        PythonBatchCore(cfg, dual_write=dual_write, timestamp_from_entry_id=from_id,
                        partition=partition, partitions=partitions,
                        write_filter_keys=write_filter_keys),
        NativeBatchCore(cfg, dual_write=dual_write, timestamp_from_entry_id=from_id,
                        partition=partition, partitions=partitions,
                        write_filter_keys=write_filter_keys),
    )


def by_key(writes: Sequence[HashWrite]) -> dict[str, list[HashWrite]]:
    """Writes per key, in order: the Python core drains its dirty set in hash order."""
    out: dict[str, list[HashWrite]] = {}
    for w in writes:
        out.setdefault(w.key, []).append(w)
    return out


def _fields(w: HashWrite) -> object:
    """The fields in order, but for the minutes hash: the Python core lists its dirty minutes
    in set order (CPython's hash-table order), the native one ascending; one HSET either way."""
    return dict(w.fields) if w.key.startswith(MINUTES_PREFIX) else list(w.fields.items())


def same_writes(python: Sequence[HashWrite], native: Sequence[HashWrite]) -> None:
    assert len(python) == len(native)
    p, n = by_key(python), by_key(native)
    assert p.keys() == n.keys()
    for key in p:
        assert [(w.family, _fields(w), w.absent) for w in p[key]] == [
            (w.family, _fields(w), w.absent) for w in n[key]
        ], key


def run_batch(python: PythonBatchCore, native: NativeBatchCore, entries: list[StreamEntry],
              histories: dict[str, SymbolHistory]) -> tuple[BatchOutcome, BatchOutcome]:
    first_p, first_n = python.stage(entries), native.stage(entries)
    assert first_p == first_n
    for symbol, ts in first_p.items():
        history = histories.get(symbol, SymbolHistory())
        python.load(symbol, history, ts)
        native.load(symbol, history, ts)
    out_p, out_n = python.apply_staged(), native.apply_staged()
    assert (out_p.applied, out_p.last_ts_ms) == (out_n.applied, out_n.last_ts_ms)
    assert [(r.entry_id, r.reason, r.error) for r in out_p.rejects] == [
        (r.entry_id, r.reason, r.error) for r in out_n.rejects
    ]
    assert all(a.fields is b.fields for a, b in zip(out_p.rejects, out_n.rejects, strict=True))
    assert [(f.entry_id, f.partition) for f in out_p.forwards] == [
        (f.entry_id, f.partition) for f in out_n.forwards
    ]
    assert all(a.fields is b.fields for a, b in zip(out_p.forwards, out_n.forwards, strict=True))
    return out_p, out_n


# -- entries -----------------------------------------------------------------------------------


def _ts(day: date, minute: float) -> str:
    hours, minutes = divmod(9 * 60 + 15 + minute, 60)
    return f"{day.isoformat()}T{int(hours):02d}:{int(minutes):02d}:{(minutes % 1) * 60:06.3f}"


@st.composite
def entry_fields(draw: st.DrawFn, day_index: int) -> dict[bytes, bytes]:
    day = DAYS[min(day_index, len(DAYS) - 1)]
    symbol = draw(st.sampled_from(SYMBOLS))
    minute = draw(st.floats(-20, 400, allow_nan=False))
    price = draw(st.sampled_from(["612.35", "612.4", "120.525", "0.05", "24000", "1e3",
                                  "-1", "abc", "nan", ""]))
    form = draw(st.sampled_from(["flat", "cumulative", "json", "kite_legacy", "token",
                                 "no_time", "stale", "garbage"]))
    volume = draw(st.integers(0, 5000) | st.sampled_from([2**62, 10**20]))
    if form == "stale":
        day = date(2024, 12, 2)
    ts = _ts(day, minute)
    fields: dict[str, str]
    if form == "flat":
        fields = {"symbol": symbol, "price": price, "volume": str(volume), "timestamp": ts}
    elif form == "cumulative":
        fields = {"tradingsymbol": symbol, "last_price": price, "volume_traded": str(volume * 7),
                  "exchange_timestamp": ts}
    elif form == "json":
        doc: dict[str, object] = {
            "symbol": symbol, "price": float(price) if price[:1].isdigit() else price,
            "last_traded_quantity": volume, "timestamp": ts, "underlying_price": 24010.5,
        }
        fields = {"data": json.dumps(doc)}
    elif form == "kite_legacy":
        doc = {"tradingsymbol": symbol, "last_price": price, "last_quantity": 75,
               "average_price": 100.5, "volume": volume, "timestamp": ts}
        fields = {"data": json.dumps(doc)}
    elif form == "token":
        token = draw(st.sampled_from([*TOKENS, 99]))
        doc = {"instrument_token": token, "last_price": 24001.35, "volume_traded": volume,
               "exchange_timestamp": ts.replace("T", " ")[:19],
               "ohlc": {"open": 1, "high": 2, "low": 0.5, "close": 1.5},
               "depth": {"buy": [{"price": 1.0, "quantity": 5, "orders": 1}], "sell": []}}
        fields = {"data": json.dumps(doc)}
    elif form == "no_time":
        fields = {"data": json.dumps({"instrument_token": 738561, "last_price": 1500.5})}
    else:
        fields = draw(st.sampled_from([
            {"symbol": "A  B", "price": "1", "timestamp": ts},
            {"symbol": symbol, "price": "1", "timestamp": "yesterday"},
            {"symbol": symbol, "price": "1", "timestamp": ts, "volume": "500.5"},
            {"data": "{not json"},
            {"symbol": symbol * 20, "price": "1", "timestamp": ts},
            {"symbol": symbol, "price": "１２", "timestamp": ts},  # defers to Python
        ]))
    return {k.encode(): v.encode() for k, v in fields.items()}


@st.composite
def batches(draw: st.DrawFn) -> list[list[dict[bytes, bytes]]]:
    out = []
    for day_index in range(draw(st.integers(1, 3))):
        for _ in range(draw(st.integers(1, 3))):
            out.append(draw(st.lists(entry_fields(day_index), min_size=1, max_size=25)))
    return out


def _ids(start: int) -> Iterator[str]:
    n = start
    while True:
        yield f"{1736135100000 + n}-{n % 3}"
        n += 1


@settings(max_examples=150)
@given(batches=batches(), dual_write=st.booleans(), learned=st.booleans(), from_id=st.booleans(),
       routed=st.sampled_from([(0, 1), (1, 3), (0, 2)]),
       write_filter=st.sampled_from([0, 4, 1000]), landed=st.lists(st.booleans(), max_size=9))
def test_random_batches_give_the_same_writes_and_dead_letters(
    batches: list[list[dict[bytes, bytes]]], dual_write: bool, learned: bool, from_id: bool,
    routed: tuple[int, int], write_filter: int, landed: list[bool],
) -> None:
    """...and the same forwards, as a partition of 1, 2 or 3 (token ticks by their symbol);
    with a write filter (remembering 4 keys or 1000), whose drains land (commit) or not."""
    cfg = config(learned)
    python, native = cores_for(cfg, dual_write=dual_write, from_id=from_id,
                               partition=routed[0], partitions=routed[1],
                               write_filter_keys=write_filter)
    ids = _ids(0)
    commits = iter(landed)
    for batch in batches:
        entries = [StreamEntry(next(ids), fields) for fields in batch]
        run_batch(python, native, entries, {})
        drained_p, drained_n = python.drain_writes(), native.drain_writes()
        same_writes(drained_p.writes, drained_n.writes)
        assert drained_p.left_out == drained_n.left_out
        if next(commits, True):
            python.commit_drain()
            native.commit_drain()
    assert len(python) == len(native)


def test_the_native_payload_encodes_its_writes() -> None:
    """Two native cores fed alike: one's RESP payload is store.resp's encoding of the other's
    writes, so the flush sends what the differential tests compared."""
    cfg = config()
    rng = random.Random(5)
    a = NativeBatchCore(cfg, dual_write=True)
    b = NativeBatchCore(cfg, dual_write=True)
    entries = [StreamEntry(f"{1736135100000 + i}-0", {
        b"symbol": rng.choice(SYMBOLS).encode(), b"price": f"{600 + rng.randrange(40) * 0.05:.2f}"
        .encode(), b"volume": str(rng.randrange(1, 900)).encode(),
        b"timestamp": _ts(DAYS[0], rng.uniform(0, 375)).encode()}) for i in range(400)]
    for core in (a, b):
        for symbol, ts in core.stage(entries).items():
            core.load(symbol, SymbolHistory(), ts)
        assert core.apply_staged().applied == 400
    drained = a.drain()
    writes = b.drain_writes()
    assert drained.encoded == encode_hash_writes(writes.writes)
    assert drained.families == writes.families
    assert drained.symbols == writes.symbols == len(set(SYMBOLS))


def test_a_write_filter_leaves_out_what_the_last_landed_drain_wrote() -> None:
    """A symbol's next drain sends only the fields that changed (its name, date, instrument
    type... are left out); a drain that never landed makes its keys unknown, so the next one
    writes them in full."""
    python, native = cores_for(config(), dual_write=True, write_filter_keys=100)
    ids = _ids(0)
    drains = []
    for minute in (10, 11, 12, 13):
        tick = {b"symbol": b"SBIN", b"price": b"600.05", b"volume": b"10",
                b"timestamp": _ts(DAYS[0], minute).encode()}
        run_batch(python, native, [StreamEntry(next(ids), tick)], {})
        p, n = python.drain(), native.drain()
        assert p.left_out == n.left_out
        assert p.families == n.families
        drains.append(n)
        if minute != 11:  # the minute-11 flush never landed (or its reply was lost)
            python.commit_drain()
            native.commit_drain()
    assert [d.left_out > 0 for d in drains] == [False, True, False, True]
    assert len(drains[3].encoded.payload) < len(drains[2].encoded.payload)


def test_restored_symbols_continue_alike() -> None:
    """A new owner reloads state from Redis (as the codec writes it) in both cores."""
    cfg = config()
    python, native = cores_for(cfg, dual_write=True)
    first = [StreamEntry(f"{1736135100000 + i}-0", {
        b"symbol": b"NIFTY25JAN24000CE", b"price": f"{120 + i % 9 * 0.05:.2f}".encode(),
        b"volume": b"75", b"underlying_price": b"24012.4",
        b"timestamp": _ts(DAYS[0], i / 3).encode()}) for i in range(300)]
    run_batch(python, native, first, {})
    state: dict[str, dict[str, str]] = {}
    for w in python.drain_writes().writes:
        state.setdefault(w.key, {}).update(w.fields)
    n_state: dict[str, dict[str, str]] = {}
    for w in native.drain_writes().writes:
        n_state.setdefault(w.key, {}).update(w.fields)
    assert state == n_state
    day = DAYS[0].isoformat()
    sym = "NIFTY25JAN24000CE"
    history = codec.build_history(
        {day: state[f"vol:history:{sym}"][day], "2025-01-03": "900000"},
        state[f"vol:session:{sym}:{day}"],
        state[f"vol:minutes:{sym}:{day}"],
        state[f"volume_profile:session:{sym}:{day}"],
    )
    python2, native2 = cores_for(cfg, dual_write=True)
    later = [StreamEntry(f"{1736200000000 + i}-0", {
        b"symbol": sym.encode(), b"price": b"121.5", b"volume": b"150",
        b"timestamp": _ts(day_, 200 + i).encode()}) for i, day_ in enumerate(DAYS[:2] * 5)]
    run_batch(python2, native2, later, {sym: history})
    same_writes(python2.drain_writes().writes, native2.drain_writes().writes)


def test_both_cores_forward_the_same_ticks_token_ones_by_their_symbol() -> None:
    """SBIN is partition 1's of 2 and RELIANCE 0's; token 11111 is SBIN (the master)."""
    assert [partition_for(s, 2) for s in ("SBIN", "RELIANCE")] == [1, 0]
    at = _ts(DAYS[0], 5).encode()
    rows = [{b"symbol": b"SBIN", b"price": b"600", b"volume": b"5", b"timestamp": at},
            {b"instrument_token": b"11111", b"last_price": b"600.5", b"timestamp": at},
            {b"symbol": b"RELIANCE", b"price": b"1200", b"volume": b"3", b"timestamp": at}]
    python, native = cores_for(config(), dual_write=True, partition=0, partitions=2)
    entries = [StreamEntry(f"{i + 1}-0", row) for i, row in enumerate(rows)]
    out_p, _ = run_batch(python, native, entries, {})
    assert [(f.entry_id, f.partition) for f in out_p.forwards] == [("1-0", 1), ("2-0", 1)]
    assert out_p.applied == 1
    assert len(python) == len(native) == 1


def test_the_symbol_count_is_read_while_a_drain_runs_in_a_thread() -> None:
    """The worker drains in a thread (the native drain holds no GIL) while its supervisor
    reads len() for the gauge: len() must not touch the borrowed native object."""
    cfg = config()
    core = NativeBatchCore(cfg, dual_write=True)
    day = _ts(DAYS[0], 5).encode()
    symbols = [f"SYM{i}" for i in range(6000)]
    entries = [StreamEntry(f"{i + 1}-0", {b"symbol": s.encode(), b"price": b"101.5",
                                           b"volume": b"10", b"timestamp": day})
               for i, s in enumerate(symbols)]
    for symbol, ts in core.stage(entries).items():
        core.load(symbol, SymbolHistory(), ts)
    assert core.apply_staged().applied == len(symbols)
    assert len(core) == len(symbols)
    counts: list[int] = []
    worker = threading.Thread(target=core.drain)
    worker.start()
    while worker.is_alive():
        counts.append(len(core))  # raised "Already mutably borrowed" when it asked Rust
    worker.join()
    assert counts
    assert set(counts) == {len(symbols)}


# -- entries read raw --------------------------------------------------------------------------


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def xreadgroup_reply(entries: Sequence[tuple[str, list[bytes] | None]], protocol: int) -> bytes:
    """What Redis sends for an XREADGROUP of one stream (fields None: trimmed while pending)."""
    if not entries:
        return b"*-1\r\n" if protocol == 2 else b"_\r\n"
    head = b"*1\r\n*2\r\n" if protocol == 2 else b"%1\r\n"
    out = [head, _bulk(b"vol:s:0"), b"*%d\r\n" % len(entries)]
    for entry_id, fields in entries:
        out += [b"*2\r\n", _bulk(entry_id.encode())]
        if fields is None:
            out.append(b"*-1\r\n" if protocol == 2 else b"_\r\n")
        else:
            out += [b"*%d\r\n" % len(fields), *map(_bulk, fields)]
    return b"".join(out)


def raw_batch(core: NativeBatchCore, reply: bytes, cut: int) -> RawBatch:
    """The core's entries of `reply`, fed to RawReplies in two reads cut at `cut`."""
    raw = _native.RawReplies(1)
    assert not raw.feed(reply[:cut]) or cut >= len(reply)
    assert raw.feed(reply[cut:])
    batch = core.entries(raw)
    assert isinstance(batch, RawBatch)
    return batch


@settings(max_examples=100)
@given(batches=batches(), protocol=st.sampled_from([2, 3]), from_id=st.booleans(),
       routed=st.sampled_from([(0, 1), (1, 3)]), trim=st.lists(st.booleans(), max_size=30),
       cut=st.integers(1, 400))
def test_entries_read_raw_stage_and_apply_as_their_objects(
    batches: list[list[dict[bytes, bytes]]], protocol: int, from_id: bool,
    routed: tuple[int, int], trim: list[bool], cut: int,
) -> None:
    """The native core staging a read's bytes (RawBatch) and the same core staging the objects
    hiredis would have made: the same new symbols, dead letters (with the same fields),
    forwards and writes; entries trimmed while pending are left out alike."""
    cfg = config()
    kw: dict[str, Any] = {"dual_write": True, "timestamp_from_entry_id": from_id,
                          "partition": routed[0], "partitions": routed[1]}
    objects, raw = NativeBatchCore(cfg, **kw), NativeBatchCore(cfg, **kw)
    ids = _ids(0)
    trims = iter(trim)
    for batch in batches:
        read = [(next(ids), None if next(trims, False) else [x for kv in f.items() for x in kv])
                for f in batch]
        listed = [StreamEntry(i, f or ()) for i, f in read]
        entries = raw_batch(raw, xreadgroup_reply(read, protocol), cut)
        assert list(entries) == listed
        assert entry_ids(entries) == [i for i, _ in read]
        staged_o, staged_r = with_fields(listed), with_fields(entries)
        first = objects.stage(staged_o)
        assert raw.stage(staged_r) == first
        for symbol, ts in first.items():
            objects.load(symbol, SymbolHistory(), ts)
            raw.load(symbol, SymbolHistory(), ts)
        out_o, out_r = objects.apply_staged(), raw.apply_staged()
        assert (out_o.applied, out_o.last_ts_ms) == (out_r.applied, out_r.last_ts_ms)
        assert out_o.rejects == out_r.rejects
        assert out_o.forwards == out_r.forwards
        same_writes(objects.drain_writes().writes, raw.drain_writes().writes)


def test_a_raw_batch_is_a_sequence_of_its_entries() -> None:
    read = [("1-0", [b"symbol", b"SBIN", b"price", b"1"]), ("1-1", None), ("2-0", [])]
    batch = raw_batch(NativeBatchCore(config(), dual_write=True),
                      xreadgroup_reply(read, 3), 10)
    expected = [StreamEntry("1-0", [b"symbol", b"SBIN", b"price", b"1"]),
                StreamEntry("1-1", ()), StreamEntry("2-0", [])]
    assert len(batch) == 3
    assert batch[-1] == expected[-1]
    assert batch[0:2] == expected[:2]
    assert list(batch) == expected
    assert batch.ids() == ["1-0", "1-1", "2-0"]
    assert batch.trimmed()
    with pytest.raises(IndexError):
        batch[3]
    empty = NativeBatchCore(config(), dual_write=True).entries(_raw_of(b"*-1\r\n"))
    assert len(empty) == 0


def _raw_of(reply: bytes) -> _native.RawReplies:
    raw = _native.RawReplies(1)
    assert raw.feed(reply)
    return raw


def test_a_reply_that_is_not_a_read_is_refused() -> None:
    core = NativeBatchCore(config(), dual_write=True)
    with pytest.raises(ValueError, match="not one stream"):
        core.entries(_raw_of(b":1\r\n"))
