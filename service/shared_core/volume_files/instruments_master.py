"""Kite's instruments master (the `instruments` dump) read into instruments and a token map.

Pure: the text (or the bytes of a .csv or .csv.gz file) is an argument. The full dump is about
100,000 rows, and one bad row must not cost the other 99,999, so a malformed row becomes a
`RowProblem` with its line number and the rest is kept; the strict reading of
VOLUME_INSTRUMENTS_CSV (`InstrumentRegistry.from_kite_csv`) turns the first problem into an error.

Columns, as Kite writes them: instrument_token, exchange_token, tradingsymbol, name, last_price,
expiry, strike, tick_size, lot_size, instrument_type, segment, exchange. `instrument_token` may be
missing (the older nine-column files have none; those rows resolve by name only). Indices have
segment INDICES (and instrument_type EQ, tick_size 0: they keep the default tick grid).

Keys: each row is known as `EXCHANGE:tradingsymbol` and by its bare tradingsymbol; a bare name
listed on several exchanges means the NSE one, then NFO, BSE, BFO, then the first seen. A token
resolves to the name its row is known by on the stream: the bare tradingsymbol for the row that
owns it (so `NSE RELIANCE` ticks and `RELIANCE` ticks are one symbol), `EXCHANGE:tradingsymbol`
for the others (BSE's RELIANCE is `BSE:RELIANCE`, never merged with NSE's).
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from .instruments import DEFAULT_TICK_SIZE, Instrument, InstrumentKind, parse_symbol
from .market_clock import MarketCalendar

MASTER_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
# What a row cannot do without; instrument_token, exchange_token and last_price are optional.
REQUIRED_COLUMNS = frozenset(MASTER_COLUMNS) - {"instrument_token", "exchange_token", "last_price"}
EXCHANGE_PRIORITY = {"NSE": 0, "NFO": 1, "BSE": 2, "BFO": 3}
_GZIP_MAGIC = b"\x1f\x8b"
_KINDS = {
    "EQ": InstrumentKind.EQUITY,
    "FUT": InstrumentKind.FUTURE,
    "CE": InstrumentKind.OPTION,
    "PE": InstrumentKind.OPTION,
}


class MasterFormatError(ValueError):
    """The file as a whole is unusable (not text, no header, a required column missing)."""


@dataclass(frozen=True, slots=True)
class MasterRow:
    """One accepted row: `instrument.symbol` is the bare tradingsymbol."""

    token: int | None
    exchange: str
    instrument: Instrument


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int  # the row's first line in the file (the header is line 1)
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ParsedMaster:
    rows: tuple[MasterRow, ...]
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True, slots=True)
class MasterTables:
    """What a registry holds: every key -> its instrument, and token -> stream symbol."""

    instruments: Mapping[str, Instrument]
    tokens: dict[int, str]


_T = TypeVar("_T")


class LazyInstruments(Mapping[str, Instrument], Generic[_T]):
    """key -> Instrument, each built from its stored row on first lookup.

    A worker reloading Kite's full dump would otherwise build 100,000 instruments, most of
    which it never sees a tick for; this way a reload costs two dicts of keys.
    """

    def __init__(self, rows: dict[str, _T], build: Callable[[_T], Instrument]) -> None:
        self._rows = rows
        self._build = build
        self._built: dict[int, Instrument] = {}  # id(row) -> instrument: one per row, not key

    def __getitem__(self, key: str) -> Instrument:
        row = self._rows[key]
        found = self._built.get(id(row))
        if found is None:
            found = self._built[id(row)] = self._build(row)
        return found

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)


def master_text(data: bytes) -> str:
    """The text of a .csv or .csv.gz file (told apart by content, not by name)."""
    try:
        raw = gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data
        return raw.decode("utf-8-sig")
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise MasterFormatError(f"not a readable gzip file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise MasterFormatError(f"not UTF-8 text: {exc}") from None


def parse_master(text: str, calendar: MarketCalendar) -> ParsedMaster:
    """Every well-formed row, and a problem (with its line) for each malformed one."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise MasterFormatError(f"header: {exc}") from None
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise MasterFormatError(f"missing column(s): {', '.join(missing)}")
    has_token = "instrument_token" in header
    rows: list[MasterRow] = []
    problems: list[RowProblem] = []
    token_lines: dict[int, int] = {}
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte: that line is lost, the reader goes on
            problems.append(RowProblem(line, f"unreadable CSV: {exc}"))
            line = reader.line_num + 1
            continue
        if cells:  # a blank line is no row
            try:
                if len(cells) > len(header):
                    raise _RowError(f"{len(cells)} cells, the header has {len(header)}")
                record = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
                row = _row(record, calendar, has_token=has_token)
                if row.token is not None:
                    first = token_lines.setdefault(row.token, line)
                    if first != line:
                        raise _RowError(f"instrument_token {row.token} already on line {first}")
                rows.append(row)
            except _RowError as exc:
                problems.append(RowProblem(line, str(exc)))
        line = reader.line_num + 1
    return ParsedMaster(tuple(rows), tuple(problems))


def master_tables(rows: Iterable[MasterRow]) -> MasterTables:
    """Key the rows (see the module docstring for which row a bare name and a token mean)."""
    keyed, tokens = key_rows((r.token, r.exchange, r.instrument.symbol, r.instrument) for r in rows)
    return MasterTables(keyed, tokens)


def key_rows(
    rows: Iterable[tuple[int | None, str, str, _T]],
) -> tuple[dict[str, _T], dict[int, str]]:
    """(token, exchange, bare tradingsymbol, value) rows -> key -> value, token -> symbol."""
    last = len(EXCHANGE_PRIORITY)
    ordered = sorted(rows, key=lambda r: EXCHANGE_PRIORITY.get(r[1], last))  # stable
    keyed: dict[str, _T] = {}
    tokens: dict[int, str] = {}
    for token, exchange, bare, value in ordered:
        owns_bare = keyed.setdefault(bare, value) is value
        qualified = f"{exchange}:{bare}" if exchange else bare
        keyed.setdefault(qualified, value)
        if token is not None:
            tokens.setdefault(token, bare if owns_bare else qualified)
    return keyed, tokens


# -- one row ---------------------------------------------------------------------------------


class _RowError(ValueError):
    pass


def _number(record: dict[str, str], name: str) -> float:
    value = record.get(name) or "0"
    try:
        result = float(value)
    except ValueError:
        result = math.nan
    if not math.isfinite(result):
        raise _RowError(f"{name} is not a number: {value!r}")
    return result


def _row(record: dict[str, str], calendar: MarketCalendar, *, has_token: bool) -> MasterRow:
    """`record`: column -> stripped cell (a short row lacks the last columns)."""
    cell = record.get
    number = functools.partial(_number, record)
    token: int | None = None
    if has_token:
        text = cell("instrument_token", "")
        if not text.isdigit() or not text.isascii() or int(text) == 0:
            raise _RowError(f"instrument_token must be a positive integer, got {text!r}")
        token = int(text)
    symbol = cell("tradingsymbol", "")
    if not symbol:
        raise _RowError("empty tradingsymbol")
    instrument_type = cell("instrument_type", "").upper()
    kind = _KINDS.get(instrument_type)
    if kind is None:
        raise _RowError(f"instrument_type must be EQ, FUT, CE or PE, got {instrument_type!r}")
    if cell("segment", "").upper() == "INDICES":
        kind = InstrumentKind.INDEX
    expiry = None
    expiry_text = cell("expiry", "")
    if expiry_text:
        try:
            expiry = date.fromisoformat(expiry_text)
        except ValueError:
            raise _RowError(f"expiry is not a date: {expiry_text!r}") from None
    is_fno = kind is InstrumentKind.FUTURE or kind is InstrumentKind.OPTION
    if is_fno and expiry is None:
        raise _RowError(f"{instrument_type} row without expiry")
    strike = number("strike")
    if kind is InstrumentKind.OPTION and strike <= 0:
        raise _RowError("option without a positive strike")
    tick_size = number("tick_size")  # Kite lists 0 for indices: keep the default grid
    lot_size = int(number("lot_size"))
    underlying = cell("name", "") if is_fno else symbol
    if not underlying:  # an F&O row without a name: read it from the symbol
        underlying = parse_symbol(
            symbol, as_of=expiry or date(2000, 1, 1), calendar=calendar, indices=frozenset(),
            ambiguous="year",
        ).underlying
    instrument = Instrument(
        symbol=symbol,
        underlying=underlying,
        kind=kind,
        expiry=expiry,
        strike=strike if kind is InstrumentKind.OPTION else None,
        option_type=instrument_type if kind is InstrumentKind.OPTION else None,
        tick_size=tick_size if tick_size > 0 else DEFAULT_TICK_SIZE,
        lot_size=lot_size if lot_size > 0 else None,
    )
    return MasterRow(token, cell("exchange", "").upper(), instrument)
