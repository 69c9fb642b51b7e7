"""Market clock: exchange-time arithmetic, trading days, expiries and the config tables."""

from __future__ import annotations

import gzip
import pickle
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.market_clock import IST, MarketCalendar, SessionHours

CONFIG = Path(__file__).resolve().parents[2] / "config"


def ms(local: str) -> int:
    """Epoch ms of a naive exchange-time ISO string."""
    return int(datetime.fromisoformat(local).replace(tzinfo=IST).timestamp() * 1000)


def shipped_config() -> dict[str, Any]:
    market = tomllib.loads((CONFIG / "market.toml").read_text())
    holidays = tomllib.loads((CONFIG / "holidays.toml").read_text())
    return {**market["market"], **holidays["holidays"]}


@pytest.fixture(scope="module")
def nse() -> MarketCalendar:
    return MarketCalendar.from_config(shipped_config())


# -- session hours and the hot path ------------------------------------------------------------


def test_ist_is_fixed_utc_plus_0530() -> None:
    assert IST.utcoffset(None) == timedelta(hours=5, minutes=30)


def test_session_hours_defaults() -> None:
    hours = SessionHours()
    assert (hours.open, hours.close, hours.minutes) == (time(9, 15), time(15, 30), 375)
    assert SessionHours(time(10, 0), time(10, 1)).minutes == 1


@pytest.mark.parametrize(
    ("open_", "close", "message"),
    [
        (time(15, 30), time(9, 15), r"session_close: must be after session_open \(15:30\)"),
        (time(9, 15), time(9, 15), "session_close: must be after session_open"),
        (time(9, 15, 30), time(15, 30), "session_open: must be a whole minute"),
        (time(9, 15), time(15, 30, tzinfo=IST), "session_close: must be a whole minute"),
    ],
)
def test_session_hours_validation(open_: time, close: time, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SessionHours(open_, close)


@pytest.mark.parametrize(
    ("local", "day", "minute", "elapsed"),
    [
        ("2025-12-22T00:00:00", "2025-12-22", -555, 0.0),
        ("2025-12-22T09:00:00", "2025-12-22", -15, 0.0),
        ("2025-12-22T09:14:59.999", "2025-12-22", -1, 0.0),
        ("2025-12-22T09:15:00", "2025-12-22", 0, 0.0),
        ("2025-12-22T09:15:30", "2025-12-22", 0, 0.5),
        ("2025-12-22T09:16:00", "2025-12-22", 1, 1.0),
        ("2025-12-22T12:22:30", "2025-12-22", 187, 187.5),
        ("2025-12-22T15:29:59", "2025-12-22", 374, 374 + 59 / 60),
        ("2025-12-22T15:30:00", "2025-12-22", 375, 375.0),
        ("2025-12-22T15:40:00", "2025-12-22", 385, 375.0),
        ("2025-12-22T23:59:59.999", "2025-12-22", 884, 375.0),
    ],
)
def test_exchange_time_arithmetic(local: str, day: str, minute: int, elapsed: float) -> None:
    calendar = MarketCalendar()
    ts = ms(local)
    assert calendar.trading_date(ts) == date.fromisoformat(day)
    assert calendar.minute_of_session(ts) == minute
    assert calendar.minutes_elapsed(ts) == pytest.approx(elapsed, abs=1e-9)


def test_trading_date_is_the_ist_date_not_the_utc_date() -> None:
    calendar = MarketCalendar()
    # 2025-12-21T19:00Z is 00:30 on the 22nd in Mumbai.
    ts = int(datetime(2025, 12, 21, 19, 0, tzinfo=UTC).timestamp() * 1000)
    assert calendar.trading_date(ts) == date(2025, 12, 22)
    assert calendar.trading_date(0) == date(1970, 1, 1)


def test_custom_session_hours() -> None:
    calendar = MarketCalendar(hours=SessionHours(time(10, 0), time(11, 0)))
    assert calendar.minute_of_session(ms("2025-12-22T10:30:00")) == 30
    assert calendar.minutes_elapsed(ms("2025-12-22T12:00:00")) == 60.0


def test_trading_date_cache_returns_equal_dates_for_many_days() -> None:
    calendar = MarketCalendar()
    start = ms("2000-01-01T12:00:00")
    for i in range(5000):  # more than the cache keeps: it refills, answers stay right
        assert calendar.trading_date(start + i * 86_400_000) == date(2000, 1, 1) + timedelta(i)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)))
def test_hot_path_matches_datetime(local: datetime) -> None:
    local = local.replace(microsecond=local.microsecond // 1000 * 1000)  # ms resolution
    calendar = MarketCalendar()
    ts = (local - datetime(1970, 1, 1, 5, 30)) // timedelta(milliseconds=1)
    assert calendar.trading_date(ts) == local.date()
    since_open = local - datetime.combine(local.date(), time(9, 15))
    assert calendar.minute_of_session(ts) == since_open // timedelta(minutes=1)
    expected = min(max(since_open / timedelta(minutes=1), 0.0), 375.0)
    assert calendar.minutes_elapsed(ts) == pytest.approx(expected, abs=1e-6)


# -- trading days ------------------------------------------------------------------------------


def test_trading_days_exclude_weekends_and_holidays() -> None:
    calendar = MarketCalendar(holidays=frozenset({date(2025, 12, 25)}))
    assert calendar.is_trading_day(date(2025, 12, 24))
    assert not calendar.is_trading_day(date(2025, 12, 25))
    assert not calendar.is_trading_day(date(2025, 12, 27))  # Saturday
    assert not calendar.is_trading_day(date(2025, 12, 28))  # Sunday


def test_previous_trading_day(nse: MarketCalendar) -> None:
    assert nse.previous_trading_day(date(2025, 12, 23)) == date(2025, 12, 22)
    assert nse.previous_trading_day(date(2025, 12, 22)) == date(2025, 12, 19)  # over a weekend
    assert nse.previous_trading_day(date(2025, 12, 26)) == date(2025, 12, 24)  # over Christmas
    # Diwali 2025: Tue 21 and Wed 22 October are holidays.
    assert nse.previous_trading_day(date(2025, 10, 23)) == date(2025, 10, 20)


def test_adjust_expiry(nse: MarketCalendar) -> None:
    assert nse.adjust_expiry(date(2025, 12, 30)) == date(2025, 12, 30)
    assert nse.adjust_expiry(date(2025, 12, 25)) == date(2025, 12, 24)
    assert nse.adjust_expiry(date(2025, 12, 28)) == date(2025, 12, 26)


# -- expiries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2019, 1, "2019-01-31"),
        (2023, 6, "2023-06-28"),  # Thu 29 June 2023 was Bakri Id: moved back to Wednesday
        (2024, 3, "2024-03-28"),
        (2024, 12, "2024-12-26"),
        (2025, 2, "2025-02-27"),
        (2025, 8, "2025-08-28"),  # last Thursday expiry
        (2025, 9, "2025-09-30"),  # first Tuesday expiry
        (2025, 10, "2025-10-28"),
        (2025, 12, "2025-12-30"),
        (2026, 3, "2026-03-30"),  # Tue 31 March 2026 is Mahavir Jayanti
        (2026, 11, "2026-11-23"),  # Tue 24 November 2026 is Guru Nanak Jayanti
    ],
)
def test_monthly_expiry(nse: MarketCalendar, year: int, month: int, expected: str) -> None:
    assert nse.monthly_expiry(year, month) == date.fromisoformat(expected)


def test_expiry_rule_applies_by_candidate_date() -> None:
    # A rule starting mid-month governs that month when its candidate falls on/after its start.
    calendar = MarketCalendar(expiry_weekdays=((date(1970, 1, 1), 3), (date(2025, 9, 15), 0)))
    assert calendar.monthly_expiry(2025, 9) == date(2025, 9, 29)  # last Monday
    assert calendar.monthly_expiry(2025, 8) == date(2025, 8, 28)
    # Months before the first rule use the first rule.
    late = MarketCalendar(expiry_weekdays=((date(2030, 1, 1), 4),))
    assert late.monthly_expiry(2025, 12) == date(2025, 12, 26)


@given(st.integers(1971, 2100), st.integers(1, 12))
def test_monthly_expiry_properties(year: int, month: int) -> None:
    calendar = MarketCalendar(holidays=frozenset({date(year, month, 25), date(year, month, 26)}))
    expiry = calendar.monthly_expiry(year, month)
    assert (expiry.year, expiry.month) == (year, month)
    assert calendar.is_trading_day(expiry)
    weekday = 1 if date(year, month, 1) >= date(2025, 9, 1) else 3
    unadjusted = expiry
    while unadjusted.weekday() != weekday:
        unadjusted += timedelta(days=1)
    assert (unadjusted + timedelta(days=7)).month != month  # it is the month's last one
    assert all(
        not calendar.is_trading_day(expiry + timedelta(days=i))
        for i in range(1, (unadjusted - expiry).days + 1)
    )


def test_days_to_expiry(nse: MarketCalendar) -> None:
    monday = date(2025, 12, 22)
    assert nse.days_to_expiry(monday, date(2025, 12, 30)) == 5  # 23, 24, 26, 29, 30
    assert nse.days_to_expiry(monday, date(2025, 12, 23)) == 1
    assert nse.days_to_expiry(monday, monday) == 0
    assert nse.days_to_expiry(monday, date(2025, 12, 1)) == 0
    assert nse.days_to_expiry(date(2025, 12, 26), date(2025, 12, 28)) == 0  # weekend only
    assert nse.days_to_expiry(date(2025, 12, 19), date(2025, 12, 22)) == 1  # Fri -> Mon


@given(st.dates(date(2018, 1, 1), date(2027, 12, 31)), st.integers(0, 400))
def test_days_to_expiry_counts_trading_days(today: date, ahead: int) -> None:
    calendar = MarketCalendar.from_config(shipped_config())
    expiry = today + timedelta(days=ahead)
    brute = sum(calendar.is_trading_day(today + timedelta(days=i)) for i in range(1, ahead + 1))
    assert calendar.days_to_expiry(today, expiry) == brute


# -- config ------------------------------------------------------------------------------------


def test_from_config_reads_every_setting() -> None:
    calendar = MarketCalendar.from_config(
        {
            "session_open": "09:00",
            "session_close": time(15, 0),
            "holidays": ["2025-01-27", date(2025, 1, 28)],
            "dates": ["2025-01-29"],
            "expiry_weekdays": [{"from": "1970-01-01", "weekday": "Wednesday"}],
        }
    )
    assert calendar.hours == SessionHours(time(9, 0), time(15, 0))
    assert calendar.holidays == {date(2025, 1, 27), date(2025, 1, 28), date(2025, 1, 29)}
    assert calendar.expiry_weekdays == ((date(1970, 1, 1), 2),)


def test_from_config_defaults() -> None:
    assert MarketCalendar.from_config({}) == MarketCalendar()


def test_rules_are_sorted() -> None:
    calendar = MarketCalendar.from_config(
        {
            "expiry_weekdays": [
                {"from": "2025-09-01", "weekday": "tuesday"},
                {"from": "1970-01-01", "weekday": "thursday"},
            ]
        }
    )
    assert calendar.expiry_weekdays == ((date(1970, 1, 1), 3), (date(2025, 9, 1), 1))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"session_open": "9.15"}, 'session_open: expected a time like "09:15"'),
        ({"session_close": "25:00"}, "session_close: expected a time"),
        ({"session_open": 915}, "session_open: expected a time"),
        ({"session_open": "16:00"}, "session_close: must be after session_open"),
        ({"holidays": "2025-01-26"}, "holidays: expected a list of ISO dates"),
        ({"holidays": ["2025-02-30"]}, r"holidays\[0\]: expected an ISO date"),
        ({"dates": ["2025-01-26", 5]}, r"dates\[1\]: expected an ISO date"),
        ({"expiry_weekdays": []}, "expiry_weekdays: expected a non-empty list"),
        ({"expiry_weekdays": [{"from": "2025-01-01"}]}, r"expiry_weekdays\[0\]: expected"),
        (
            {"expiry_weekdays": [{"from": "2025-01-01", "weekday": "saturday"}]},
            r"expiry_weekdays\[0\].weekday: expected monday..friday",
        ),
        (
            {"expiry_weekdays": [{"from": "soon", "weekday": "monday"}]},
            r"expiry_weekdays\[0\].from: expected an ISO date",
        ),
        (
            {
                "expiry_weekdays": [
                    {"from": "2025-01-01", "weekday": "monday"},
                    {"from": "2025-01-01", "weekday": "friday"},
                ]
            },
            "expiry_weekdays: two rules from 2025-01-01",
        ),
        ({"session_opne": "09:15"}, "unknown market setting"),
    ],
)
def test_from_config_errors_name_the_setting(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MarketCalendar.from_config(table)


def test_direct_construction_validates_rules() -> None:
    with pytest.raises(ValueError, match="needs at least one rule"):
        MarketCalendar(expiry_weekdays=())
    with pytest.raises(ValueError, match=r"Monday\.\.Friday"):
        MarketCalendar(expiry_weekdays=((date(1970, 1, 1), 6),))
    with pytest.raises(ValueError, match="strictly ascending"):
        MarketCalendar(expiry_weekdays=((date(2025, 1, 1), 1), (date(2024, 1, 1), 3)))


def test_calendar_is_a_value() -> None:
    a = MarketCalendar(holidays=frozenset({date(2025, 12, 25)}))
    a.trading_date(0)  # fills the private cache; must not affect equality or hashing
    b = MarketCalendar(holidays=frozenset({date(2025, 12, 25)}))
    assert a == b
    assert hash(a) == hash(b)
    copy = pickle.loads(pickle.dumps(a))
    assert copy == a
    assert copy.monthly_expiry(2025, 12) == date(2025, 12, 30)


def test_shipped_holidays(nse: MarketCalendar) -> None:
    years = {year: sum(d.year == year for d in nse.holidays) for year in range(2019, 2027)}
    assert years == {2019: 17, 2020: 12, 2021: 14, 2022: 13, 2023: 15, 2024: 17, 2025: 14, 2026: 16}
    assert all(d.weekday() < 5 for d in nse.holidays)
    assert nse.hours.minutes == 375
    assert nse.expiry_weekdays == ((date(1970, 1, 1), 3), (date(2025, 9, 1), 1))


def test_shipped_holidays_match_real_2019_sessions(nse: MarketCalendar, shared_data: Path) -> None:
    """The YESBANK 2019 H1 bars have a session on exactly the NSE trading days."""
    with gzip.open(shared_data / "nse-yesbank-minute-2019H1.csv.gz", "rt") as f:
        next(f)
        sessions = {line.split(",")[1][:10] for line in f}
    d, trading = date(2019, 1, 1), set()
    while d <= date(2019, 6, 28):
        if nse.is_trading_day(d):
            trading.add(d.isoformat())
        d += timedelta(days=1)
    assert sessions == trading
    assert len(trading) == 122


def test_the_expiry_weekday_in_force_changes_on_the_rule_date() -> None:
    from shared_core.volume_files.market_clock import MarketCalendar

    calendar = MarketCalendar()
    assert calendar.expiry_weekday(date(2025, 8, 31)) == 3  # Thursday
    assert calendar.expiry_weekday(date(2025, 9, 1)) == 1  # Tuesday from 2025-09-01
