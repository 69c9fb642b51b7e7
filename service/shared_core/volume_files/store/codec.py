"""Snapshots to hash fields and back: the one place a number becomes a Redis string.

Numbers are plain decimal strings (no exponent, never inf/nan); a ratio that cannot be computed
is left out. Prices keep their shortest exact repr so a restore reads back the same float.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import orjson

from ..baseline_service import Baseline
from ..engine_core import SymbolHistory, SymbolSnapshot
from ..session_tracker import SessionState
from . import keys
from .wire import field_pairs, text

_IST = timezone(timedelta(hours=5, minutes=30))
_IST_OFFSET_MS = 19_800_000
_DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Below this (year 2096) `ts_ms / 1000` as a float is exact to well under a microsecond, so the
# integer formatting gives the very string the datetime path does; above it the datetime path
# (and its float rounding) is kept, so no output changes anywhere.
_EXACT_TS_BELOW = 4_000_000_000_000
_FLOAT_FORMATS = {d: f"%.{d}f" for d in range(7)}
_LEGACY_ITEMS = tuple(keys.LEGACY_FIELDS.items())

Fields = dict[str, str]


@dataclass(slots=True)
class HashWrite:
    """HSET these fields, then HDEL `absent`: optional fields that cannot be computed now.

    Not frozen: seven are built per changed symbol per flush, and a frozen dataclass's
    __init__ (object.__setattr__ per field) costs four times as much. Treat it as read-only.
    """

    key: str
    family: str
    fields: Fields
    absent: tuple[str, ...] = ()


def fmt_int(value: int) -> str:
    return str(int(value))


def fmt_float(value: float, digits: int = 6) -> str:
    """Plain decimal, rounded to `digits`, no exponent, no trailing zeros."""
    if -1e9 < value < 1e9 and 0 <= digits <= 6:
        # Here |value| * 10**digits < 2**53, so formatting the value directly gives the same
        # correctly rounded digits as formatting round(value, digits), without the round().
        text = (_FLOAT_FORMATS[digits] % value).rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
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
    if type(ts_ms) is int and 0 <= ts_ms < _EXACT_TS_BELOW:
        day, ms = divmod(ts_ms + _IST_OFFSET_MS, _DAY_MS)
        hour, ms = divmod(ms, 3_600_000)
        minute, ms = divmod(ms, 60_000)
        second, ms = divmod(ms, 1000)
        return f"{_day_text(day)}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}+05:30"
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(_IST)
    return moment.isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=64)
def _day_text(day: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


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


def snapshot_writes(snap: SymbolSnapshot, *, dual_write: bool) -> list[HashWrite]:
    """Every hash write one snapshot implies, in a fixed order.

    Runs for every changed symbol at every flush: each value is formatted once and shared by
    the hashes that repeat it (session, legacy, profile).
    """
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
    if snap.underlying_price is not None:  # state: a new owner needs it for moneyness
        session["underlying_price"] = fmt_price(snap.underlying_price)
    # Optional fields: set the computable ones, name the others so a stale value is removed.
    absent: list[str] = []
    if snap.rvol is None:
        absent.append("rvol")
    else:
        session["rvol"] = fmt_float(snap.rvol)
    if snap.rvol_1m is None:
        absent.append("rvol_1m")
    else:
        session["rvol_1m"] = fmt_float(snap.rvol_1m)
    if snap.expected_volume is None:
        absent.append("expected_volume")
    else:
        session["expected_volume"] = fmt_float(snap.expected_volume, 3)
    writes = [
        HashWrite(keys.session_key(symbol, day), keys.FAMILY_UNIFIED, session, tuple(absent))
    ]

    baseline = snap.baseline
    is_fno = snap.instrument.is_fno
    avg_text: str | None = None
    if snap.baseline_changed:
        base = baseline_fields(baseline, fno_adjustment=snap.fno_adjustment, is_fno=is_fno)
        absent_base = () if baseline is not None else ("baseline_1min", "avg_volume_20d")
        writes.append(HashWrite(keys.baseline_key(symbol), keys.FAMILY_BASELINE, base,
                                absent_base))
        avg_text = base.get("avg_volume_20d")
    elif baseline is not None:
        avg_text = fmt_float(baseline.avg_volume_20d, 3)

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
        # The legacy hash mirrors the session fields (and the baseline's average).
        legacy: Fields = {}
        missing: list[str] = []
        get = session.get
        for old, new in _LEGACY_ITEMS:
            value = avg_text if new == "avg_volume_20d" else get(new)
            if value is None:
                missing.append(old)
            else:
                legacy[old] = value
        writes.append(HashWrite(keys.legacy_key(symbol), keys.FAMILY_LEGACY, legacy,
                                tuple(missing)))

    writes.append(HashWrite(keys.history_key(symbol), keys.FAMILY_STATE,
                            {day: session["cumulative_volume"]}))
    if snap.dirty_minutes:
        writes.append(HashWrite(keys.minutes_key(symbol, day), keys.FAMILY_STATE,
                                {str(m): fmt_int(v) for m, v in snap.dirty_minutes.items()}))
    return writes


# -- Reading state back -----------------------------------------------------------------------




RawHash = (Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str]
           | Sequence[bytes | str])


def decode_hash(raw: RawHash) -> dict[str, str]:
    """HGETALL's reply as text: a mapping (redis-py's callback), or the flat field, value, ...
    list of a raw reply (`replies.exchange`)."""
    return {text(k): text(v) for k, v in field_pairs(raw)}


def parse_history(raw: dict[str, str]) -> dict[date, int]:
    return {_date(k): int(v) for k, v in raw.items()}


@functools.lru_cache(maxsize=4096)
def _date(text: str) -> date:
    """One shared object per session date: every symbol's history holds the same dates."""
    return date.fromisoformat(text)


def parse_minutes(raw: dict[str, str]) -> dict[int, int]:
    return {int(k): int(v) for k, v in raw.items() if int(v) > 0}


def _finite(field: str, text: str) -> float:
    """A stored price: a non-finite one could never be written back (fmt_price refuses it),
    so it is refused here, at load, naming the field."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"stored {field} is not a finite number: {text!r}")
    return value


def restore_session(day: date, raw: dict[str, str], minutes: dict[int, int]) -> SessionState:
    return SessionState(
        date=day,
        cumulative_volume=int(raw["cumulative_volume"]),
        tick_count=int(raw["tick_count"]),
        last_price=_finite("last_price", raw["last_price"]),
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
    spot = session.get("underlying_price") if restored is not None else None
    return SymbolHistory(
        daily_totals=totals,
        minute_history=minute_history or {},
        session=restored,
        profile=distribution,
        underlying_price=_finite("underlying_price", spot) if spot else None,
    )
