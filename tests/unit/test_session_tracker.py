from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.session_tracker import (
    SessionState,
    SessionTracker,
    SessionUpdate,
    StaleSessionError,
    flow_rate,
)

D1 = date(2025, 1, 6)
D2 = date(2025, 1, 7)
T0 = 1_736_135_100_000  # 2025-01-06 09:15:00 IST in epoch ms
MIN = 60_000


def apply(
    tracker: SessionTracker,
    *,
    ts: int = T0,
    minute: int = 0,
    price: float = 100.0,
    volume: int | None = None,
    cumulative: int | None = None,
    day: date = D1,
    symbol: str = "RELIANCE",
) -> SessionUpdate:
    return tracker.update(
        symbol, day=day, ts_ms=ts, minute=minute, price=price, volume=volume, cumulative=cumulative
    )


def test_incremental_volume_adds_up() -> None:
    t = SessionTracker()
    assert apply(t, volume=100).increment == 100
    assert apply(t, ts=T0 + 1000, volume=250).increment == 250
    assert apply(t, ts=T0 + 2000, volume=0).increment == 0
    assert apply(t, ts=T0 + 3000).increment == 0  # price-only tick
    s = t.get("RELIANCE")
    assert s is not None
    assert s.cumulative_volume == 350
    assert s.tick_count == 4
    assert s.minute_volumes == {0: 350}


def test_cumulative_volume_adds_its_rise() -> None:
    t = SessionTracker()
    assert apply(t, cumulative=1000).increment == 1000
    assert apply(t, ts=T0 + 1000, cumulative=1500).increment == 500
    assert apply(t, ts=T0 + 2000, cumulative=1500).increment == 0
    s = t.get("RELIANCE")
    assert s is not None
    assert s.cumulative_volume == 1500
    assert s.tick_count == 3


def test_cumulative_fall_adds_nothing_and_keeps_total() -> None:
    t = SessionTracker()
    apply(t, cumulative=2000)
    update = apply(t, ts=T0 + 1000, cumulative=1200)
    assert update.increment == 0
    assert update.closed is None
    # The next rise counts from the highest total seen, not from the fallen value.
    assert apply(t, ts=T0 + 2000, cumulative=2100).increment == 100
    s = t.get("RELIANCE")
    assert s is not None
    assert s.cumulative_volume == 2100
    assert s.tick_count == 3


def test_cumulative_wins_over_per_tick_volume() -> None:
    t = SessionTracker()
    assert apply(t, volume=7, cumulative=500).increment == 500
    assert apply(t, ts=T0 + 1, volume=7, cumulative=520).increment == 20


def test_mixed_forms_share_one_total() -> None:
    t = SessionTracker()
    assert apply(t, volume=100).increment == 100
    assert apply(t, ts=T0 + 1000, cumulative=1000).increment == 900
    assert apply(t, ts=T0 + 2000, volume=50).increment == 50
    assert apply(t, ts=T0 + 3000, cumulative=1040).increment == 0  # below 1050
    assert apply(t, ts=T0 + 4000, cumulative=1100).increment == 50
    s = t.get("RELIANCE")
    assert s is not None
    assert s.cumulative_volume == 1100


def test_out_of_order_tick_adds_volume_to_its_own_minute_but_not_price() -> None:
    t = SessionTracker()
    apply(t, ts=T0 + 5 * MIN, minute=5, price=101.0, volume=10)
    apply(t, ts=T0 + 2 * MIN, minute=2, price=99.0, volume=30)  # late
    s = t.get("RELIANCE")
    assert s is not None
    assert s.last_price == 101.0
    assert s.last_ts_ms == T0 + 5 * MIN
    assert s.last_minute == 5
    assert s.minute_volumes == {5: 10, 2: 30}
    assert s.cumulative_volume == 40
    assert s.tick_count == 2
    # Equal timestamps do move the price (the later-applied tick is the newer trade).
    apply(t, ts=T0 + 5 * MIN, minute=5, price=102.0, volume=1)
    assert s.last_price == 102.0


def test_minute_buckets_keep_only_volume_and_off_session_minutes() -> None:
    t = SessionTracker()
    apply(t, ts=T0 - 3 * MIN, minute=-3, volume=5)  # pre-open
    apply(t, ts=T0, minute=0, volume=0)
    apply(t, ts=T0 + 380 * MIN, minute=380, volume=9)  # post-close
    s = t.get("RELIANCE")
    assert s is not None
    assert s.minute_volumes == {-3: 5, 380: 9}
    assert s.cumulative_volume == 14


def test_new_date_starts_fresh_session_and_returns_closed_one() -> None:
    t = SessionTracker()
    apply(t, cumulative=5000, price=100.0)
    apply(t, ts=T0 + MIN, minute=1, cumulative=6000, price=101.0)
    update = apply(t, day=D2, ts=T0 + 86_400_000, minute=0, cumulative=300, price=102.0)
    assert update.increment == 300
    closed = update.closed
    assert closed is not None
    assert closed.date == D1
    assert closed.cumulative_volume == 6000
    assert closed.tick_count == 2
    assert closed.minute_volumes == {0: 5000, 1: 1000}
    s = t.get("RELIANCE")
    assert s is not None
    assert s == SessionState(
        date=D2,
        cumulative_volume=300,
        tick_count=1,
        last_price=102.0,
        last_ts_ms=T0 + 86_400_000,
        last_minute=0,
        minute_volumes={0: 300},
    )
    # A tick for the new day with no volume still reports nothing closed next time.
    assert apply(t, day=D2, ts=T0 + 86_400_001) == SessionUpdate(0, None)


def test_first_tick_closes_nothing() -> None:
    t = SessionTracker()
    assert apply(t, volume=3) == SessionUpdate(3, None)


def test_stale_date_raises_and_changes_nothing() -> None:
    t = SessionTracker()
    apply(t, day=D2, volume=10)
    before = copy.deepcopy(t.get("RELIANCE"))
    with pytest.raises(StaleSessionError, match="2025-01-06"):
        apply(t, day=D1, volume=99)
    assert t.get("RELIANCE") == before
    assert issubclass(StaleSessionError, ValueError)


def test_symbols_are_independent_and_drop_restore_len() -> None:
    t = SessionTracker()
    apply(t, symbol="A", volume=1)
    apply(t, symbol="B", volume=2)
    assert len(t) == 2
    t.drop("A")
    t.drop("missing")
    assert len(t) == 1
    assert t.get("A") is None
    state = SessionState(date=D1, cumulative_volume=1000, tick_count=4)
    t.restore("A", state)
    assert apply(t, symbol="A", cumulative=1200).increment == 200
    assert state.cumulative_volume == 1200
    assert state.tick_count == 5


def test_negative_volume_is_rejected() -> None:
    t = SessionTracker()
    with pytest.raises(ValueError, match="negative"):
        apply(t, volume=-1)


def test_flow_rates_over_1_and_5_minute_windows() -> None:
    t = SessionTracker()
    # minute: volume -> 10: 100, 11: 200, 13: 400, 14: 500, 15: 600 (12 quiet)
    for minute, vol in [(10, 100), (11, 200), (13, 400), (14, 500), (15, 600)]:
        apply(t, ts=T0 + minute * MIN, minute=minute, volume=vol)
    s = t.get("RELIANCE")
    assert s is not None
    assert flow_rate(s, 1) == 600.0
    assert flow_rate(s, 5) == (200 + 0 + 400 + 500 + 600) / 5  # 340.0
    assert flow_rate(s, 5) == 340.0
    assert flow_rate(s, 10) == 1800 / 10
    # A late tick into minute 9 is outside the 5-minute window ending at 15.
    apply(t, ts=T0 + 9 * MIN, minute=9, volume=10_000)
    assert flow_rate(s, 5) == 340.0
    assert flow_rate(s, 1) == 600.0
    # The window follows exchange time: two quiet minutes later the 1m rate is 0.
    apply(t, ts=T0 + 17 * MIN, minute=17, volume=0)
    assert flow_rate(s, 1) == 0.0
    assert flow_rate(s, 5) == (400 + 500 + 600) / 5


def test_flow_rate_of_empty_session_and_bad_window() -> None:
    s = SessionState(date=D1)
    assert flow_rate(s, 1) == 0.0
    assert flow_rate(s, 5) == 0.0
    with pytest.raises(ValueError, match="window"):
        flow_rate(s, 0)


# --- property: a split replay through a restored copy equals one replay ---------------------


@dataclass(frozen=True)
class T:
    day_offset: int
    ts: int
    price: float
    volume: int | None
    cumulative: int | None


ticks_st = st.lists(
    st.builds(
        T,
        day_offset=st.integers(0, 2),
        ts=st.integers(0, 30 * MIN),
        price=st.floats(1.0, 1000.0, allow_nan=False),
        volume=st.none() | st.integers(0, 10_000),
        cumulative=st.none() | st.integers(0, 100_000),
    ),
    max_size=40,
)


def _run(tracker: SessionTracker, ticks: list[T]) -> list[object]:
    out: list[object] = []
    for tk in ticks:
        try:
            u = tracker.update(
                "SYM",
                day=D1 + timedelta(days=tk.day_offset),
                ts_ms=T0 + tk.day_offset * 86_400_000 + tk.ts,
                minute=tk.ts // MIN,
                price=tk.price,
                volume=tk.volume,
                cumulative=tk.cumulative,
            )
        except StaleSessionError:
            out.append("stale")
        else:
            out.append((u.increment, None if u.closed is None else copy.deepcopy(u.closed)))
    return out


@given(ticks=ticks_st, split=st.integers(0, 40))
def test_split_replay_after_restore_equals_single_replay(ticks: list[T], split: int) -> None:
    split = min(split, len(ticks))
    whole = SessionTracker()
    expected = _run(whole, ticks)

    first = SessionTracker()
    got = _run(first, ticks[:split])
    second = SessionTracker()
    saved = first.get("SYM")
    if saved is not None:
        second.restore("SYM", copy.deepcopy(saved))
    got += _run(second, ticks[split:])

    assert got == expected
    assert second.get("SYM") == whole.get("SYM")
    final = whole.get("SYM")
    if final is not None:
        assert final.cumulative_volume == sum(final.minute_volumes.values())
        assert all(v > 0 for v in final.minute_volumes.values())
