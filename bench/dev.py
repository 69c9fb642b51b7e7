"""The development-only helpers bench uses from the service package, imported in one place.

Should they move again, only these imports change.
"""

from __future__ import annotations

from shared_core.volume_files.dev.local_redis import RedisServer, free_port
from shared_core.volume_files.dev.sample_data import (
    BINANCE_FILE,
    YESBANK_FILE,
    binance_trades,
    default_data_dir,
    yesbank_ticks,
)

__all__ = [
    "BINANCE_FILE",
    "YESBANK_FILE",
    "RedisServer",
    "binance_trades",
    "default_data_dir",
    "free_port",
    "yesbank_ticks",
]
