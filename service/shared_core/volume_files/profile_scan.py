"""The scan behind a profile snapshot: POC, value area, high-volume nodes, support/resistance.

It works on a profile's levels (integers: price / tick, see `volume_profile_manager`) given as
ascending keys with their volumes, so every comparison is exact integer arithmetic. `scan` runs
the Rust kernel (`_native.profile_scan`, native/core/src/scan.rs) where the package was built
with it and `scan_levels`, the Python reference it is tested against, otherwise.

Definitions (README "Definitions"); the range is the lowest to the highest level with volume
and levels inside it without volume count as zero:

- POC: the level with the most volume; on a tie the one nearest the middle of the range
  (compared as ``|2 * level - (low + high)|``), then the lower one.
- Value area: the classic Market Profile expansion from the POC. Each step compares the sum of
  the next two levels above with the next two below (what is left where fewer than two remain)
  and adds the larger pair whole, the pair above on a tie; when one side is exhausted it takes
  from the other. It stops once ``area * den >= total * num`` where ``num / den`` is the exact
  decimal value of `value_area` (7/10 by default). Value area high/low are the prices of the
  extreme levels included, which may be empty levels. Runs of empty pairs are skipped in one
  jump (same result as walking them), so a stray far-off price cannot make a snapshot O(range).
- Strength: the normalised Herfindahl index ``(sum(s_i^2) - 1/L) / (1 - 1/L)`` over the shares
  of the L levels with volume, computed exactly as ``(L*sum(v^2) - T^2) / (T^2 * (L-1))``; 1.0
  when L = 1. 0 means volume spread evenly, 1 means all of it at one price.
- High-volume nodes (HVNs): a level with volume that is a local maximum within +-2 levels
  (volume >= each of the four neighbours, empty or out-of-range neighbours counting as zero)
  and holds at least the mean volume of the levels with volume. Equal local maxima within two
  levels of each other form a plateau and count once, at the lowest level: a local maximum is
  dropped when a level one or two below it is a local maximum with the same volume.
- Support: up to `max_levels` HVNs strictly below the reference level, nearest first;
  resistance: up to `max_levels` HVNs strictly above it, nearest first. The reference level is
  the level of `last_price` (or the POC when no last price is given); an HVN at the reference
  level itself is neither.

Pure: no I/O, no clock; the one module-level value is which implementation was importable.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from operator import mul
from typing import NamedTuple

__all__ = ["Scan", "kernel", "scan", "scan_levels", "strength"]



class Scan(NamedTuple):
    """What one scan finds, in levels (the C kernel returns the same fields as a plain tuple)."""

    poc: int
    poc_volume: int
    value_area_low: int
    value_area_high: int
    support: list[int]  # nearest first
    resistance: list[int]  # nearest first
    sum_sq: int  # the sum of the squared volumes, for `strength`


def scan_levels(
    keys: list[int],
    vals: list[int],
    total: int,
    num: int,
    den: int,
    ref: int | None,
    max_levels: int,
    volumes: dict[int, int] | None = None,
) -> Scan:
    """`scan` in Python: the reference the Rust kernel (`_native.profile_scan`) is tested against
    and computes step for step, and the fallback where the kernel is not built."""
    if volumes is None:
        volumes = dict(zip(keys, vals, strict=True))
    get = volumes.get
    count = len(keys)
    low = keys[0]
    high = keys[-1]

    # POC: most volume, then nearest the middle (2*level vs low+high), then lowest.
    peak = max(vals)
    if vals.count(peak) == 1:
        poc = keys[vals.index(peak)]
    else:
        span = low + high
        poc = min(
            (lv for lv, v in zip(keys, vals, strict=True) if v == peak),
            key=lambda lv: (abs(2 * lv - span), lv),
        )

    # Value area: expand by pairs from the POC until area/total >= num/den. Each side's next
    # pair (its size and volume) depends only on that side's edge, so it is recomputed only
    # after that side moved (size -1: not known yet).
    lo = hi = poc
    area = peak
    target = total * num
    n_up = n_dn = -1
    up = dn = 0
    while area * den < target:
        if n_up < 0:
            n_up = high - hi
            if n_up >= 2:
                n_up = 2
                up = get(hi + 1, 0) + get(hi + 2, 0)
            else:
                up = get(hi + 1, 0) if n_up else 0
        if n_dn < 0:
            n_dn = lo - low
            if n_dn >= 2:
                n_dn = 2
                dn = get(lo - 1, 0) + get(lo - 2, 0)
            else:
                dn = get(lo - 1, 0) if n_dn else 0
        if n_up and (not n_dn or up >= dn):
            if up:
                hi += n_up
                area += up
            else:
                # Two empty levels above, so n_up == 2 and the next volume is >= hi + 3:
                # walking empty pairs repeats this same choice, so jump to the pair holding it.
                nxt = keys[bisect_right(keys, hi)]
                hi += 2 * ((nxt - hi - 1) // 2)
            n_up = -1
        elif n_dn:
            if dn:
                lo -= n_dn
                area += dn
            else:
                prv = keys[bisect_left(keys, lo) - 1]
                lo -= 2 * ((lo - prv - 1) // 2)
            n_dn = -1
        else:  # whole range included; unreachable while num/den <= 1
            break

    # Support and resistance: the HVNs nearest the reference level on each side. Only those
    # are needed, so the levels are walked outwards from the reference and each is tested on
    # its own: a busy symbol's flush does not pay for classifying levels it never reports.
    if ref is None:
        ref = poc
    support: list[int] = []
    resistance: list[int] = []
    if max_levels:
        # An HVN holds at least the mean: that test, on the volumes in hand, rules out most
        # levels before the neighbours are looked up.
        for i in range(bisect_left(keys, ref) - 1, -1, -1):
            if vals[i] * count >= total and _is_hvn(volumes, keys[i], count, total):
                support.append(keys[i])
                if len(support) == max_levels:
                    break
        for i in range(bisect_right(keys, ref), count):
            if vals[i] * count >= total and _is_hvn(volumes, keys[i], count, total):
                resistance.append(keys[i])
                if len(resistance) == max_levels:
                    break
    return Scan(poc, peak, lo, hi, support, resistance, sum(map(mul, vals, vals)))


def _is_peak(volumes: dict[int, int], level: int, count: int, total: int) -> bool:
    """A level with at least the mean volume and no less than its +-2 neighbours."""
    get = volumes.get
    v = get(level, 0)
    return (
        v > 0
        and v * count >= total
        and v >= get(level - 2, 0)
        and v >= get(level - 1, 0)
        and v >= get(level + 1, 0)
        and v >= get(level + 2, 0)
    )


def _is_hvn(volumes: dict[int, int], level: int, count: int, total: int) -> bool:
    """A peak that does not continue a plateau: no peak with the same volume one or two
    levels below. (A level with the same volume as a peak is at the mean too, so testing
    peaks only among levels at or above the mean changes nothing.)"""
    if not _is_peak(volumes, level, count, total):
        return False
    get = volumes.get
    v = get(level)
    return not (
        (get(level - 1) == v and _is_peak(volumes, level - 1, count, total))
        or (get(level - 2) == v and _is_peak(volumes, level - 2, count, total))
    )


# The Rust kernel (`_native.profile_scan`, the native core's own scan), where the package was
# built with it; without a Rust toolchain every profile is scanned by `scan_levels`. It takes
# every scan it can, so the Python core's snapshots (the library engine, VOLUME_CORE=python)
# are as fast as the extension makes them.
_native_scan: Callable[..., tuple[int, int, int, int, list[int], list[int], int]] | None
try:
    from ._native import profile_scan as _native_scan
except ImportError:  # pragma: no cover - depends on how the package was built
    _native_scan = None


def scan(
    keys: list[int],
    vals: list[int],
    total: int,
    num: int,
    den: int,
    ref: int | None,
    max_levels: int,
    volumes: dict[int, int] | None = None,
) -> Scan:
    """The `Scan` (POC, its volume, value area, support and resistance, sum of squared volumes)
    of a profile given as ascending `keys` with their `vals`
    (all > 0, `total` their sum); `num / den` is the value-area fraction and `ref` the
    reference level (None: the POC). `volumes` is the profile's own level -> volume dict when
    the caller has it. Levels throughout: prices are the caller's business.
    """
    if _native_scan is not None:
        try:
            return Scan._make(_native_scan(keys, vals, total, num, den, ref, max_levels))
        except OverflowError:  # beyond the kernel's 128-bit range: the reference is exact
            pass
    return scan_levels(keys, vals, total, num, den, ref, max_levels, volumes)


def strength(count: int, total: int, sum_sq: int) -> float:
    """The normalised Herfindahl index of `count` levels holding `total` with squares summing
    to `sum_sq`, from exact integers (one rounding, in the final division)."""
    if count == 1:
        return 1.0
    value = (count * sum_sq - total * total) / (total * total * (count - 1))
    return min(1.0, max(0.0, value))


def kernel() -> str:
    """Which implementation `scan` runs: "rust" or "python" (the start-up log and metrics say)."""
    return "python" if _native_scan is None else "rust"
