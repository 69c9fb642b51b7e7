"""Every Redis key and field name the service reads or writes.

Users read these keys every second, so they are the contract (README "Output: Redis keys"):
nothing else in the code spells a key. Dates are YYYY-MM-DD in exchange time.
"""

from __future__ import annotations

from datetime import date
from typing import Final

# -- Output keys (the contract) ---------------------------------------------------------------


def session_key(symbol: str, day: date | str) -> str:
    return f"vol:session:{symbol}:{day}"


def baseline_key(symbol: str) -> str:
    return f"vol:baseline:{symbol}"


def poc_key(symbol: str) -> str:
    return f"volume_profile:poc:{symbol}"


def profile_session_key(symbol: str, day: date | str) -> str:
    return f"volume_profile:session:{symbol}:{day}"


def legacy_key(symbol: str) -> str:
    return f"ind:{symbol}"


# -- State behind the output: history the baselines are computed from ------------------------


def history_key(symbol: str) -> str:
    """Hash date -> that session's total volume (running total for the open session)."""
    return f"vol:history:{symbol}"


def minutes_key(symbol: str, day: date | str) -> str:
    """Hash minute-of-session -> volume, for flow rates on restore and learned curves."""
    return f"vol:minutes:{symbol}:{day}"


# -- Streams and the runtime's coordination keys ------------------------------------------------


def stream_key(stream: str, partition: int) -> str:
    return f"{stream}:{partition}"


def dead_letter_key(stream: str) -> str:
    return f"{stream}:dead"


def lease_key(stream: str, partition: int) -> str:
    return f"vol:lease:{stream}:{partition}"


def lease_generation_key(stream: str, partition: int) -> str:
    return f"vol:lease-gen:{stream}:{partition}"


def checkpoint_key(stream: str, partition: int) -> str:
    """Hash with the last entry id whose effects are in Redis (written with the state)."""
    return f"vol:checkpoint:{stream}:{partition}"


def workers_key(stream: str) -> str:
    """Sorted set worker id -> heartbeat expiry (ms, Redis clock): the live members."""
    return f"vol:workers:{stream}"


def worker_health_key(worker_id: str) -> str:
    return f"vol:health:{worker_id}"


MIGRATION_STATS_KEY: Final = "vol:migration:stats"

# Key families, as counted by KeyUsageTracker and the key_writes metric.
FAMILY_UNIFIED: Final = "unified"
FAMILY_LEGACY: Final = "legacy"
FAMILY_PROFILE: Final = "profile"
FAMILY_BASELINE: Final = "baseline"
FAMILY_STATE: Final = "state"
KEY_FAMILIES: Final = (FAMILY_UNIFIED, FAMILY_LEGACY, FAMILY_PROFILE, FAMILY_BASELINE, FAMILY_STATE)

# -- Fields ---------------------------------------------------------------------------------------

SESSION_FIELDS: Final = (
    "symbol",
    "date",
    "cumulative_volume",
    "minutes_elapsed",
    "last_price",
    "tick_count",
    "rvol",
    "rvol_1m",
    "expected_volume",
    "flow_rate_1m",
    "flow_rate_5m",
    "exchange_timestamp",
    "last_ts_ms",
    "last_minute",
    "instrument_type",
)
BASELINE_FIELDS: Final = ("baseline_1min", "avg_volume_20d", "sessions", "fno_adjustment", "is_fno")
POC_FIELDS: Final = (
    "poc_price",
    "poc_volume",
    "value_area_high",
    "value_area_low",
    "profile_strength",
    "exchange_timestamp",
)
PROFILE_SESSION_FIELDS: Final = (
    *POC_FIELDS,
    "total_volume",
    "price_volume_distribution",
    "support_levels",
    "resistance_levels",
)

# Legacy `ind:{symbol}` field -> the unified field it mirrors (README has the table).
LEGACY_FIELDS: Final = {
    "volume": "cumulative_volume",
    "volume_ratio": "rvol",
    "avg_volume": "avg_volume_20d",
    "expected_volume": "expected_volume",
    "last_price": "last_price",
    "volume_per_minute": "flow_rate_1m",
    "volume_per_minute_5m": "flow_rate_5m",
    "tick_count": "tick_count",
    "timestamp": "exchange_timestamp",
}

CHECKPOINT_LAST_ID: Final = "last_id"
DEAD_LETTER_FIELDS: Final = ("reason", "error", "source_id", "source_stream", "payload")

# -- The shared instruments master (`volume-engine instruments import`) ---------------------------

INSTRUMENTS_MASTER_KEY: Final = "vol:instruments:master"  # string: the encoded rows
INSTRUMENTS_INFO_KEY: Final = "vol:instruments:info"  # hash: INSTRUMENTS_INFO_FIELDS
INSTRUMENTS_INFO_FIELDS: Final = ("version", "rows", "tokens", "skipped", "source", "imported_at")
INSTRUMENTS_VERSION_FIELD: Final = "version"  # bumped by every import: what watchers poll


def instruments_staging_key(nonce: str) -> str:
    """Where an import writes its rows before one MULTI renames them into place."""
    return f"vol:instruments:staging:{nonce}"
