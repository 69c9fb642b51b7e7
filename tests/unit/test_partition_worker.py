"""The partition worker's pure scheduling rules (its Redis behaviour: tests/integration)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.stream.partition_worker import drain_phase, linger_delay, next_drain


def test_partitions_drain_evenly_spread_over_the_interval() -> None:
    phases = [drain_phase(p, 8, 0.25) for p in range(8)]
    assert phases == pytest.approx([0.25 * p / 8 for p in range(8)])
    assert drain_phase(9, 8, 0.25) == pytest.approx(0.25 / 8)  # partition numbers wrap
    assert drain_phase(3, 0, 0.25) == 0.0  # one partition: no offset


def test_next_drain_is_the_next_grid_point() -> None:
    assert next_drain(10.0, 0.25, 0.1) == pytest.approx(10.1)
    assert next_drain(10.1, 0.25, 0.1) == pytest.approx(10.35)  # strictly after
    assert next_drain(10.36, 0.25, 0.1) == pytest.approx(10.6)
    assert next_drain(10.0, 0.0, 0.1) == 10.0


@given(
    after=st.floats(min_value=0, max_value=1e6),
    interval=st.floats(min_value=0.001, max_value=10),
    fraction=st.floats(min_value=0, max_value=0.999),
)
def test_a_late_drain_keeps_the_grid(after: float, interval: float, fraction: float) -> None:
    """However late a drain ran, the next one is on the grid and at most an interval away."""
    phase = fraction * interval
    due = next_drain(after, interval, phase)
    assert after < due <= after + interval * (1 + 1e-9)
    k = (due - phase) / interval
    assert k == pytest.approx(round(k), abs=1e-6)


def test_a_live_read_lingers_after_the_last_one() -> None:
    assert linger_delay(10.0, 0.025, 11.0, now=10.005) == pytest.approx(0.020)
    assert linger_delay(10.0, 0.025, 11.0, now=10.030) == 0.0  # past it: read at once
    assert linger_delay(-float("inf"), 0.025, 11.0, now=10.0) == 0.0  # no read yet


def test_a_linger_never_outlasts_the_drain_point() -> None:
    """A tick published just before a drain is still read into it."""
    assert linger_delay(10.0, 0.025, 10.010, now=10.004) == pytest.approx(0.006)
    assert linger_delay(10.0, 0.025, float("inf"), now=10.004) == pytest.approx(0.021)


@given(
    last=st.floats(min_value=0, max_value=1e6),
    linger=st.floats(min_value=0, max_value=1),
    due_in=st.floats(min_value=-1, max_value=1),
    elapsed=st.floats(min_value=0, max_value=2),
)
def test_the_linger_is_bounded_by_both(last: float, linger: float, due_in: float,
                                       elapsed: float) -> None:
    now = last + elapsed
    delay = linger_delay(last, linger, now + due_in, now)
    assert 0.0 <= delay <= max(0.0, due_in) + 1e-9
    assert now + delay <= last + linger + 1e-6 or delay == 0.0
