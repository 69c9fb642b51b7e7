"""Volume profile: exact hand-computed examples, rounding, properties and a real-trade replay."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files import profile_scan
from shared_core.volume_files.volume_profile_manager import (
    ProfileSnapshot,
    VolumeProfile,
    VolumeProfileManager,
)

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
BTC_TRADES = DATA_DIR / "binance-futures-btcusdt-trades-2020-02-22.csv"

TICKS = (0.05, 0.01, 0.0025, 1.0, 5.0, 0.1)


@pytest.fixture(autouse=True, params=["c", "python"])
def scan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with the C scan (where it is built) and with the Python reference."""
    if request.param == "python":
        monkeypatch.setattr(profile_scan, "_native_scan", None)
    elif profile_scan._native_scan is None:
        pytest.skip("the C profile kernel is not built")
    return str(request.param)


def profile_of(volumes: dict[int, int], tick: float = 1.0) -> VolumeProfile:
    """A profile with `volumes` at integer levels, added through the public price path."""
    profile = VolumeProfile(tick)
    for level, volume in volumes.items():
        profile.add(profile.price_of(level), volume)
    assert profile.levels == {lv: v for lv, v in volumes.items() if v}
    return profile


def snap(
    volumes: dict[int, int],
    last: float | None = None,
    *,
    value_area: float = 0.70,
    max_levels: int = 3,
) -> ProfileSnapshot:
    result = profile_of(volumes).snapshot(last, value_area=value_area, max_levels=max_levels)
    assert result is not None
    return result


# ---------------------------------------------------------------- a reference implementation


def reference(
    levels: dict[int, int], ref_level: int | None, max_levels: int = 3
) -> tuple[int, int, int, list[int], list[int]]:
    """Brute force, straight from the definitions: (poc, va_low, va_high, support, resistance)."""
    low, high = min(levels), max(levels)
    total = sum(levels.values())
    vol = [levels.get(lv, 0) for lv in range(low, high + 1)]

    def at(lv: int) -> int:
        return vol[lv - low] if low <= lv <= high else 0

    best = max(vol)
    poc = sorted(
        (lv for lv in range(low, high + 1) if at(lv) == best),
        key=lambda lv: (abs(2 * lv - (low + high)), lv),
    )[0]
    lo = hi = poc
    area = at(poc)
    while area * 10 < total * 7:  # step by step, empty pairs included
        above = list(range(hi + 1, min(hi + 2, high) + 1))
        below = list(range(lo - 1, max(lo - 2, low) - 1, -1))
        up, dn = sum(map(at, above)), sum(map(at, below))
        if above and (not below or up >= dn):
            hi, area = above[-1], area + up
        else:
            lo, area = below[-1], area + dn
    count = len(levels)

    def is_local(lv: int) -> bool:
        return at(lv) > 0 and all(at(lv) >= at(lv + d) for d in (-2, -1, 1, 2))

    hvns = [
        lv
        for lv in range(low, high + 1)
        if is_local(lv)
        and at(lv) * count >= total
        and not any(is_local(lv - d) and at(lv - d) == at(lv) for d in (1, 2))
    ]
    r = poc if ref_level is None else ref_level
    support = sorted((lv for lv in hvns if lv < r), reverse=True)[:max_levels]
    resistance = sorted(lv for lv in hvns if lv > r)[:max_levels]
    return poc, lo, hi, support, resistance


# ---------------------------------------------------------------- levels and rounding


@pytest.mark.parametrize(
    ("tick", "price", "level"),
    [
        (0.05, 120.55, 2411),
        (0.05, 120.525, 2411),  # exact half goes up
        (0.05, 120.575, 2412),  # exact half goes up
        (0.05, 120.5249999, 2410),
        (0.05, 120.52, 2410),
        (0.05, 120.53, 2411),
        (0.05, 1.15, 23),  # 1.15 / 0.05 == 22.999999999999996 in floats
        (0.05, 0.1 + 0.2, 6),  # 0.30000000000000004
        (0.1, 0.15, 2),  # 0.15 / 0.1 == 1.4999999999999998 in floats, exact half
        (0.1, 0.25, 3),
        (0.01, 100.005, 10001),  # 100.005 / 0.01 == 10000.499999999998
        (0.0025, 6.02625, 2411),  # exact half
        (0.0025, 6.0275, 2411),
        (1.0, 102.5, 103),
        (1.0, 101.49, 101),
        (5.0, 102.5, 21),  # 20.5 -> 21
        (5.0, 97.5, 20),  # 19.5 -> 20
        (5.0, 107.4, 21),
    ],
)
def test_level_of_rounds_to_nearest_with_exact_half_up(
    tick: float, price: float, level: int
) -> None:
    profile = VolumeProfile(tick)
    assert profile.level_of(price) == level
    profile.add(price, 7)  # the inlined hot path agrees
    assert profile.levels == {level: 7}


@pytest.mark.parametrize(
    ("tick", "level", "text", "price"),
    [
        (0.05, 2411, "120.55", 120.55),
        (0.05, 2410, "120.50", 120.5),
        (0.05, 1, "0.05", 0.05),
        (0.05, 0, "0.00", 0.0),
        (0.01, 12055, "120.55", 120.55),
        (0.0025, 2411, "6.0275", 6.0275),
        (0.0025, 40000, "100.0000", 100.0),
        (1.0, 120, "120.00", 120.0),
        (5.0, 24, "120.00", 120.0),
        (5.0, 3, "15.00", 15.0),
        (0.1, 96869, "9686.90", 9686.9),
    ],
)
def test_price_str_and_price_of(tick: float, level: int, text: str, price: float) -> None:
    profile = VolumeProfile(tick)
    assert profile.price_str(level) == text
    assert profile.price_of(level) == price
    assert profile.level_of(price) == level


@given(
    tick=st.sampled_from(TICKS),
    level=st.integers(min_value=0, max_value=10**8),
    half=st.booleans(),
)
def test_grid_prices_and_exact_halves(tick: float, level: int, half: bool) -> None:
    """Every grid price maps to its level; every exact half (as written) goes up."""
    profile = VolumeProfile(tick)
    exact = (Decimal(level) + (Decimal("0.5") if half else 0)) * Decimal(repr(tick))
    price = float(exact)
    assert profile.level_of(price) == level + (1 if half else 0)


@given(
    tick=st.sampled_from(TICKS),
    price=st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_level_of_matches_decimal_rounding_of_the_written_price(tick: float, price: float) -> None:
    profile = VolumeProfile(tick)
    expected = int(
        (Decimal(repr(price)) / Decimal(repr(tick))).to_integral_value(rounding=ROUND_HALF_UP)
    )
    assert profile.level_of(price) == expected
    profile.add(price, 1)
    assert profile.levels == {expected: 1}


@pytest.mark.parametrize("tick", [0.0, -0.05, float("nan"), float("inf")])
def test_bad_tick_size_is_rejected(tick: float) -> None:
    with pytest.raises(ValueError, match="tick_size"):
        VolumeProfile(tick)


# ---------------------------------------------------------------- add, empty, distribution


def test_empty_profile_and_zero_volume() -> None:
    profile = VolumeProfile()
    profile.add(100.0, 0)
    assert profile.levels == {}
    assert profile.total_volume == 0
    assert profile.snapshot() is None
    assert profile.snapshot(100.0) is None
    assert profile.to_distribution() == {}
    assert VolumeProfile.from_distribution({}).snapshot() is None


def test_negative_volume_is_rejected() -> None:
    profile = VolumeProfile()
    with pytest.raises(ValueError, match="volume"):
        profile.add(100.0, -1)
    assert profile.total_volume == 0


def test_add_accumulates_per_level_and_distribution_is_ascending_by_price() -> None:
    profile = VolumeProfile(0.05)
    profile.add(100.05, 3)
    profile.add(99.95, 2)
    profile.add(100.049999999, 4)  # float noise: same level as 100.05
    profile.add(9.95, 1)
    assert profile.total_volume == 10
    assert profile.levels == {2001: 7, 1999: 2, 199: 1}
    dist = profile.to_distribution()
    assert list(dist.items()) == [("9.95", 1), ("99.95", 2), ("100.05", 7)]


@pytest.mark.parametrize(
    ("tick", "prices", "expected"),
    [
        (0.05, [120.5, 120.55], {"120.50": 1, "120.55": 1}),
        (0.01, [120.5, 120.51], {"120.50": 1, "120.51": 1}),
        (0.0025, [6.0275, 6.03], {"6.0275": 1, "6.0300": 1}),
        (1.0, [99.0, 120.0], {"99.00": 1, "120.00": 1}),
        (5.0, [95.0, 120.0, 1000.0], {"95.00": 1, "120.00": 1, "1000.00": 1}),
    ],
)
def test_distribution_price_strings(
    tick: float, prices: list[float], expected: dict[str, int]
) -> None:
    profile = VolumeProfile(tick)
    for price in prices:
        profile.add(price, 1)
    dist = profile.to_distribution()
    assert list(dist.items()) == list(expected.items())
    restored = VolumeProfile.from_distribution(dist, tick)
    assert restored.levels == profile.levels
    assert restored.total_volume == profile.total_volume


def test_from_distribution_reads_short_keys_and_merges_finer_ticks() -> None:
    profile = VolumeProfile.from_distribution({"120.5": 3, "120.55": 2, "120.60": 0}, 0.05)
    assert profile.levels == {2410: 3, 2411: 2}
    merged = VolumeProfile.from_distribution({"120.51": 1, "120.52": 2, "120.53": 4}, 0.05)
    assert merged.levels == {2410: 3, 2411: 4}
    assert merged.total_volume == 7


@pytest.mark.parametrize(
    "dist", [{"abc": 1}, {"NaN": 1}, {"Infinity": 1}, {"120.50": -1}, {"120.50": 1.5}]
)
def test_from_distribution_rejects_bad_input(dist: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"120\.50|abc|NaN|Infinity"):
        VolumeProfile.from_distribution(dist)


# ---------------------------------------------------------------- POC


def test_single_level() -> None:
    s = snap({100: 5})
    assert (s.poc_price, s.poc_volume, s.value_area_low, s.value_area_high) == (100, 5, 100, 100)
    assert s.profile_strength == 1.0
    assert s.total_volume == 5
    assert s.distribution == {"100.00": 5}
    assert (s.support_levels, s.resistance_levels) == ([], [])
    above = snap({100: 5}, last=101.0)
    assert (above.support_levels, above.resistance_levels) == ([100.0], [])


def test_poc_tie_goes_to_the_level_nearest_the_middle_even_above() -> None:
    # Range 100..108, middle 104: the tie between 100 and 104 goes to 104 (distance 0).
    s = snap({100: 5, 104: 5, 105: 1, 106: 1, 107: 1, 108: 1})
    assert (s.poc_price, s.poc_volume) == (104.0, 5)
    # Range 100..106, middle 103: 102 (distance 1) beats 100 (distance 3).
    assert snap({100: 5, 101: 1, 102: 5, 103: 1, 104: 1, 105: 1, 106: 1}).poc_price == 102.0


def test_poc_tie_equidistant_from_the_middle_goes_to_the_lower_level() -> None:
    assert snap({100: 5, 101: 1, 102: 5}).poc_price == 100.0  # middle 101
    # Middle 101.5 (half a level): 101 and 102 both at distance 1/2, compared as integers.
    assert snap({100: 1, 101: 4, 102: 4, 103: 1}).poc_price == 101.0


# ---------------------------------------------------------------- value area


def test_value_area_compares_pairs_not_single_levels() -> None:
    vols = {95: 1, 96: 2, 97: 3, 98: 6, 99: 8, 100: 20, 101: 7, 102: 4, 103: 3, 104: 2, 105: 1}
    # total 57, need area >= 39.9. POC 100 (20). Pairs: up 7+4=11 vs down 8+6=14 -> down (34);
    # up 11 vs down 3+2=5 -> up (45). Level by level would have given 98..101 instead.
    s = snap(vols)
    assert (s.poc_price, s.value_area_low, s.value_area_high) == (100.0, 98.0, 102.0)
    assert s.total_volume == 57


def test_value_area_tie_takes_the_pair_above() -> None:
    # total 20, need 14. POC 100 (10): up 3+2=5 vs down 4+1=5, a tie -> above (15).
    s = snap({98: 1, 99: 4, 100: 10, 101: 3, 102: 2})
    assert (s.value_area_low, s.value_area_high) == (100.0, 102.0)


def test_value_area_with_one_side_exhausted_takes_from_the_other() -> None:
    # POC at the top: nothing above, so the pair below (4+3) is added: 17 >= 14.
    s = snap({100: 1, 101: 2, 102: 3, 103: 4, 104: 10})
    assert (s.poc_price, s.value_area_low, s.value_area_high) == (104.0, 102.0, 104.0)


def test_value_area_compares_what_is_left_when_fewer_than_two_remain() -> None:
    # One level above (6) vs the pair below (9+1=10): below wins, 20*10 >= 26*7.
    s = snap({100: 1, 101: 9, 102: 10, 103: 6})
    assert (s.value_area_low, s.value_area_high) == (100.0, 102.0)
    # One level above (6) vs the pair below (2+1=3): above wins, 16*10 >= 19*7.
    s = snap({100: 1, 101: 2, 102: 10, 103: 6})
    assert (s.value_area_low, s.value_area_high) == (102.0, 103.0)


def test_value_area_counts_empty_levels_as_zero() -> None:
    # total 20, need 14. POC 103: up 1+0 vs down 0+0 -> up to 105 (11); then only 106 is left
    # above (4) vs 0 below -> 106 (15). The empty level 105 is inside the area.
    s = snap({100: 5, 103: 10, 104: 1, 106: 4})
    assert (s.value_area_low, s.value_area_high) == (103.0, 106.0)


def test_value_area_walks_empty_pairs_with_ties_going_up() -> None:
    # Both sides empty next to the POC: 0 vs 0 ties go up until 107 is reached (15 >= 14.7),
    # even though more volume lies below at 95.
    s = snap({95: 6, 100: 10, 107: 5})
    assert (s.value_area_low, s.value_area_high) == (100.0, 107.0)
    # Nothing above: empty pairs below until the pair (93, 92) holds volume; 92 is the edge.
    s = snap({90: 5, 93: 2, 100: 10})
    assert (s.value_area_low, s.value_area_high) == (92.0, 100.0)


def test_value_area_fraction_is_exact_and_configurable() -> None:
    vols = {99: 3, 100: 7}  # 7/10 is exactly 70%: the POC alone is enough.
    s = snap(vols)
    assert (s.value_area_low, s.value_area_high) == (100.0, 100.0)
    s = snap(vols, value_area=0.71)
    assert (s.value_area_low, s.value_area_high) == (99.0, 100.0)
    with pytest.raises(ValueError, match="value_area"):
        snap(vols, value_area=0.0)
    with pytest.raises(ValueError, match="value_area"):
        snap(vols, value_area=1.5)


# ---------------------------------------------------------------- strength


def test_profile_strength_is_the_normalised_herfindahl_index() -> None:
    # shares 3/4, 1/4: sum s^2 = 5/8; (5/8 - 1/2) / (1 - 1/2) = 1/4.
    assert snap({100: 3, 101: 1}).profile_strength == 0.25
    assert snap({100: 4, 101: 4, 105: 4}).profile_strength == 0.0
    # shares 1/2, 1/4, 1/4: sum s^2 = 3/8; (3/8 - 1/3) / (2/3) = 1/16.
    assert snap({100: 2, 101: 1, 102: 1}).profile_strength == 0.0625


# ---------------------------------------------------------------- support and resistance

SR = {100: 10, 101: 2, 102: 1, 103: 2, 104: 8, 105: 2, 106: 1, 107: 3, 108: 9, 109: 1, 110: 6}
# mean 45/11; local maxima within +-2: 100, 104, 108 (110 is dominated by 108).


@pytest.mark.parametrize(
    ("last", "max_levels", "support", "resistance"),
    [
        (105.0, 3, [104.0, 100.0], [108.0]),
        (None, 3, [], [104.0, 108.0]),  # reference = POC 100
        (105.0, 1, [104.0], [108.0]),
        (105.0, 0, [], []),
        (104.0, 3, [100.0], [108.0]),  # the reference level itself is neither
        (104.4, 3, [100.0], [108.0]),  # rounds to level 104
        (120.0, 3, [108.0, 104.0, 100.0], []),
        (90.0, 2, [], [100.0, 104.0]),
    ],
)
def test_support_and_resistance_from_high_volume_nodes(
    last: float | None, max_levels: int, support: list[float], resistance: list[float]
) -> None:
    s = snap(SR, last, max_levels=max_levels)
    assert s.poc_price == 100.0
    assert s.support_levels == support
    assert s.resistance_levels == resistance


def test_hvn_plateaus_count_once_at_their_lowest_level() -> None:
    s = snap({100: 1, 101: 5, 102: 5, 103: 1, 104: 1}, 90.0)
    assert s.resistance_levels == [101.0]
    # Equal maxima two apart are one plateau; 106 (one tick volume, below the mean) is not a node.
    s = snap({98: 1, 100: 5, 102: 5, 104: 1, 106: 1}, 90.0)
    assert s.resistance_levels == [100.0]
    # 102 is not a local maximum (6 at 100), so it does not hide the equal node at 104.
    s = snap({100: 6, 102: 5, 104: 5, 106: 1, 107: 1, 108: 1, 109: 1}, 90.0)
    assert s.resistance_levels == [100.0, 104.0]


def test_hvn_needs_at_least_the_mean_volume() -> None:
    # 104 is a local maximum (3) but below the mean 26/5.
    s = snap({100: 20, 101: 1, 104: 3, 105: 1, 106: 1}, 90.0)
    assert s.resistance_levels == [100.0]


# ---------------------------------------------------------------- properties

level_volumes = st.dictionaries(
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=1, max_value=1000),
    min_size=1,
    max_size=30,
)
sparse_volumes = st.dictionaries(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=1, max_value=50),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300)
@given(
    offsets=st.one_of(level_volumes, sparse_volumes),
    base=st.integers(min_value=0, max_value=100_000),
    tick=st.sampled_from(TICKS),
    last=st.none() | st.integers(min_value=-5, max_value=410),
    max_levels=st.integers(min_value=0, max_value=4),
)
def test_snapshot_invariants_and_reference(
    offsets: dict[int, int], base: int, tick: float, last: int | None, max_levels: int
) -> None:
    volumes = {base + off: v for off, v in offsets.items()}
    profile = profile_of(volumes, tick)
    last_price = None if last is None else profile.price_of(base + last)
    s = profile.snapshot(last_price, max_levels=max_levels)
    assert s is not None
    total = sum(volumes.values())
    assert s.total_volume == total == profile.total_volume

    poc = profile.level_of(s.poc_price)
    lo, hi = profile.level_of(s.value_area_low), profile.level_of(s.value_area_high)
    assert s.poc_volume == volumes[poc] == max(volumes.values())
    assert min(volumes) <= lo <= poc <= hi <= max(volumes)  # a range holding the POC
    area = sum(v for lv, v in volumes.items() if lo <= lv <= hi)
    assert area * 10 >= total * 7
    assert 0.0 <= s.profile_strength <= 1.0
    if len(volumes) == 1:
        assert s.profile_strength == 1.0

    ref = None if last is None else base + last
    r_poc, r_lo, r_hi, r_sup, r_res = reference(volumes, ref, max_levels)
    assert (poc, lo, hi) == (r_poc, r_lo, r_hi)
    assert s.support_levels == [profile.price_of(lv) for lv in r_sup]
    assert s.resistance_levels == [profile.price_of(lv) for lv in r_res]

    keys = list(s.distribution)
    assert [profile.level_of(float(k)) for k in keys] == sorted(volumes)
    assert (
        VolumeProfile.from_distribution(s.distribution, tick).snapshot(
            last_price, max_levels=max_levels
        )
        == s
    )


ticks_stream = st.lists(
    st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=500)),
    min_size=1,
    max_size=60,
)


@given(stream=ticks_stream, tick=st.sampled_from(TICKS), data=st.data())
def test_split_and_replay_equals_one_pass(
    stream: list[tuple[int, int]], tick: float, data: st.DataObject
) -> None:
    """A restart (distribution written, profile rebuilt, ticks continue) changes nothing."""
    split = data.draw(st.integers(min_value=0, max_value=len(stream)))
    base = 20_000
    one = VolumeProfile(tick)
    first = VolumeProfile(tick)
    prices = [(one.price_of(base + off), vol) for off, vol in stream]
    for price, vol in prices:
        one.add(price, vol)
    for price, vol in prices[:split]:
        first.add(price, vol)
    second = VolumeProfile.from_distribution(first.to_distribution(), tick)
    for price, vol in prices[split:]:
        second.add(price, vol)
    last = prices[-1][0]
    assert second.levels == one.levels
    assert second.total_volume == one.total_volume
    assert second.snapshot(last) == one.snapshot(last)
    assert second.to_distribution() == one.to_distribution()


# ---------------------------------------------------------------- manager


def test_manager_lifecycle() -> None:
    manager = VolumeProfileManager(default_tick_size=0.05)
    assert manager.get("X") is None
    manager.add("X", 100.0, 0)  # no volume, no profile
    assert manager.get("X") is None
    manager.add("X", 100.02, 5)
    manager.add("X", 100.03, 1)
    manager.add("Y", 1000.0, 2, tick_size=1.0)
    x, y = manager.get("X"), manager.get("Y")
    assert x is not None
    assert y is not None
    assert (x.tick_size, x.levels) == (0.05, {2000: 5, 2001: 1})
    assert (y.tick_size, y.levels) == (1.0, {1000: 2})
    assert len(manager) == 2

    fresh = manager.reset("Y")  # new session keeps the tick size
    assert manager.get("Y") is fresh
    assert (fresh.tick_size, fresh.total_volume) == (1.0, 0)
    assert manager.reset("Y", 5.0).tick_size == 5.0
    assert manager.reset("Z").tick_size == 0.05

    restored = VolumeProfile.from_distribution({"100.00": 9}, 0.05)
    manager.restore("X", restored)
    manager.add("X", 100.0, 1)
    assert restored.levels == {2000: 10}

    manager.drop("X")
    manager.drop("unknown")
    assert manager.get("X") is None
    assert len(manager) == 2


# ---------------------------------------------------------------- real trades


def test_replay_of_real_btcusdt_trades() -> None:
    if not BTC_TRADES.is_file():
        pytest.skip(f"real trade sample not found at {BTC_TRADES} (a clone without ../shared)")
    manager = VolumeProfileManager()
    trades = 0
    last = 0.0
    with BTC_TRADES.open(newline="") as fh:
        for row in csv.DictReader(fh):
            amount = Decimal(row["amount"]) * 1000  # units of 0.001 BTC
            assert amount == amount.to_integral_value()
            last = float(row["price"])
            manager.add("BTCUSDT", last, int(amount), tick_size=0.1)
            trades += 1
    profile = manager.get("BTCUSDT")
    assert profile is not None
    s = profile.snapshot(last)
    assert s is not None
    assert trades == 9999
    assert s.total_volume == 4_024_301
    assert len(s.distribution) == 565
    # Pinned from one pass of this file.
    assert (s.poc_price, s.poc_volume) == (9686.9, 158_974)
    assert (s.value_area_low, s.value_area_high) == (9673.5, 9710.7)
    assert s.support_levels == [9666.7, 9666.4, 9665.9]
    assert s.resistance_levels == [9667.0, 9667.5, 9668.0]

    levels = profile.levels
    lo, hi = profile.level_of(s.value_area_low), profile.level_of(s.value_area_high)
    area = sum(v for lv, v in levels.items() if lo <= lv <= hi)
    assert lo <= profile.level_of(s.poc_price) <= hi
    assert area * 10 >= s.total_volume * 7
    assert 0.0 < s.profile_strength < 0.01  # many levels, none dominant
    ref = reference(levels, profile.level_of(last))
    assert ref == (
        profile.level_of(s.poc_price),
        lo,
        hi,
        [profile.level_of(p) for p in s.support_levels],
        [profile.level_of(p) for p in s.resistance_levels],
    )
    restored = VolumeProfile.from_distribution(s.distribution, 0.1)
    assert restored.snapshot(last) == s


# ---------------------------------------------------------------- wide profiles (the flush path)

wide_volumes = st.dictionaries(
    st.integers(min_value=0, max_value=150),
    st.integers(min_value=1, max_value=1000),
    min_size=32,
    max_size=120,
)
later_adds = st.lists(
    st.tuples(st.integers(min_value=-12, max_value=165), st.integers(min_value=1, max_value=800)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=120)
@given(
    first=wide_volumes,
    adds=later_adds,
    tick=st.sampled_from(TICKS),
    last=st.none() | st.integers(min_value=-15, max_value=170),
)
def test_wide_profiles_stay_exact_as_levels_are_added_between_snapshots(
    first: dict[int, int], adds: list[tuple[int, int]], tick: float, last: int | None
) -> None:
    """From 32 levels a profile keeps its levels sorted and formatted between snapshots; new
    levels inserted later (below, inside and above the range) must leave every field exact."""
    base = 40_000
    volumes = {base + off: v for off, v in first.items()}
    profile = profile_of(volumes, tick)
    assert profile.snapshot() is not None  # the first snapshot builds the kept order
    for off, vol in adds:
        level = base + off
        profile.add(profile.price_of(level), vol)
        volumes[level] = volumes.get(level, 0) + vol
        last_price = None if last is None else profile.price_of(base + last)
        s = profile.snapshot(last_price)
        assert s is not None
        ref = None if last is None else base + last
        r_poc, r_lo, r_hi, r_sup, r_res = reference(volumes, ref)
        assert profile.level_of(s.poc_price) == r_poc
        assert profile.level_of(s.value_area_low) == r_lo
        assert profile.level_of(s.value_area_high) == r_hi
        assert s.support_levels == [profile.price_of(lv) for lv in r_sup]
        assert s.resistance_levels == [profile.price_of(lv) for lv in r_res]
        expected = {profile.price_str(lv): volumes[lv] for lv in sorted(volumes)}
        assert list(s.distribution.items()) == list(expected.items())
        assert list(profile.to_distribution().items()) == list(expected.items())
        fresh = VolumeProfile.from_distribution(expected, tick)
        assert fresh.snapshot(last_price) == s


def test_a_snapshot_does_not_share_state_with_the_profile() -> None:
    profile = profile_of({lv: lv % 7 + 1 for lv in range(100, 160)})
    before = profile.snapshot()
    assert before is not None
    distribution = dict(before.distribution)
    profile.add(profile.price_of(130), 50)
    profile.add(profile.price_of(170), 5)  # a new level, inserted into the kept order
    assert before.distribution == distribution
