"""First-sight loads of both batch cores from the same real Redis state: the same symbols
adopted (or the same error), then byte-identical writes for the same ticks.

The native core reads every hash in Rust and defers what is not this service's own text
(odd integers, other date forms, float volumes in a profile, missing fields) to the Python
reference; the random states below mix both, with and without learned curves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, cast

import pytest
import redis
import redis.asyncio as aredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.typing import EncodableT, FieldT

from shared_core.volume_files import cores
from shared_core.volume_files.engine_core import SymbolHistory
from shared_core.volume_files.store import keys
from shared_core.volume_files.store.loader import LoadSteps
from shared_core.volume_files.store.replies import exchange
from shared_core.volume_files.store.resp import Commands
from shared_core.volume_files.stream.batch_core import PythonBatchCore, StreamEntry, TickBatchCore
from shared_core.volume_files.stream.partitions import reroute
from tests.redis_server import RedisServer

if not cores.native_available():
    if os.environ.get("VOLUME_REQUIRE_NATIVE") == "1":
        raise AssertionError("VOLUME_REQUIRE_NATIVE=1 but the native core is not built")
    pytest.skip("the native core (_native.PartitionCore) is not built", allow_module_level=True)

from shared_core.volume_files.stream.native_batch_core import NativeBatchCore
from tests.unit.test_native_batch_core import SYMBOLS, _ts, config, run_batch, same_writes

pytestmark = pytest.mark.integration

TODAY = date(2025, 1, 8)


def _day(back: int) -> str:
    return (TODAY - timedelta(days=back)).isoformat()


INTS = st.integers(0, 10**9).map(str) | st.sampled_from(["007", " 12", "+5", "1_000", "x", "-3"])
PRICES = st.sampled_from(["612.35", "24000", "0.05", "1e3", "inf", " 2.5", "nan", "1_0.5"])


@st.composite
def symbol_state(draw: st.DrawFn, symbol: str) -> dict[str, dict[str, str]]:
    """The hashes Redis holds for one symbol: history, and the latest day's session, minutes
    and profile, plus older minutes; mostly what the service writes, sometimes not."""
    days = draw(st.lists(st.integers(0, 8), max_size=6, unique=True))
    history = {_day(d): draw(INTS) for d in days}
    if days and draw(st.integers(0, 9)) == 0:
        history[draw(st.sampled_from(["20250101", "2025-02-30", "yesterday"]))] = "5"
    out: dict[str, dict[str, str]] = {}
    if history:
        out[keys.history_key(symbol)] = history
    if not days:
        return out
    latest = _day(min(days))
    if draw(st.booleans()):
        session = {"cumulative_volume": draw(INTS), "tick_count": draw(INTS),
                   "last_price": draw(PRICES), "last_ts_ms": "1736135100000",
                   "last_minute": draw(st.sampled_from(["0", "12", "374"]))}
        if draw(st.integers(0, 5)) == 0:
            del session[draw(st.sampled_from(sorted(session)))]
        spot = draw(st.sampled_from([None, "", "24012.4", "nan"]))
        if spot is not None:
            session["underlying_price"] = spot
        out[keys.session_key(symbol, latest)] = session
    minutes = {str(m): draw(st.integers(0, 900).map(str) | st.just("01"))
               for m in draw(st.lists(st.integers(-2, 380), max_size=5, unique=True))}
    if minutes:
        out[keys.minutes_key(symbol, latest)] = minutes
    if draw(st.booleans()):
        levels = {f"{612 + i * 0.05:.2f}": draw(st.integers(1, 500)) for i in range(3)}
        odd = draw(st.sampled_from([None, 1.5, "7", "{"]))
        text = json.dumps(levels) if odd is None else (
            "{" if odd == "{" else json.dumps({**levels, "612.00": odd}))
        out[keys.profile_session_key(symbol, latest)] = {"price_volume_distribution": text}
    for d in days:
        if _day(d) != latest and draw(st.booleans()):
            out[keys.minutes_key(symbol, _day(d))] = {"10": draw(INTS), "11": "0"}
    return out


@st.composite
def states(draw: st.DrawFn) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for symbol in SYMBOLS:
        out |= draw(symbol_state(symbol))
    return out


def _load(core: TickBatchCore, url: str, first: dict[str, int], days: int,
          *, raw: bool = True) -> str | None:
    """Run the core's load steps against Redis; the error's type, if it raised. Without
    `raw`, every reply reaches the core as hiredis's objects."""
    async def drive() -> None:
        client = aredis.from_url(url, db=1)
        try:
            steps: LoadSteps = core.load_steps(first, days)
            try:
                request = next(steps)
                while True:
                    if not raw:
                        request = dataclasses.replace(request, raw=False)
                    replies: Any = await exchange(client, request)
                    request = steps.send(replies)
            except StopIteration:
                return
        finally:
            await client.aclose()
    try:
        asyncio.run(drive())
    except Exception as exc:  # the error is the outcome compared
        return type(exc).__name__
    return None


def _entries(start: int) -> Iterator[StreamEntry]:
    for i, symbol in enumerate(SYMBOLS * 3):
        day = TODAY if i % 3 else TODAY - timedelta(days=1)
        yield StreamEntry(f"{1736300000000 + start + i}-0", {
            b"symbol": symbol.encode(), b"price": b"612.4", b"volume": str(10 + i).encode(),
            b"timestamp": _ts(day, 30 + i).encode()})


def _seed(client: redis.Redis, state: dict[str, dict[str, str]]) -> None:
    for key, fields in state.items():
        mapping: dict[FieldT, EncodableT] = {}
        mapping.update(fields)
        client.hset(key, mapping=mapping)


@pytest.fixture(scope="module")
def store(redis_server: RedisServer) -> Iterator[tuple[redis.Redis, str]]:
    client = redis_server.client(db=1)
    yield client, redis_server.url
    client.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(state=states(), learned=st.booleans(), days=st.sampled_from([0, 3]))
def test_both_cores_load_the_same_state_alike(
    store: tuple[redis.Redis, str], state: dict[str, dict[str, str]], learned: bool, days: int,
) -> None:
    client, url = store
    client.flushdb()
    _seed(client, state)
    cfg = config(learned)
    python = PythonBatchCore(cfg, dual_write=True)
    native = NativeBatchCore(cfg, dual_write=True)
    objects = NativeBatchCore(cfg, dual_write=True)  # the replies as objects, not bytes
    entries = list(_entries(0))
    first = python.stage(entries)
    assert native.stage(entries) == first
    assert objects.stage(entries) == first
    outcome = _load(python, url, first, days)
    assert _load(native, url, first, days) == outcome
    assert _load(objects, url, first, days, raw=False) == outcome
    if outcome is not None:
        return  # the reference raised (a missing session field): both refuse alike
    assert len(python) == len(native) == len(objects) == len(first)
    out_p, out_n = python.apply_staged(), native.apply_staged()
    assert (out_p.applied, [r.error for r in out_p.rejects]) == (
        out_n.applied, [r.error for r in out_n.rejects])
    objects.apply_staged()
    writes = native.drain_writes().writes
    same_writes(python.drain_writes().writes, writes)
    same_writes(objects.drain_writes().writes, writes)
    # And they go on alike: another batch on the loaded symbols.
    run_batch(python, native, list(_entries(100)), {})  # nothing new to load
    same_writes(python.drain_writes().writes, native.drain_writes().writes)


def test_a_retried_load_adopts_nothing_twice(store: tuple[redis.Redis, str]) -> None:
    """Steps abandoned after the first round trip (a lost connection) start again cleanly."""
    client, url = store
    client.flushdb()
    client.hset(keys.history_key("SBIN"), mapping={_day(1): "1000", _day(2): "900"})
    python = PythonBatchCore(config(), dual_write=True)
    native = NativeBatchCore(config(), dual_write=True)
    entries = list(_entries(0))
    first = native.stage(entries)
    assert python.stage(entries) == first
    steps = native.load_steps(first, 0)
    next(steps)
    steps.close()  # abandoned: nothing adopted
    assert len(native) == 0
    assert _load(native, url, first, 0) is None
    assert len(native) == len(first)
    assert _load(native, url, first, 0) is None  # everything held: nothing read, nothing lost
    assert len(native) == len(first)
    assert _load(python, url, first, 0) is None
    out_p, out_n = python.apply_staged(), native.apply_staged()
    assert (out_p.applied, len(out_p.rejects)) == (out_n.applied, len(out_n.rejects))
    same_writes(python.drain_writes().writes, native.drain_writes().writes)


def test_state_the_service_wrote_is_read_natively_in_two_round_trips(
    store: tuple[redis.Redis, str],
) -> None:
    """What a flush stored (sessions, minutes, profiles, history of both days) is the native
    reader's own text: no symbol goes to the reference, so the steps end after phase two."""
    client, url = store
    client.flushdb()
    writer = PythonBatchCore(config(learned=True), dual_write=True)
    entries = list(_entries(0))
    for symbol, ts in writer.stage(entries).items():
        writer.load(symbol, SymbolHistory(), ts)
    writer.apply_staged()
    state: dict[str, dict[str, str]] = {}
    for w in writer.drain_writes().writes:
        state.setdefault(w.key, {}).update(w.fields)
    _seed(client, state)
    python = PythonBatchCore(config(learned=True), dual_write=True)
    native = NativeBatchCore(config(learned=True), dual_write=True)
    later = list(_entries(500))
    first = native.stage(later)
    assert python.stage(later) == first
    requests = []

    async def drive() -> None:
        conn = aredis.from_url(url, db=1)
        steps = native.load_steps(first, 3)
        try:
            request = next(steps)
            while True:
                requests.append(request.count)
                request = steps.send(await exchange(conn, request))
        except StopIteration:
            pass
        finally:
            await conn.aclose()
    asyncio.run(drive())
    # History; then session, minutes and profile, and the recent days' minutes: no third.
    assert len(requests) == 2
    assert requests[0] == len(first)
    assert requests[1] > 3 * len(first)
    assert _load(python, url, first, 3) is None
    out_p, out_n = python.apply_staged(), native.apply_staged()
    assert (out_p.applied, len(out_p.rejects)) == (out_n.applied, len(out_n.rejects))
    same_writes(python.drain_writes().writes, native.drain_writes().writes)


# -- loading ahead ---------------------------------------------------------------------------


def _read_raw(client: redis.Redis, url: str, core: NativeBatchCore,
              batches: list[list[StreamEntry]]) -> list[Any]:
    """Each batch as a worker reads it: added to a stream, then read back by XREADGROUP as the
    reply's bytes (`RawBatch`), one read per batch."""
    stream, group = "ahead:stream", "ahead"
    client.delete(stream)
    client.xgroup_create(stream, group, id="0", mkstream=True)
    for batch in batches:
        for entry in batch:
            client.xadd(stream, dict(entry.fields), id=entry.entry_id)  # type: ignore[arg-type]

    async def read() -> list[Any]:
        conn = aredis.from_url(url, db=1)
        try:
            out = []
            for batch in batches:
                command = ("XREADGROUP", "GROUP", group, "c", "COUNT", str(len(batch)),
                           "STREAMS", stream, ">")
                out.append(core.entries(await exchange(conn, Commands.of([command], raw=True))))
            return out
        finally:
            await conn.aclose()

    return asyncio.run(read())


def _run(steps: LoadSteps | None, url: str) -> None:
    """Drive load steps against Redis, as the worker does."""
    async def drive() -> None:
        if steps is None:
            return
        conn = aredis.from_url(url, db=1)
        try:
            request = next(steps)
            while True:
                request = steps.send(await exchange(conn, request))
        except StopIteration:
            return
        finally:
            await conn.aclose()
    asyncio.run(drive())


def _batches() -> tuple[list[StreamEntry], list[StreamEntry]]:
    """A first batch of two symbols, then a batch of every symbol (those two again too)."""
    return _of(_entries(0), "SBIN", "NIFTY25JANFUT"), list(_entries(100))


def _of(entries: Iterator[StreamEntry], *symbols: str) -> list[StreamEntry]:
    """The entries of these symbols (`_entries` makes their fields a dict of bytes)."""
    wanted = {s.encode() for s in symbols}
    return [e for e in entries if cast(dict[bytes, bytes], e.fields)[b"symbol"] in wanted]


def _reference(cfg: Any, url: str, batches: tuple[list[StreamEntry], ...],
               days: int) -> tuple[str | None, PythonBatchCore]:
    python = PythonBatchCore(cfg, dual_write=True)
    for batch in batches:
        outcome = _load(python, url, python.stage(batch), days)
        if outcome is not None:
            return outcome, python
        python.apply_staged()
    return None, python


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(state=states(), learned=st.booleans(), days=st.sampled_from([0, 3]),
       when=st.sampled_from(["before_stage", "after_stage", "after_load"]))
def test_a_load_ahead_ends_as_the_batchs_own_load_would(
    store: tuple[redis.Redis, str], state: dict[str, dict[str, str]], learned: bool, days: int,
    when: str,
) -> None:
    """The next batch's symbols read ahead at any point of this batch (while its own load is
    under way, or before it applies), then adopted when the next batch stages: the same
    symbols, the same error, byte-identical writes as loading each batch itself. Read before
    this batch stages, the reading is not that stage's batch's: dropped, and the next batch
    loads itself, with the same end."""
    client, url = store
    client.flushdb()
    _seed(client, state)
    cfg = config(learned)
    batch0, batch1 = _batches()
    expected, python = _reference(cfg, url, (batch0, batch1), days)
    native = NativeBatchCore(cfg, dual_write=True)
    raw0, raw1 = _read_raw(client, url, native, [batch0, batch1])

    def ahead() -> None:
        try:
            _run(native.load_ahead_steps(raw1, days), url)
        except Exception:  # as the worker: a failed load ahead is dropped, the batch loads
            native.forget_ahead()

    def outcome() -> str | None:
        if when == "before_stage":
            ahead()
        first = native.stage(raw0)
        if when == "after_stage":
            ahead()
        if (error := _load(native, url, first, days)) is not None:
            return error
        if when == "after_load":
            ahead()
        native.apply_staged()
        try:
            first = native.stage(raw1)  # adopts what was read ahead
        except Exception as exc:  # an error adopting is the batch's load's error
            return type(exc).__name__
        if when != "before_stage":  # adopted: nothing read ahead is loaded again
            assert not set(first) & {s for s in SYMBOLS if s in native._core}
        if (error := _load(native, url, first, days)) is not None:
            return error
        native.apply_staged()
        return None

    assert outcome() == expected
    if expected is None:
        assert len(native) == len(python)
        same_writes(python.drain_writes().writes, native.drain_writes().writes)


def test_what_is_read_ahead_is_only_the_next_batchs_own_new_symbols(
    store: tuple[redis.Redis, str],
) -> None:
    """Not the symbols held, not those of the load under way, not another partition's; and a
    new instruments master before the batch stages drops the reading: it loads itself."""
    client, url = store
    client.flushdb()
    client.hset(keys.history_key("SBIN"), mapping={_day(1): "1000", _day(2): "900"})
    cfg = config()
    batch0, batch1 = _batches()
    native = NativeBatchCore(cfg, dual_write=True)
    raw0, raw1 = _read_raw(client, url, native, [batch0, batch1])
    first0 = native.stage(raw0)
    assert set(first0) == {"SBIN", "NIFTY25JANFUT"}
    steps = native.load_ahead_steps(raw1, 0)
    assert steps is not None
    request = next(steps)
    assert request.count == len(SYMBOLS) - 2  # the load under way's two are left out
    steps.close()
    native.forget_ahead()
    assert _load(native, url, first0, 0) is None
    native.apply_staged()
    _run(native.load_ahead_steps(raw1, 0), url)
    assert set(native.stage(raw1)) == set()  # every new symbol was read ahead and adopted
    assert len(native) == len(SYMBOLS)
    assert native.load_ahead_steps(raw1, 0) is None  # all held: nothing to read

    # Another partition's symbols are not read: with two partitions, only this one's.
    other = NativeBatchCore(cfg, dual_write=True, partition=0, partitions=2)
    raw0, raw1 = _read_raw(client, url, other, [batch0, batch1])
    assert other.load_ahead_steps(raw1, 0) is None  # no batch staged yet: its own load reads
    other.stage(raw0)
    steps = other.load_ahead_steps(raw1, 0)
    assert steps is not None
    owned = {s for s in SYMBOLS if reroute(s, 0, 2) is None}
    assert next(steps).count == len(owned - {"SBIN", "NIFTY25JANFUT"})
    steps.close()

    # A new master between the reading and the stage: nothing adopted, the batch loads it all.
    fresh = NativeBatchCore(cfg, dual_write=True)
    raw0, raw1 = _read_raw(client, url, fresh, [batch0, batch1])
    assert _load(fresh, url, fresh.stage(raw0), 0) is None
    fresh.apply_staged()
    _run(fresh.load_ahead_steps(raw1, 0), url)
    cfg.registry.replace_master({}, {})
    assert set(fresh.stage(raw1)) == set(SYMBOLS) - {"SBIN", "NIFTY25JANFUT"}


def test_a_symbol_held_by_the_time_a_load_ahead_lands_keeps_its_state(
    store: tuple[redis.Redis, str],
) -> None:
    """The core's own guard (`finish_loads`): a load ahead that read SBIN, adopted after a
    load of SBIN and ticks that moved it, leaves SBIN as they made it (restoring it would
    undo them). The batch core pairs a reading with its batch, so this is the last line."""
    client, url = store
    client.flushdb()
    session = {"cumulative_volume": "5000", "tick_count": "7", "last_price": "612.35",
               "last_ts_ms": "1736313000000", "last_minute": "12"}
    _seed(client, {keys.history_key("SBIN"): {_day(0): "5000", _day(1): "9000"},
                   keys.session_key("SBIN", _day(0)): session,
                   keys.minutes_key("SBIN", _day(0)): {"12": "5000"}})
    batch0 = _of(_entries(0), "SBIN")[1:]  # today's ticks
    batch1 = _of(_entries(100), "SBIN")
    native = NativeBatchCore(config(), dual_write=True)
    raw0, raw1 = _read_raw(client, url, native, [batch0, batch1])
    first = native.stage(raw0)
    assert first == {"SBIN": first["SBIN"]}
    core = native._core

    def read_ahead() -> Any:  # the two round trips on the load-ahead slot
        async def drive() -> Any:
            conn = aredis.from_url(url, db=1)
            try:
                request = Commands(*core.plan_loads(native._facts(first), ahead=True), raw=True)
                payload, count, _ = core.read_histories(await exchange(conn, request), 0,
                                                        ahead=True)
                return await exchange(conn, Commands(payload, count, raw=True))
            finally:
                await conn.aclose()
        return asyncio.run(drive())

    replies = read_ahead()
    assert _load(native, url, first, 0) is None  # the batch's own load adopts SBIN
    native.apply_staged()
    assert core.finish_loads(replies, ahead=True) == []  # SBIN is held: left as it is
    assert native.stage(raw1) == {}
    native.apply_staged()
    expected, python = _reference(config(), url, (batch0, batch1), 0)
    assert expected is None
    same_writes(python.drain_writes().writes, native.drain_writes().writes)
