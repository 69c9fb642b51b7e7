"""Leases against a real redis-server: renewing every held lease in one round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aredis

from shared_core.volume_files.store import keys
from shared_core.volume_files.stream.leases import LeaseClient

pytestmark = pytest.mark.integration
STREAM = "ticks-leases"


@pytest.fixture
async def aclient(redis_url: str) -> AsyncIterator[aredis.Redis]:
    client = aredis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_renew_all_renews_what_is_held_and_reports_what_is_lost(
    aclient: aredis.Redis,
) -> None:
    mine = LeaseClient(aclient, STREAM, "w1", 2000)
    held: dict[int, str] = {}
    for partition in (0, 1, 2):
        token = await mine.acquire(partition)
        assert token is not None
        held[partition] = token
    # Partition 1 expired and another worker took it; partition 2 expired and nobody holds it.
    await aclient.delete(keys.lease_key(STREAM, 1), keys.lease_key(STREAM, 2))
    other = LeaseClient(aclient, STREAM, "w2", 2000)
    assert await other.acquire(1) is not None
    await aclient.pexpire(keys.lease_key(STREAM, 0), 100)

    assert await mine.renew_all(held) == {0: True, 1: False, 2: False}
    assert await aclient.pttl(keys.lease_key(STREAM, 0)) > 1000  # renewed to the full TTL
    assert await aclient.exists(keys.lease_key(STREAM, 2)) == 0  # never re-created
    owners = await mine.owners(3)
    assert owners[1] == "w2"
    assert await mine.renew_all({}) == {}
