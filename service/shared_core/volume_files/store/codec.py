"""Snapshots to hash fields and back: the one place a number becomes a Redis string.

Numbers are plain decimal strings (no exponent, never inf/nan); a ratio that cannot be computed
is left out. Prices keep their shortest exact repr so a restore reads back the same float.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import orjson

from ..baseline_service import Baseline
from ..engine_core import SymbolHistory, SymbolSnapshot
from ..session_tracker import SessionState
from . import keys

_IST = timezone(timedelta(hours=5, minutes=30))

Fields = dict[str, str]


@dataclass(frozen=True, slots=True)
class HashWrite:
    """HSET these fields, then HDEL `absent`: optional fields that cannot be computed now."""

    key: str
    family: str
    fields: Fields
    absent: tuple[str, ...] = ()


def fmt_int(value: int) -> str:
    return str(int(value))


def fmt_float(value: float, digits: int = 6) -> str:
    """Plain decimal, rounded to `digits`, no exponent, no trailing zeros."""
    if not math.isfinite(value):
        raise ValueError(f"refusing to write non-finite number {value!r}")
    text = f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_price(value: float) -> str:
    """Shortest repr that reads back the same float, in plain decimal form."""
    if not math.isfinite(value):
        raise ValueError(f"refusing to write non-finite price {value!r}")
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")  # exact digits of the repr, without the exponent
    return text[:-2] if text.endswith(".0") else text


def fmt_timestamp(ts_ms: int) -> str:
    """ISO 8601 in exchange time with its offset, millisecond precision."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(_IST)
    return moment.isoformat(timespec="milliseconds")


def _levels_json(levels: list[float]) -> str:
    return orjson.dumps(levels).decode()


def baseline_fields(
    baseline: Baseline | None, *, fno_adjustment: float, is_fno: bool
) -> Fields:
    """The `vol:baseline:{symbol}` hash; the engine and the history import both write it."""
    fields: Fields = {
        "sessions": fmt_int(baseline.sessions if baseline is not None else 0),
        "fno_adjustment": fmt_float(fno_adjustment),
        "is_fno": "1" if is_fno else "0",
    }
    if baseline is not None:
        fields["baseline_1min"] = fmt_float(baseline.baseline_1min, 3)
        fields["avg_volume_20d"] = fmt_float(baseline.avg_volume_20d, 3)
    return fields


def _optional(fields: Fields, values: dict[str, str | None]) -> tuple[str, ...]:
    """Set the computable optional fields; name the others so a stale value is removed."""
    absent = []
    for name, value in values.items():
        if value is None:
            absent.append(name)
        else:
            fields[name] = value
    return tuple(absent)


def snapshot_writes(snap: SymbolSnapshot, *, dual_write: bool) -> list[HashWrite]:
    """Every hash write one snapshot implies, in a fixed order."""
    s = snap.session
    symbol = snap.symbol
    day = s.date.isoformat()
    stamp = fmt_timestamp(s.last_ts_ms)
    session: Fields = {
        "symbol": symbol,
        "date": day,
        "cumulative_volume": fmt_int(s.cumulative_volume),
        "minutes_elapsed": fmt_float(snap.minutes_elapsed, 3),
        "last_price": fmt_price(s.last_price),
        "tick_count": fmt_int(s.tick_count),
        "flow_rate_1m": fmt_float(snap.flow_rate_1m, 3),
        "flow_rate_5m": fmt_float(snap.flow_rate_5m, 3),
        "exchange_timestamp": stamp,
        "last_ts_ms": fmt_int(s.last_ts_ms),
        "last_minute": fmt_int(s.last_minute),
        "instrument_type": snap.instrument.kind.value,
    }
    session_absent = _optional(session, {
        "rvol": None if snap.rvol is None else fmt_float(snap.rvol),
        "rvol_1m": None if snap.rvol_1m is None else fmt_float(snap.rvol_1m),
        "expected_volume": (
            None if snap.expected_volume is None else fmt_float(snap.expected_volume, 3)
        ),
    })
    writes = [
        HashWrite(keys.session_key(symbol, day), keys.FAMILY_UNIFIED, session, session_absent)
    ]

    baseline = snap.baseline
    if snap.baseline_changed or snap.instrument.is_fno:
        base = baseline_fields(
            baseline, fno_adjustment=snap.fno_adjustment, is_fno=snap.instrument.is_fno
        )
        absent = () if baseline is not None else ("baseline_1min", "avg_volume_20d")
        writes.append(HashWrite(keys.baseline_key(symbol), keys.FAMILY_BASELINE, base, absent))

    profile = snap.profile
    if profile is not None:
        poc: Fields = {
            "poc_price": fmt_price(profile.poc_price),
            "poc_volume": fmt_int(profile.poc_volume),
            "value_area_high": fmt_price(profile.value_area_high),
            "value_area_low": fmt_price(profile.value_area_low),
            "profile_strength": fmt_float(profile.profile_strength),
            "exchange_timestamp": stamp,
        }
        writes.append(HashWrite(keys.poc_key(symbol), keys.FAMILY_PROFILE, poc))
        writes.append(HashWrite(keys.profile_session_key(symbol, day), keys.FAMILY_PROFILE, {
            **poc,
            "total_volume": fmt_int(profile.total_volume),
            "price_volume_distribution": orjson.dumps(profile.distribution).decode(),
            "support_levels": _levels_json(profile.support_levels),
            "resistance_levels": _levels_json(profile.resistance_levels),
        }))

    if dual_write:
        unified = {**session}
        if baseline is not None:
            unified["avg_volume_20d"] = fmt_float(baseline.avg_volume_20d, 3)
        legacy = {old: unified[new] for old, new in keys.LEGACY_FIELDS.items() if new in unified}
        missing = tuple(old for old in keys.LEGACY_FIELDS if old not in legacy)
        writes.append(HashWrite(keys.legacy_key(symbol), keys.FAMILY_LEGACY, legacy, missing))

    writes.append(HashWrite(keys.history_key(symbol), keys.FAMILY_STATE,
                            {day: fmt_int(s.cumulative_volume)}))
    if snap.dirty_minutes:
        writes.append(HashWrite(keys.minutes_key(symbol, day), keys.FAMILY_STATE,
                                {str(m): fmt_int(v) for m, v in snap.dirty_minutes.items()}))
    return writes


# -- Reading state back -----------------------------------------------------------------------


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


RawHash = Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str]


def decode_hash(raw: RawHash) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def parse_history(raw: dict[str, str]) -> dict[date, int]:
    return {date.fromisoformat(k): int(v) for k, v in raw.items()}


def parse_minutes(raw: dict[str, str]) -> dict[int, int]:
    return {int(k): int(v) for k, v in raw.items() if int(v) > 0}


def restore_session(day: date, raw: dict[str, str], minutes: dict[int, int]) -> SessionState:
    return SessionState(
        date=day,
        cumulative_volume=int(raw["cumulative_volume"]),
        tick_count=int(raw["tick_count"]),
        last_price=float(raw["last_price"]),
        last_ts_ms=int(raw["last_ts_ms"]),
        last_minute=int(raw["last_minute"]),
        minute_volumes=minutes,
    )


def build_history(
    history: dict[str, str],
    session: dict[str, str],
    minutes: dict[str, str],
    profile: dict[str, str],
    minute_history: dict[date, dict[int, int]] | None = None,
) -> SymbolHistory:
    """A symbol's history from the hashes read for it; the open session is the latest date."""
    totals = parse_history(history)
    restored: SessionState | None = None
    distribution: dict[str, int] | None = None
    if totals and session:
        day = max(totals)
        restored = restore_session(day, session, parse_minutes(minutes))
        text = profile.get("price_volume_distribution")
        distribution = {k: int(v) for k, v in orjson.loads(text).items()} if text else {}
    return SymbolHistory(
        daily_totals=totals,
        minute_history=minute_history or {},
        session=restored,
        profile=distribution,
    )
