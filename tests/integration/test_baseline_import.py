"""Daily volume import: file forms, malformed rows, and the baselines it leaves behind."""

from __future__ import annotations

import gzip
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis

from shared_core.volume_files.baseline_import import (
    DailyVolume,
    ImportFormatError,
    SkippedRow,
    import_file,
    parse_daily_volumes,
    parse_day,
    parse_volume,
)
from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.dev.sample_data import YESBANK_FILE, daily_totals, yesbank_ticks
from shared_core.volume_files.engine_core import CoreConfig
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.unified_engine import UnifiedVolumeEngine

pytestmark = pytest.mark.integration

BHAV_HEADER = (
    "SYMBOL,SERIES,OPEN,HIGH,LOW,CLOSE,LAST,PREVCLOSE,TOTTRDQTY,TOTTRDVAL,TIMESTAMP,"
    "TOTALTRADES,ISIN,"
)
UDIFF_HEADER = (
    "TradDt,BizDt,Sgmt,Src,FinInstrmTp,FinInstrmId,ISIN,TckrSymb,SctySrs,XpryDt,"
    "FininstrmActlXpryDt,StrkPric,OptnTp,FinInstrmNm,OpnPric,HghPric,LwPric,ClsPric,LastPric,"
    "PrvsClsgPric,UndrlygPric,SttlmPric,OpnIntrst,ChngInOpnIntrst,TtlTradgVol,TtlTrfVal,"
    "TtlNbOfTxsExctd,SsnId,NewBrdLotQty,Rmks,Rsvd1,Rsvd2,Rsvd3,Rsvd4"
)
FULL_HEADER = (
    "SYMBOL, SERIES, DATE1, PREV_CLOSE, OPEN_PRICE, HIGH_PRICE, LOW_PRICE, LAST_PRICE, "
    "CLOSE_PRICE, AVG_PRICE, TTL_TRD_QNTY, TURNOVER_LACS, NO_OF_TRADES, DELIV_QTY, DELIV_PER"
)


@pytest.fixture(scope="module")
def core_config() -> CoreConfig:
    return load_core_config(load_settings(env={}))


def bhav_row(symbol: str, series: str, day: str, qty: str) -> str:
    return f"{symbol},{series},31.2,31.6,30.8,31.1,31.15,31.45,{qty},886906.6,{day},711,INE1,"


def udiff_row(symbol: str, series: str, day: str, qty: str, kind: str = "STK") -> str:
    return (
        f"{day},{day},CM,NSE,{kind},11915,INE528G01035,{symbol},{series},,,,,{symbol},"
        f"18.5,18.9,18.1,18.6,18.55,18.4,,18.6,,,{qty},1234567.8,5234,F1,1,,,,,"
    )


def full_row(symbol: str, series: str, day: str, qty: str) -> str:
    return (
        f"{symbol}, {series}, {day}, 175.50, 176.00, 180.00, 174.00, 178.00, 178.20, 177.31, "
        f"{qty}, 215.32, 5123, 60000, 49.35"
    )


# -- Pure parsing -------------------------------------------------------------------------------


def test_parse_day_forms() -> None:
    assert parse_day("01-JAN-2019") == date(2019, 1, 1)
    assert parse_day("28-Jun-2019") == date(2019, 6, 28)
    assert parse_day(" 2019-01-02 ") == date(2019, 1, 2)
    for bad in ("2019-13-01", "32-JAN-2019", "01/01/2019", "01-JANUARY-2019", "2019-01-01T09:15",
                ""):
        with pytest.raises(ValueError):  # noqa: PT011
            parse_day(bad)


def test_parse_volume() -> None:
    assert parse_volume("28467") == 28467
    assert parse_volume(" 1234.0 ") == 1234
    assert parse_volume("0") == 0
    for bad, reason in (("", "empty"), ("-5", "negative"), ("12.5", "whole"), ("abc", "number"),
                        ("inf", "whole"), ("nan", "whole")):
        with pytest.raises(ValueError, match=reason):
            parse_volume(bad)


def test_bhavcopy_with_malformed_rows() -> None:
    text = "\n".join([
        BHAV_HEADER,                                          # line 1
        bhav_row("YESBANK", "EQ", "01-JAN-2019", "1000"),     # 2
        bhav_row("YESBANK", "EQ", "02-JAN-2019", "abc"),      # 3 bad volume
        bhav_row("YESBANK", "EQ", "31-FEB-2019", "10"),       # 4 bad date
        "YESBANK,EQ,31.2",                                    # 5 short row
        bhav_row("YESBANK", "N1", "02-JAN-2019", "77"),       # 6 a bond: ignored
        bhav_row("", "EQ", "02-JAN-2019", "10"),              # 7 empty symbol
        bhav_row("YESBANK", "EQ", "01-JAN-2019", "999"),      # 8 duplicate of 2
        bhav_row("ZEEL", "BE", "02-JAN-2019", "0"),           # 9
        "",                                                   # 10 blank: not a row
        bhav_row("YESBANK", "eq", "03-Jan-2019", "-4"),       # 11 negative
        bhav_row("YESBANK", "EQ", "03-Jan-2019", "3000"),     # 12
    ]) + "\n"
    parsed = parse_daily_volumes(text)
    assert parsed.form == "bhavcopy"
    assert parsed.rows == [
        DailyVolume("YESBANK", date(2019, 1, 1), 1000, 2),
        DailyVolume("ZEEL", date(2019, 1, 2), 0, 9),
        DailyVolume("YESBANK", date(2019, 1, 3), 3000, 12),
    ]
    assert parsed.ignored == 1
    assert [s.line for s in parsed.skipped] == [3, 4, 5, 7, 8, 11]
    reasons = dict(parsed.skipped)
    assert reasons[3] == "volume is not a number: 'abc'"
    assert "day is out of range" in reasons[4]
    assert reasons[5] == "expected at least 11 columns, got 3"
    assert reasons[7] == "symbol is empty"
    assert reasons[8] == "duplicate of line 2 (YESBANK 2019-01-01)"
    assert reasons[11] == "volume is negative: '-4'"
    everything = parse_daily_volumes(text, series=None)
    assert everything.ignored == 0
    assert DailyVolume("YESBANK", date(2019, 1, 2), 77, 6) in everything.rows


def test_udiff_bhavcopy_imports_equity_series_only() -> None:
    text = "\n".join([
        UDIFF_HEADER,
        udiff_row("YESBANK", "EQ", "2024-07-08", "61234567"),
        udiff_row("YESBANK", "", "2024-07-08", "5", kind="STF"),
        udiff_row("SGBJUN27", "GB", "2024-07-08", "12"),
        udiff_row("IRFC", "BE", "2024-07-08", "100"),
    ])
    parsed = parse_daily_volumes(text)
    assert parsed.form == "udiff"
    assert [(r.symbol, r.date, r.volume) for r in parsed.rows] == [
        ("YESBANK", date(2024, 7, 8), 61234567),
        ("IRFC", date(2024, 7, 8), 100),
    ]
    assert parsed.ignored == 2
    assert parsed.skipped == []


def test_full_bhavdata_with_spaces() -> None:
    text = "\n".join([
        FULL_HEADER,
        full_row("20MICRONS", "EQ", "01-Jan-2024", "121346"),
        full_row("20MICRONS", "EQ", "02-Jan-2024", " 98000"),
    ])
    parsed = parse_daily_volumes(text)
    assert parsed.form == "bhavcopy-full"
    assert [(r.symbol, r.date, r.volume) for r in parsed.rows] == [
        ("20MICRONS", date(2024, 1, 1), 121346),
        ("20MICRONS", date(2024, 1, 2), 98000),
    ]


def test_plain_forms() -> None:
    with_header = parse_daily_volumes("\ufeffSymbol,Date,Volume\nTCS,2025-01-06,1500\n")
    headerless = parse_daily_volumes("TCS,2025-01-06,1500\nTCS,07-JAN-2025,1600\n")
    assert with_header.form == headerless.form == "plain"
    assert with_header.rows == [DailyVolume("TCS", date(2025, 1, 6), 1500, 2)]
    assert headerless.rows == [
        DailyVolume("TCS", date(2025, 1, 6), 1500, 1),
        DailyVolume("TCS", date(2025, 1, 7), 1600, 2),
    ]


def test_unknown_header_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="unrecognised header"):
        parse_daily_volumes("foo,bar\n1,2\n")
    with pytest.raises(ImportFormatError, match="empty"):
        parse_daily_volumes("\n\n")


# -- Against Redis ------------------------------------------------------------------------------


def _write_bhavcopy(path: Path, totals: dict[date, int], extra: list[str]) -> None:
    lines = [BHAV_HEADER]
    for day, qty in sorted(totals.items()):
        lines.append(bhav_row("YESBANK", "EQ", day.strftime("%d-%b-%Y").upper(), str(qty)))
        lines.append(bhav_row("YESBANK", "N2", day.strftime("%d-%b-%Y").upper(), "5"))
    lines += extra
    path.write_text("\n".join(lines) + "\n")


def test_import_file_writes_history_and_baseline(
    redis_client: redis.Redis, core_config: CoreConfig, shared_data: Path, tmp_path: Path
) -> None:
    """25 real YESBANK sessions as a bhavcopy with bad rows; the next day's RVOL works."""
    path = shared_data / YESBANK_FILE
    totals = daily_totals(path)
    days = sorted(totals)
    imported_days = days[:25]
    file = tmp_path / "cm_bhav.csv"
    _write_bhavcopy(file, {d: totals[d] for d in imported_days}, [
        bhav_row("YESBANK", "EQ", "05-FEB-2019", "12x"),
        bhav_row("SBIN", "EQ", "2019-02-05", "2500000"),
        bhav_row("SB IN", "EQ", "2019-02-05", "1"),
    ])
    calls: list[tuple[int, int]] = []
    report = import_file(redis_client, file, lambda done, total: calls.append((done, total)),
                         core_config=core_config, chunk_size=7)

    data_lines = 2 * 25 + 3
    assert report.form == "bhavcopy"
    assert report.rows == data_lines
    assert report.imported == 26
    assert report.symbols == 2
    assert report.baselines == 2
    assert report.ignored == 25
    assert report.skipped == [
        SkippedRow(52, "volume is not a number: '12x'"),
        SkippedRow(54, "symbol contains whitespace or control characters: 'SB IN'"),
    ]
    assert (report.first_date, report.last_date) == (days[0], date(2019, 2, 5))  # SBIN
    assert days[24] == date(2019, 2, 4)
    assert report.summary() == (
        f"{file}: bhavcopy, 53 rows: imported 26 days of 2 symbols (2019-01-01 .. 2019-02-05), "
        "2 baselines written, 25 rows of other series ignored, 2 skipped"
    )
    assert calls[0] == (0, 28)
    assert calls[-1] == (28, 28)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)

    history = codec.parse_history(codec.decode_hash(
        redis_client.hgetall(keys.history_key("YESBANK"))))
    assert history == {d: totals[d] for d in imported_days}
    last20 = imported_days[-20:]
    mean = sum(totals[d] for d in last20) / 20
    baseline = codec.decode_hash(redis_client.hgetall(keys.baseline_key("YESBANK")))
    assert baseline == {
        "baseline_1min": codec.fmt_float(mean / 375, 3),
        "avg_volume_20d": codec.fmt_float(mean, 3),
        "sessions": "20",
        "fno_adjustment": "1",
        "is_fno": "0",
    }
    assert codec.decode_hash(redis_client.hgetall(keys.baseline_key("SBIN")))["sessions"] == "1"

    # the engine's first tick of the next session finds the imported baseline
    next_day = days[25]
    session = [t for t in yesbank_ticks(path, days=26)
               if t["timestamp"].startswith(next_day.isoformat())]
    engine = UnifiedVolumeEngine(redis_client, core_config=core_config)
    result: dict[str, Any] = {}
    for tick in session[:10]:
        result = engine.process_tick(None, tick)
    assert result["baseline"]["avg_volume_20d"] == mean
    expected = mean / 375 * core_config.baselines.curve.cumulative(result["minutes_elapsed"])
    assert result["ratios"]["cumulative"] == pytest.approx(result["cumulative_volume"] / expected)


def test_import_is_idempotent_and_keeps_other_history(
    redis_client: redis.Redis, core_config: CoreConfig, tmp_path: Path
) -> None:
    redis_client.hset(keys.history_key("TCS"), "2025-01-02", "700")
    file = tmp_path / "plain.csv"
    file.write_text("symbol,date,volume\nTCS,2025-01-03,900\nTCS,2025-01-06,1100\n")
    first = import_file(redis_client, file, core_config=core_config)
    second = import_file(redis_client, file, core_config=core_config)
    assert first == second
    assert (first.imported, first.baselines) == (2, 1)
    history = codec.decode_hash(redis_client.hgetall(keys.history_key("TCS")))
    assert history == {"2025-01-02": "700", "2025-01-03": "900", "2025-01-06": "1100"}
    baseline = codec.decode_hash(redis_client.hgetall(keys.baseline_key("TCS")))
    assert baseline["avg_volume_20d"] == "900"
    assert baseline["sessions"] == "3"


def test_option_symbol_baseline_is_fno(
    redis_client: redis.Redis, core_config: CoreConfig, tmp_path: Path
) -> None:
    file = tmp_path / "fno.csv"
    file.write_text("symbol,date,volume\nNIFTY25JAN24000CE,2025-01-06,50000\n")
    report = import_file(redis_client, file, core_config=core_config)
    assert report.baselines == 1
    baseline = codec.decode_hash(redis_client.hgetall(keys.baseline_key("NIFTY25JAN24000CE")))
    assert baseline["is_fno"] == "1"
    assert baseline["avg_volume_20d"] == "50000"
    inst = core_config.registry.resolve("NIFTY25JAN24000CE", date(2025, 1, 7))
    assert inst.expiry is not None
    dte = core_config.calendar.days_to_expiry(date(2025, 1, 7), inst.expiry)
    factor = core_config.baselines.multipliers.adjustment(
        inst.kind, days_to_expiry=dte, strike=inst.strike, underlying_price=None)
    assert baseline["fno_adjustment"] == codec.fmt_float(factor)


@pytest.mark.parametrize("packing", ["gz", "zip"])
def test_compressed_files(
    redis_client: redis.Redis, core_config: CoreConfig, tmp_path: Path, packing: str
) -> None:
    text = BHAV_HEADER + "\n" + bhav_row("ZEEL", "EQ", "01-JAN-2019", "4200") + "\n"
    if packing == "gz":
        file = tmp_path / "cm01JAN2019bhav.csv.gz"
        file.write_bytes(gzip.compress(text.encode()))
    else:
        file = tmp_path / "cm01JAN2019bhav.csv.zip"
        with zipfile.ZipFile(file, "w") as zf:
            zf.writestr("cm01JAN2019bhav.csv", text)
    report = import_file(redis_client, file, core_config=core_config)
    assert report.imported == 1
    assert redis_client.hget(keys.history_key("ZEEL"), "2019-01-01") == b"4200"
    assert report.last_date == date(2019, 1, 1)


def test_nothing_to_import(
    redis_client: redis.Redis, core_config: CoreConfig, tmp_path: Path
) -> None:
    file = tmp_path / "bonds.csv"
    file.write_text(BHAV_HEADER + "\n" + bhav_row("IRFC", "N1", "01-JAN-2019", "10") + "\n")
    calls: list[tuple[int, int]] = []
    report = import_file(redis_client, file, lambda d, t: calls.append((d, t)),
                         core_config=core_config)
    assert (report.imported, report.baselines, report.ignored) == (0, 0, 1)
    assert calls == [(0, 0)]
    assert redis_client.dbsize() == 0
