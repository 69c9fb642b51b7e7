"""Sample-data readers: exact values from the real files, plus small hand-made files."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path

import pytest

from shared_core.volume_files.dev.sample_data import (
    BINANCE_FILE,
    DATA_DIR_ENV,
    YESBANK_FILE,
    MinuteBar,
    binance_trades,
    daily_totals,
    default_data_dir,
    yesbank_bars,
    yesbank_ticks,
)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

YESBANK_HEADER = "symbol,timestamp,open,high,low,close,volume\n"
BINANCE_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"sample data {path} not found (a clone without ../shared)")
    return path


@pytest.fixture
def yesbank_file() -> Path:
    return _shared(YESBANK_FILE)


@pytest.fixture
def binance_file() -> Path:
    return _shared(BINANCE_FILE)


@pytest.fixture
def small_yesbank(tmp_path: Path) -> Path:
    path = tmp_path / "bars.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(
            YESBANK_HEADER
            + "YESBANK,2019-01-01T09:15:00,182.60,182.70,181.70,181.90,226292\n"
            + "YESBANK,2019-01-01T15:40:00,184.25,184.25,184.25,184.25,1240\n"
            + "YESBANK,2019-01-02T09:15:00,183.45,183.45,182.50,183.15,318536\n"
            + "YESBANK,2019-01-03T09:15:00,180.00,181.00,179.50,180.05,100\n"
        )
    return path


def test_bars_from_a_small_file(small_yesbank: Path) -> None:
    bars = list(yesbank_bars(small_yesbank))
    assert bars[0] == MinuteBar(datetime(2019, 1, 1, 9, 15), 181.9, 226292)
    assert [b.volume for b in bars] == [226292, 1240, 318536, 100]


def test_ticks_limited_to_days(small_yesbank: Path) -> None:
    ticks = list(yesbank_ticks(small_yesbank, days=2, symbol="YES"))
    assert {tuple(t) for t in ticks} == {("symbol", "price", "volume", "timestamp")}
    assert {t["symbol"] for t in ticks} == {"YES"}
    assert [(t["price"], t["volume"], t["timestamp"]) for t in ticks] == [
        ("181.90", "226292", "2019-01-01T09:15:00"),
        ("184.25", "1240", "2019-01-01T15:40:00"),
        ("183.15", "318536", "2019-01-02T09:15:00"),
    ]
    assert len(list(yesbank_ticks(small_yesbank))) == 4
    assert list(yesbank_ticks(small_yesbank, days=0)) == []
    with pytest.raises(ValueError, match="days"):
        list(yesbank_ticks(small_yesbank, days=-1))


def test_daily_totals_small(small_yesbank: Path) -> None:
    assert daily_totals(small_yesbank) == {
        date(2019, 1, 1): 227532,
        date(2019, 1, 2): 318536,
        date(2019, 1, 3): 100,
    }


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("symbol,timestamp,close\nYESBANK,2019-01-01T09:15:00,1.0\n")
    with pytest.raises(ValueError, match=r"missing columns \['open', 'high', 'low', 'volume'\]"):
        list(yesbank_bars(path))


def test_binance_small_file(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        BINANCE_HEADER
        + "binance-futures,BTCUSDT,1582329602111000,0,1,buy,9682,0.132\n"
        + "binance-futures,BTCUSDT,1582329602111999,0,2,sell,9682.5,0.0005\n"
        + "binance-futures,BTCUSDT,1582329662112000,0,3,sell,9681.19,23.139\n"
    )
    ticks = list(binance_trades(path))
    assert {t["symbol"] for t in ticks} == {"BTCUSDT"}
    assert [(t["price"], t["volume"], t["timestamp"]) for t in ticks] == [
        ("9682", "132", "2020-02-24T09:15:00.000"),
        ("9682.5", "0", "2020-02-24T09:15:00.000"),
        ("9681.19", "23139", "2020-02-24T09:16:00.001"),
    ]


def test_default_data_dir_prefers_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv(DATA_DIR_ENV)
    found = default_data_dir()
    if SHARED_DATA.is_dir():
        assert found == SHARED_DATA.resolve()
    else:
        assert found is None


def test_real_yesbank_bars(yesbank_file: Path) -> None:
    bars = list(yesbank_bars(yesbank_file))
    assert len(bars) == 45_961
    assert bars[0] == MinuteBar(datetime(2019, 1, 1, 9, 15), 181.9, 226292)
    starts = [b.start for b in bars]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    assert {s.date() for s in starts} == set(daily_totals(yesbank_file))


def test_real_yesbank_daily_totals(yesbank_file: Path) -> None:
    totals = daily_totals(yesbank_file)
    assert len(totals) == 122
    assert min(totals) == date(2019, 1, 1)
    assert max(totals) == date(2019, 6, 28)
    first_day = sum(b.volume for b in yesbank_bars(yesbank_file) if b.start.date() == min(totals))
    assert totals[date(2019, 1, 1)] == first_day
    assert sum(totals.values()) == sum(b.volume for b in yesbank_bars(yesbank_file))


def test_real_yesbank_ticks(yesbank_file: Path) -> None:
    ticks = list(yesbank_ticks(yesbank_file, days=3))
    assert len(ticks) == 3 * 377  # 375 session bars + 15:30 + 15:40 each day
    assert ticks[0] == {
        "symbol": "YESBANK",
        "price": "181.90",
        "volume": "226292",
        "timestamp": "2019-01-01T09:15:00",
    }
    assert ticks[376]["timestamp"] == "2019-01-01T15:40:00"
    stamps = [t["timestamp"] for t in ticks]
    assert stamps == sorted(stamps)
    for tick in ticks:
        assert round(float(tick["price"]) * 20) == pytest.approx(float(tick["price"]) * 20)


def test_real_binance_trades(binance_file: Path) -> None:
    ticks = list(binance_trades(binance_file))
    assert len(ticks) == 9_999
    assert ticks[0] == {
        "symbol": "BTCUSDT",
        "price": "9682",
        "volume": "132",
        "timestamp": "2020-02-24T09:15:00.000",
    }
    # last trade 7,545.617 s after the first
    assert ticks[-1]["timestamp"] == "2020-02-24T11:20:45.617"
    assert ticks[-1]["volume"] == "70"
    stamps = [t["timestamp"] for t in ticks]
    assert stamps == sorted(stamps)
    assert all(int(t["volume"]) >= 1 for t in ticks)
    assert max(int(t["volume"]) for t in ticks) == 23139


def test_real_ticks_parse_with_the_engine_parser(yesbank_file: Path, binance_file: Path) -> None:
    module = pytest.importorskip("shared_core.volume_files.ticks")
    for fields in [*yesbank_ticks(yesbank_file, days=1), *binance_trades(binance_file)]:
        tick = module.parse_entry(fields)
        assert tick.volume == int(fields["volume"])
        assert tick.cumulative_volume is None
        assert tick.price == float(fields["price"])
