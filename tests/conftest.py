"""Shared fixtures: a real redis-server per test module, flushed between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, settings

from tests.redis_server import RedisServer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# No property test is a timed test: on a loaded 2-core machine (a build beside the suite) an
# example can outlast hypothesis's 200 ms deadline, or its data generation its "too slow"
# check, without anything being wrong. Examples and their count are hypothesis's defaults.
settings.register_profile(
    "untimed", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("untimed")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis_server.client(db=0)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str, redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client(db=1)
    yield client
    client.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared sample data not found at {SHARED_DATA} (a clone without ../shared)")
    return SHARED_DATA
