"""Readers for the real sample data in ../shared/data, turned into stream-ready ticks.

Shell side (reads files); used by the demo, the integration tests and the benchmarks. Ticks have
the same flat string fields a crawler writes (`symbol`, `price`, `volume`, `timestamp`), so they
go through the same parser as live data.

- `nse-yesbank-minute-2019H1.csv.gz`: real YESBANK one-minute bars, 122 sessions. A bar replays
  as one tick (price = close, volume = bar volume, timestamp = bar start, exchange time). Every
  bar is kept, including the 15:30 and 15:40 closing-session bars, because volume outside the
  normal session still counts in the day's cumulative total.
- `binance-futures-btcusdt-trades-2020-02-22.csv`: 9,999 real BTCUSDT trades, moved into an NSE
  session (first trade at 09:15:00.000 on Monday 2020-02-24, relative spacing kept, so about two
  hours of flow) with volume in integer units of 0.001 BTC.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import NamedTuple, TextIO

__all__ = [
    "BINANCE_FILE",
    "BINANCE_SESSION_START",
    "DATA_DIR_ENV",
    "YESBANK_FILE",
    "MinuteBar",
    "binance_trades",
    "daily_totals",
    "default_data_dir",
    "yesbank_bars",
    "yesbank_ticks",
]

DATA_DIR_ENV = "VOLUME_SAMPLE_DATA"
YESBANK_FILE = "nse-yesbank-minute-2019H1.csv.gz"
BINANCE_FILE = "binance-futures-btcusdt-trades-2020-02-22.csv"
BINANCE_SESSION_START = datetime(2020, 2, 24, 9, 15)  # exchange time (Asia/Kolkata), naive

_YESBANK_COLUMNS = ("symbol", "timestamp", "open", "high", "low", "close", "volume")
_BINANCE_COLUMNS = ("timestamp", "price", "amount")


class MinuteBar(NamedTuple):
    """One bar: its start (naive, exchange time), close price and volume."""

    start: datetime
    close: float
    volume: int


def default_data_dir() -> Path | None:
    """`$VOLUME_SAMPLE_DATA` if set, else ../shared/data beside the repository, else None."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    candidate = (Path(__file__).resolve().parents[4] / ".." / "shared" / "data").resolve()
    return candidate if candidate.is_dir() else None


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """CSV rows as dicts; a file missing a column fails naming the file, not with a KeyError."""
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        for line, row in enumerate(reader, start=2):
            if any(not row.get(c) for c in required):
                raise ValueError(f"{path}:{line}: empty field in {row}")
            yield row


def _yesbank_rows(path: Path) -> Iterator[dict[str, str]]:
    return _rows(path, _YESBANK_COLUMNS)


def yesbank_bars(path: Path) -> Iterator[MinuteBar]:
    """Every bar of the file, in file (= time) order."""
    for row in _yesbank_rows(path):
        yield MinuteBar(
            datetime.fromisoformat(row["timestamp"]), float(row["close"]), int(row["volume"])
        )


def yesbank_ticks(
    path: Path, *, days: int | None = None, symbol: str = "YESBANK"
) -> Iterator[dict[str, str]]:
    """One tick per bar for the first `days` sessions (all when None), in time order.

    Price and timestamp keep the file's text, so prices stay exactly on the 0.05 grid.
    """
    if days is not None and days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    seen: set[str] = set()
    for row in _yesbank_rows(path):
        stamp = row["timestamp"]
        day = stamp[:10]
        if day not in seen:
            if days is not None and len(seen) >= days:
                return
            seen.add(day)
        yield {"symbol": symbol, "price": row["close"], "volume": row["volume"], "timestamp": stamp}


def daily_totals(path: Path) -> dict[date, int]:
    """Whole-day volume per session (all bars, closing session included): baseline input."""
    totals: dict[date, int] = {}
    for bar in yesbank_bars(path):
        day = bar.start.date()
        totals[day] = totals.get(day, 0) + bar.volume
    return totals


def binance_trades(path: Path) -> Iterator[dict[str, str]]:
    """The BTCUSDT trades as NSE-session ticks (see module docstring), in file (= time) order.

    Timestamps are epoch microseconds in the file; the shift keeps microsecond spacing and the
    output is truncated to milliseconds, the precision the engine works in.
    """
    first_us: int | None = None
    for row in _rows(path, _BINANCE_COLUMNS):
        ts_us = int(row["timestamp"])
        if first_us is None:
            first_us = ts_us
        moment = BINANCE_SESSION_START + timedelta(microseconds=ts_us - first_us)
        units = (Decimal(row["amount"]) * 1000).to_integral_value(rounding=ROUND_HALF_EVEN)
        yield {
            "symbol": "BTCUSDT",
            "price": row["price"],
            "volume": str(int(units)),
            "timestamp": moment.isoformat(timespec="milliseconds"),
        }
