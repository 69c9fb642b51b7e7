"""Real-time volume analytics for Indian markets.

The public face is three names that existing code imports; everything else is reachable through
its module.
"""

from __future__ import annotations

__all__ = ["RedisVolumeGateway", "UnifiedVolumeEngine", "VolumeComputationManager"]
__version__ = "0.1.0"
