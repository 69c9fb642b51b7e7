"""Tick parsing and validation: a stream entry or library dict in, a `Tick` or `TickError` out.

This is the only place that knows the wire format, so every alias and crawler quirk is resolved
here and the rest of the core sees one clean shape. It runs once per tick, so it avoids regexes,
decodes each byte string once and reads only the keys it knows.

Rules (README "Input: ticks on Redis Streams"):

- Flat fields, or one field `data` holding a JSON object with the same keys. When both appear,
  the JSON keys win and flat fields fill the gaps. An empty string or JSON null is "absent".
- The canonical name wins over its alias: `symbol`/`tradingsymbol`, `price`/`last_price`,
  `timestamp`/`exchange_timestamp`, `volume`/`last_traded_quantity` (per-tick quantity),
  `volume_traded`/`cumulative_volume` (exchange day-cumulative volume, authoritative).
- Kite legacy: an entry carrying `last_quantity` or `average_price` is an old Kite tick. Its
  `volume` is day-cumulative (unless `volume_traded`/`cumulative_volume` is also present, then it
  is ignored) and `last_quantity` (or `last_traded_quantity`) is the per-tick quantity. Reading
  that `volume` as per-tick would multiply the day's volume by the tick count.
- Counts (volumes, `oi`) accept 500, 500.0, "500", "500.0"; 500.5 is `non_integer_volume`.
- Timestamps: ISO 8601 (no offset means exchange time, IST = UTC+05:30), or epoch numbers (and
  digit strings): below 1e11 seconds (may be fractional), else milliseconds. Anything outside
  1970..9999 (e.g. microseconds) is rejected rather than misread.
- The whole entry (sum of key and value bytes, `data` included) is at most 8 KiB.
- Raw KiteTicker ticks name no symbol, only `instrument_token`: it resolves through the token map
  the caller passes (the instruments master's); a token it does not hold is `unknown_instrument`.
  An explicit `symbol`/`tradingsymbol` wins over the token.
- A symbol may hold single spaces between words, as Kite spells its indices ("NIFTY 50"); any
  other whitespace, and control characters, are `bad_symbol`.
- A tick without a timestamp takes `entry_ms` when the caller passes one (the stream entry id's
  time, opt-in: VOLUME_TIMESTAMP_FROM_ENTRY_ID); else it is `missing_field`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import orjson

MAX_PAYLOAD_BYTES = 8 * 1024
MAX_SYMBOL_LENGTH = 64
EPOCH_SECONDS_BELOW = 100_000_000_000  # numbers below 1e11 are epoch seconds, others ms

REASONS: frozenset[str] = frozenset(
    {
        "missing_field",
        "invalid_number",
        "non_finite",
        "non_positive",
        "negative_volume",
        "non_integer_volume",
        "bad_timestamp",
        "symbol_too_long",
        "payload_too_large",
        "bad_json",
        "bad_symbol",
        "unknown_instrument",
    }
)
# Why the stream workers dead-letter a well-formed entry: a tick dated before its symbol's open
# session, or an entry whose deliveries ran out (a poison pill that kept killing its worker).
UNKNOWN_INSTRUMENT = "unknown_instrument"  # a token the instruments master does not hold
STALE_SESSION = "stale_session"
MAX_DELIVERIES = "max_deliveries"
# Every dead-letter `reason` (and value of the dead_letters metric's label).
DEAD_LETTER_REASONS: frozenset[str] = REASONS | {STALE_SESSION, MAX_DELIVERIES}

_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE_IST = datetime(1970, 1, 1, 5, 30)  # the epoch on the exchange's (UTC+05:30) clock
_ONE_MS = timedelta(milliseconds=1)
# The last instant whose exchange-local date is representable (9999-12-31 on the IST clock).
_MAX_TS_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000) - _EPOCH_NAIVE_IST) // _ONE_MS
_MAX_COUNT = 2**63 - 1  # Redis integers are signed 64-bit

_KNOWN = frozenset(
    {
        "symbol",
        "tradingsymbol",
        "price",
        "last_price",
        "timestamp",
        "exchange_timestamp",
        "volume",
        "last_traded_quantity",
        "volume_traded",
        "cumulative_volume",
        "oi",
        "underlying_price",
        "last_quantity",
        "average_price",
        "instrument_token",
        "data",
    }
)
# Stream keys (bytes or str) -> field name; one dict lookup per field on the hot path.
_NAMES: dict[bytes | str, str] = {**{k: k for k in _KNOWN}, **{k.encode(): k for k in _KNOWN}}


@dataclass(frozen=True, slots=True)
class Tick:
    """One validated tick, in the core's units (epoch ms, plain ints and floats)."""

    symbol: str
    price: float
    ts_ms: int  # exchange timestamp, epoch ms (UTC instant)
    volume: int | None  # quantity traded in this tick (per-tick), if given
    cumulative_volume: int | None  # exchange day-cumulative volume, if given (authoritative)
    oi: int | None = None
    underlying_price: float | None = None


class TickError(ValueError):
    """A tick that fails validation. `reason` (one of REASONS) labels metrics and dead letters."""

    field: str
    reason: str
    detail: str

    def __init__(self, field: str, reason: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[TickError], tuple[str, str, str]]:
        return (type(self), (self.field, self.reason, self.detail))


def parse_entry(
    fields: Mapping[bytes, bytes] | Mapping[str, str],
    *,
    tokens: Mapping[int, str] | None = None,
    entry_ms: int | None = None,
) -> Tick:
    """Parse one stream entry (redis-py gives bytes, or str with decode_responses).

    `tokens` resolves a symbol-less tick's `instrument_token`; `entry_ms` (the entry id's time)
    dates a tick that carries no timestamp. Without them such ticks are rejected.
    """
    found: dict[str, object] = {}
    raw_json: object = None
    names = _NAMES
    size = 0  # bytes of keys and values, exact while every one is bytes
    sized = True
    for key, value in fields.items():
        if type(value) is bytes and type(key) is bytes:
            size += len(key) + len(value)
        else:
            sized = False
        name = names.get(key)
        if name is None:
            continue
        if type(value) is bytes:
            if not value:
                continue  # "" is absent
            if name == "data":
                raw_json = value
            else:
                # surrogateescape: invalid UTF-8 fails later with the field's own reason.
                found[name] = value.decode("utf-8", "surrogateescape")
        elif not _absent(value):
            if name == "data":
                raw_json = value
            else:
                found[name] = value
    # The size check runs before anything can fail (the loop above only collects), so an
    # oversized entry reports payload_too_large whatever else is wrong with it.
    if not sized or size > MAX_PAYLOAD_BYTES:
        _check_size(fields)
    if raw_json is not None:
        for name, item in _json_object(raw_json).items():
            if name in _KNOWN and name != "data" and not _absent(item):
                found[name] = item
    return _build(found, None, tokens, entry_ms)


def parse_tick(
    symbol: str | None, data: Mapping[str, object], *, tokens: Mapping[int, str] | None = None
) -> Tick:
    """Library form: values may be str, int, float (or datetime for the timestamp).

    A non-None `symbol` argument overrides any symbol in `data`; `tokens` as for parse_entry.
    """
    if not isinstance(data, Mapping):
        raise TickError("data", "bad_json", f"expected a mapping, got {type(data).__name__}")
    found = {k: v for k, v in data.items() if _known_name(k) is not None and not _absent(v)}
    return _build(found, symbol, tokens, None)


def parse_timestamp(value: object) -> int:
    """Epoch milliseconds from ISO 8601 (naive = IST), epoch seconds or epoch milliseconds."""
    return _timestamp("timestamp", value)


# -- internals ---------------------------------------------------------------------------------


def _absent(value: object) -> bool:
    return value is None or (type(value) is str and not value)


def _known_name(key: object) -> str | None:
    return key if type(key) is str and key in _KNOWN else None


def _build(
    d: dict[str, object],
    symbol: object,
    tokens: Mapping[int, str] | None,
    entry_ms: int | None,
) -> Tick:
    """`d` holds known keys only, absent values (None, "") already dropped. Fast paths inline."""
    key = "symbol"
    if symbol is None:
        symbol = d.get("symbol")
        if symbol is None:
            key = "tradingsymbol"
            symbol = d.get(key)
            if symbol is None and "instrument_token" in d:
                symbol = _token_symbol(d["instrument_token"], tokens)
    if type(symbol) is str:
        sym = symbol.strip()
        if not (0 < len(sym) <= MAX_SYMBOL_LENGTH and " " not in sym and sym.isprintable()):
            sym = _symbol(key, symbol)
    else:
        sym = _symbol(key, symbol)

    key = "price"
    raw = d.get(key)
    if raw is None:
        key = "last_price"
        raw = d.get(key)
        if raw is None:
            raise TickError("price", "missing_field", "required (price or last_price)")
    price = _positive(key, raw)

    key = "timestamp"
    raw = d.get(key)
    if raw is None:
        key = "exchange_timestamp"
        raw = d.get(key)
        if raw is None and entry_ms is None:
            raise TickError(
                "timestamp", "missing_field", "required (timestamp or exchange_timestamp)"
            )
    ts_ms = _timestamp(key, raw) if raw is not None else _entry_time(entry_ms)

    cumulative: int | None = None
    volume: int | None = None
    if "last_quantity" in d or "average_price" in d:  # Kite legacy: `volume` is cumulative
        key, raw = _pick(d, "volume_traded", "cumulative_volume")
        if raw is None:
            key, raw = "volume", d.get("volume")
        if raw is not None:
            cumulative = _count(key, raw)
        key, raw = _pick(d, "last_quantity", "last_traded_quantity")
        if raw is not None:
            volume = _count(key, raw)
    else:  # the common case, with _pick inlined
        raw = d.get("volume")
        if raw is not None:
            volume = _count("volume", raw)
        else:
            raw = d.get("last_traded_quantity")
            if raw is not None:
                volume = _count("last_traded_quantity", raw)
        raw = d.get("volume_traded")
        if raw is not None:
            cumulative = _count("volume_traded", raw)
        else:
            raw = d.get("cumulative_volume")
            if raw is not None:
                cumulative = _count("cumulative_volume", raw)

    raw = d.get("oi")
    oi = None if raw is None else _count("oi", raw)
    raw = d.get("underlying_price")
    underlying = None if raw is None else _positive("underlying_price", raw)
    return Tick(sym, price, ts_ms, volume, cumulative, oi, underlying)


def _token_symbol(raw: object, tokens: Mapping[int, str] | None) -> str:
    """The symbol a Kite instrument token stands for in the master."""
    token = _count("instrument_token", raw)
    symbol = None if tokens is None else tokens.get(token)
    if symbol is None:
        where = "the instruments master" if tokens else "an instruments master (none is loaded)"
        raise TickError(
            "instrument_token", UNKNOWN_INSTRUMENT, f"token {token} is not in {where}"
        )
    return symbol


def _entry_time(entry_ms: int | None) -> int:
    assert entry_ms is not None  # the caller checked
    if 0 <= entry_ms <= _MAX_TS_MS:
        return entry_ms
    raise TickError("timestamp", "bad_timestamp", f"entry time outside 1970..9999: {entry_ms}")


def _pick(d: dict[str, object], name: str, alias: str) -> tuple[str, object]:
    value = d.get(name)
    if value is not None:
        return name, value
    return alias, d.get(alias)


def _check_size(fields: Mapping[bytes, bytes] | Mapping[str, str]) -> None:
    """Sum of key and value bytes; len() in C first, exact UTF-8 counts only when it matters."""
    try:
        size = sum(map(len, fields)) + sum(map(len, fields.values()))
    except TypeError:  # a value that is neither bytes nor str
        size = MAX_PAYLOAD_BYTES // 4 + 1
    if size > MAX_PAYLOAD_BYTES // 4:  # a str may take up to 4 bytes a character
        size = sum(_nbytes(k) + _nbytes(v) for k, v in fields.items())
    if size > MAX_PAYLOAD_BYTES:
        raise TickError("payload", "payload_too_large", f"{size} bytes, limit {MAX_PAYLOAD_BYTES}")


def _nbytes(value: object) -> int:
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    return len(str(value))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_object(raw: object) -> dict[str, object]:
    if not isinstance(raw, (bytes, str)):
        raise TickError("data", "bad_json", f"expected a JSON string, got {type(raw).__name__}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TickError("data", "bad_json", f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise TickError("data", "bad_json", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _symbol(key: str, raw: object) -> str:
    if type(raw) is not str:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "surrogateescape")
        elif isinstance(raw, str):
            raw = str(raw)
        elif raw is None:
            raise TickError("symbol", "missing_field", "required (symbol or tradingsymbol)")
        else:
            raise TickError(key, "bad_symbol", f"must be a string, got {type(raw).__name__}")
    assert isinstance(raw, str)
    sym = raw.strip()
    if not sym:
        raise TickError("symbol", "missing_field", "required (symbol or tradingsymbol)")
    if len(sym) > MAX_SYMBOL_LENGTH:
        raise TickError(key, "symbol_too_long", f"{len(sym)} chars, limit {MAX_SYMBOL_LENGTH}")
    # isprintable() is False for every whitespace but ' ' and for control/format characters;
    # single spaces between words stay (Kite's index names: "NIFTY 50"), as the ends are stripped.
    if "  " in sym or not sym.isprintable():
        raise TickError(
            key, "bad_symbol",
            f"whitespace other than single spaces, or a control character, in {_show(sym)}",
        )
    return sym


def _positive(key: str, raw: object) -> float:
    """A price: finite and > 0; str, int or float."""
    if type(raw) is str and "_" not in raw:
        try:
            value = float(raw)
        except ValueError:
            raise TickError(key, "invalid_number", f"not a number: {_show(raw)}") from None
        if 0.0 < value < math.inf:
            return value
    elif type(raw) is float:
        value = raw
    elif type(raw) is str or isinstance(raw, bool) or not isinstance(raw, (int, float, bytes)):
        # a str here contains "_", which float() would accept
        raise TickError(key, "invalid_number", f"not a number: {_show(raw)}")
    elif isinstance(raw, bytes):
        return _positive(key, raw.decode("utf-8", "surrogateescape"))
    else:
        try:
            value = float(raw)
        except OverflowError:
            raise TickError(key, "non_finite", f"out of float range: {_show(raw)}") from None
    if not math.isfinite(value):
        raise TickError(key, "non_finite", f"must be finite, got {_show(raw)}")
    if value <= 0.0:
        raise TickError(key, "non_positive", f"must be > 0, got {_show(raw)}")
    return value


def _count(key: str, raw: object) -> int:
    """A volume or open interest: a non-negative integer, possibly written as a float."""
    if type(raw) is int:
        value = raw
    elif type(raw) is str:
        if "_" in raw:
            raise TickError(key, "invalid_number", f"not a number: {_show(raw)}")
        try:
            value = int(raw)
        except ValueError:
            try:
                number = float(raw)
            except ValueError:
                raise TickError(key, "invalid_number", f"not a number: {_show(raw)}") from None
            value = _integral(key, number, raw)
    elif type(raw) is float:
        value = _integral(key, raw, raw)
    elif isinstance(raw, bool) or not isinstance(raw, (int, float, bytes)):
        raise TickError(key, "invalid_number", f"not a number: {_show(raw)}")
    elif isinstance(raw, bytes):
        return _count(key, raw.decode("utf-8", "surrogateescape"))
    elif isinstance(raw, int):
        value = int(raw)
    else:
        value = _integral(key, float(raw), raw)
    if value < 0:
        raise TickError(key, "negative_volume", f"must be >= 0, got {_show(raw)}")
    if value > _MAX_COUNT:
        raise TickError(key, "invalid_number", f"too large: {_show(raw)}")
    return value


def _integral(key: str, number: float, raw: object) -> int:
    if not math.isfinite(number):
        raise TickError(key, "non_finite", f"must be finite, got {_show(raw)}")
    if number < 0:
        raise TickError(key, "negative_volume", f"must be >= 0, got {_show(raw)}")
    if not number.is_integer():
        raise TickError(key, "non_integer_volume", f"must be a whole number, got {_show(raw)}")
    return int(number)


def _timestamp(key: str, raw: object) -> int:
    if type(raw) is str:
        text = raw.strip()
        if text[4:5] != "-":  # not "2025-12-21...": an epoch number, or the basic ISO form
            number = None if "_" in text else _number(text)
            if number is not None:
                return _epoch(key, number, raw)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise TickError(key, "bad_timestamp", f"not ISO 8601 or epoch: {_show(raw)}") from None
        return _datetime_ms(key, dt, raw)
    if type(raw) is int or type(raw) is float:
        return _epoch(key, raw, raw)
    if isinstance(raw, datetime):
        return _datetime_ms(key, raw, raw)
    if isinstance(raw, date):
        return _datetime_ms(key, datetime.combine(raw, time()), raw)
    if isinstance(raw, bytes):
        return _timestamp(key, raw.decode("utf-8", "surrogateescape"))
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _epoch(key, raw, raw)
    raise TickError(key, "bad_timestamp", f"expected ISO 8601 or epoch number, got {_show(raw)}")


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _epoch(key: str, number: int | float, raw: object) -> int:
    if type(number) is int:
        ms = number * 1000 if number < EPOCH_SECONDS_BELOW else number
    elif math.isfinite(number):
        scaled = number * 1000 if number < EPOCH_SECONDS_BELOW else number
        if not math.isfinite(scaled):  # -1e306 seconds: beyond float range once in ms
            raise TickError(key, "bad_timestamp", f"outside 1970..9999: {_show(raw)}")
        ms = round(scaled)
    else:
        raise TickError(key, "bad_timestamp", f"not a finite number: {_show(raw)}")
    if 0 <= ms <= _MAX_TS_MS:
        return int(ms)
    raise TickError(key, "bad_timestamp", f"outside 1970..9999: {_show(raw)}")


def _datetime_ms(key: str, dt: datetime, raw: object) -> int:
    """Exact integer milliseconds (timedelta // timedelta); a naive datetime is exchange time."""
    try:
        if dt.tzinfo is None:
            ms = (dt - _EPOCH_NAIVE_IST) // _ONE_MS
        else:
            ms = (dt - _EPOCH_UTC) // _ONE_MS
    except (OverflowError, ValueError):  # an aware datetime at the edge of datetime's range
        ms = -1
    if 0 <= ms <= _MAX_TS_MS:
        return ms
    raise TickError(key, "bad_timestamp", f"outside 1970..9999: {_show(raw)}")
