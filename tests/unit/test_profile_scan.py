"""The profile scan: the Rust kernel against its Python reference (`scan_levels`), at random.

Without the extension built the kernel's tests are skipped, unless VOLUME_REQUIRE_NATIVE=1 (CI
sets it): then a missing kernel is a failure, so CI cannot pass on the fallback by accident.
(The reference itself is tested through the snapshots in test_volume_profile_manager.)
"""

from __future__ import annotations

import os
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files import profile_scan
from shared_core.volume_files.profile_scan import Scan, scan_levels
from shared_core.volume_files.volume_profile_manager import VolumeProfile

_KERNEL = profile_scan._native_scan
needs_kernel = pytest.mark.skipif(_KERNEL is None, reason="the Rust profile kernel is not built")


def native(
    keys: list[int], vals: list[int], total: int, num: int, den: int, ref: int | None,
    max_levels: int,
) -> Scan:
    assert _KERNEL is not None
    return Scan._make(_KERNEL(keys, vals, total, num, den, ref, max_levels))


def test_the_kernel_is_built_where_it_is_required() -> None:
    if os.environ.get("VOLUME_REQUIRE_NATIVE") == "1":
        assert _KERNEL is not None, "the Rust profile kernel is not built"
        assert profile_scan.kernel() == "rust"


def test_strength_is_the_normalised_herfindahl_index() -> None:
    assert profile_scan.strength(1, 7, 49) == 1.0
    assert profile_scan.strength(2, 4, 10) == 0.25  # shares 3/4, 1/4
    assert profile_scan.strength(3, 12, 48) == 0.0  # even
    assert profile_scan.strength(3, 4, 6) == 0.0625  # shares 1/2, 1/4, 1/4


def test_scan_runs_the_reference_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_scan, "_native_scan", None)
    keys, vals = [100, 101, 102, 104], [3, 9, 2, 5]
    assert profile_scan.kernel() == "python"
    assert profile_scan.scan(keys, vals, 19, 7, 10, None, 3) == scan_levels(
        keys, vals, 19, 7, 10, None, 3
    )


def both(volumes: dict[int, int], num: int, den: int, ref: int | None, max_levels: int) -> Scan:
    keys = sorted(volumes)
    vals = [volumes[k] for k in keys]
    total = sum(vals)
    expected = scan_levels(keys, vals, total, num, den, ref, max_levels)
    assert native(keys, vals, total, num, den, ref, max_levels) == expected
    return expected


dense = st.dictionaries(st.integers(-40, 40), st.integers(1, 50), min_size=1, max_size=60)
sparse = st.dictionaries(st.integers(-5_000, 5_000), st.integers(1, 9), min_size=1, max_size=12)
# Few distinct volumes: ties for the POC, plateaus of equal HVNs, equal pairs in the value area.
tied = st.dictionaries(st.integers(0, 30), st.sampled_from([1, 2, 5, 5, 5]), min_size=1,
                       max_size=31)
huge = st.dictionaries(st.integers(-(2**60), 2**60), st.integers(1, 2**58), min_size=1,
                       max_size=8)
# Squares past 64 bits, summed in the kernel's 128-bit path (volumes up to 2**40).
large = st.dictionaries(st.integers(0, 50), st.integers(2**31, 2**40), min_size=1, max_size=20)
fractions = st.sampled_from([(7, 10), (1, 1), (1, 10**17), (68, 100), (999, 1000), (1, 2)])


@needs_kernel
@settings(max_examples=600)
@given(
    volumes=st.one_of(dense, sparse, tied, large, huge),
    fraction=fractions,
    ref=st.none() | st.integers(-6_000, 6_000),
    max_levels=st.integers(0, 5),
)
def test_the_kernel_computes_what_the_reference_does(
    volumes: dict[int, int], fraction: tuple[int, int], ref: int | None, max_levels: int
) -> None:
    both(volumes, *fraction, ref, max_levels)


@needs_kernel
@settings(max_examples=60)
@given(
    start=st.integers(0, 10**6),
    steps=st.lists(st.integers(1, 3), min_size=300, max_size=900),
    seed=st.integers(0, 2**32 - 1),
)
def test_wide_profiles_agree(start: int, steps: list[int], seed: int) -> None:
    """Hundreds of levels (a busy symbol), gaps of one and two, a heavy-tailed shape."""
    level = start
    volumes: dict[int, int] = {}
    x = seed
    for step in steps:
        level += step
        x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
        volumes[level] = 1 + (x >> 40) % 97 * ((x >> 20) % 5 == 0) + (x >> 58)
    both(volumes, 7, 10, None, 3)
    both(volumes, 7, 10, start + len(steps), 3)


@needs_kernel
def test_a_known_profile() -> None:
    # mean 45/11; local maxima within +-2: 100, 104, 108 (110 is dominated by 108).
    sr = {100: 10, 101: 2, 102: 1, 103: 2, 104: 8, 105: 2, 106: 1, 107: 3, 108: 9, 109: 1,
          110: 6}
    poc, peak, lo, hi, support, resistance, sum_sq = both(sr, 7, 10, 105, 3)
    assert (poc, peak, support, resistance) == (100, 10, [104, 100], [108])
    assert sum_sq == sum(v * v for v in sr.values())
    area = sum(v for lv, v in sr.items() if lo <= lv <= hi)
    assert Fraction(area, sum(sr.values())) >= Fraction(7, 10)


@needs_kernel
def test_beyond_128_bits_the_kernel_refuses_and_scan_falls_back() -> None:
    volumes = {lv: 2**64 + lv for lv in range(10)}
    keys = sorted(volumes)
    vals = [volumes[k] for k in keys]
    with pytest.raises(OverflowError):
        native(keys, vals, sum(vals), 7, 10, None, 3)
    expected = scan_levels(keys, vals, sum(vals), 7, 10, 4, 3)
    assert profile_scan.scan(keys, vals, sum(vals), 7, 10, 4, 3) == expected
    assert expected[4:6] == ([], [9])  # the plateau rule on a rising profile: only the top
    profile = VolumeProfile(1.0)
    for lv, v in volumes.items():
        profile.add(profile.price_of(lv), v)
    s = profile.snapshot()
    assert s is not None
    poc, peak, lo, hi, _, _, _ = scan_levels(keys, vals, sum(vals), 7, 10, None, 3)
    assert (s.poc_price, s.poc_volume, s.value_area_low, s.value_area_high) == (poc, peak, lo, hi)


@needs_kernel
def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        native([], [], 1, 7, 10, None, 3)
    with pytest.raises(ValueError, match="equal length"):
        native([1, 2], [1], 1, 7, 10, None, 3)
    with pytest.raises(ValueError, match="num <= den"):
        native([1], [1], 1, 11, 10, None, 3)
    with pytest.raises(ValueError, match="max_levels >= 0"):
        native([1], [1], 1, 7, 10, None, -1)
    with pytest.raises(TypeError):
        native([1], ["1"], 1, 7, 10, None, 3)  # type: ignore[list-item]


@needs_kernel
def test_snapshots_are_the_same_with_and_without_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = VolumeProfile(0.05)
    x = 12345
    for i in range(5_000):
        x = (x * 1103515245 + 12345) % 2**31
        profile.add(100.0 + 0.05 * ((x >> 8) % 400 - (x >> 20) % 200), 1 + (x >> 24) % 30)
        if i % 500 == 0 or i == 4_999:
            with_kernel = profile.snapshot(profile.price_of(2000 + (x >> 10) % 50))
            monkeypatch.setattr(profile_scan, "_native_scan", None)
            without = profile.snapshot(profile.price_of(2000 + (x >> 10) % 50))
            monkeypatch.undo()
            assert with_kernel is not None
            assert with_kernel == without
    assert with_kernel is not None
    assert len(with_kernel.distribution) > 100


@needs_kernel
def test_the_start_up_log_can_tell_which_scan_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert profile_scan.kernel() == "rust"
    monkeypatch.setattr(profile_scan, "_native_scan", None)
    assert profile_scan.kernel() == "python"
