"""The shared instruments master against a real redis-server: import, atomic replace, reload."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import threading
import time
import zlib
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis
import structlog

from shared_core.volume_files.cli import main
from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.instruments import InstrumentRegistry
from shared_core.volume_files.instruments_master import MasterRow, master_tables, parse_master
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import keys
from shared_core.volume_files.store.instruments_store import (
    StoredMasterError,
    adopt_shared_master,
    decode_rows,
    import_master,
    load_master_sync,
    master_info,
)
from shared_core.volume_files.stream.instruments_watcher import InstrumentsWatcher
from shared_core.volume_files.stream.producer import publish_sync
from shared_core.volume_files.stream.runtime import VolumeService
from shared_core.volume_files.ticks import TickError
from shared_core.volume_files.unified_engine import AsyncUnifiedVolumeEngine, UnifiedVolumeEngine
from tests import stream_support as ss
from tests.kite_support import (
    EXCHANGE_TIME,
    KITE_MASTER,
    MASTER_ROWS,
    TOKENS,
    full_packet,
    index_packet,
)

pytestmark = pytest.mark.integration

CALENDAR = load_core_config().calendar
ROWS = parse_master(KITE_MASTER, CALENDAR).rows
EXTRA = ("99999,1,NEWLISTING,NEW LISTING LTD,0,,0,0.05,1,EQ,NSE,NSE",)


def _rows_with(*lines: str) -> list[MasterRow]:
    return list(parse_master(KITE_MASTER + "\n".join(lines) + "\n", CALENDAR).rows)


def _import(client: redis.Redis, rows: list[MasterRow]) -> int:
    return import_master(client, rows, source="test.csv", skipped=0, imported_at="now")


def test_import_replaces_the_master_atomically(redis_client: redis.Redis) -> None:
    assert load_master_sync(redis_client) is None
    assert _import(redis_client, list(ROWS)) == 1
    bigger = _rows_with(*EXTRA)
    assert _import(redis_client, bigger) == 2
    stored = load_master_sync(redis_client)
    assert stored is not None
    assert stored.version == 2
    assert dict(stored.tables.instruments) == master_tables(bigger).instruments
    assert stored.tables.tokens == master_tables(bigger).tokens
    blob = redis_client.get(keys.INSTRUMENTS_MASTER_KEY)
    assert isinstance(blob, bytes)
    assert decode_rows(blob) == bigger
    assert master_info(redis_client) == {
        "version": "2", "rows": str(MASTER_ROWS + 1), "tokens": str(MASTER_ROWS + 1),
        "skipped": "0", "source": "test.csv", "imported_at": "now",
    }
    assert sorted(ss.text(k) for k in redis_client.keys("vol:instruments:*")) == [
        keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_MASTER_KEY,  # no staging key left behind
    ]


def test_readers_never_see_a_mix(redis_server: object, redis_client: redis.Redis) -> None:
    small, big = list(ROWS), _rows_with(*EXTRA)
    _import(redis_client, small)
    seen: list[tuple[int, int]] = []
    done, reading = threading.Event(), threading.Event()

    def read() -> None:
        reader = redis.Redis(connection_pool=redis_client.connection_pool)
        while not done.is_set():
            stored = load_master_sync(reader)
            seen.append((stored.version, len(stored.tables.tokens)) if stored else (-1, -1))
            reading.set()

    thread = threading.Thread(target=read)
    thread.start()
    try:
        assert reading.wait(10)
        # At least 40 imports, and on until the reader has overlapped a few: on a loaded
        # machine its thread may get no turn during the first 40.
        for i in range(2000):
            _import(redis_client, big if i % 2 == 0 else small)
            if i >= 40 and len({v for v, _ in seen}) > 3:
                break
    finally:
        done.set()
        thread.join()
    assert len({v for v, _ in seen}) > 3  # the reader did overlap the imports
    for version, rows in seen:  # odd versions hold the small master, even ones the big one
        assert rows == (len(small) if version % 2 else len(big)), (version, rows)


def test_cli_import_reports_bad_lines_and_keeps_a_master_on_a_useless_file(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "instruments.csv.gz"
    dump.write_bytes(gzip.compress(KITE_MASTER.encode()))
    assert main(["--redis-url", redis_url, "instruments", "import", str(dump)]) == 0
    out = capsys.readouterr().out
    assert f"imported {MASTER_ROWS} instruments ({MASTER_ROWS} tokens) as version 1" in out
    assert "skipped line 12: expiry is not a date: '30-12-2025'" in out
    assert "skipped line 14: instrument_token must be a positive integer" in out
    assert master_info(redis_client)["skipped"] == "2"

    useless = tmp_path / "wrong.csv"
    useless.write_text(KITE_MASTER.splitlines()[0] + "\nx,1,A,A,0,,0,0.05,1,EQ,NSE,NSE\n")
    assert main(["--redis-url", redis_url, "instruments", "import", str(useless)]) == 1
    assert "no valid instrument rows, the current master is kept" in capsys.readouterr().err
    missing = tmp_path / "absent.csv"
    assert main(["--redis-url", redis_url, "instruments", "import", str(missing)]) == 1
    stored = load_master_sync(redis_client)
    assert stored is not None
    assert (stored.version, len(stored.tables.tokens)) == (1, MASTER_ROWS)


def test_registry_adopts_the_shared_master(redis_client: redis.Redis) -> None:
    registry = InstrumentRegistry(CALENDAR)
    assert adopt_shared_master(redis_client, registry) is None
    assert registry.tokens == {}
    _import(redis_client, list(ROWS))
    assert adopt_shared_master(redis_client, registry) == 1
    assert registry.tokens == master_tables(ROWS).tokens


async def test_watcher_reloads_on_a_new_version(redis_url: str, redis_client: redis.Redis) -> None:
    client = aredis.from_url(redis_url)
    registry = InstrumentRegistry(CALENDAR)
    watcher = InstrumentsWatcher(client, registry, interval_s=0.05, log=structlog.get_logger())
    try:
        assert not await watcher.check()  # nothing imported yet
        _import(redis_client, list(ROWS))
        assert await watcher.check()
        assert not await watcher.check()  # same version: not reloaded again
        assert registry.symbol_for_token(99999) is None
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        _import(redis_client, _rows_with(*EXTRA))
        started = time.monotonic()
        while registry.symbol_for_token(99999) is None:
            assert time.monotonic() - started < 5, "the watcher did not reload"
            await asyncio.sleep(0.02)
        assert watcher.version == 2
        redis_client.set(keys.INSTRUMENTS_MASTER_KEY, b"garbage")  # a damaged master ...
        redis_client.hincrby(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD, 1)
        while watcher.version != 3:
            assert time.monotonic() - started < 10, "the damaged import was not seen"
            await asyncio.sleep(0.02)
        assert registry.symbol_for_token(99999) == "NEWLISTING"  # ... keeps the last good one
        stop.set()
        await asyncio.wait_for(task, 2)
    finally:
        await client.aclose()


async def test_running_service_picks_up_an_import(
    redis_url: str, redis_client: redis.Redis
) -> None:
    _import(redis_client, list(ROWS))
    settings = dataclasses.replace(
        load_settings(env=ss.core_env()), redis_url=redis_url, stream=ss.STREAM,
        partitions=ss.PARTITIONS,
        group=ss.GROUP, worker_id="w-instruments", metrics_port=0, lease_ttl_ms=1500,
        renew_interval_ms=250, flush_interval_ms=100, block_ms=200, instruments_poll_ms=200,
    )
    service = VolumeService(settings)
    registry = service.core_config.registry
    task = asyncio.create_task(service.run(install_signals=False))
    try:
        started = time.monotonic()
        while not service.owned:  # the master is loaded at start-up, before any partition
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.02)
        assert registry.symbol_for_token(TOKENS["NIFTY 50"]) == "NIFTY 50"
        _import(redis_client, _rows_with(*EXTRA))
        imported = time.monotonic()
        while registry.symbol_for_token(99999) is None:
            assert time.monotonic() - imported < 5, "not picked up within the poll bound"
            await asyncio.sleep(0.02)
    finally:
        service.request_stop()
        await asyncio.wait_for(task, 30)


def test_producers_route_token_ticks_by_symbol(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    _import(redis_client, list(ROWS))
    registry = InstrumentRegistry(CALENDAR)
    adopt_shared_master(redis_client, registry)
    packets = [full_packet(TOKENS["RELIANCE"], 1544.2, quantity=25, cumulative=4_000_000),
               index_packet(TOKENS["NIFTY BANK"], 59210.4)]
    entries = [{"data": json.dumps(p, default=str)} for p in packets]
    assert publish_sync(redis_client, entries, partitions=8, tokens=registry.tokens) == 2
    jsonl = tmp_path / "kite.jsonl"
    jsonl.write_text("".join(json.dumps(p, default=str) + "\n" for p in packets))
    assert main(["--redis-url", redis_url, "publish", "--quiet", str(jsonl)]) == 0
    for symbol in ("RELIANCE", "NIFTY BANK"):
        stream = f"ticks:{zlib.crc32(symbol.encode()) % 8}"
        assert redis_client.xlen(stream) == 2, symbol
    assert sum(redis_client.xlen(f"ticks:{p}") for p in range(8)) == 4


def test_library_engine_shares_the_master(redis_client: redis.Redis) -> None:
    engine = UnifiedVolumeEngine(redis_client)
    packet = full_packet(TOKENS["RELIANCE"], 1544.2, quantity=25, cumulative=4_000_000)
    with pytest.raises(TickError) as info:
        engine.process_tick(None, packet)  # nothing imported yet
    assert info.value.reason == "unknown_instrument"
    _import(redis_client, list(ROWS))
    result = engine.process_tick(None, packet)  # the miss looked again, and found the import
    assert (result["symbol"], result["cumulative_volume"]) == ("RELIANCE", 4_000_000)
    assert engine.core.config.registry.resolve("RELIANCE", EXCHANGE_TIME.date()).tick_size == 0.1
    _import(redis_client, _rows_with(*EXTRA))
    listing = full_packet(99999, 10.0, quantity=5, cumulative=5)
    assert engine.process_tick(None, listing)["symbol"] == "NEWLISTING"


async def test_async_library_engine_shares_the_master(
    redis_url: str, redis_client: redis.Redis
) -> None:
    _import(redis_client, list(ROWS))
    client = aredis.from_url(redis_url, decode_responses=True)
    try:
        engine = AsyncUnifiedVolumeEngine(client)
        result = await engine.process_tick(None, index_packet(TOKENS["INDIA VIX"], 10.2))
        assert (result["symbol"], result["instrument_type"]) == ("INDIA VIX", "index")
        assert result["cumulative_volume"] == 0
    finally:
        await client.aclose()


async def test_a_broken_info_key_is_logged_not_fatal(
    redis_url: str, redis_client: redis.Redis
) -> None:
    client = aredis.from_url(redis_url)
    registry = InstrumentRegistry(CALENDAR)
    watcher = InstrumentsWatcher(client, registry, interval_s=0.05, log=structlog.get_logger())
    try:
        redis_client.set(keys.INSTRUMENTS_INFO_KEY, "not a hash")
        assert not await watcher.check()  # WRONGTYPE: logged
        redis_client.delete(keys.INSTRUMENTS_INFO_KEY)
        redis_client.hset(keys.INSTRUMENTS_INFO_KEY, keys.INSTRUMENTS_VERSION_FIELD, "x")
        assert not await watcher.check()  # not a number: logged
        with pytest.raises(StoredMasterError, match="delete the key"):
            _import(redis_client, list(ROWS))  # refused before anything is written
        assert not redis_client.exists(keys.INSTRUMENTS_MASTER_KEY)
        redis_client.delete(keys.INSTRUMENTS_INFO_KEY)
        _import(redis_client, list(ROWS))
        assert await watcher.check()
        assert registry.symbol_for_token(TOKENS["SENSEX"]) == "SENSEX"
    finally:
        await client.aclose()
