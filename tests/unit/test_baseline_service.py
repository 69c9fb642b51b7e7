from __future__ import annotations

import csv
import gzip
import json
import math
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.baseline_service import (
    Baseline,
    BaselineService,
    FnoMultipliers,
    TimeOfDayCurve,
    compute_baseline,
    expected_volume,
    relative_volume,
)
from shared_core.volume_files.instruments import InstrumentKind

CONFIG = Path(__file__).resolve().parents[2] / "config"
D0 = date(2025, 1, 1)


def days(n: int) -> list[date]:
    return [D0 + timedelta(days=i) for i in range(n)]


# --- compute_baseline ------------------------------------------------------------------------


def test_baseline_averages_last_20_sessions_strictly_before_current() -> None:
    ds = days(25)
    totals = {d: 1000 * (i + 1) for i, d in enumerate(ds)}  # d_i -> 1000 * (i + 1)
    current = ds[22]
    totals[current] = 10**9  # the current session never counts
    b = compute_baseline(totals, current)
    assert b is not None
    # sessions before d22 are d0..d21; the last 20 are d2..d21 -> 3000..22000
    assert b.sessions == 20
    assert b.avg_volume_20d == sum(range(3000, 22001, 1000)) / 20 == 12500.0
    assert b.baseline_1min == 12500.0 / 375


def test_baseline_with_fewer_than_20_sessions() -> None:
    ds = days(4)
    totals = {ds[0]: 100, ds[1]: 200, ds[2]: 600, ds[3]: 5}
    assert compute_baseline(totals, ds[3]) == Baseline(300.0, 0.8, 3)
    assert compute_baseline(totals, ds[1]) == Baseline(100.0, 100 / 375, 1)


def test_baseline_ignores_insertion_order_and_future_dates() -> None:
    ds = days(5)
    totals = {ds[4]: 999, ds[2]: 30, ds[0]: 10, ds[1]: 20}
    b = compute_baseline(totals, ds[3], session_minutes=10, lookback=2)
    assert b == Baseline(25.0, 2.5, 2)


def test_no_recorded_session_means_no_baseline() -> None:
    ds = days(3)
    assert compute_baseline({}, ds[0]) is None
    assert compute_baseline({ds[1]: 500, ds[2]: 700}, ds[1]) is None


def test_zero_volume_sessions_count() -> None:
    ds = days(3)
    assert compute_baseline({ds[0]: 0, ds[1]: 750}, ds[2]) == Baseline(375.0, 1.0, 2)


def test_baseline_rejects_bad_window() -> None:
    with pytest.raises(ValueError, match="lookback"):
        compute_baseline({}, D0, lookback=0)


# --- TimeOfDayCurve --------------------------------------------------------------------------


def test_flat_curve_gives_minutes_elapsed() -> None:
    c = TimeOfDayCurve.flat()
    assert c.minutes == 375
    for t in (0.0, 1.0, 10.5, 187.25, 374.999, 375.0):
        assert c.cumulative(t) == t
    assert c.cumulative(-5.0) == 0.0
    assert c.cumulative(400.0) == 375.0
    assert c.cumulative(math.nan) == 0.0
    assert c.weight(0) == 1.0
    assert c.weight(374) == 1.0
    assert c.weight(375) == 0.0
    assert c.weight(-1) == 0.0


def test_from_weights_normalises_to_minutes_and_is_linear_inside_a_minute() -> None:
    c = TimeOfDayCurve.from_weights([1, 3])
    assert c.minutes == 2
    assert c.points == (0.0, 0.5, 2.0)
    assert c.cumulative(0.5) == 0.25
    assert c.cumulative(1.0) == 0.5
    assert c.cumulative(1.5) == 1.25
    assert c.cumulative(2.0) == 2.0
    assert c.cumulative(7.0) == 2.0
    assert c.weight(0) == 0.5
    assert c.weight(1) == 1.5
    # scale does not matter
    assert TimeOfDayCurve.from_weights([10.0, 30.0]) == c


def test_from_weights_with_zero_minutes_and_uneven_total() -> None:
    c = TimeOfDayCurve.from_weights([0.0, 0.1, 0.2, 0.0])
    assert c.points[0] == 0.0
    assert c.points[-1] == 4.0
    assert c.points[1] == 0.0
    assert c.points[3] == c.points[4]
    assert c.weight(0) == 0.0
    assert c.points[2] == pytest.approx(4 / 3, abs=1e-12)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "at least one"),
        ([1.0, -0.1], "weights\\[1\\]"),
        ([math.nan], "weights\\[0\\]"),
        ([math.inf, 1.0], "weights\\[0\\]"),
        ([0.0, 0.0], "positive sum"),
        (["1", 1.0], "weights\\[0\\]"),
        ([1.0, None], "weights\\[1\\]"),
        ({"0": 1.0}, "list"),
    ],
)
def test_from_weights_rejects_bad_input(weights: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeOfDayCurve.from_weights(weights)


def test_curve_rejects_hand_built_points_that_break_the_contract() -> None:
    with pytest.raises(ValueError, match="W\\(minutes\\)"):
        TimeOfDayCurve(2, (0.0, 1.0, 1.5))
    with pytest.raises(ValueError, match="non-decreasing"):
        TimeOfDayCurve(3, (0.0, 2.0, 1.0, 3.0))


def test_learned_curve_normalises_each_session_then_averages() -> None:
    sessions = [
        {0: 100, 1: 300},  # shares .25 / .75
        {0: 100_000, 1: 100_000},  # .5 / .5: a heavy day weighs the same as a light one
        {-1: 500, 2: 900},  # only pre-open and post-close minutes: ignored (empty)
        {},
    ]
    c = TimeOfDayCurve.learned(sessions, minutes=2, min_sessions=2)
    assert c is not None
    # mean shares .375 / .625 -> W(1) = 2 * .375
    assert c.points == (0.0, 0.75, 2.0)


def test_learned_curve_needs_min_sessions() -> None:
    one = {0: 10, 1: 20, 2: 30}
    assert TimeOfDayCurve.learned([one] * 4, minutes=3, min_sessions=5) is None
    assert TimeOfDayCurve.learned([one] * 4 + [{}, {5: 9}], minutes=3, min_sessions=5) is None
    c = TimeOfDayCurve.learned([one] * 5, minutes=3, min_sessions=5)
    assert c is not None
    assert c.points == pytest.approx((0.0, 0.5, 1.5, 3.0), abs=1e-12)


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60),
    st.floats(-10, 100, allow_nan=False),
)
def test_curve_is_monotone_and_bounded(weights: list[float], t: float) -> None:
    if sum(weights) <= 0:
        weights = [*weights, 1.0]
    c = TimeOfDayCurve.from_weights(weights)
    n = c.minutes
    assert c.cumulative(0) == 0.0
    assert c.cumulative(n) == n
    w = c.cumulative(t)
    assert 0.0 <= w <= n
    assert c.cumulative(t + 0.5) >= w
    assert sum(c.weight(m) for m in range(n)) == pytest.approx(n, rel=1e-9)


# --- F&O multipliers -------------------------------------------------------------------------

TABLE: dict[str, Any] = {
    "dte": [
        {"max_days": 0, "multiplier": 2.0},
        {"max_days": 1, "multiplier": 1.6},
        {"max_days": 3, "multiplier": 1.3},
    ],
    "moneyness": [
        {"max_pct": 1.0, "multiplier": 1.3},
        {"max_pct": 5.0, "multiplier": 1.0},
        {"max_pct": 10, "multiplier": 0.8},
    ],
}


@pytest.fixture
def mult() -> FnoMultipliers:
    return FnoMultipliers.from_config(TABLE)


def test_from_config_builds_tables(mult: FnoMultipliers) -> None:
    assert mult.dte == ((0, 2.0), (1, 1.6), (3, 1.3))
    assert mult.moneyness == ((1.0, 1.3), (5.0, 1.0), (10, 0.8))


@pytest.mark.parametrize(
    ("dte", "factor"),
    [(0, 2.0), (1, 1.6), (2, 1.3), (3, 1.3), (4, 1.3), (400, 1.3), (-1, 2.0), (None, 1.0)],
)
def test_future_uses_dte_band_inclusive_and_last_beyond(
    mult: FnoMultipliers, dte: int | None, factor: float
) -> None:
    got = mult.adjustment(
        InstrumentKind.FUTURE, days_to_expiry=dte, strike=None, underlying_price=100.0
    )
    assert got == factor


@pytest.mark.parametrize(
    ("strike", "spot", "factor"),
    [
        (100.0, 100.0, 1.3),
        (101.0, 100.0, 1.3),  # exactly 1%: inclusive
        (99.0, 100.0, 1.3),
        (101.5, 100.0, 1.0),
        (105.0, 100.0, 1.0),  # exactly 5%
        (95.0, 100.0, 1.0),
        (26092.5, 24850.0, 1.0),  # exactly 5% of a real-sized spot
        (105.05, 100.0, 0.8),
        (110.0, 100.0, 0.8),
        (150.0, 100.0, 0.8),  # beyond the last band -> last multiplier
        (150.0, None, 1.0),  # spot unknown -> factor 1
        (None, 100.0, 1.0),  # strike unknown -> factor 1
        (150.0, 0.0, 1.0),
    ],
)
def test_option_moneyness_bands(
    mult: FnoMultipliers, strike: float | None, spot: float | None, factor: float
) -> None:
    got = mult.adjustment(
        InstrumentKind.OPTION, days_to_expiry=None, strike=strike, underlying_price=spot
    )
    assert got == factor


def test_option_multiplies_dte_and_moneyness(mult: FnoMultipliers) -> None:
    got = mult.adjustment(
        InstrumentKind.OPTION, days_to_expiry=1, strike=24000.0, underlying_price=24100.0
    )
    assert got == 1.6 * 1.3
    got = mult.adjustment(
        InstrumentKind.OPTION, days_to_expiry=0, strike=24000.0, underlying_price=None
    )
    assert got == 2.0


@pytest.mark.parametrize("kind", [InstrumentKind.EQUITY, InstrumentKind.INDEX])
def test_equity_and_index_are_exactly_one(mult: FnoMultipliers, kind: InstrumentKind) -> None:
    got = mult.adjustment(kind, days_to_expiry=0, strike=100.0, underlying_price=100.0)
    assert got == 1.0
    assert type(got) is float


def test_missing_tables_mean_factor_one() -> None:
    m = FnoMultipliers.from_config({})
    assert (
        m.adjustment(InstrumentKind.OPTION, days_to_expiry=0, strike=100.0, underlying_price=100.0)
        == 1.0
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"dte": [{"max_days": 3, "multiplier": 1.0}, {"max_days": 1, "multiplier": 1.0}]},
            "ascending",
        ),
        ({"dte": [{"max_days": 1.5, "multiplier": 1.0}]}, "whole number"),
        ({"dte": [{"max_days": 1, "multiplier": 0}]}, "multiplier"),
        ({"dte": [{"max_days": -1, "multiplier": 1.0}]}, ">= 0"),
        ({"dte": [{"max_days": True, "multiplier": 1.0}]}, "number"),
        ({"dte": [{"max_days": 1}]}, "must have"),
        ({"dte": {"max_days": 1, "multiplier": 1.0}}, "list"),
        ({"moneyness": [{"max_pct": "1", "multiplier": 1.0}]}, "number"),
        ({"moneyness": [{"max_pct": 1.0, "multiplier": math.inf}]}, "finite"),
    ],
)
def test_from_config_rejects_bad_tables(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FnoMultipliers.from_config(table)


def test_shipped_multiplier_table_loads_and_is_sane() -> None:
    with (CONFIG / "fno_multipliers.toml").open("rb") as fh:
        m = FnoMultipliers.from_config(tomllib.load(fh))
    assert m.dte[0][0] == 0
    assert m.dte[0][1] > 1.0  # expiry day is busier than usual
    assert [x for _, x in m.dte] == sorted((x for _, x in m.dte), reverse=True)
    assert [x for _, x in m.moneyness] == sorted((x for _, x in m.moneyness), reverse=True)
    assert (
        m.adjustment(InstrumentKind.EQUITY, days_to_expiry=0, strike=1.0, underlying_price=1.0)
        == 1.0
    )


# --- expected volume and RVOL ----------------------------------------------------------------


def test_expected_and_relative_volume() -> None:
    assert expected_volume(20.0, 1.5, 10.0) == 300.0
    assert relative_volume(450.0, 300.0) == 1.5
    assert relative_volume(0.0, 300.0) == 0.0
    assert relative_volume(10.0, 0.0) is None
    assert relative_volume(10.0, -1.0) is None
    assert relative_volume(10.0, math.nan) is None
    assert relative_volume(1e308, 1e-300) is None  # would overflow to inf


def test_after_close_expected_is_avg_times_fno_whatever_the_curve() -> None:
    totals = dict.fromkeys(days(3), 7500)
    b = compute_baseline(totals, D0 + timedelta(days=3))
    assert b is not None
    assert b.baseline_1min == 20.0
    skewed = TimeOfDayCurve.from_weights([5.0] * 30 + [1.0] * 315 + [4.0] * 30)
    for curve in (TimeOfDayCurve.flat(), skewed):
        w = curve.cumulative(375.0)
        assert expected_volume(b.baseline_1min, 1.6, w) == 7500 * 1.6
        assert expected_volume(b.baseline_1min, 1.0, curve.cumulative(10_000.0)) == 7500.0
    # mid-session a flat curve gives baseline_1min * minutes elapsed
    assert expected_volume(b.baseline_1min, 1.0, TimeOfDayCurve.flat().cumulative(30.5)) == 610.0
    # the skewed curve front-loads: more than flat by minute 30
    assert skewed.cumulative(30.0) == pytest.approx(30 * 5 * 375 / (150 + 315 + 120))


# --- BaselineService -------------------------------------------------------------------------


def _service(mode: str, **kw: Any) -> BaselineService:
    default = TimeOfDayCurve.from_weights([3.0] + [1.0] * 374)
    return BaselineService(curve=default, multipliers=FnoMultipliers(), curve_mode=mode, **kw)


def test_service_baseline_uses_its_lookback_and_minutes() -> None:
    ds = days(6)
    totals = {d: 100 * (i + 1) for i, d in enumerate(ds)}
    s = _service("default", lookback=2)
    assert s.baseline(totals, ds[5]) == Baseline(450.0, 450.0 / 375, 2)
    assert s.lookback == 2
    assert s.baseline({}, ds[0]) is None


def test_service_curve_modes() -> None:
    history = [{0: 10, 1: 10, 374: 80}] * 5
    default = _service("default")
    assert default.curve_for(history) is default.curve
    flat = _service("flat")
    assert flat.curve_for(history) == TimeOfDayCurve.flat()
    learned = _service("learned", min_learned_sessions=5)
    got = learned.curve_for(history)
    assert got == TimeOfDayCurve.learned(history, 375, 5)
    assert got.weight(374) == pytest.approx(0.8 * 375)
    # not enough history -> the default curve
    assert learned.curve_for(history[:4]) is learned.curve
    assert learned.curve_for([]) is learned.curve


def test_service_learned_uses_only_last_lookback_sessions() -> None:
    old = {0: 100}
    new = {374: 100}
    s = _service("learned", lookback=3, min_learned_sessions=3)
    got = s.curve_for([old, old, new, new, new])
    assert got.weight(374) == 375.0
    assert got.weight(0) == 0.0


def test_service_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="curve_mode"):
        _service("smart")
    with pytest.raises(ValueError, match="minutes"):
        _service("default", session_minutes=360)
    with pytest.raises(ValueError, match="lookback"):
        _service("default", lookback=0)


# --- the shipped default curve ---------------------------------------------------------------


def _shipped_curve() -> tuple[dict[str, Any], TimeOfDayCurve]:
    doc: dict[str, Any] = json.loads((CONFIG / "curve_nse_intraday.json").read_text())
    return doc, TimeOfDayCurve.from_weights(doc["weights"])


def test_shipped_curve_is_a_375_minute_u_shape() -> None:
    doc, curve = _shipped_curve()
    assert doc["minutes"] == 375 == curve.minutes
    assert len(doc["weights"]) == 375
    assert doc["sessions"] == 122
    assert "YESBANK" in doc["source"]
    middle = curve.weight(187)
    assert curve.weight(0) > 3 * middle  # heavy open
    assert curve.weight(374) > middle  # heavier close
    # the first hour carries more than a flat hour
    assert curve.cumulative(60.0) > 60.0


def test_shipped_curve_matches_learning_from_the_sample_data(shared_data: Path) -> None:
    sessions: dict[str, dict[int, int]] = {}
    with gzip.open(shared_data / "nse-yesbank-minute-2019H1.csv.gz", "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            day, clock = row["timestamp"].split("T")
            minute = int(clock[:2]) * 60 + int(clock[3:5]) - (9 * 60 + 15)
            bucket = sessions.setdefault(day, {})
            bucket[minute] = bucket.get(minute, 0) + int(row["volume"])
    learned = TimeOfDayCurve.learned(list(sessions.values()), 375, 5)
    assert learned is not None
    _, shipped = _shipped_curve()
    for m in range(376):
        assert shipped.points[m] == pytest.approx(learned.points[m], abs=1e-3)


@given(
    st.dictionaries(st.integers(-400, 400), st.integers(0, 10**15), max_size=40),
    st.integers(-400, 400),
    st.integers(1, 25),
)
def test_a_baseline_over_day_numbers_is_the_one_over_dates(
    totals: dict[int, int], current: int, lookback: int
) -> None:
    """The native core's session contexts pass day numbers: the same sessions, the same
    float, as over the dates they stand for."""
    epoch = date(2025, 1, 1)
    by_date = {epoch + timedelta(days=d): v for d, v in totals.items()}
    assert compute_baseline(totals, current, lookback=lookback) == compute_baseline(
        by_date, epoch + timedelta(days=current), lookback=lookback
    )
