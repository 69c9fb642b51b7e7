"""Real-time volume analytics for Indian markets.

The public face is the names existing code imports; they load lazily so that importing a pure
core module (ticks, profiles, baselines) does not pull in the Redis client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .redis_volume_gateway import AsyncRedisVolumeGateway, RedisVolumeGateway
    from .unified_engine import AsyncUnifiedVolumeEngine, UnifiedVolumeEngine
    from .volume_computation_manager import VolumeComputationManager

__all__ = [
    "AsyncRedisVolumeGateway",
    "AsyncUnifiedVolumeEngine",
    "RedisVolumeGateway",
    "UnifiedVolumeEngine",
    "VolumeComputationManager",
    "__version__",
]

_HOMES = {
    "UnifiedVolumeEngine": "unified_engine",
    "AsyncUnifiedVolumeEngine": "unified_engine",
    "RedisVolumeGateway": "redis_volume_gateway",
    "AsyncRedisVolumeGateway": "redis_volume_gateway",
    "VolumeComputationManager": "volume_computation_manager",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
