"""The legacy adapter: old callers' `calculate_volume_metrics` on top of the unified engine.

Existing consumers call `VolumeComputationManager(redis).calculate_volume_metrics(symbol, tick)`
and read a flat dict with the old indicator names. This keeps that call working while the
numbers come from the same engine (and the same Redis writes) as everything else, so the
legacy view and the unified keys can never disagree.

The dict it returns (keys are `keys.LEGACY_FIELDS` plus `symbol` and `incremental_volume`;
None where a value cannot be computed yet, never inf, nan or a fake 0):

| key | type | meaning |
|---|---|---|
| `symbol` | str | the symbol as given (stripped) |
| `volume` | int | session cumulative volume (`cumulative_volume`) |
| `incremental_volume` | int | volume this tick added (0 for a stale cumulative or price update) |
| `volume_ratio` | float or None | RVOL = cumulative / expected volume (`rvol`) |
| `avg_volume` | float or None | mean daily volume of up to 20 earlier sessions (`avg_volume_20d`) |
| `expected_volume` | float or None | expected cumulative volume by now (`expected_volume`) |
| `last_price` | float | last traded price (`last_price`) |
| `volume_per_minute` | float | volume in the current exchange minute (`flow_rate_1m`) |
| `volume_per_minute_5m` | float | mean volume per minute over the last 5 minutes (`flow_rate_5m`) |
| `tick_count` | int | ticks applied this session (`tick_count`) |
| `timestamp` | str | latest exchange time, ISO 8601 with +05:30 (`exchange_timestamp`) |

Numbers are full precision; `ind:{symbol}` (when dual-write is on) holds the same values
rounded to plain decimal strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from .store import keys
from .store.codec import fmt_timestamp
from .unified_engine import UnifiedVolumeEngine

# The unified result entry behind each legacy field, as a path into `process_tick`'s dict.
_RESULT_PATHS: dict[str, tuple[str, ...]] = {
    "cumulative_volume": ("cumulative_volume",),
    "rvol": ("ratios", "cumulative"),
    "avg_volume_20d": ("baseline", "avg_volume_20d"),
    "expected_volume": ("expected_volume",),
    "last_price": ("last_price",),
    "flow_rate_1m": ("flow_rates", "1m"),
    "flow_rate_5m": ("flow_rates", "5m"),
    "tick_count": ("tick_count",),
}


def _lookup(result: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = result
    for part in path:
        if value is None:
            return None
        value = value[part]
    return value


def legacy_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """The legacy dict for one `UnifiedVolumeEngine.process_tick` result (pure)."""
    out: dict[str, Any] = {
        "symbol": result["symbol"],
        "incremental_volume": result["incremental_volume"],
    }
    for old, new in keys.LEGACY_FIELDS.items():
        if new == "exchange_timestamp":
            out[old] = fmt_timestamp(result["exchange_timestamp_ms"])
        else:
            out[old] = _lookup(result, _RESULT_PATHS[new])
    return out


class VolumeComputationManager:
    """Drop-in for the old manager: one tick in, the legacy metrics dict out, Redis updated.

    Keyword arguments go to UnifiedVolumeEngine (settings, core_config, dual_write, key_usage).
    """

    def __init__(self, redis_client: redis.Redis, **engine_kwargs: Any) -> None:
        self.engine = UnifiedVolumeEngine(redis_client, **engine_kwargs)

    def calculate_volume_metrics(
        self, symbol: str | None, tick_data: Mapping[str, object]
    ) -> dict[str, Any]:
        """Apply one tick and return the legacy dict.

        Raises TickError (a ValueError) for an invalid tick and StaleSessionError for a tick
        dated before the symbol's open session: the old manager's silent `{}` hid lost ticks.
        """
        return legacy_metrics(self.engine.process_tick(symbol, tick_data))
