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
from typing import Any

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
from shared_core.volume_files.stream.batch_core import PythonBatchCore, StreamEntry, TickBatchCore
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
