"""Expected volume: a symbol's own history, shaped by time of day, adjusted for F&O.

Expected cumulative volume at time t is `baseline_1min * fno_adjustment * W(t)` (README
"Definitions"):

- `baseline_1min` = `avg_volume_20d` / session minutes, where `avg_volume_20d` is the mean daily
  total of the last (up to) `lookback` recorded sessions strictly before the current date. The
  current session never feeds its own baseline, so RVOL cannot chase itself.
- W is the time-of-day curve integrated from the open, normalised so W(close) = session minutes:
  a flat curve gives W = minutes elapsed, and after the close the expected volume is the
  20-session average whatever the curve. Curves: "flat"; "default" (shipped weights learned from
  real NSE minute bars, the intraday U-shape); "learned" (from the symbol's own recorded minute
  volumes once it has enough sessions, else the default).
- `fno_adjustment` scales F&O contracts by days to expiry and option moneyness from two small
  step tables (config/fno_multipliers.toml); it is exactly 1.0 for equities and indices.

Pure: every input is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, TypeVar

from .instruments import InstrumentKind

CURVE_MODES = ("default", "flat", "learned")


@dataclass(frozen=True, slots=True)
class Baseline:
    avg_volume_20d: float
    baseline_1min: float
    sessions: int  # recorded sessions averaged (<= lookback)


# A day: a date, or its day number (the native core's, which orders the same way and saves
# a conversion per recorded session on every symbol's first sight).
Day = TypeVar("Day", date, int)


def compute_baseline(
    daily_totals: Mapping[Day, int],
    current: Day,
    *,
    session_minutes: int = 375,
    lookback: int = 20,
) -> Baseline | None:
    """Mean of the last `lookback` daily totals dated strictly before `current`; None if none."""
    if lookback < 1:
        raise ValueError(f"lookback must be >= 1, got {lookback}")
    if session_minutes < 1:
        raise ValueError(f"session_minutes must be >= 1, got {session_minutes}")
    past = sorted([d for d in daily_totals if d < current])[-lookback:]
    if not past:
        return None
    avg = sum(map(daily_totals.__getitem__, past)) / len(past)
    return Baseline(avg_volume_20d=avg, baseline_1min=avg / session_minutes, sessions=len(past))


@dataclass(frozen=True, slots=True)
class TimeOfDayCurve:
    """Cumulative share of the session's volume at each minute boundary, in minutes.

    `points[k]` = W(k) for k = 0..minutes, non-decreasing, W(0) = 0 and W(minutes) = minutes.
    Build it with `flat`, `from_weights` or `learned`, not by hand.
    """

    minutes: int
    points: tuple[float, ...]

    def __post_init__(self) -> None:
        p = self.points
        if self.minutes < 1 or len(p) != self.minutes + 1:
            raise ValueError(f"a curve needs minutes + 1 points, got {len(p)} for {self.minutes}")
        if p[0] != 0.0 or p[-1] != float(self.minutes):
            raise ValueError("a curve must run from W(0) = 0 to W(minutes) = minutes")
        if any(b < a for a, b in pairwise(p)):
            raise ValueError("a curve must be non-decreasing")

    @classmethod
    def flat(cls, minutes: int = 375) -> TimeOfDayCurve:
        """Even volume through the session: W(t) = t exactly."""
        return cls(minutes, tuple(float(k) for k in range(minutes + 1)))

    @classmethod
    def from_weights(cls, weights: Sequence[float]) -> TimeOfDayCurve:
        """From per-minute weights (any scale: they are normalised), one per session minute."""
        if isinstance(weights, Mapping | str | bytes):
            raise ValueError("weights: must be a list of numbers")
        minutes = len(weights)
        if minutes < 1:
            raise ValueError("weights: need at least one minute")
        running = 0.0
        sums = [0.0]
        for i, raw in enumerate(weights):
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise ValueError(f"weights[{i}]: must be a number, got {raw!r}")
            w = float(raw)
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"weights[{i}]: must be finite and >= 0, got {w!r}")
            running += w
            sums.append(running)
        if running <= 0:
            raise ValueError("weights: must have a positive sum")
        total = float(minutes)
        points = [min(total, total * s / running) for s in sums]
        points[-1] = total  # exact, whatever the rounding
        return cls(minutes, tuple(points))

    @classmethod
    def learned(
        cls,
        sessions: Sequence[Mapping[int, int]],
        minutes: int = 375,
        min_sessions: int = 5,
    ) -> TimeOfDayCurve | None:
        """Average intraday shape of recorded sessions; None with too few to trust.

        Each session is first turned into shares of its own in-session volume, so a heavy day
        does not dominate the shape; minutes outside 0..minutes-1 (pre-open, closing session)
        are ignored because W only covers the normal session.
        """
        acc = [0.0] * minutes
        used = 0
        for session in sessions:
            vols = {m: v for m, v in session.items() if 0 <= m < minutes and v > 0}
            total = sum(vols.values())
            if total <= 0:
                continue
            used += 1
            for m, v in vols.items():
                acc[m] += v / total
        if used < max(1, min_sessions):
            return None
        return cls.from_weights([a / used for a in acc])

    def cumulative(self, minutes_elapsed: float) -> float:
        """W(t): linear inside a minute, 0 before the open, `minutes` from the close on."""
        if not minutes_elapsed > 0:  # also NaN
            return 0.0
        if minutes_elapsed >= self.minutes:
            return float(self.minutes)
        k = int(minutes_elapsed)
        lo = self.points[k]
        return lo + (self.points[k + 1] - lo) * (minutes_elapsed - k)

    def weight(self, minute: int) -> float:
        """Expected share of minute `minute` in minutes (1.0 = a flat minute); 0 outside."""
        if minute < 0 or minute >= self.minutes:
            return 0.0
        return self.points[minute + 1] - self.points[minute]


def _lookup(table: tuple[tuple[Any, float], ...], x: float, eps: float = 0.0) -> float:
    """Step table: the multiplier of the first band whose inclusive bound covers x."""
    if not table:
        return 1.0
    for bound, mult in table:
        if x <= bound + eps:
            return mult
    return table[-1][1]


def _bands(
    table: Mapping[str, Any], section: str, key: str, *, integral: bool
) -> tuple[tuple[Any, float], ...]:
    raw = table.get(section, ())
    if isinstance(raw, Mapping | str | bytes):
        raise ValueError(f"{section}: must be a list of {{{key}, multiplier}} tables")
    out: list[tuple[Any, float]] = []
    for i, band in enumerate(raw):
        where = f"{section}[{i}]"
        if not isinstance(band, Mapping):
            raise ValueError(f"{where}: must be a table with {key} and multiplier")
        if key not in band or "multiplier" not in band:
            raise ValueError(f"{where}: must have {key} and multiplier")
        bound, mult = band[key], band["multiplier"]
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ValueError(f"{where}.{key}: must be a number, got {bound!r}")
        if isinstance(mult, bool) or not isinstance(mult, int | float):
            raise ValueError(f"{where}.multiplier: must be a number, got {mult!r}")
        if integral:
            if bound != int(bound):
                raise ValueError(f"{where}.{key}: must be a whole number, got {bound!r}")
            bound = int(bound)
        if not math.isfinite(bound) or bound < 0:
            raise ValueError(f"{where}.{key}: must be finite and >= 0, got {bound!r}")
        if not math.isfinite(mult) or mult <= 0:
            raise ValueError(f"{where}.multiplier: must be finite and > 0, got {mult!r}")
        if out and bound <= out[-1][0]:
            raise ValueError(f"{where}.{key}: bounds must be strictly ascending")
        out.append((bound, float(mult)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FnoMultipliers:
    """Step tables scaling expected F&O volume; an empty table means factor 1.0."""

    # (max days to expiry, inclusive; multiplier), ascending; beyond the last -> last multiplier
    dte: tuple[tuple[int, float], ...] = ()
    # (max |strike/spot - 1| in percent, inclusive; multiplier), ascending; beyond -> last
    moneyness: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> FnoMultipliers:
        """From the parsed fno_multipliers.toml: `[[dte]]` {max_days, multiplier} and
        `[[moneyness]]` {max_pct, multiplier} lists. A missing list means factor 1.0."""
        return cls(
            dte=_bands(table, "dte", "max_days", integral=True),
            moneyness=_bands(table, "moneyness", "max_pct", integral=False),
        )

    def dte_factor(self, days_to_expiry: int | None) -> float:
        if days_to_expiry is None:
            return 1.0
        return _lookup(self.dte, max(0, days_to_expiry))

    def moneyness_factor(self, strike: float | None, underlying_price: float | None) -> float:
        """1.0 when strike or spot is unknown: no guess is better than a wrong one."""
        if strike is None or underlying_price is None or not underlying_price > 0:
            return 1.0
        pct = abs(strike - underlying_price) * 100.0 / underlying_price
        # A tiny tolerance keeps inclusive bounds inclusive under float rounding (5% of 24850.5).
        return _lookup(self.moneyness, pct, 1e-9)

    def adjustment(
        self,
        kind: InstrumentKind,
        *,
        days_to_expiry: int | None,
        strike: float | None,
        underlying_price: float | None,
    ) -> float:
        """Exactly 1.0 for equity/index; futures: dte factor; options: dte * moneyness."""
        if kind is InstrumentKind.FUTURE:
            return self.dte_factor(days_to_expiry)
        if kind is InstrumentKind.OPTION:
            return self.dte_factor(days_to_expiry) * self.moneyness_factor(strike, underlying_price)
        return 1.0


def expected_volume(baseline_1min: float, fno_adjustment: float, w: float) -> float:
    """Expected cumulative volume at curve position W = w (minutes-equivalent)."""
    return baseline_1min * fno_adjustment * w


def relative_volume(actual: float, expected: float) -> float | None:
    """actual / expected; None when it cannot be computed (never inf, nan or a fake 0)."""
    if not expected > 0:
        return None
    ratio = actual / expected
    return ratio if math.isfinite(ratio) else None


class BaselineService:
    """The configured baseline rules: lookback window, curve mode, F&O multipliers."""

    __slots__ = (
        "_flat",
        "curve",
        "curve_mode",
        "lookback",
        "min_learned_sessions",
        "multipliers",
        "session_minutes",
    )

    def __init__(
        self,
        *,
        curve: TimeOfDayCurve,
        multipliers: FnoMultipliers,
        curve_mode: str = "default",
        lookback: int = 20,
        min_learned_sessions: int = 5,
        session_minutes: int = 375,
    ) -> None:
        if curve_mode not in CURVE_MODES:
            raise ValueError(
                f"curve_mode must be one of {', '.join(CURVE_MODES)}, got {curve_mode!r}"
            )
        if lookback < 1:
            raise ValueError(f"lookback must be >= 1, got {lookback}")
        if min_learned_sessions < 1:
            raise ValueError(f"min_learned_sessions must be >= 1, got {min_learned_sessions}")
        if curve.minutes != session_minutes:
            raise ValueError(
                f"curve has {curve.minutes} minutes, the session has {session_minutes}"
            )
        self.curve = curve  # the default curve (the fallback in "learned" mode)
        self.multipliers = multipliers
        self.curve_mode = curve_mode
        self.lookback = lookback
        self.min_learned_sessions = min_learned_sessions
        self.session_minutes = session_minutes
        self._flat = TimeOfDayCurve.flat(session_minutes)

    def baseline(self, daily_totals: Mapping[Day, int], current: Day) -> Baseline | None:
        return compute_baseline(
            daily_totals, current, session_minutes=self.session_minutes, lookback=self.lookback
        )

    def curve_for(self, minute_history: Sequence[Mapping[int, int]]) -> TimeOfDayCurve:
        """The curve for a symbol given its recorded sessions' minute volumes, oldest first.

        "flat" and "default" ignore the history; "learned" uses the last `lookback` sessions
        when at least `min_learned_sessions` of them have in-session volume, else the default.
        """
        if self.curve_mode == "flat":
            return self._flat
        if self.curve_mode == "learned":
            learned = TimeOfDayCurve.learned(
                minute_history[-self.lookback :],
                self.session_minutes,
                self.min_learned_sessions,
            )
            if learned is not None:
                return learned
        return self.curve
