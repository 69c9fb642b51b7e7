"""The native tick parser (`_native.parse_entry`) against the Python reference (`ticks.py`).

For every entry the native result is the same tick (same types, same float bits), the same
error (`reason`, `str(TickError)`), or None: a deferral to the Python parser, which is always
safe. Random entries of every form, valid and broken, check the first two; explicit examples
and real-shaped ticks check that the documented forms never defer.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared_core.volume_files.dev import sample_data
from shared_core.volume_files.ticks import MAX_PAYLOAD_BYTES, TickError, parse_entry

Outcome = tuple[object, ...]
NativeParse = Callable[..., Outcome | None]


def _load_native() -> NativeParse:
    try:
        module = importlib.import_module("shared_core.volume_files._native")
        parse: NativeParse = module.parse_entry
    except (ImportError, AttributeError) as exc:
        if os.environ.get("VOLUME_REQUIRE_NATIVE") == "1":
            raise
        pytest.skip(
            f"the Rust extension _native (with parse_entry) is not built: {exc}; "
            "set VOLUME_REQUIRE_NATIVE=1 to fail instead",
            allow_module_level=True,
        )
    return parse


native_parse = _load_native()

TS = "2025-12-22T10:00:00"
TS_MS = 1_766_377_800_000


def reference(
    fields: Mapping[bytes, bytes],
    tokens: Mapping[int, str] | None = None,
    entry_ms: int | None = None,
) -> Outcome:
    """The Python parser's result in the native shape: the Tick's fields, or (reason, text)."""
    try:
        t = parse_entry(fields, tokens=tokens, entry_ms=entry_ms)
    except TickError as error:
        return (error.reason, str(error))
    return (t.symbol, t.price, t.ts_ms, t.volume, t.cumulative_volume, t.oi, t.underlying_price)


def _exact(outcome: Outcome) -> list[tuple[type, str]]:
    """Types and reprs: 0.0 vs -0.0, 5 vs 5.0 and every float bit count."""
    return [(type(value), repr(value)) for value in outcome]


def compare(
    fields: Mapping[bytes, bytes],
    tokens: dict[int, str] | None = None,
    entry_ms: int | None = None,
) -> Outcome | None:
    """The native result, asserted equal to Python's unless it defers (None)."""
    got = native_parse(fields, tokens, entry_ms)
    if got is not None:
        assert _exact(got) == _exact(reference(fields, tokens, entry_ms)), fields
    return got


def native(fields: Mapping[bytes, bytes]) -> Outcome:
    """The native result, which must not defer and must equal Python's."""
    got = compare(fields)
    assert got is not None, f"deferred: {fields!r}"
    return got


def entry(**fields: object) -> dict[bytes, bytes]:
    return {k.encode(): str(v).encode() for k, v in fields.items()}


def data(doc: Mapping[str, object], **flat: object) -> dict[bytes, bytes]:
    return {**entry(**flat), b"data": orjson.dumps(doc)}


# -- the documented forms never defer ----------------------------------------------------------

KITE_CURRENT: dict[str, object] = {
    "tradable": True,
    "mode": "full",
    "instrument_token": 12345,
    "tradingsymbol": "NIFTY25JAN25000CE",
    "last_price": 120.5,
    "last_traded_quantity": 75,
    "average_traded_price": 118.2,
    "volume_traded": 1_234_500,
    "total_buy_quantity": 1,
    "total_sell_quantity": 3,
    "ohlc": {"open": 100, "high": 130, "low": 99, "close": 101},
    "change": -1.25,
    "last_trade_time": "2025-01-10 09:59:59",
    "oi": 56_000,
    "oi_day_high": 57_000,
    "oi_day_low": 50_000,
    "exchange_timestamp": "2025-01-10 10:00:00",
    "depth": {
        "buy": [{"price": 120.4, "quantity": 75, "orders": 1}] * 5,
        "sell": [{"price": 120.55, "quantity": 150, "orders": 2}] * 5,
    },
}
KITE_LEGACY: dict[str, object] = {
    "tradingsymbol": "NIFTY25DECFUT",
    "last_price": 25910.5,
    "last_quantity": 75,
    "average_price": 25890.1,
    "volume": 812_325,
    "buy_quantity": 5,
    "sell_quantity": 7,
    "timestamp": "2025-12-09T10:00:00",
}

DOCUMENTED: list[dict[bytes, bytes]] = [
    # README: plain per-tick, plain day-cumulative, current and legacy Kite as JSON
    entry(symbol="SBIN", price="612.35", volume="150", timestamp="2025-12-09T10:00:00.250"),
    entry(symbol="SBIN", price="612.40", volume_traded="1843200", timestamp="1765254600250"),
    {
        b"data": b'{"tradingsymbol":"NIFTY25DECFUT","last_price":25910.5,'
        b'"last_traded_quantity":75,"volume_traded":812325,'
        b'"exchange_timestamp":"2025-12-09 10:00:00"}'
    },
    {
        b"data": b'{"tradingsymbol":"NIFTY25DECFUT","last_price":25910.5,"last_quantity":75,'
        b'"average_price":25890.1,"volume":812325,"timestamp":"2025-12-09T10:00:00"}'
    },
    data(KITE_CURRENT),
    data(KITE_LEGACY),
    # aliases, both volume kinds, oi and underlying price
    entry(tradingsymbol="INFY", last_price="2.5", exchange_timestamp=TS, last_traded_quantity=3),
    entry(symbol="X", price=1, timestamp=TS, cumulative_volume=900, oi=1500),
    entry(symbol="NIFTY25JAN25000CE", price="120.5", timestamp=TS, underlying_price="24950.35"),
    entry(
        symbol="A",
        tradingsymbol="B",
        price=1,
        last_price=2,
        timestamp=TS,
        volume=5,
        last_traded_quantity=6,
        volume_traded=70,
        cumulative_volume=80,
    ),
    entry(
        symbol="S",
        price=1,
        timestamp=TS,
        average_price=1,
        volume=900,
        volume_traded=1000,
        last_traded_quantity=3,
    ),
    entry(symbol="S", price=1, timestamp=TS, last_quantity=4, volume=900),
    # counts and prices as text or numbers, integral floats
    entry(symbol="X", price="7", timestamp=TS, volume="500.0", oi=" 500 "),
    entry(symbol="X", price="0.05", timestamp=TS, volume="5e2"),
    data({"symbol": "X", "price": 3500, "volume": 500.0, "oi": "12", "timestamp": TS}),
    data({"symbol": "X", "price": "3500.5", "cumulative_volume": "12000", "timestamp": TS}),
    # JSON keys win, flat fields fill gaps, empty and null are absent
    data({"symbol": "JSON", "price": 10.5, "timestamp": TS}, symbol="FLAT", volume=7),
    data({"symbol": "", "price": None, "timestamp": TS}, symbol="FLAT", price=3),
    entry(symbol="X", price=5, timestamp=TS, volume="", oi=""),
    # timestamps: ISO with T or space, fraction or not, offset or not; epoch s, fractional s, ms
    *(
        entry(symbol="X", price=1, timestamp=ts)
        for ts in (
            "2025-12-22T10:00:00",
            "2025-12-22 10:00:00",
            "2025-12-22T10:00:00.250",
            "2025-12-22 10:00:00.123456",
            "2025-12-22T10:00",
            "2025-12-22",
            "2025-12-22T04:30:00Z",
            "2025-12-22T04:30:00.5Z",
            "2025-12-22T10:00:00+05:30",
            "2025-12-22 10:00:00.250+05:30",
            "2025-12-21T23:00:00-05:30",
            " 2025-12-22T10:00:00 ",
            "1766377800",
            "1766377800.25",
            "1766377800250",
            "1766377800250.0",
            "0",
        )
    ),
    *(
        data({"symbol": "X", "price": 1, "exchange_timestamp": ts})
        for ts in (1_766_377_800, 1_766_377_800.25, TS_MS, float(TS_MS), "2025-12-22T10:00:00Z")
    ),
    # symbols: stripped, punctuation kept, 64 characters
    entry(symbol="  nifty50 ", price=1, timestamp=TS),
    entry(symbol="M&M", price=1, timestamp=TS),
    entry(symbol="NSE:NIFTY25JAN2450.5CE", price=1, timestamp=TS),
    entry(symbol="A" * 64, price=1, timestamp=TS),
    # unknown fields are ignored, even with a payload near the limit
    entry(symbol="X", price=1, timestamp=TS, exchange="NSE", mode="full"),
    {**entry(symbol="X", price=1, timestamp=TS), b"pad": b"x" * (MAX_PAYLOAD_BYTES - 44)},
]

COMMON_INVALID: list[tuple[str, dict[bytes, bytes]]] = [
    ("missing_field", entry(symbol="X", timestamp=TS)),
    ("missing_field", entry(symbol="X", price=1)),
    ("missing_field", entry(price=1, timestamp=TS)),
    ("missing_field", entry(symbol="   ", price=1, timestamp=TS)),
    ("missing_field", data({"symbol": None, "price": 1, "timestamp": TS})),
    ("invalid_number", entry(symbol="X", price="abc", timestamp=TS)),
    ("invalid_number", entry(symbol="X", price="1_0", timestamp=TS)),
    ("invalid_number", entry(symbol="X", price=1, timestamp=TS, volume="lots")),
    ("invalid_number", entry(symbol="X", price=1, timestamp=TS, volume=2**63)),
    ("invalid_number", entry(symbol="X", price=1, timestamp=TS, oi="1e19")),
    ("invalid_number", data({"symbol": "X", "price": True, "timestamp": TS})),
    ("invalid_number", data({"symbol": "X", "price": 1, "timestamp": TS, "volume": False})),
    ("non_finite", entry(symbol="X", price="inf", timestamp=TS)),
    ("non_finite", entry(symbol="X", price=1, timestamp=TS, volume="nan")),
    ("non_positive", entry(symbol="X", price="0", timestamp=TS)),
    ("non_positive", entry(symbol="X", price="-3", timestamp=TS)),
    ("non_positive", data({"symbol": "X", "price": -1.5, "timestamp": TS})),
    ("non_positive", data({"symbol": "X", "price": 0, "timestamp": TS})),
    ("non_positive", entry(symbol="X", price=1, timestamp=TS, underlying_price="0.0")),
    ("negative_volume", entry(symbol="X", price=1, timestamp=TS, volume=-1)),
    ("negative_volume", entry(symbol="X", price=1, timestamp=TS, oi="-5.5")),
    ("negative_volume", data({"symbol": "X", "price": 1, "timestamp": TS, "volume": -5})),
    ("non_integer_volume", entry(symbol="X", price=1, timestamp=TS, volume=1.5)),
    ("non_integer_volume", data({"symbol": "X", "price": 1, "timestamp": TS, "oi": 500.5})),
    ("non_integer_volume", entry(symbol="S", price=1, timestamp=TS, last_quantity=1, volume=1.5)),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="yesterday")),
    ("bad_timestamp", entry(symbol="X", price=1, exchange_timestamp="soon")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp=" ")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="2025-13-01T00:00:00")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="2025-12-22T25:00:00")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="1969-12-31T23:59:59Z")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="9999-12-31T23:59:59-12:00")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="-1766377800")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="1766377800000000")),
    ("bad_timestamp", entry(symbol="X", price=1, timestamp="nan")),
    ("bad_timestamp", data({"symbol": "X", "price": 1, "timestamp": 10**18})),
    ("bad_timestamp", data({"symbol": "X", "price": 1, "timestamp": True})),
    ("symbol_too_long", entry(symbol="X" * 65, price=1, timestamp=TS)),
    ("bad_symbol", entry(symbol="A  B", price=1, timestamp=TS)),
    ("bad_symbol", entry(symbol="A\tB", price=1, timestamp=TS)),
    ("bad_symbol", entry(tradingsymbol="A\x00B", price=1, timestamp=TS)),
    ("bad_symbol", data({"symbol": 123, "price": 1, "timestamp": TS})),
    ("bad_symbol", data({"tradingsymbol": ["X"], "price": 1, "timestamp": TS})),
    ("payload_too_large", entry(symbol="X", price=1, timestamp=TS, pad="x" * 9000)),
    ("payload_too_large", data({"symbol": "X", "depth": "x" * MAX_PAYLOAD_BYTES})),
    ("payload_too_large", {b"data": b"{" * 9000}),
]


@pytest.mark.parametrize("fields", DOCUMENTED)
def test_documented_forms_are_native(fields: dict[bytes, bytes]) -> None:
    assert len(native(fields)) == 7


@pytest.mark.parametrize(("reason", "fields"), COMMON_INVALID)
def test_common_invalid_entries_are_native(reason: str, fields: dict[bytes, bytes]) -> None:
    assert native(fields)[0] == reason


def test_error_texts_are_pythons() -> None:
    assert native(entry(symbol="X" * 65, price=1, timestamp=TS)) == (
        "symbol_too_long",
        "symbol: 65 chars, limit 64",
    )
    assert native(entry(symbol="X", price="0", timestamp=TS)) == (
        "non_positive",
        "price: must be > 0, got '0'",
    )
    assert native(entry(symbol="X", price=1, timestamp=TS, pad="x" * 9000)) == (
        "payload_too_large",
        "payload: 9044 bytes, limit 8192",
    )
    assert native(entry(symbol="A\tB", price=1, timestamp=TS)) == (
        "bad_symbol",
        "symbol: whitespace other than single spaces, or a control character, in 'A\\tB'",
    )
    assert native(data({"symbol": "X", "price": 1, "timestamp": TS, "oi": 1e-5})) == (
        "non_integer_volume",
        "oi: must be a whole number, got 1e-05",
    )


def test_real_kite_ticks_flattened_by_a_crawler_are_native() -> None:
    """Crawlers that write each Kite key as a field: str() of scalars, JSON of nested values."""
    for tick in (KITE_CURRENT, KITE_LEGACY):
        fields = {
            k.encode(): orjson.dumps(v) if isinstance(v, dict | list) else str(v).encode()
            for k, v in tick.items()
        }
        assert len(native(fields)) == 7


def _shared(name: str) -> Path:
    directory = sample_data.default_data_dir()
    path = directory / name if directory else None
    if path is None or not path.is_file():
        pytest.skip(f"sample data {name} not found (a clone without ../shared)")
    return path


def test_real_yesbank_bars_as_ticks_are_native() -> None:
    path = _shared(sample_data.YESBANK_FILE)
    for tick in sample_data.yesbank_ticks(path, days=3):
        flat = {k.encode(): v.encode() for k, v in tick.items()}
        assert len(native(flat)) == 7
        doc = {**tick, "price": float(tick["price"]), "volume": int(tick["volume"])}
        assert len(native({b"data": orjson.dumps(doc)})) == 7


def test_real_binance_trades_as_ticks_are_native() -> None:
    path = _shared(sample_data.BINANCE_FILE)
    for n, tick in enumerate(sample_data.binance_trades(path)):
        if n == 3000:
            break
        assert len(native({k.encode(): v.encode() for k, v in tick.items()})) == 7


def test_anything_but_bytes_defers() -> None:
    assert native_parse({"symbol": "X", "price": "1", "timestamp": TS}) is None
    assert native_parse({b"symbol": bytearray(b"X"), b"price": b"1", b"timestamp": b"0"}) is None
    assert native_parse({b"symbol": b"X", b"price": 1, b"timestamp": b"0"}) is None


def test_unusual_spellings_defer_or_match() -> None:
    """Forms the native parser need not know: each either defers or matches exactly."""
    for fields in (
        entry(symbol="X", price="\x1c1", timestamp=TS),
        entry(symbol="X", price="١٢", timestamp=TS),
        entry(symbol="NIFTY\u00a0", price="1", timestamp=TS),
        entry(symbol="X", price="1", timestamp="20251222T100000"),
        entry(symbol="X", price="1", timestamp="2025-W52-1"),
        entry(symbol="X", price="1", timestamp="2025-12-22T10:00:00,5"),
        entry(symbol="X", price="1", timestamp="2025-12-22T24:00:00"),
        entry(symbol="X", price="1", timestamp="2025-12-22T10:00:00+0530"),
        entry(symbol="X", price="1", timestamp="1" * 200),
        {b"symbol": b"AB\xff", b"price": b"1", b"timestamp": TS.encode()},
        {b"data": b"{not json"},
        {b"data": b"[1, 2]"},
        {b"data": b'{"symbol": "M\\u0026M", "price": 1, "timestamp": 0}'},
        {b"data": b'{"symbol": "X", "price": 1, "timestamp": 0, "oi": 18446744073709551615}'},
        {b"data": b'{"symbol": "X", "price": [1], "timestamp": 0}'},
    ):
        compare(fields)


def test_epoch_seconds_overflowing_in_python_defer() -> None:
    """`_epoch` multiplies first: -1e306 s is -inf ms, where round() raises OverflowError (not
    a TickError) in ticks.py today; the native parser leaves such entries to Python."""
    for fields in (
        entry(symbol="X", price=1, timestamp="-1e306"),
        data({"symbol": "X", "price": 1, "timestamp": -1.7976931348623157e308}),
    ):
        assert native_parse(fields) is None


def test_duplicate_json_keys_last_wins() -> None:
    assert native({b"data": b'{"symbol":"A","price":1,"price":2,"timestamp":0}'})[1] == 2.0
    got = native({b"price": b"3", b"data": b'{"symbol":"A","price":1,"price":null,"timestamp":0}'})
    assert got[1] == 3.0


# -- random entries: equal to Python's result or deferred --------------------------------------

ASCII_SYMBOLS = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)
SYMBOL_TEXT = st.one_of(
    ASCII_SYMBOLS,
    st.text(" \t\n\x0b\x1c\x1f\x00\x7fAB:-'\"\\", max_size=8),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=60, max_size=70),
    st.text(max_size=10),
)
POSITIVE_TEXT = st.one_of(
    st.floats(min_value=0.01, max_value=1e7).map(repr),
    st.floats(min_value=0.01, max_value=1e7).map(lambda x: f"{x:.2f}"),
    st.integers(1, 10**9).map(str),
)
COUNT_TEXT = st.one_of(
    st.integers(0, 2**40).map(str),
    st.integers(0, 2**40).map(lambda n: f"{n}.0"),
    st.integers(0, 2**40).map(lambda n: f" {n} "),
)
NUMBER_TEXT = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(repr),
    st.floats().map(lambda x: f"{x:.3f}"),
    st.floats().map(lambda x: f"{x:.6e}"),
    st.builds(
        lambda *parts: "".join(parts),
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(["", "+", "-"]),
        st.text("0123456789", max_size=22),
        st.sampled_from(["", "."]),
        st.text("0123456789", max_size=6),
        st.sampled_from(["", "e", "E-", "e+"]),
        st.text("0123456789", max_size=3),
        st.sampled_from(["", " ", "\n"]),
    ),
    st.text("0123456789.eE+-_ \tinfatyINFATY\x00\x0b\x1cx", max_size=12),
    st.sampled_from(
        [
            "inf",
            "-Infinity",
            "nan",
            "1_000",
            "0x10",
            " ",
            "1e400",
            "-0",
            "-0.0",
            "1e19",
            "9223372036854775807",
            "9223372036854775808",
            "9223372036854775807.0",
            "+.5",
            "5.",
        ]
    ),
)
DATETIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
ZONES = st.sampled_from(["", "", "Z", "+05:30", "-05:30", "+00:00", "-00:00", "+23:59", "-12:00"])
ISO_TEXT = st.builds(
    lambda dt, sep, spec, zone: dt.isoformat(sep=sep, timespec=spec) + zone,
    DATETIMES,
    st.sampled_from("T "),
    st.sampled_from(["auto", "minutes", "seconds", "milliseconds", "microseconds"]),
    ZONES,
)
EPOCH_TEXT = st.one_of(
    st.integers(0, 10**11 - 1).map(str),
    st.integers(10**11, 253_402_300_000_000).map(str),
    st.floats(0, 1e11).map(repr),
    st.floats(0, 1e11).map(lambda x: f"{x:.3f}"),
    st.floats(1e11, 2.6e14).map(repr),
)
VALID_TS_TEXT = st.one_of(ISO_TEXT, DATETIMES.map(lambda dt: dt.date().isoformat()), EPOCH_TEXT)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A string with one character replaced, inserted or deleted."""
    text = draw(base)
    at = draw(st.integers(0, len(text)))
    char = draw(st.sampled_from("0123456789-:T .Z+x,_eW\t"))
    how = draw(st.sampled_from(["replace", "insert", "delete"]))
    if how == "insert":
        return text[:at] + char + text[at:]
    if how == "delete":
        return text[:at] + text[at + 1 :]
    return text[:at] + char + text[at + 1 :]


TS_TEXT = st.one_of(
    VALID_TS_TEXT,
    mutated(VALID_TS_TEXT),
    NUMBER_TEXT,
    st.sampled_from(["garbage", "", " ", "2025-02-29", "2025-12-22T10:00:60", "0000-01-01"]),
)

VALID_TEXT: dict[str, st.SearchStrategy[str]] = {
    "symbol": ASCII_SYMBOLS,
    "tradingsymbol": ASCII_SYMBOLS,
    "price": POSITIVE_TEXT,
    "last_price": POSITIVE_TEXT,
    "timestamp": VALID_TS_TEXT,
    "exchange_timestamp": VALID_TS_TEXT,
    "volume": COUNT_TEXT,
    "last_traded_quantity": COUNT_TEXT,
    "volume_traded": COUNT_TEXT,
    "cumulative_volume": COUNT_TEXT,
    "oi": COUNT_TEXT,
    "underlying_price": POSITIVE_TEXT,
    "last_quantity": COUNT_TEXT,
    "average_price": POSITIVE_TEXT,
}
ANY_TEXT: dict[str, st.SearchStrategy[str]] = {
    key: st.one_of(
        strategy,
        SYMBOL_TEXT if "symbol" in key else TS_TEXT if "timestamp" in key else NUMBER_TEXT,
    )
    for key, strategy in VALID_TEXT.items()
}
REQUIRED = ("symbol", "price", "timestamp")
ALIASES = {"symbol": "tradingsymbol", "price": "last_price", "timestamp": "exchange_timestamp"}
OPTIONAL = (
    "volume",
    "last_traded_quantity",
    "volume_traded",
    "cumulative_volume",
    "oi",
    "underlying_price",
    "last_quantity",
    "average_price",
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_ANY = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=4,
)


def json_value(key: str, text: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    """A JSON member for `key`: its text form, or a JSON number where the field is numeric."""
    if "symbol" in key:
        return text
    if "timestamp" in key:
        numbers: st.SearchStrategy[object] = st.one_of(
            st.integers(0, 253_402_300_000_000), st.floats(0, 2.6e14)
        )
    elif key in ("price", "last_price", "underlying_price", "average_price"):
        numbers = st.one_of(st.floats(min_value=0.01, max_value=1e7), st.integers(1, 10**9))
    else:
        numbers = st.one_of(st.integers(0, 2**40), st.integers(0, 2**40).map(float))
    return st.one_of(text, numbers)


@st.composite
def entries(draw: st.DrawFn, valid: bool) -> dict[bytes, bytes]:
    """An entry of any documented form: flat, `data` JSON, or both; Kite names or plain ones."""
    texts = VALID_TEXT if valid else ANY_TEXT
    keys = [ALIASES[k] if draw(st.booleans()) else k for k in REQUIRED]
    if not valid:
        keys = [k for k in keys if draw(st.integers(0, 9))]  # now and then a missing field
    keys += draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=4))
    flat: dict[bytes, bytes] = {}
    doc: dict[str, object] = {}
    form = draw(st.sampled_from(["flat", "json", "both"]))
    for key in keys:
        in_json = form == "json" or (form == "both" and draw(st.booleans()))
        if in_json:
            doc[key] = draw(
                json_value(key, texts[key])
                if valid
                else st.one_of(json_value(key, texts[key]), JSON_ANY)
            )
            if form == "both" and draw(st.booleans()):
                flat[key.encode()] = draw(texts[key]).encode()
        else:
            flat[key.encode()] = draw(texts[key]).encode()
    if not valid and doc and draw(st.booleans()):
        doc[draw(st.sampled_from(keys))] = draw(st.sampled_from([None, ""]))
    if draw(st.booleans()):
        flat[b"exchange"] = b"NSE"
        doc["depth"] = {"buy": [{"price": 1.5, "quantity": 2}], "sell": []}
    if form != "flat":
        flat[b"data"] = orjson.dumps(doc)
    return flat


@settings(max_examples=400)
@given(entries(valid=True))
def test_valid_entries_are_native_and_equal(fields: dict[bytes, bytes]) -> None:
    native(fields)


@settings(max_examples=600)
@given(entries(valid=False))
@example({b"symbol": b"X", b"price": b"1", b"timestamp": b"2025-12-22T10:00:00.123999999"})
@example({b"symbol": b"X", b"price": b"1e-400", b"timestamp": b"0"})
@example({b"symbol": b"X", b"price": b"1", b"timestamp": b"1766377800.0005"})
@example({b"symbol": b"X", b"price": b"1", b"timestamp": b"0.0005"})
@example({b"symbol": b"X", b"price": b"1", b"timestamp": b"-0.0004"})
@example({b"symbol": b"X", b"price": b"1", b"timestamp": b"253402280999.9995"})
@example({b"symbol": b"X", b"price": b"1", b"timestamp": b"2025"})
def test_any_entry_matches_or_defers(fields: dict[bytes, bytes]) -> None:
    compare(fields)


@given(
    st.dictionaries(
        st.one_of(
            st.sampled_from([*REQUIRED, *ALIASES.values(), *OPTIONAL, "data"]).map(str.encode),
            st.binary(max_size=6),
        ),
        st.binary(max_size=30),
    )
)
def test_random_bytes_match_or_defer(fields: dict[bytes, bytes]) -> None:
    compare(fields)


@given(entries(valid=True), st.data())
def test_mutated_json_matches_or_defers(fields: dict[bytes, bytes], draw: st.DataObject) -> None:
    """One byte of the `data` text changed: mostly invalid JSON (deferred), else equal."""
    doc = fields.get(b"data", orjson.dumps({"symbol": "X", "price": 1.5, "timestamp": 0}))
    at = draw.draw(st.integers(0, len(doc) - 1))
    byte = draw.draw(st.sampled_from(b'{}[]",:.-+eE0123456789 \\tnul\x00\xff\x7f'))
    fields[b"data"] = doc[:at] + bytes([byte]) + doc[at + 1 :]
    compare(fields)


@given(st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False))
def test_json_numbers_in_every_field_kind(number: float) -> None:
    for key in ("price", "underlying_price", "volume", "oi", "timestamp"):
        doc: dict[str, object] = {"symbol": "X", "price": 1, "timestamp": TS, key: number}
        compare({b"data": orjson.dumps(doc)})
        compare(entry(**{**doc, key: repr(number)}))


@settings(max_examples=1000)
@given(st.floats(allow_nan=False, allow_infinity=False))
@example(253_402_281_000_000.12)  # exactly ...0.125: a tie Python's repr breaks to even
@example(5e-324)
def test_float_reprs_in_errors_are_pythons(number: float) -> None:
    """Non-integral, negative or huge counts quote the float as repr() does."""
    fields = data({"symbol": "X", "price": 1, "timestamp": 0, "oi": number})
    outcome = native(fields)
    if not number.is_integer() or number < 0 or number >= 2**63:
        assert len(outcome) == 2  # (reason, text): the text quotes repr(number)


@given(st.integers(MAX_PAYLOAD_BYTES - 60, MAX_PAYLOAD_BYTES + 10), st.booleans())
def test_size_limit_boundary(size: int, in_json: bool) -> None:
    base = entry(symbol="X", price=1, timestamp=TS)
    used = sum(len(k) + len(v) for k, v in base.items())
    if in_json:
        doc: dict[str, object] = {"symbol": "X", "price": 1, "timestamp": TS, "p": ""}
        pad = size - len(b"data") - len(orjson.dumps(doc))
        fields = {b"data": orjson.dumps({**doc, "p": "x" * max(0, pad)})}
    else:
        fields = {**base, b"pad": b"x" * max(0, size - used - len(b"pad"))}
    assert sum(len(k) + len(v) for k, v in fields.items()) == size
    native(fields)


@given(DATETIMES, ZONES, st.integers(0, 999_999))
def test_iso_timestamps_are_exact(dt: datetime, zone: str, micros: int) -> None:
    moment = dt.replace(microsecond=micros)
    for text in (moment.isoformat() + zone, moment.isoformat(sep=" ") + zone):
        native(entry(symbol="X", price=1, timestamp=text))


@given(st.floats(-1e3, 3e14) | st.integers(-(10**15), 10**15))
def test_epoch_rounding_is_pythons(number: float) -> None:
    native(entry(symbol="X", price=1, timestamp=repr(number)))
    native({b"data": orjson.dumps({"symbol": "X", "price": 1, "timestamp": number})})
    if isinstance(number, float) and abs(number) < 1e11:
        native(entry(symbol="X", price=1, timestamp=f"{number:.4f}"))


# -- raw KiteTicker ticks: instrument tokens, index names, no timestamp ------------------------

MASTER = {256265: "NIFTY 50", 260105: "NIFTY BANK", 264969: "INDIA VIX", 738561: "RELIANCE"}


@given(
    token=st.sampled_from([*MASTER, 1, 0, 99999999]) | st.integers(-10, 2**40),
    spelled=st.sampled_from(["int", "text", "float"]),
    with_master=st.booleans(),
    with_ts=st.booleans(),
    entry_ms=st.none() | st.integers(-5, 2**45),
    symbol=st.none() | st.sampled_from(["SBIN", "NIFTY 50", " A B ", "A  B", "A\tB"]),
)
def test_token_ticks_match_python(
    token: int, spelled: str, with_master: bool, with_ts: bool, entry_ms: int | None,
    symbol: str | None,
) -> None:
    value: object = {"int": token, "text": str(token), "float": float(token)}[spelled]
    doc: dict[str, object] = {"instrument_token": value, "last_price": 24001.35,
                              "ohlc": {"open": 1, "high": 2, "low": 0.5, "close": 1.5}}
    if with_ts:
        doc["exchange_timestamp"] = "2025-12-09 10:00:00"
    if symbol is not None:
        doc["tradingsymbol"] = symbol
    fields = {b"data": orjson.dumps(doc)}
    got = compare(fields, MASTER if with_master else None, entry_ms)
    if token in MASTER and with_master and symbol is None and spelled != "float":
        assert got is not None, "a known token must not defer"
        dated = with_ts or (entry_ms is not None and entry_ms >= 0)
        assert got[0] == (MASTER[token] if dated else got[0])
        assert dated or got[0] in ("missing_field", "bad_timestamp")


def test_documented_kite_packets_are_native() -> None:
    ltp = {b"data": orjson.dumps({"instrument_token": 738561, "last_price": 1520.5})}
    got = native_parse(ltp, MASTER, TS_MS)
    assert got == ("RELIANCE", 1520.5, TS_MS, None, None, None, None)
    index = {b"data": orjson.dumps({"tradable": False, "mode": "full", "instrument_token": 256265,
                                    "last_price": 24000.1, "exchange_timestamp": TS,
                                    "ohlc": {"high": 1, "low": 1, "open": 1, "close": 1},
                                    "change": 0.1})}
    assert native(index) is not None
    assert compare(index, MASTER)[0] == "NIFTY 50"  # type: ignore[index]
