"""The test suite's private redis-server: the package's implementation, re-exported.

One implementation (shared_core.volume_files.dev.local_redis) serves the tests, the demo and the
benchmarks; existing imports of `tests.redis_server` keep working.
"""

from __future__ import annotations

from shared_core.volume_files.dev.local_redis import (
    INSTALL_HINT,
    RedisServer,
    RedisServerNotFoundError,
    find_redis_server,
    free_port,
)

__all__ = [
    "INSTALL_HINT", "RedisServer", "RedisServerNotFoundError", "find_redis_server", "free_port",
]
