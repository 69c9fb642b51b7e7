"""Raw KiteTicker ticks through the running service.

Skipped until the partition worker passes the master's tokens and the entry id's time to
`parse_entry` (PartitionConfig.timestamp_from_entry_id; the wiring is the stream owner's).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any, cast

import pytest
import redis

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.instruments import InstrumentRegistry
from shared_core.volume_files.instruments_master import parse_master
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import keys
from shared_core.volume_files.store.instruments_store import adopt_shared_master, import_master
from shared_core.volume_files.stream.producer import publish_sync
from shared_core.volume_files.stream.runtime import VolumeService
from tests import stream_support as ss
from tests.kite_support import (
    KITE_MASTER,
    TOKENS,
    full_packet,
    index_packet,
    ltp_packet,
    quote_packet,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("from_entry_id", [False, True])
async def test_kite_packets_through_the_service(
    redis_url: str, redis_client: redis.Redis, from_entry_id: bool
) -> None:
    calendar = load_core_config().calendar
    import_master(redis_client, parse_master(KITE_MASTER, calendar).rows, source="t",
                  skipped=0, imported_at="now")
    registry = InstrumentRegistry(calendar)
    adopt_shared_master(redis_client, registry)
    packets = [
        full_packet(TOKENS["RELIANCE"], 1544.2, quantity=25, cumulative=4_000_000),
        index_packet(TOKENS["NIFTY 50"], 25910.35),
        full_packet(4_242_424, 10.0, quantity=1, cumulative=1),  # unknown token
    ]
    late = [quote_packet(TOKENS["RELIANCE"], 1544.3, quantity=5, cumulative=4_000_500),
            ltp_packet(TOKENS["NIFTY 50"], 25911.0)]
    publish_sync(redis_client, [{"data": json.dumps(p, default=str)} for p in packets + late],
                 stream=ss.STREAM, partitions=ss.PARTITIONS, tokens=registry.tokens)
    settings = dataclasses.replace(
        load_settings(env=ss.core_env()), redis_url=redis_url, stream=ss.STREAM,
        partitions=ss.PARTITIONS,
        group=ss.GROUP, worker_id="w-kite", metrics_port=0, lease_ttl_ms=1500,
        renew_interval_ms=250, flush_interval_ms=100, block_ms=200,
        timestamp_from_entry_id=from_entry_id,
    )
    service = VolumeService(settings)
    task = asyncio.create_task(service.run(install_signals=False))
    try:
        await asyncio.to_thread(ss.wait_consumed, redis_client)
    finally:
        service.request_stop()
        await asyncio.wait_for(task, 30)
    # the quote tick (no timestamp) lands on the entry's own day: today, by Redis's clock
    today = calendar.trading_date(int(time.time() * 1000))
    reliance = ss.dump_state(redis_client)[keys.session_key("RELIANCE", "2025-12-09")]
    assert isinstance(reliance, dict)
    assert reliance["cumulative_volume"] == "4000000"
    nifty = redis_client.hgetall(keys.session_key("NIFTY 50", "2025-12-09"))
    assert nifty[b"cumulative_volume"] == b"0"
    assert nifty[b"instrument_type"] == b"index"
    dead = [{ss.text(k): ss.text(v) for k, v in fields.items()}
            for _, fields in cast(Any, redis_client.xrange(keys.dead_letter_key(ss.STREAM)))]
    reasons = sorted(letter["reason"] for letter in dead)
    if from_entry_id:
        assert reasons == ["unknown_instrument"]
        assert redis_client.exists(keys.session_key("RELIANCE", today.isoformat()))
    else:
        assert reasons == ["missing_field", "missing_field", "unknown_instrument"]
    [unknown] = [letter for letter in dead if letter["reason"] == "unknown_instrument"]
    assert "4242424" in unknown["error"]
