"""Exchange time and the NSE trading calendar: session minutes, trading days, F&O expiries.

Exchange time is IST, a fixed UTC+05:30 with no DST, so the hot path (`trading_date`,
`minute_of_session`, `minutes_elapsed`) is integer arithmetic on epoch milliseconds: no tz
database, no datetime objects per tick. Trading dates are cached per day number.

The calendar is data, not code: session hours, holidays and the expiry weekday rules come from
config (config/market.toml, config/holidays.toml), because the exchange changes them by circular.
A trading day is a weekday that is not a listed holiday. Monthly F&O contracts expire on the last
expiry weekday of the month (Thursday; Tuesday from 2025-09-01), moved back to the previous
trading day when that is a holiday. The rule in force is the latest one whose `from` date is on
or before that candidate expiry; months before the first rule use the first rule.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30), "IST")

_IST_OFFSET_MS = 19_800_000
_DAY_MS = 86_400_000
_MINUTE_MS = 60_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DATE_CACHE_LIMIT = 4096  # distinct days kept; a replay of years of data just refills it

WEEKDAYS: dict[str, int] = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4}
_SETTINGS = frozenset({"session_open", "session_close", "holidays", "dates", "expiry_weekdays"})


@dataclass(frozen=True, slots=True)
class SessionHours:
    """The normal market session in exchange time (NSE: 09:15 to 15:30, 375 minutes)."""

    open: time = time(9, 15)
    close: time = time(15, 30)

    def __post_init__(self) -> None:
        for name, value in (("session_open", self.open), ("session_close", self.close)):
            if value.tzinfo is not None or value.second or value.microsecond:
                raise ValueError(f"{name}: must be a whole minute without a time zone: {value}")
        if self.close <= self.open:
            raise ValueError(
                f"session_close: must be after session_open ({self.open:%H:%M}), "
                f"got {self.close:%H:%M}"
            )

    @property
    def minutes(self) -> int:
        return (self.close.hour - self.open.hour) * 60 + self.close.minute - self.open.minute


_DEFAULT_EXPIRY_WEEKDAYS: tuple[tuple[date, int], ...] = (
    (date(1970, 1, 1), 3),
    (date(2025, 9, 1), 1),
)


@dataclass(frozen=True, slots=True)
class MarketCalendar:
    hours: SessionHours = SessionHours()
    holidays: frozenset[date] = frozenset()
    # (effective_from, weekday Mon=0): monthly F&O expiry on the last such weekday of the month
    expiry_weekdays: tuple[tuple[date, int], ...] = _DEFAULT_EXPIRY_WEEKDAYS
    _open_ms: int = field(init=False, repr=False, compare=False)
    _minutes: int = field(init=False, repr=False, compare=False)
    _holiday_ordinals: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _dates: dict[int, date] = field(init=False, repr=False, compare=False)
    _monthly: dict[tuple[int, int], date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = tuple(self.expiry_weekdays)
        if not rules:
            raise ValueError("expiry_weekdays: needs at least one rule")
        for i, (start, weekday) in enumerate(rules):
            if not 0 <= weekday <= 4:
                raise ValueError(f"expiry_weekdays[{i}].weekday: must be Monday..Friday (0..4)")
            if i and start <= rules[i - 1][0]:
                raise ValueError(f"expiry_weekdays[{i}].from: dates must be strictly ascending")
        holidays = frozenset(self.holidays)
        weekday_holidays = sorted(d.toordinal() for d in holidays if d.weekday() < 5)
        setattr_ = object.__setattr__
        setattr_(self, "holidays", holidays)
        setattr_(self, "expiry_weekdays", rules)
        setattr_(
            self, "_open_ms", (self.hours.open.hour * 60 + self.hours.open.minute) * _MINUTE_MS
        )
        setattr_(self, "_minutes", self.hours.minutes)
        setattr_(self, "_holiday_ordinals", tuple(weekday_holidays))
        setattr_(self, "_dates", {})
        setattr_(self, "_monthly", {})

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> MarketCalendar:
        """Build from the merged [market] and [holidays] tables; errors name the setting.

        Keys: session_open / session_close ("HH:MM" or a TOML time), holidays (or `dates`, the
        key inside holidays.toml's [holidays] table): ISO dates, expiry_weekdays: a list of
        {from = "YYYY-MM-DD", weekday = "thursday"}. Missing keys keep the NSE defaults.
        """
        unknown = sorted(str(k) for k in table if k not in _SETTINGS)
        if unknown:
            raise ValueError(f"unknown market setting(s): {', '.join(unknown)}")
        hours = SessionHours(
            _config_time("session_open", table.get("session_open", "09:15")),
            _config_time("session_close", table.get("session_close", "15:30")),
        )
        holidays = _config_dates("holidays", table.get("holidays", []))
        holidays |= _config_dates("dates", table.get("dates", []))
        if "expiry_weekdays" in table:
            rules = _config_rules(table["expiry_weekdays"])
        else:
            rules = _DEFAULT_EXPIRY_WEEKDAYS
        return cls(hours=hours, holidays=frozenset(holidays), expiry_weekdays=rules)

    # -- hot path: integer arithmetic on epoch ms ----------------------------------------------

    def trading_date(self, ts_ms: int) -> date:
        """The exchange-local calendar date of an instant."""
        day = (ts_ms + _IST_OFFSET_MS) // _DAY_MS
        cached = self._dates.get(day)
        if cached is None:
            if len(self._dates) >= _DATE_CACHE_LIMIT:
                self._dates.clear()
            cached = self._dates[day] = date.fromordinal(_EPOCH_ORDINAL + day)
        return cached

    def minute_of_session(self, ts_ms: int) -> int:
        """floor((local - open) / 1 min): < 0 before the open, >= `hours.minutes` after close."""
        return ((ts_ms + _IST_OFFSET_MS) % _DAY_MS - self._open_ms) // _MINUTE_MS

    def minutes_elapsed(self, ts_ms: int) -> float:
        """Session minutes elapsed at an instant, clamped to [0, session minutes]."""
        elapsed = ((ts_ms + _IST_OFFSET_MS) % _DAY_MS - self._open_ms) / _MINUTE_MS
        if elapsed <= 0.0:
            return 0.0
        return float(self._minutes) if elapsed >= self._minutes else elapsed

    # -- calendar ------------------------------------------------------------------------------

    def is_trading_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self.holidays

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before `d`."""
        d -= timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d

    def adjust_expiry(self, d: date) -> date:
        """An expiry falling on a holiday or weekend moves back to the previous trading day."""
        return d if self.is_trading_day(d) else self.previous_trading_day(d)

    def expiry_weekday(self, d: date) -> int:
        """The F&O expiry weekday (Mon=0) in force on `d`."""
        weekday = self.expiry_weekdays[0][1]
        for start, rule in self.expiry_weekdays:
            if start <= d:
                weekday = rule
        return weekday

    def monthly_expiry(self, year: int, month: int) -> date:
        """Monthly F&O expiry: the last expiry weekday of the month, moved back over holidays.
        Remembered per month: every derivative resolved at first sight asks for one."""
        known = self._monthly.get((year, month))
        if known is None:
            known = self._monthly[(year, month)] = self._monthly_expiry(year, month)
        return known

    def _monthly_expiry(self, year: int, month: int) -> date:
        last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
        candidate = None
        for start, weekday in reversed(self.expiry_weekdays):
            candidate = last - timedelta(days=(last.weekday() - weekday) % 7)
            if candidate >= start:
                break
        assert candidate is not None  # __post_init__ guarantees at least one rule
        return self.adjust_expiry(candidate)

    def days_to_expiry(self, today: date, expiry: date) -> int:
        """Trading days after `today` up to and including `expiry`; 0 on or after expiry day."""
        if expiry <= today:
            return 0
        t, e = today.toordinal(), expiry.toordinal()
        holidays = bisect_right(self._holiday_ordinals, e) - bisect_right(self._holiday_ordinals, t)
        return _weekdays_through(e) - _weekdays_through(t) - holidays


def _weekdays_through(ordinal: int) -> int:
    """Weekdays among ordinals 1..ordinal (ordinal 1, 0001-01-01, is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _config_time(name: str, value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) == 2 and all(len(p) == 2 and p.isascii() and p.isdigit() for p in parts):
            hour, minute = int(parts[0]), int(parts[1])
            if hour < 24 and minute < 60:
                return time(hour, minute)
    raise ValueError(f'{name}: expected a time like "09:15", got {value!r}')


def _config_date(name: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f'{name}: expected an ISO date like "2025-01-26", got {value!r}')


def _config_dates(name: str, value: object) -> set[date]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name}: expected a list of ISO dates, got {type(value).__name__}")
    return {_config_date(f"{name}[{i}]", item) for i, item in enumerate(value)}


def _config_rules(value: object) -> tuple[tuple[date, int], ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("expiry_weekdays: expected a non-empty list of {from, weekday} tables")
    rules: list[tuple[date, int]] = []
    for i, item in enumerate(value):
        where = f"expiry_weekdays[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"from", "weekday"}:
            raise ValueError(f'{where}: expected {{from = "YYYY-MM-DD", weekday = "thursday"}}')
        start = _config_date(f"{where}.from", item["from"])
        name = item["weekday"]
        weekday = WEEKDAYS.get(name.strip().lower()) if isinstance(name, str) else None
        if weekday is None:
            raise ValueError(f"{where}.weekday: expected monday..friday, got {name!r}")
        rules.append((start, weekday))
    rules.sort()
    for i in range(1, len(rules)):
        if rules[i][0] == rules[i - 1][0]:
            raise ValueError(f"expiry_weekdays: two rules from {rules[i][0].isoformat()}")
    return tuple(rules)
