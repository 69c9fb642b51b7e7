"""The Kite instruments master: lenient parse, keys and tokens, the registry's token map."""

from __future__ import annotations

import base64
import gzip
from datetime import date

import pytest

from shared_core.volume_files.instruments import Instrument, InstrumentKind, InstrumentRegistry
from shared_core.volume_files.instruments_master import (
    MasterFormatError,
    RowProblem,
    master_tables,
    master_text,
    parse_master,
)
from shared_core.volume_files.market_clock import MarketCalendar
from shared_core.volume_files.store.instruments_store import (
    StoredMasterError,
    decode_rows,
    decode_tables,
    encode_rows,
)
from tests.kite_support import KITE_MASTER, MASTER_ROWS, TOKENS

CALENDAR = MarketCalendar(holidays=frozenset({date(2025, 12, 25)}))
AS_OF = date(2025, 12, 9)
HEADER = KITE_MASTER.splitlines()[0]


def test_malformed_rows_are_reported_with_their_line_and_the_rest_kept() -> None:
    parsed = parse_master(KITE_MASTER, CALENDAR)
    assert len(parsed.rows) == MASTER_ROWS
    assert parsed.problems == (
        RowProblem(12, "expiry is not a date: '30-12-2025'"),
        RowProblem(14, "instrument_token must be a positive integer, got 'x12'"),
    )
    assert str(parsed.problems[0]) == "line 12: expiry is not a date: '30-12-2025'"


def test_rows_read_as_kite_means_them() -> None:
    rows = {(r.exchange, r.instrument.symbol): r for r in parse_master(KITE_MASTER, CALENDAR).rows}
    nifty = rows["NSE", "NIFTY 50"]
    assert (nifty.token, nifty.instrument) == (
        256265, Instrument("NIFTY 50", "NIFTY 50", InstrumentKind.INDEX)  # tick size 0: default
    )
    assert rows["BSE", "SENSEX"].instrument.kind is InstrumentKind.INDEX
    fut = rows["NFO", "NIFTY25DECFUT"].instrument
    assert fut == Instrument("NIFTY25DECFUT", "NIFTY", InstrumentKind.FUTURE,
                             date(2025, 12, 30), None, None, 0.1, 75)
    weekly = rows["NFO", "NIFTY25D0925900CE"].instrument
    assert (weekly.kind, weekly.expiry, weekly.strike, weekly.option_type) == (
        InstrumentKind.OPTION, date(2025, 12, 9), 25900.0, "CE"
    )
    assert rows["NFO", "NIFTY25DEC26000PE"].instrument.option_type == "PE"
    equity = rows["NSE", "RELIANCE"].instrument
    assert (equity.kind, equity.tick_size, equity.lot_size) == (InstrumentKind.EQUITY, 0.1, 1)


def test_tokens_resolve_to_the_symbol_their_row_is_known_by() -> None:
    tables = master_tables(parse_master(KITE_MASTER, CALENDAR).rows)
    assert tables.tokens == {token: symbol for symbol, token in TOKENS.items()}
    # NSE owns the bare name; BSE's RELIANCE stays apart under its exchange prefix.
    assert tables.instruments["RELIANCE"].tick_size == 0.1
    assert tables.instruments["BSE:RELIANCE"].tick_size == 0.05


def test_registry_resolves_tokens_and_their_symbols() -> None:
    registry = InstrumentRegistry.from_kite_csv(
        "\n".join(line for line in KITE_MASTER.splitlines()
                  if not line.startswith(("12178434,", "x12"))), CALENDAR,
    )
    assert registry.symbol_for_token(260105) == "NIFTY BANK"
    assert registry.symbol_for_token(999) is None
    assert registry.resolve("NIFTY BANK", AS_OF).kind is InstrumentKind.INDEX
    bse = registry.resolve(registry.tokens[128083204], AS_OF)
    assert (bse.symbol, bse.underlying, bse.tick_size) == ("BSE:RELIANCE", "RELIANCE", 0.05)


def test_replace_master_swaps_instruments_tokens_and_cache() -> None:
    registry = InstrumentRegistry(CALENDAR)
    assert registry.resolve("NIFTY25DECFUT", AS_OF).lot_size is None  # parsed from the symbol
    assert registry.tokens == {}
    tables = master_tables(parse_master(KITE_MASTER, CALENDAR).rows)
    registry.replace_master(tables.instruments, tables.tokens)
    assert registry.resolve("NIFTY25DECFUT", AS_OF).lot_size == 75  # the cached answer is gone
    assert registry.tokens[13238274] == "NIFTY25DECFUT"


def test_strict_reading_still_stops_at_the_first_bad_row() -> None:
    with pytest.raises(ValueError, match=r"^instruments CSV line 12: expiry is not a date"):
        InstrumentRegistry.from_kite_csv(KITE_MASTER, CALENDAR)


def test_nine_column_files_without_tokens_keep_working() -> None:
    text = ("tradingsymbol,name,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n"
            "SBIN,SBI,,0,0.05,1,EQ,NSE,NSE\n")
    parsed = parse_master(text, CALENDAR)
    assert [(r.token, r.instrument.symbol) for r in parsed.rows] == [(None, "SBIN")]
    assert master_tables(parsed.rows).tokens == {}


def test_row_shape_problems() -> None:
    text = "\n".join([
        HEADER,
        "1,1,A,A,0,,0,0.05,1,EQ,NSE,NSE,surplus",
        "2,1,B,B,0,,0,0.05,1,EQ,NSE,NSE",
        "2,1,C,C,0,,0,0.05,1,EQ,NSE,NSE",
        "3,1,D,D,0,,0,0.05",  # short: instrument_type and the rest are empty
        '4,1,"E\nF",X,0,,0,0.05,1,EQ,NSE,NSE',  # a quoted newline: the row spans lines 6-7
        "0,1,G,G,0,,0,0.05,1,EQ,NSE,NSE",
    ])
    parsed = parse_master(text, CALENDAR)
    assert [str(p) for p in parsed.problems] == [
        "line 2: 13 cells, the header has 12",
        "line 4: instrument_token 2 already on line 3",
        "line 5: instrument_type must be EQ, FUT, CE or PE, got ''",
        "line 8: instrument_token must be a positive integer, got '0'",
    ]
    assert [r.instrument.symbol for r in parsed.rows] == ["B", "E\nF"]


def test_missing_columns_reject_the_whole_file() -> None:
    with pytest.raises(MasterFormatError, match=r"missing column\(s\): expiry, lot_size"):
        parse_master("instrument_token,tradingsymbol,name,strike,tick_size,instrument_type,"
                     "segment,exchange\n", CALENDAR)
    with pytest.raises(MasterFormatError, match="missing column"):
        parse_master("", CALENDAR)


def test_master_text_reads_csv_and_gzip_by_content() -> None:
    assert master_text(KITE_MASTER.encode()) == KITE_MASTER
    assert master_text(gzip.compress(KITE_MASTER.encode())) == KITE_MASTER
    assert master_text(b"\xef\xbb\xbf" + HEADER.encode()) == HEADER  # a BOM is not a column
    with pytest.raises(MasterFormatError, match="gzip"):
        master_text(gzip.compress(KITE_MASTER.encode())[:40])
    with pytest.raises(MasterFormatError, match="UTF-8"):
        master_text(b"tradingsymbol\n\xff\xfe\n")


def test_stored_encoding_round_trips() -> None:
    rows = list(parse_master(KITE_MASTER, CALENDAR).rows)
    assert decode_rows(encode_rows(rows)) == rows
    tables, lazy = master_tables(rows), decode_tables(encode_rows(rows))
    assert lazy.tokens == tables.tokens
    assert len(lazy.instruments) == len(tables.instruments)
    assert lazy.instruments["NSE:RELIANCE"] is lazy.instruments["RELIANCE"]  # one per row
    assert dict(lazy.instruments) == tables.instruments
    with pytest.raises(StoredMasterError, match="not rows"):
        decode_tables(base64.b64encode(gzip.compress(
            b'{"format": 1, "rows": [[1, "NSE", "A", "A", "bond", null, null, null, 0.05, 1]]}'
        )))
    with pytest.raises(StoredMasterError):
        decode_rows(b"not gzip")
    with pytest.raises(StoredMasterError, match="format"):
        decode_rows(base64.b64encode(gzip.compress(b'{"format": 99, "rows": []}')))
    blob = encode_rows(rows)
    assert decode_rows(blob.decode()) == rows  # as a decode_responses client reads it
