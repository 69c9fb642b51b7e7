"""Tick parsing: every key, alias, Kite rule, timestamp form and rejection reason."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.ticks import (
    MAX_PAYLOAD_BYTES,
    REASONS,
    Tick,
    TickError,
    parse_entry,
    parse_tick,
    parse_timestamp,
)

TS = "2025-12-22T10:00:00"  # a Monday, exchange time
TS_MS = 1_766_377_800_000  # = 2025-12-22T04:30:00Z


def entry(**fields: object) -> dict[bytes, bytes]:
    """A stream entry as redis-py returns it (bytes keys and values)."""
    return {k.encode(): str(v).encode() for k, v in fields.items()}


def rejects(reason: str, field: str, fields: Mapping[Any, Any]) -> TickError:
    with pytest.raises(TickError) as info:
        parse_entry(fields)
    assert info.value.reason == reason, info.value
    assert info.value.field == field
    return info.value


def rejects_tick(reason: str, field: str, data: Mapping[str, object]) -> TickError:
    with pytest.raises(TickError) as info:
        parse_tick(None, data)
    assert info.value.reason == reason, info.value
    assert info.value.field == field
    return info.value


# -- accepted forms ----------------------------------------------------------------------------


def test_flat_bytes_entry() -> None:
    tick = parse_entry(entry(symbol="RELIANCE", price="2450.55", volume="500", timestamp=TS))
    assert tick == Tick("RELIANCE", 2450.55, TS_MS, 500, None)


def test_flat_str_entry() -> None:
    fields = {"symbol": "RELIANCE", "price": "2450.55", "volume": "500", "timestamp": TS}
    assert parse_entry(fields) == Tick("RELIANCE", 2450.55, TS_MS, 500, None)


@pytest.mark.parametrize("as_bytes", [True, False])
def test_data_json_entry(as_bytes: bool) -> None:
    doc = {"symbol": "TCS", "price": 3500, "cumulative_volume": 12000, "timestamp": TS_MS}
    raw = orjson.dumps(doc)
    fields: Mapping[Any, Any] = {b"data": raw} if as_bytes else {"data": raw.decode()}
    assert parse_entry(fields) == Tick("TCS", 3500.0, TS_MS, None, 12000)


def test_json_keys_win_and_flat_fields_fill_gaps() -> None:
    fields = {
        b"symbol": b"FLAT",
        b"volume": b"7",
        b"data": orjson.dumps({"symbol": "JSON", "price": 10.5, "timestamp": TS}),
    }
    assert parse_entry(fields) == Tick("JSON", 10.5, TS_MS, 7, None)


def test_unknown_fields_are_ignored() -> None:
    fields = entry(symbol="X", price=1, timestamp=TS, exchange="NSE", mode="full")
    assert parse_entry(fields) == Tick("X", 1.0, TS_MS, None, None)


def test_tick_with_no_volume_is_a_price_update() -> None:
    tick = parse_entry(entry(symbol="X", price="5", timestamp=TS))
    assert (tick.volume, tick.cumulative_volume) == (None, None)


def test_optional_oi_and_underlying_price() -> None:
    tick = parse_entry(
        entry(
            symbol="NIFTY25JAN25000CE",
            price="120.5",
            timestamp=TS,
            oi="1500",
            underlying_price="24950.35",
        )
    )
    assert tick.oi == 1500
    assert tick.underlying_price == 24950.35


def test_empty_strings_and_nulls_are_absent() -> None:
    tick = parse_entry(entry(symbol="X", price="5", timestamp=TS, volume="", oi=""))
    assert (tick.volume, tick.oi) == (None, None)
    raw = orjson.dumps({"symbol": "X", "price": 5, "timestamp": TS, "oi": None, "volume": None})
    tick = parse_entry({b"data": raw})
    assert (tick.volume, tick.oi) == (None, None)
    tick = parse_tick(None, {"symbol": "X", "price": 5, "timestamp": TS, "volume": None})
    assert tick.volume is None


# -- aliases -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tradingsymbol": "INFY"}, ("INFY", 1.0, TS_MS, None, None)),
        ({"last_price": "2.5"}, ("X", 2.5, TS_MS, None, None)),
        ({"exchange_timestamp": TS_MS}, ("X", 1.0, TS_MS, None, None)),
        ({"last_traded_quantity": "3"}, ("X", 1.0, TS_MS, 3, None)),
        ({"volume_traded": "900"}, ("X", 1.0, TS_MS, None, 900)),
        ({"cumulative_volume": "900"}, ("X", 1.0, TS_MS, None, 900)),
    ],
)
def test_aliases(fields: dict[str, object], expected: tuple[object, ...]) -> None:
    base: dict[str, object] = {"symbol": "X", "price": "1", "timestamp": TS}
    for alias in fields:
        canonical = {
            "tradingsymbol": "symbol",
            "last_price": "price",
            "exchange_timestamp": "timestamp",
        }.get(alias)
        if canonical:
            del base[canonical]
    assert parse_entry(entry(**base, **fields)) == Tick(*expected)  # type: ignore[arg-type]


def test_canonical_name_wins_over_alias() -> None:
    tick = parse_entry(
        entry(
            symbol="A",
            tradingsymbol="B",
            price="1",
            last_price="2",
            timestamp=TS,
            exchange_timestamp=TS_MS + 60_000,
            volume="5",
            last_traded_quantity="6",
            volume_traded="70",
            cumulative_volume="80",
        )
    )
    assert tick == Tick("A", 1.0, TS_MS, 5, 70)


# -- Kite payloads -----------------------------------------------------------------------------


def test_kite_current_payload() -> None:
    kite = {
        "tradable": True,
        "mode": "full",
        "instrument_token": 12345,
        "tradingsymbol": "NIFTY25JAN25000CE",
        "last_price": 120.5,
        "last_traded_quantity": 75,
        "average_traded_price": 118.2,
        "volume_traded": 1_234_500,
        "total_buy_quantity": 1,
        "ohlc": {"open": 100, "high": 130, "low": 99, "close": 101},
        "oi": 56_000,
        "exchange_timestamp": "2025-01-10 10:00:00",
        "last_trade_time": "2025-01-10 09:59:59",
        "depth": {"buy": [{"price": 120.4, "quantity": 75, "orders": 1}], "sell": []},
    }
    tick = parse_entry({b"data": orjson.dumps(kite)})
    assert tick == Tick("NIFTY25JAN25000CE", 120.5, 1_736_483_400_000, 75, 1_234_500, 56_000)


def test_kite_legacy_volume_is_cumulative() -> None:
    legacy = {
        "tradingsymbol": "SBIN",
        "last_price": 800.5,
        "last_quantity": 10,
        "average_price": 799.1,
        "volume": 1_500_000,
        "buy_quantity": 5,
        "sell_quantity": 7,
        "timestamp": "2025-01-10 10:00:00",
    }
    tick = parse_entry({b"data": orjson.dumps(legacy)})
    assert tick.volume == 10
    assert tick.cumulative_volume == 1_500_000


@pytest.mark.parametrize("marker", ["last_quantity", "average_price"])
def test_either_legacy_marker_makes_volume_cumulative(marker: str) -> None:
    tick = parse_entry(entry(symbol="SBIN", price="1", timestamp=TS, volume="900", **{marker: "4"}))
    assert tick.cumulative_volume == 900
    assert tick.volume == (4 if marker == "last_quantity" else None)


def test_legacy_marker_with_explicit_cumulative_ignores_volume() -> None:
    tick = parse_entry(
        entry(
            symbol="S",
            price="1",
            timestamp=TS,
            average_price="1",
            volume="900",
            volume_traded="1000",
            last_traded_quantity="3",
        )
    )
    assert (tick.volume, tick.cumulative_volume) == (3, 1000)


def test_legacy_cumulative_volume_is_validated_under_its_key() -> None:
    rejects(
        "non_integer_volume",
        "volume",
        entry(symbol="S", price="1", timestamp=TS, last_quantity="1", volume="1.5"),
    )


# -- counts and prices -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["500", "500.0", " 500 ", "5e2", 500, 500.0])
def test_integral_volume_forms(raw: object) -> None:
    tick = parse_tick(None, {"symbol": "X", "price": 1, "timestamp": TS, "volume": raw})
    assert tick.volume == 500
    assert type(tick.volume) is int


def test_volume_zero_is_valid() -> None:
    assert parse_entry(entry(symbol="X", price=1, timestamp=TS, volume=0)).volume == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("500.5", "non_integer_volume"),
        (500.5, "non_integer_volume"),
        ("-5", "negative_volume"),
        (-5, "negative_volume"),
        ("-5.5", "negative_volume"),
        ("abc", "invalid_number"),
        ("5_00", "invalid_number"),
        (True, "invalid_number"),
        ([5], "invalid_number"),
        (2**63, "invalid_number"),
        ("nan", "non_finite"),
        (float("inf"), "non_finite"),
    ],
)
def test_bad_volumes(raw: object, reason: str) -> None:
    for key in ("volume", "cumulative_volume", "oi"):
        rejects_tick(reason, key, {"symbol": "X", "price": 1, "timestamp": TS, key: raw})


@pytest.mark.parametrize(("raw", "value"), [("2450.55", 2450.55), (7, 7.0), (0.05, 0.05)])
def test_price_forms(raw: object, value: float) -> None:
    tick = parse_tick("X", {"price": raw, "timestamp": TS})
    assert tick.price == value
    assert type(tick.price) is float


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0", "non_positive"),
        (0, "non_positive"),
        (-1.5, "non_positive"),
        ("-3", "non_positive"),
        ("inf", "non_finite"),
        ("nan", "non_finite"),
        (float("nan"), "non_finite"),
        (10**400, "non_finite"),
        ("abc", "invalid_number"),
        ("1_0", "invalid_number"),
        (True, "invalid_number"),
        ({"v": 1}, "invalid_number"),
    ],
)
def test_bad_prices(raw: object, reason: str) -> None:
    rejects_tick(reason, "price", {"symbol": "X", "price": raw, "timestamp": TS})
    rejects_tick(reason, "last_price", {"symbol": "X", "last_price": raw, "timestamp": TS})
    rejects_tick(
        reason,
        "underlying_price",
        {"symbol": "X", "price": 1, "timestamp": TS, "underlying_price": raw},
    )


def test_invalid_utf8_number_is_invalid_number() -> None:
    rejects(
        "invalid_number", "price", {b"symbol": b"X", b"price": b"\xff12", b"timestamp": TS.encode()}
    )


# -- symbol ------------------------------------------------------------------------------------


def test_symbol_is_stripped_and_case_kept() -> None:
    assert parse_entry(entry(symbol="  nifty50 ", price=1, timestamp=TS)).symbol == "nifty50"


def test_symbol_may_hold_punctuation() -> None:
    for symbol in ("M&M", "BAJAJ-AUTO", "NSE:NIFTY", "NIFTY25JAN2450.5CE"):
        assert parse_entry(entry(symbol=symbol, price=1, timestamp=TS)).symbol == symbol


def test_symbol_length_limit() -> None:
    assert parse_entry(entry(symbol="A" * 64, price=1, timestamp=TS)).symbol == "A" * 64
    error = rejects("symbol_too_long", "symbol", entry(symbol="A" * 65, price=1, timestamp=TS))
    assert str(error) == "symbol: 65 chars, limit 64"


@pytest.mark.parametrize(
    "symbol", ["A  B", "A\tB", "A \tB", "A\nB", "A\x00B", "A\x7fB", "A\u200bB", "A\u00a0B"]
)
def test_symbol_with_whitespace_or_control_chars(symbol: str) -> None:
    rejects("bad_symbol", "symbol", {"symbol": symbol, "price": "1", "timestamp": TS})


def test_symbol_must_be_a_string() -> None:
    rejects(
        "bad_symbol",
        "symbol",
        {b"data": orjson.dumps({"symbol": 123, "price": 1, "timestamp": TS})},
    )
    rejects(
        "bad_symbol",
        "tradingsymbol",
        {b"data": orjson.dumps({"tradingsymbol": ["X"], "price": 1, "timestamp": TS})},
    )


def test_invalid_utf8_symbol_is_bad_symbol() -> None:
    rejects(
        "bad_symbol", "symbol", {b"symbol": b"AB\xff", b"price": b"1", b"timestamp": TS.encode()}
    )


@pytest.mark.parametrize("symbol", [None, "", "   "])
def test_missing_symbol(symbol: str | None) -> None:
    data: dict[str, object] = {"price": 1, "timestamp": TS}
    if symbol is not None:
        data["symbol"] = symbol
    error = rejects_tick("missing_field", "symbol", data)
    assert str(error) == "symbol: required (symbol or tradingsymbol)"


def test_symbol_argument_overrides_and_provides() -> None:
    data = {"symbol": "OLD", "price": 1, "timestamp": TS}
    assert parse_tick(" NEW ", data).symbol == "NEW"
    assert parse_tick("ONLY", {"price": 1, "timestamp": TS}).symbol == "ONLY"
    with pytest.raises(TickError) as info:
        parse_tick("A\tB", data)
    assert info.value.reason == "bad_symbol"


# -- required fields ---------------------------------------------------------------------------


def test_missing_price() -> None:
    rejects("missing_field", "price", entry(symbol="X", timestamp=TS))
    rejects("missing_field", "price", entry(symbol="X", timestamp=TS, price=""))


def test_missing_timestamp() -> None:
    error = rejects("missing_field", "timestamp", entry(symbol="X", price=1))
    assert str(error) == "timestamp: required (timestamp or exchange_timestamp)"


# -- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-12-22T10:00:00", TS_MS),  # naive = exchange time
        ("2025-12-22 10:00:00", TS_MS),  # Kite's str(datetime)
        ("2025-12-22T10:00:00.250", TS_MS + 250),
        ("2025-12-22T10:00:00.123999", TS_MS + 123),  # sub-ms truncated
        ("2025-12-22T04:30:00Z", TS_MS),
        ("2025-12-22T04:30:00+00:00", TS_MS),
        ("2025-12-22T10:00:00+05:30", TS_MS),
        ("2025-12-21T23:00:00-05:30", TS_MS),
        ("2025-12-22", TS_MS - 36_000_000),  # midnight IST
        ("20251222T100000", TS_MS),  # basic ISO form
        (" 2025-12-22T10:00:00 ", TS_MS),
        (1_766_377_800, TS_MS),  # epoch seconds
        (1_766_377_800.25, TS_MS + 250),
        ("1766377800", TS_MS),
        ("1766377800.5", TS_MS + 500),
        (TS_MS, TS_MS),  # epoch milliseconds
        (float(TS_MS), TS_MS),
        (str(TS_MS), TS_MS),
        (99_999_999_999, 99_999_999_999_000),  # just below 1e11: seconds
        (100_000_000_000, 100_000_000_000),  # 1e11: milliseconds
        (0, 0),
        (datetime(2025, 12, 22, 10, 0), TS_MS),  # naive datetime = IST
        (datetime(2025, 12, 22, 4, 30, tzinfo=UTC), TS_MS),
        (date(2025, 12, 22), TS_MS - 36_000_000),
        (b"2025-12-22T10:00:00", TS_MS),
    ],
)
def test_timestamp_forms(raw: object, expected: int) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "",
        "2025-13-01T00:00:00",
        "2025-12-22T25:00:00",
        "1_766_377_800",
        "nan",
        float("inf"),
        float("nan"),
        -1,
        "-1766377800",
        "1969-12-31T23:59:59Z",
        1_766_377_800_000_000,  # microseconds: rejected, not misread
        10**30,
        True,
        None,
        [TS],
        "9999-12-31T23:59:59-12:00",
    ],
)
def test_bad_timestamps(raw: object) -> None:
    with pytest.raises(TickError) as info:
        parse_timestamp(raw)
    assert info.value.reason == "bad_timestamp"


def test_bad_timestamp_names_the_key_used() -> None:
    rejects(
        "bad_timestamp", "exchange_timestamp", entry(symbol="X", price=1, exchange_timestamp="soon")
    )


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9999, 12, 30)))
def test_iso_naive_round_trip(dt: datetime) -> None:
    expected = (dt - datetime(1970, 1, 1, 5, 30)) // timedelta(milliseconds=1)
    assert parse_timestamp(dt.isoformat()) == expected
    aware = dt.replace(tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert parse_timestamp(aware.isoformat()) == expected


@given(st.integers(min_value=100_000_000_000, max_value=253_402_000_000_000))
def test_epoch_ms_identity(ms: int) -> None:
    assert parse_timestamp(ms) == ms
    assert parse_timestamp(str(ms)) == ms


# -- payload and JSON --------------------------------------------------------------------------


def test_payload_limit_is_8_kib_of_keys_and_values() -> None:
    base = entry(symbol="X", price=1, timestamp=TS)
    used = sum(len(k) + len(v) for k, v in base.items())
    pad_key = b"pad"
    fitting = {**base, pad_key: b"x" * (MAX_PAYLOAD_BYTES - used - len(pad_key))}
    assert parse_entry(fitting).symbol == "X"
    too_big = {**base, pad_key: b"x" * (MAX_PAYLOAD_BYTES - used - len(pad_key) + 1)}
    error = rejects("payload_too_large", "payload", too_big)
    assert str(error) == "payload: 8193 bytes, limit 8192"


def test_payload_limit_counts_utf8_bytes_of_str_values() -> None:
    base = {"symbol": "X", "price": "1", "timestamp": TS}
    used = sum(len(k) + len(v) for k, v in base.items())
    chars = (MAX_PAYLOAD_BYTES - used - 3) // 3 + 1  # "€" is 3 bytes in UTF-8
    rejects("payload_too_large", "payload", {**base, "pad": "€" * chars})
    assert parse_entry({**base, "pad": "€" * (chars - 1)}).symbol == "X"


def test_payload_limit_applies_to_data_field() -> None:
    doc = {"symbol": "X", "price": 1, "timestamp": TS, "depth": "x" * MAX_PAYLOAD_BYTES}
    rejects("payload_too_large", "payload", {b"data": orjson.dumps(doc)})


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"{'single': 1}", b"NaN"]
)
def test_bad_json(raw: bytes) -> None:
    rejects("bad_json", "data", {b"data": raw})


def test_data_field_must_be_a_string() -> None:
    rejects("bad_json", "data", {"data": 5})


def test_parse_tick_requires_a_mapping() -> None:
    with pytest.raises(TickError) as info:
        parse_tick("X", [("price", 1)])  # type: ignore[arg-type]
    assert info.value.reason == "bad_json"


# -- the error type ----------------------------------------------------------------------------


def test_tick_error_shape_and_pickling() -> None:
    error = TickError("price", "non_positive", "must be > 0, got 0")
    assert isinstance(error, ValueError)
    assert str(error) == "price: must be > 0, got 0"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.reason, copy.detail) == ("price", "non_positive", "must be > 0, got 0")


# -- properties --------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
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
        "data",
        "other",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.binary(max_size=30),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def outcome(call: Callable[[], Tick]) -> str:
    """'ok', or the reason of the TickError; any other exception propagates and fails the test."""
    try:
        call()
    except TickError as error:
        return error.reason
    return "ok"


@given(st.dictionaries(st.one_of(KEYS, st.text(max_size=10)), st.text(max_size=40)))
def test_parse_entry_str_never_raises_anything_else(fields: dict[str, str]) -> None:
    assert outcome(lambda: parse_entry(fields)) in REASONS | {"ok"}


@given(
    st.dictionaries(st.one_of(KEYS.map(str.encode), st.binary(max_size=10)), st.binary(max_size=40))
)
def test_parse_entry_bytes_never_raises_anything_else(fields: dict[bytes, bytes]) -> None:
    assert outcome(lambda: parse_entry(fields)) in REASONS | {"ok"}


@given(st.dictionaries(KEYS, JSON_VALUES), st.dictionaries(KEYS, SCALARS))
def test_json_and_library_forms_never_raise_anything_else(
    doc: dict[str, object], data: dict[str, Any]
) -> None:
    assert outcome(lambda: parse_entry({b"data": orjson.dumps(doc)})) in REASONS | {"ok"}
    assert outcome(lambda: parse_tick(None, data)) in REASONS | {"ok"}
    assert outcome(lambda: parse_entry(data)) in REASONS | {"ok"}


@given(
    symbol=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64),
    price=st.floats(min_value=0.01, max_value=1e7),
    volume=st.integers(0, 2**40),
    cumulative=st.integers(0, 2**40),
    ts=st.integers(0, 253_402_000_000_000),
)
def test_valid_fields_round_trip(
    symbol: str, price: float, volume: int, cumulative: int, ts: int
) -> None:
    fields = entry(
        symbol=symbol, price=repr(price), volume=volume, cumulative_volume=cumulative, timestamp=ts
    )
    assert parse_entry(fields) == Tick(
        symbol, price, ts if ts >= 1e11 else ts * 1000, volume, cumulative
    )


# One example of every rejection: (reason, field, entry).
REJECTIONS: list[tuple[str, str, dict[bytes, bytes]]] = [
    ("missing_field", "price", entry(symbol="X", timestamp=TS)),
    ("invalid_number", "volume", entry(symbol="X", price=1, timestamp=TS, volume="lots")),
    ("non_finite", "price", entry(symbol="X", price="inf", timestamp=TS)),
    ("non_positive", "price", entry(symbol="X", price="0", timestamp=TS)),
    ("negative_volume", "volume", entry(symbol="X", price=1, timestamp=TS, volume=-1)),
    ("non_integer_volume", "volume", entry(symbol="X", price=1, timestamp=TS, volume=1.5)),
    ("bad_timestamp", "timestamp", entry(symbol="X", price=1, timestamp="yesterday")),
    ("symbol_too_long", "symbol", entry(symbol="X" * 65, price=1, timestamp=TS)),
    ("payload_too_large", "payload", entry(symbol="X", price=1, timestamp=TS, pad="x" * 9000)),
    ("bad_json", "data", {b"data": b"{"}),
    ("bad_symbol", "symbol", entry(symbol="A  B", price=1, timestamp=TS)),
    ("unknown_instrument", "instrument_token", entry(instrument_token=1, price=1, timestamp=TS)),
]


@pytest.mark.parametrize(("reason", "field", "fields"), REJECTIONS)
def test_rejection_table(reason: str, field: str, fields: dict[bytes, bytes]) -> None:
    rejects(reason, field, fields)


def test_rejection_table_covers_every_reason() -> None:
    assert {reason for reason, _, _ in REJECTIONS} == REASONS


def test_epoch_seconds_beyond_float_range_in_ms_are_bad_timestamps() -> None:
    with pytest.raises(TickError) as err:
        parse_entry({b"symbol": b"X", b"price": b"1", b"timestamp": b"-1e306"})
    assert err.value.reason == "bad_timestamp"
    assert str(err.value) == "timestamp: outside 1970..9999: '-1e306'"
