"""Per-symbol session volume state: cumulative total, tick count, last price, minute buckets.

Pure and on the hot path: `SessionTracker.update` runs once per tick, so it touches only the
symbol's own state and allocates nothing beyond its result.

Volume rules (README "Input: ticks on Redis Streams"):

- A tick carrying the exchange's day-cumulative volume is authoritative: it adds its rise over
  the session total seen so far. A fall is a stale or out-of-order tick and adds nothing, so
  replays and duplicates cannot inflate the total.
- Otherwise the tick's own traded quantity is added (a tick with neither is a price update).
- Volume goes to the bucket of the tick's own minute, even when it arrives late; price and time
  only move forward (a late tick cannot roll the last price back).
- A tick dated after the session opens a fresh session (the old one is handed back so the caller
  can record it); a tick dated before it is stale and raises `StaleSessionError`.

Flow rate is the volume per minute over the last `w` minute buckets ending at the minute of the
latest exchange timestamp (the current, partial minute included), divided by `w`. It is anchored
to exchange time, not the wall clock, so it is a function of state alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(slots=True)
class SessionState:
    """One symbol's state for one trading date. Mutable: the tracker updates it in place."""

    date: date
    cumulative_volume: int = 0
    tick_count: int = 0
    last_price: float = 0.0
    last_ts_ms: int = 0  # latest exchange timestamp applied (max seen)
    last_minute: int = 0  # minute_of_session of last_ts_ms
    # minute_of_session -> volume; only minutes with volume. May hold negative (pre-open) and
    # >= session-length (post-close) minutes: that volume counts in the day's total too.
    minute_volumes: dict[int, int] = field(default_factory=dict)


class StaleSessionError(ValueError):
    """A tick dated before the symbol's current session: it cannot be applied without rewriting
    a session that is already closed, so the caller dead-letters it."""


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    increment: int
    closed: SessionState | None  # previous session, when this tick started a new date


# Immutable, shared result for the common "no volume, same session" tick (saves an allocation).
_NOTHING = SessionUpdate(0, None)


class SessionTracker:
    """symbol -> the SessionState of its current session."""

    __slots__ = ("_states",)

    def __init__(self) -> None:
        self._states: dict[str, SessionState] = {}

    def update(
        self,
        symbol: str,
        *,
        day: date,
        ts_ms: int,
        minute: int,
        price: float,
        volume: int | None,
        cumulative: int | None,
    ) -> SessionUpdate:
        """Apply one tick; return the volume it added and the session it closed, if any."""
        state = self._states.get(symbol)
        closed: SessionState | None = None
        if state is None:
            state = self._states[symbol] = SessionState(day)
        elif state.date != day:
            if day < state.date:
                raise StaleSessionError(
                    f"{symbol}: tick dated {day.isoformat()} is before the current session "
                    f"{state.date.isoformat()}"
                )
            closed = state
            state = self._states[symbol] = SessionState(day)

        if cumulative is not None:
            increment = cumulative - state.cumulative_volume
            if increment > 0:
                state.cumulative_volume = cumulative
            else:
                increment = 0
        elif volume:
            if volume < 0:
                raise ValueError(f"{symbol}: negative volume {volume}")
            increment = volume
            state.cumulative_volume += volume
        else:
            increment = 0

        if increment:
            buckets = state.minute_volumes
            buckets[minute] = buckets.get(minute, 0) + increment
        state.tick_count += 1
        if ts_ms >= state.last_ts_ms:
            state.last_ts_ms = ts_ms
            state.last_price = price
            state.last_minute = minute
        if increment == 0 and closed is None:
            return _NOTHING
        return SessionUpdate(increment, closed)

    def get(self, symbol: str) -> SessionState | None:
        return self._states.get(symbol)

    def restore(self, symbol: str, state: SessionState) -> None:
        """Adopt a state loaded from storage (taken as is, not copied)."""
        self._states[symbol] = state

    def drop(self, symbol: str) -> None:
        self._states.pop(symbol, None)

    def __len__(self) -> int:
        return len(self._states)


def flow_rate(state: SessionState, window_minutes: int) -> float:
    """Volume per minute over buckets [last_minute - w + 1, last_minute], divided by w.

    The window always counts w minutes, quiet ones and the current partial one included, so a
    burst shows as a rate over the whole window rather than over the minutes that had ticks.
    """
    if window_minutes < 1:
        raise ValueError(f"window_minutes must be >= 1, got {window_minutes}")
    buckets = state.minute_volumes
    end = state.last_minute + 1
    total = 0
    for m in range(end - window_minutes, end):
        total += buckets.get(m, 0)
    return total / window_minutes
