"""The partition worker's pure scheduling rules (its Redis behaviour: tests/integration)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.stream.partition_worker import drain_phase, next_drain


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
