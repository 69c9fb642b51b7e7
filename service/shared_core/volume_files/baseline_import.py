"""Seeding baselines from daily volume files, so RVOL works on day one instead of day two.

The engine builds `avg_volume_20d` from `vol:history:{symbol}` (date -> that day's total volume),
which it only fills as it sees sessions. Importing NSE bhavcopies (or any `symbol,date,volume`
file) fills the history up front and writes `vol:baseline:{symbol}` as the next session will
see it: as of the day after the symbol's latest imported date.

Accepted files (CSV, optionally `.gz`, or a `.zip` holding one CSV); the header decides the form,
names are matched case-insensitively with spaces ignored:

| form | symbol | date | volume | series |
|---|---|---|---|---|
| `bhavcopy` (cm DDMONYYYYbhav.csv) | SYMBOL | TIMESTAMP | TOTTRDQTY | SERIES |
| `bhavcopy-full` (sec_bhavdata_full) | SYMBOL | DATE1 | TTL_TRD_QNTY | SERIES |
| `udiff` (BhavCopy_NSE_CM_..., since 2024) | TckrSymb | TradDt | TtlTradgVol | SctySrs |
| `plain` | symbol | date (or DATE/TIMESTAMP) | volume | (optional SERIES) |

A header-less file of three columns `symbol,date,volume` is read as `plain`. Dates are
`YYYY-MM-DD` or `DD-MON-YYYY` (`01-JAN-2019`, `01-Jan-2019`); volumes are integers >= 0
(`1234.0` is accepted, `12.5` is not).

Series: only the cash-equity series EQ, BE, BZ, SM and ST are imported. A stock trades in exactly
one of them on a given day, while the same SYMBOL also names its bonds and other instruments
(N1..NZ, GS, ...), whose volume would corrupt the stock's baseline. Other series (and F&O rows
of a UDiFF file, which have no series) are counted as `ignored`, not as errors. Files without a
series column are imported whole.

A malformed row never stops the import: it is skipped and reported with its line number and the
reason; every good row is imported. A second row for the same symbol and date is skipped as a
duplicate (the first wins) rather than summed, so a file concatenated twice cannot double a day.

Existing history for a date is overwritten (HSET): re-running an import is idempotent. Import
past dates, or with the service stopped: a running worker reads the history of a symbol when it
first loads it, and rewrites `vol:baseline` at its next session open.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import redis

from .core_config import load_core_config
from .engine_core import CoreConfig, expiry_days, fno_adjustment
from .store import codec, keys
from .ticks import MAX_SYMBOL_LENGTH

Progress = Callable[[int, int], None]

EQUITY_SERIES: frozenset[str] = frozenset({"EQ", "BE", "BZ", "SM", "ST"})

# normalised header name -> role; the volume column also names the file's form.
_SYMBOL_COLUMNS = ("SYMBOL", "TCKRSYMB")
_DATE_COLUMNS = ("TIMESTAMP", "DATE1", "TRADDT", "DATE")
_SERIES_COLUMNS = ("SERIES", "SCTYSRS")
_VOLUME_COLUMNS = {
    "TOTTRDQTY": "bhavcopy",
    "TTL_TRD_QNTY": "bhavcopy-full",
    "TTLTRADGVOL": "udiff",
    "VOLUME": "plain",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}


class ImportFormatError(ValueError):
    """The file is not one of the accepted forms (the header is not recognised)."""


@dataclass(frozen=True, slots=True)
class DailyVolume:
    symbol: str
    date: date
    volume: int
    line: int


class SkippedRow(NamedTuple):
    line: int  # 1-based physical line in the file (the header is line 1)
    reason: str


class ParsedFile(NamedTuple):
    rows: list[DailyVolume]
    skipped: list[SkippedRow]
    ignored: int  # rows of a series that is not imported (by design, not an error)
    form: str  # "bhavcopy" | "bhavcopy-full" | "udiff" | "plain"


@dataclass(frozen=True, slots=True)
class ImportReport:
    path: str
    form: str
    rows: int  # data rows in the file (blank lines not counted)
    imported: int  # (symbol, date) history fields written
    symbols: int
    baselines: int  # vol:baseline hashes written
    ignored: int
    skipped: list[SkippedRow] = field(default_factory=list)
    first_date: date | None = None
    last_date: date | None = None

    def summary(self) -> str:
        """One line for the CLI."""
        span = "" if self.first_date is None else f" ({self.first_date} .. {self.last_date})"
        return (
            f"{self.path}: {self.form}, {self.rows:,} rows: imported {self.imported:,} days of "
            f"{self.symbols:,} symbols{span}, {self.baselines:,} baselines written, "
            f"{self.ignored:,} rows of other series ignored, {len(self.skipped):,} skipped"
        )


# -- Pure parsing -------------------------------------------------------------------------------


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` or `DD-MON-YYYY` (month name in any case)."""
    t = text.strip()
    if len(t) == 10 and t[4] == "-" and t[7] == "-":
        return date.fromisoformat(t)
    parts = t.split("-")
    if len(parts) == 3 and parts[1].upper() in _MONTHS and len(parts[2]) == 4:
        return date(int(parts[2]), _MONTHS[parts[1].upper()], int(parts[0]))
    raise ValueError(f"not a date (YYYY-MM-DD or DD-MON-YYYY): {t!r}")


def parse_volume(text: str) -> int:
    """An integer >= 0; `1234.0` is accepted (some exports write floats), `12.5` is not."""
    t = text.strip()
    if not t:
        raise ValueError("volume is empty")
    try:
        number = float(t)
    except ValueError:
        raise ValueError(f"volume is not a number: {t!r}") from None
    if not math.isfinite(number) or not number.is_integer():
        raise ValueError(f"volume is not a whole number: {t!r}")
    volume = int(t) if t.lstrip("+-").isdigit() else int(number)  # exact beyond 2**53
    if volume < 0:
        raise ValueError(f"volume is negative: {t!r}")
    return volume


def _check_symbol(text: str) -> str:
    symbol = text.strip()
    if not symbol:
        raise ValueError("symbol is empty")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise ValueError(f"symbol is longer than {MAX_SYMBOL_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in symbol):
        raise ValueError(f"symbol contains whitespace or control characters: {symbol!r}")
    return symbol


@dataclass(frozen=True, slots=True)
class _Columns:
    symbol: int
    date: int
    volume: int
    series: int | None
    form: str


def _columns(header: Sequence[str]) -> _Columns | None:
    names = [h.replace("\ufeff", "").replace(" ", "").upper() for h in header]

    def find(candidates: Sequence[str]) -> int | None:
        for name in candidates:
            if name in names:
                return names.index(name)
        return None

    volume_name = next((n for n in _VOLUME_COLUMNS if n in names), None)
    symbol, day = find(_SYMBOL_COLUMNS), find(_DATE_COLUMNS)
    if volume_name is None or symbol is None or day is None:
        return None
    return _Columns(symbol, day, names.index(volume_name), find(_SERIES_COLUMNS),
                    _VOLUME_COLUMNS[volume_name])


def _headerless(first: Sequence[str]) -> bool:
    if len(first) != 3:
        return False
    try:
        parse_day(first[1])
        parse_volume(first[2])
    except ValueError:
        return False
    return True


def parse_daily_volumes(
    text: str, *, series: frozenset[str] | None = EQUITY_SERIES
) -> ParsedFile:
    """Rows, skipped rows (line, reason) and the ignored-series count of one file's text.

    `series=None` imports every series. Raises ImportFormatError when the header is unknown.
    """
    reader = csv.reader(io.StringIO(text))
    first: list[str] | None = next((r for r in reader if any(c.strip() for c in r)), None)
    if first is None:
        raise ImportFormatError("the file is empty")
    cols = _columns(first)
    pending: list[tuple[int, list[str]]] = []
    if cols is None:
        if not _headerless(first):
            raise ImportFormatError(
                "unrecognised header: expected SYMBOL/TckrSymb, a date column "
                "(TIMESTAMP, DATE1, TradDt, DATE) and a volume column "
                f"({', '.join(_VOLUME_COLUMNS)}); got {','.join(first)[:200]!r}"
            )
        cols = _Columns(0, 1, 2, None, "plain")
        pending.append((reader.line_num, first))

    rows: list[DailyVolume] = []
    skipped: list[SkippedRow] = []
    ignored = 0
    seen: dict[tuple[str, date], int] = {}
    width = max(cols.symbol, cols.date, cols.volume, cols.series or 0) + 1

    def numbered() -> Iterator[tuple[int, list[str]]]:
        yield from pending
        for record in reader:
            yield reader.line_num, record

    for line, record in numbered():
        if not any(c.strip() for c in record):
            continue
        if len(record) < width:
            reason = f"expected at least {width} columns, got {len(record)}"
            skipped.append(SkippedRow(line, reason))
            continue
        if (
            series is not None
            and cols.series is not None
            and record[cols.series].strip().upper() not in series
        ):
            ignored += 1
            continue
        try:
            symbol = _check_symbol(record[cols.symbol])
            day = parse_day(record[cols.date])
            volume = parse_volume(record[cols.volume])
        except ValueError as exc:
            skipped.append(SkippedRow(line, str(exc)))
            continue
        first_line = seen.setdefault((symbol, day), line)
        if first_line != line:
            skipped.append(SkippedRow(line, f"duplicate of line {first_line} ({symbol} {day})"))
            continue
        rows.append(DailyVolume(symbol, day, volume, line))
    return ParsedFile(rows, skipped, ignored, cols.form)


def read_text(path: str | Path) -> str:
    """The CSV text of a `.csv`, `.csv.gz` or single-CSV `.zip` file (bhavcopies ship zipped)."""
    p = Path(path)
    if p.suffix.lower() == ".gz":
        with gzip.open(p, "rt", encoding="utf-8-sig", newline="") as fh:
            return fh.read()
    if p.suffix.lower() == ".zip":
        with zipfile.ZipFile(p) as zf:
            members = [n for n in zf.namelist() if not n.endswith("/")]
            if len(members) != 1:
                raise ImportFormatError(f"{p}: a zip must hold exactly one CSV, has {members}")
            return zf.read(members[0]).decode("utf-8-sig")
    return p.read_text(encoding="utf-8-sig")


def baseline_write(
    config: CoreConfig, symbol: str, history: dict[date, int], as_of: date
) -> codec.Fields | None:
    """The `vol:baseline` fields the next session (`as_of`) will use; None without history."""
    baseline = config.baselines.baseline(history, as_of)
    if baseline is None:
        return None
    inst = config.registry.resolve(symbol, as_of)
    # At a session's start the engine has no spot yet: the same adjustment, without moneyness.
    adjustment = fno_adjustment(config, inst, expiry_days(config.calendar, inst, as_of), None)
    return codec.baseline_fields(baseline, fno_adjustment=adjustment, is_fno=inst.is_fno)


# -- Executor -------------------------------------------------------------------------------------


def _hset(pipe: Any, key: str, fields: dict[str, str]) -> None:
    """Queue one HSET (`Any`: redis-py's sync Pipeline.execute_command is untyped)."""
    flat: list[str] = []
    for name, value in fields.items():
        flat += (name, value)
    pipe.execute_command("HSET", key, *flat)


def import_rows(
    client: redis.Redis,
    rows: Sequence[DailyVolume],
    *,
    core_config: CoreConfig | None = None,
    progress: Progress | None = None,
    chunk_size: int = 1000,
) -> tuple[int, int]:
    """Write history fields, then recompute baselines; returns (fields written, baselines).

    Progress counts one unit per row, then one per symbol: total = rows + symbols.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    by_symbol: dict[str, dict[str, str]] = {}
    latest: dict[str, date] = {}
    for row in rows:
        by_symbol.setdefault(row.symbol, {})[row.date.isoformat()] = codec.fmt_int(row.volume)
        if row.symbol not in latest or row.date > latest[row.symbol]:
            latest[row.symbol] = row.date
    total = len(rows) + len(by_symbol)
    done = 0
    if progress is not None:
        progress(done, total)
    if not rows:
        return 0, 0

    pipe = client.pipeline(transaction=False)
    queued = 0
    for symbol, fields in by_symbol.items():
        items = list(fields.items())
        for start in range(0, len(items), chunk_size):
            piece = dict(items[start : start + chunk_size])
            _hset(pipe, keys.history_key(symbol), piece)
            queued += len(piece)
            if queued >= chunk_size:
                pipe.execute()
                done += queued
                queued = 0
                if progress is not None:
                    progress(done, total)
    if queued:
        pipe.execute()
        done += queued
        if progress is not None:
            progress(done, total)

    config = core_config if core_config is not None else load_core_config()
    symbols = list(by_symbol)
    baselines = 0
    for start in range(0, len(symbols), chunk_size):
        batch = symbols[start : start + chunk_size]
        for symbol in batch:
            pipe.hgetall(keys.history_key(symbol))
        histories = pipe.execute()
        for symbol, raw in zip(batch, histories, strict=True):
            history = codec.parse_history(codec.decode_hash(raw))
            written = baseline_write(config, symbol, history, latest[symbol] + timedelta(days=1))
            if written is not None:
                _hset(pipe, keys.baseline_key(symbol), written)
                baselines += 1
        pipe.execute()
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return len(rows), baselines


def import_file(
    client: redis.Redis,
    path: str | Path,
    progress: Progress | None = None,
    *,
    core_config: CoreConfig | None = None,
    series: frozenset[str] | None = EQUITY_SERIES,
    chunk_size: int = 1000,
) -> ImportReport:
    """Import one daily volume file into `vol:history` and `vol:baseline` (DB of `client`).

    Raises ImportFormatError for an unrecognised file and OSError if it cannot be read;
    malformed rows are reported in `ImportReport.skipped`, not raised.
    """
    parsed = parse_daily_volumes(read_text(path), series=series)
    imported, baselines = import_rows(
        client, parsed.rows, core_config=core_config, progress=progress, chunk_size=chunk_size
    )
    days = [r.date for r in parsed.rows]
    return ImportReport(
        path=str(path),
        form=parsed.form,
        rows=len(parsed.rows) + len(parsed.skipped) + parsed.ignored,
        imported=imported,
        symbols=len({r.symbol for r in parsed.rows}),
        baselines=baselines,
        ignored=parsed.ignored,
        skipped=parsed.skipped,
        first_date=min(days) if days else None,
        last_date=max(days) if days else None,
    )
