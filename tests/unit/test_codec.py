from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.baseline_service import Baseline
from shared_core.volume_files.engine_core import SymbolSnapshot
from shared_core.volume_files.instruments import Instrument, InstrumentKind
from shared_core.volume_files.session_tracker import SessionState
from shared_core.volume_files.store import codec, keys
from shared_core.volume_files.volume_profile_manager import ProfileSnapshot

PLAIN = re.compile(r"^-?\d+(\.\d+)?$")
DAY = date(2025, 1, 6)
T0 = 1_736_135_100_000  # 2025-01-06 09:15:00 IST


def test_fmt_int() -> None:
    assert codec.fmt_int(0) == "0"
    assert codec.fmt_int(12_345_678_901_234) == "12345678901234"
    assert codec.fmt_int(-5) == "-5"


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.0, 6, "0"),
        (-0.0, 6, "0"),
        (1.0, 6, "1"),
        (1.5, 6, "1.5"),
        (2.0 / 3.0, 6, "0.666667"),
        (2.0 / 3.0, 3, "0.667"),
        (1e-7, 6, "0"),
        (-1e-7, 6, "0"),
        (1e20, 6, "100000000000000000000"),
        (123456.78949, 3, "123456.789"),
        (-2.5, 3, "-2.5"),
    ],
)
def test_fmt_float_plain_decimals(value: float, digits: int, text: str) -> None:
    assert codec.fmt_float(value, digits) == text


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_fmt_float_refuses_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        codec.fmt_float(value)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30))
def test_fmt_float_is_plain_and_close(value: float) -> None:
    text = codec.fmt_float(value)
    assert PLAIN.match(text), text
    assert "e" not in text.lower()
    assert float(text) == pytest.approx(value, abs=5e-7, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (120.5, "120.5"),
        (120.0, "120"),
        (0.05, "0.05"),
        (1234.55, "1234.55"),
        (1e-05, "0.00001"),
        (1.2345678912345e-05, "0.000012345678912345"),
        (1e16, "10000000000000000"),
    ],
)
def test_fmt_price(value: float, text: str) -> None:
    assert codec.fmt_price(value) == text


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_fmt_price_refuses_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        codec.fmt_price(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_fmt_price_reads_back_the_same_float(value: float) -> None:
    text = codec.fmt_price(value)
    assert PLAIN.match(text), text
    assert float(text) == value


def test_fmt_timestamp_is_exchange_time_with_offset() -> None:
    assert codec.fmt_timestamp(T0) == "2025-01-06T09:15:00.000+05:30"
    assert codec.fmt_timestamp(T0 + 1) == "2025-01-06T09:15:00.001+05:30"
    # 20:00 UTC is already the next exchange day
    assert codec.fmt_timestamp(1_736_193_600_000) == "2025-01-07T01:30:00.000+05:30"


def _snapshot(
    session: SessionState,
    *,
    baseline: Baseline | None = None,
    rvol: float | None = None,
    expected: float | None = None,
    profile: ProfileSnapshot | None = None,
    kind: InstrumentKind = InstrumentKind.EQUITY,
    baseline_changed: bool = True,
) -> SymbolSnapshot:
    return SymbolSnapshot(
        symbol="YESBANK",
        instrument=Instrument(symbol="YESBANK", underlying="YESBANK", kind=kind),
        session=session,
        minutes_elapsed=12.5,
        flow_rate_1m=100.0,
        flow_rate_5m=2.0 / 3.0,
        baseline=baseline,
        fno_adjustment=1.0,
        expected_volume=expected,
        rvol=rvol,
        rvol_1m=None,
        profile=profile,
        baseline_changed=baseline_changed,
        dirty_minutes=dict(session.minute_volumes),
    )


def _by_key(writes: list[codec.HashWrite]) -> dict[str, codec.HashWrite]:
    return {w.key: w for w in writes}


def _state() -> SessionState:
    return SessionState(
        date=DAY, cumulative_volume=1500, tick_count=3, last_price=120.55,
        last_ts_ms=T0 + 12 * 60_000 + 30_000, last_minute=12,
        minute_volumes={-3: 100, 0: 400, 12: 1000},
    )


def test_snapshot_without_baseline_leaves_ratios_out() -> None:
    writes = _by_key(codec.snapshot_writes(_snapshot(_state()), dual_write=True))
    session = writes[keys.session_key("YESBANK", DAY)]
    assert session.family == keys.FAMILY_UNIFIED
    assert "rvol" not in session.fields
    assert "expected_volume" not in session.fields
    # before any recorded session the baseline hash carries the F&O facts only
    assert writes[keys.baseline_key("YESBANK")].fields == {
        "sessions": "0", "fno_adjustment": "1", "is_fno": "0",
    }
    assert keys.poc_key("YESBANK") not in writes
    legacy = writes[keys.legacy_key("YESBANK")].fields
    assert legacy == {
        "volume": "1500",
        "last_price": "120.55",
        "volume_per_minute": "100",
        "volume_per_minute_5m": "0.667",
        "tick_count": "3",
        "timestamp": "2025-01-06T09:27:30.000+05:30",
    }
    assert writes[keys.history_key("YESBANK")].fields == {"2025-01-06": "1500"}
    assert writes[keys.minutes_key("YESBANK", DAY)].fields == {
        "-3": "100", "0": "400", "12": "1000"
    }


def test_snapshot_with_baseline_and_profile() -> None:
    baseline = Baseline(avg_volume_20d=37_500.0, baseline_1min=100.0, sessions=20)
    profile = ProfileSnapshot(
        poc_price=120.55, poc_volume=1000, value_area_high=120.6, value_area_low=120.5,
        profile_strength=0.25, total_volume=1500,
        distribution={"120.50": 400, "120.55": 1000, "120.60": 100},
        support_levels=[120.5], resistance_levels=[],
    )
    snap = _snapshot(_state(), baseline=baseline, rvol=1.2, expected=1250.0, profile=profile)
    writes = _by_key(codec.snapshot_writes(snap, dual_write=False))
    assert keys.legacy_key("YESBANK") not in writes
    session = writes[keys.session_key("YESBANK", DAY)].fields
    assert session["rvol"] == "1.2"
    assert session["expected_volume"] == "1250"
    assert writes[keys.baseline_key("YESBANK")].fields == {
        "baseline_1min": "100", "avg_volume_20d": "37500", "sessions": "20",
        "fno_adjustment": "1", "is_fno": "0",
    }
    poc = writes[keys.poc_key("YESBANK")].fields
    assert poc == {
        "poc_price": "120.55", "poc_volume": "1000", "value_area_high": "120.6",
        "value_area_low": "120.5", "profile_strength": "0.25",
        "exchange_timestamp": "2025-01-06T09:27:30.000+05:30",
    }
    prof = writes[keys.profile_session_key("YESBANK", DAY)].fields
    assert set(prof) == set(keys.PROFILE_SESSION_FIELDS)
    assert orjson.loads(prof["price_volume_distribution"]) == profile.distribution
    assert orjson.loads(prof["support_levels"]) == [120.5]
    assert orjson.loads(prof["resistance_levels"]) == []
    for w in writes.values():
        assert set(w.fields) <= {*keys.SESSION_FIELDS, *keys.PROFILE_SESSION_FIELDS,
                                 *keys.BASELINE_FIELDS} or w.family == keys.FAMILY_STATE


@pytest.mark.parametrize("kind", [InstrumentKind.EQUITY, InstrumentKind.OPTION])
def test_an_unchanged_baseline_is_not_rewritten(kind: InstrumentKind) -> None:
    baseline = Baseline(avg_volume_20d=37_500.0, baseline_1min=100.0, sessions=20)
    snap = _snapshot(_state(), baseline=baseline, kind=kind, baseline_changed=False)
    writes = _by_key(codec.snapshot_writes(snap, dual_write=True))
    assert keys.baseline_key("YESBANK") not in writes
    # the legacy hash still carries the average
    assert writes[keys.legacy_key("YESBANK")].fields["avg_volume"] == "37500"


def test_baseline_fields_match_the_engine_writes() -> None:
    baseline = Baseline(avg_volume_20d=1000.0 / 3.0, baseline_1min=1000.0 / 3.0 / 375, sessions=3)
    assert codec.baseline_fields(baseline, fno_adjustment=0.8, is_fno=True) == {
        "baseline_1min": "0.889", "avg_volume_20d": "333.333", "sessions": "3",
        "fno_adjustment": "0.8", "is_fno": "1",
    }


sessions = st.builds(
    SessionState,
    date=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    cumulative_volume=st.integers(0, 2**62),
    tick_count=st.integers(0, 2**40),
    last_price=st.floats(min_value=0.01, max_value=1e7, allow_nan=False),
    last_ts_ms=st.integers(0, 4_102_444_800_000),
    last_minute=st.integers(-600, 900),
    minute_volumes=st.dictionaries(st.integers(-600, 900), st.integers(1, 2**40), max_size=30),
)


@given(sessions)
def test_restore_session_round_trips_the_written_hashes(state: SessionState) -> None:
    writes = _by_key(codec.snapshot_writes(_snapshot(state), dual_write=False))
    session = writes[keys.session_key("YESBANK", state.date)].fields
    minutes_write = writes.get(keys.minutes_key("YESBANK", state.date))
    minutes = codec.parse_minutes(minutes_write.fields if minutes_write else {})
    assert codec.restore_session(state.date, session, minutes) == state


def test_build_history_restores_the_latest_session_and_profile() -> None:
    history = codec.decode_hash({b"2025-01-03": b"900", b"2025-01-06": b"1500"})
    writes = _by_key(codec.snapshot_writes(_snapshot(_state()), dual_write=False))
    session = writes[keys.session_key("YESBANK", DAY)].fields
    minutes = writes[keys.minutes_key("YESBANK", DAY)].fields
    profile = {"price_volume_distribution": '{"120.50":400,"120.55":1100}'}
    built = codec.build_history(history, session, minutes, profile)
    assert built.daily_totals == {date(2025, 1, 3): 900, DAY: 1500}
    assert built.session == _state()
    assert built.profile == {"120.50": 400, "120.55": 1100}
    empty = codec.build_history(history, {}, {}, {})
    assert empty.session is None
    assert empty.profile is None


@given(st.integers(min_value=0, max_value=253_402_300_799_999 - 19_800_000))
def test_fmt_timestamp_matches_the_datetime_formatting(ts_ms: int) -> None:
    """The integer fast path gives exactly what datetime gives (float rounding included)."""
    ist = timezone(timedelta(hours=5, minutes=30))
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(ist)
    assert codec.fmt_timestamp(ts_ms) == moment.isoformat(timespec="milliseconds")


def test_fmt_timestamp_examples() -> None:
    assert codec.fmt_timestamp(T0) == "2025-01-06T09:15:00.000+05:30"
    assert codec.fmt_timestamp(T0 + 86_399_999) == "2025-01-07T09:14:59.999+05:30"
    assert codec.fmt_timestamp(0) == "1970-01-01T05:30:00.000+05:30"


@given(
    st.one_of(
        st.floats(min_value=-1e9, max_value=1e9),
        st.integers(min_value=-(10**12), max_value=10**12).map(lambda n: n / 1024),  # exact ties
    ),
    st.sampled_from([0, 3, 6]),
)
def test_fmt_float_equals_rounding_then_formatting(value: float, digits: int) -> None:
    text = f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")
    assert codec.fmt_float(value, digits) == ("0" if text in ("-0", "") else text)
