"""One backoff for every retry of a lost Redis connection."""

from __future__ import annotations

from itertools import islice

import pytest
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from shared_core.volume_files.metrics import ServiceMetrics
from shared_core.volume_files.stream.retry import MAX_DELAY, backoff, retrying


def test_delays_double_up_to_the_cap() -> None:
    assert list(islice(backoff(0.05, 0.3), 5)) == [0.05, 0.1, 0.2, 0.3, 0.3]
    assert max(islice(backoff(), 50)) == MAX_DELAY


async def test_connection_losses_are_retried_and_counted() -> None:
    metrics = ServiceMetrics()
    calls: list[int] = []
    pauses: list[float] = []

    async def op() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise RedisConnectionError("gone")
        return "ok"

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    got = await retrying(op, metrics=metrics, log=structlog.get_logger(), pause=pause)
    assert got == "ok"
    assert pauses == [0.05, 0.1, 0.2]
    assert metrics.registry.get_sample_value("volume_engine_redis_reconnects_total") == 3


async def test_other_errors_propagate_at_once() -> None:
    async def op() -> None:
        raise ResponseError("FENCED lease lost")

    with pytest.raises(ResponseError):
        await retrying(op, metrics=ServiceMetrics(), log=structlog.get_logger())
