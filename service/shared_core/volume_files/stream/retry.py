"""Riding out lost Redis connections: what counts as one, and one backoff for every retry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from structlog.typing import FilteringBoundLogger

from ..metrics import ServiceMetrics

RETRYABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
FIRST_DELAY = 0.05  # seconds
MAX_DELAY = 2.0  # short enough that a restarted Redis is back in use within two seconds

_T = TypeVar("_T")


def backoff(first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> Iterator[float]:
    """Delays that double from `first` up to `cap`, then stay there."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


async def retrying(
    op: Callable[[], Awaitable[_T]],
    *,
    metrics: ServiceMetrics,
    log: FilteringBoundLogger,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> _T:
    """Run op until it gets through, counting and logging each connection loss.

    Anything but a connection loss (the fence above all) propagates at once. `pause` waits
    between tries (the runtime's ends early on shutdown; its op then returns at once).
    """
    delays = backoff()
    while True:
        try:
            return await op()
        except RETRYABLE as exc:
            delay = next(delays)
            metrics.reconnects.inc()
            log.warning("redis_unavailable", error=str(exc), retry_in=delay)
            await pause(delay)
