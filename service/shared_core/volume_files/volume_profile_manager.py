"""Session volume profiles: volume per price level, POC, value area, strength, support/resistance.

A level is an integer: the price divided by the tick size, rounded to the nearest integer with an
exact half going up. Working in integer levels keeps the finance exact: every comparison below
(POC tie-break, value-area stop rule, strength) is integer arithmetic, and prices only appear at
the edges (`price_of`, `price_str`). Rounding is fast on the hot path (one float division) and
exact where it matters: a quotient within a millionth of a level of an exact half is settled
with the decimal value of the price (its shortest repr), so 120.525 at tick 0.05 is level 2411
even though `120.525 / 0.05` is 2410.4999... in binary floating point.

Definitions (DESIGN.md "Definitions"); the range is the lowest to the highest level with volume
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

Pure: no I/O, no clock, no module state that changes.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor
from operator import mul

__all__ = ["ProfileSnapshot", "VolumeProfile", "VolumeProfileManager", "scan_kernel"]

# Quotients this close (in levels) to an exact half are rounded with decimal arithmetic. Float
# error of price / tick stays far below this for |price / tick| < 1e9.
_HALF_WINDOW = 1e-6
_ONE_MINUS_WINDOW = 1.0 - _HALF_WINDOW


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """The profile's derived values at one moment, ready for the writers."""

    poc_price: float
    poc_volume: int
    value_area_high: float
    value_area_low: float
    profile_strength: float
    total_volume: int
    distribution: dict[str, int]
    support_levels: list[float]
    resistance_levels: list[float]


@functools.lru_cache(maxsize=256)
def _tick_parts(tick_size: float) -> tuple[float, Decimal, int, int]:
    """(float tick, decimal tick, integer mantissa m, decimals k) with tick == m / 10**k."""
    tick = float(tick_size)
    if not (math.isfinite(tick) and tick > 0):
        raise ValueError(f"tick_size must be finite and > 0, got {tick_size!r}")
    # The shortest repr is what a human wrote (0.05, not 0.05000000000000000277).
    exact = Decimal(repr(tick)).normalize()
    exponent = exact.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    decimals = max(0, -exponent)
    mantissa = int(exact.scaleb(decimals))
    return tick, exact, mantissa, decimals


def _ratio(value_area: float) -> tuple[int, int]:
    """The exact decimal fraction num/den of `value_area`, so 0.70 compares as 7/10."""
    value = float(value_area)
    if not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"value_area must be in (0, 1], got {value_area!r}")
    frac = Fraction(repr(value))
    return frac.numerator, frac.denominator


_DEFAULT_RATIO = _ratio(0.70)

Scan = tuple[int, int, int, int, list[int], list[int], int]


def _scan_levels(
    keys: list[int],
    vals: list[int],
    total: int,
    num: int,
    den: int,
    ref: int | None,
    max_levels: int,
    volumes: dict[int, int] | None = None,
) -> Scan:
    """(POC, its volume, value-area low and high, support and resistance levels, the sum of the
    squared volumes) of a profile given as ascending `keys` with their `vals`; `ref` None means
    the POC.

    The reference for the C kernel (`_profile_kernel.scan`), which computes the same integers
    step for step; the module docstring is the definition both follow. `volumes` is the
    profile's own level -> volume dict when the caller has it (else it is built).
    """
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
    return poc, peak, lo, hi, support, resistance, sum(map(mul, vals, vals))


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


# The C kernel, where it was built (an optional extension: without a compiler the package
# installs without it and every profile is scanned by `_scan_levels`). It is faster from two
# levels on (a 2-level snapshot 4.2 us against 5.1), so it takes every multi-level profile.
_native_scan: Callable[[list[int], list[int], int, int, int, int | None, int], Scan] | None
try:
    from ._profile_kernel import scan as _native_scan
except ImportError:  # pragma: no cover - depends on how the package was built
    _native_scan = None


def scan_kernel() -> str:
    """Which scan multi-level snapshots use: "c" or "python" (the start-up log and metrics say)."""
    return "python" if _native_scan is None else "c"


# From this many levels a profile keeps its levels sorted with their price strings (see
# VolumeProfile): about 75 more bytes a level, against re-sorting and re-formatting them all at
# every flush.
_CACHE_FROM_LEVELS = 32


class VolumeProfile:
    """Volume per integer price level for one symbol's session.

    `levels` maps level -> volume (only levels with volume). Treat it as read-only: `add` keeps
    the total and the low/high levels in step with it.

    A profile with many levels (a busy symbol, snapshotted at every flush) also keeps its levels
    sorted with their price strings beside them, so a snapshot neither sorts nor formats: a new
    level is inserted in place (rare next to adds at known levels). Small profiles do without,
    which keeps the memory of the long tail of quiet symbols down.
    """

    __slots__ = (
        "_decimals",
        "_high",
        "_low",
        "_mantissa",
        "_scale",
        "_sorted",
        "_str_mult",
        "_strs",
        "_tick",
        "_tick_dec",
        "_total",
        "levels",
    )

    def __init__(self, tick_size: float = 0.05) -> None:
        tick, exact, mantissa, decimals = _tick_parts(tick_size)
        self._tick = tick
        self._tick_dec = exact
        self._mantissa = mantissa
        self._scale: int = 10**decimals
        self._decimals = max(decimals, 2)
        self._str_mult: int = mantissa * 10 ** (self._decimals - decimals)
        self.levels: dict[int, int] = {}
        self._total = 0
        self._low = 0
        self._high = 0
        self._sorted: list[int] | None = None  # ascending levels, once there are many
        self._strs: list[str] | None = None  # price_str of each, same order

    @property
    def tick_size(self) -> float:
        return self._tick

    @property
    def total_volume(self) -> int:
        return self._total

    def __repr__(self) -> str:
        return (
            f"VolumeProfile(tick_size={self._tick!r}, levels={len(self.levels)}, "
            f"total_volume={self._total})"
        )

    def _exact_level(self, price: Decimal) -> int:
        """Round price / tick half up with integer arithmetic on the exact decimal values."""
        num, den = price.as_integer_ratio()
        num *= self._scale
        den *= self._mantissa
        return (2 * num + den) // (2 * den)

    def level_of(self, price: float) -> int:
        """The nearest level to `price` (exact half up); `price` must be finite."""
        x = price / self._tick + 0.5
        level = floor(x)
        frac = x - level
        if frac < _HALF_WINDOW or frac > _ONE_MINUS_WINDOW:
            return self._exact_level(Decimal(repr(float(price))))
        return level

    def price_of(self, level: int) -> float:
        """The float nearest the level's exact price (int / int division is correctly rounded)."""
        return level * self._mantissa / self._scale

    def price_str(self, level: int) -> str:
        """The level's price with the tick's decimals (at least 2), exact: 2411 -> "120.55"."""
        units = level * self._str_mult
        d = self._decimals
        digits = str(-units if units < 0 else units).rjust(d + 1, "0")
        sign = "-" if units < 0 else ""
        return f"{sign}{digits[:-d]}.{digits[-d:]}"

    def add(self, price: float, volume: int) -> None:
        """Add `volume` at `price`'s level: O(1), the per-tick hot path; volume 0 is ignored."""
        if volume <= 0:
            if volume == 0:
                return
            raise ValueError(f"volume must be >= 0, got {volume!r}")
        # level_of, inlined: this runs once per tick.
        x = price / self._tick + 0.5
        level = floor(x)
        frac = x - level
        if frac < _HALF_WINDOW or frac > _ONE_MINUS_WINDOW:
            level = self._exact_level(Decimal(repr(float(price))))
        levels = self.levels
        old = levels.get(level)
        if old is None:
            levels[level] = volume
            ordered = self._sorted
            if ordered is not None:
                i = bisect_left(ordered, level)
                ordered.insert(i, level)
                self._strs.insert(i, self.price_str(level))  # type: ignore[union-attr]
            if len(levels) == 1:
                self._low = self._high = level
            elif level < self._low:
                self._low = level
            elif level > self._high:
                self._high = level
        else:
            levels[level] = old + volume
        self._total += volume

    def to_distribution(self) -> dict[str, int]:
        """Price string -> volume, ascending by price, levels with volume only."""
        keys, strs = self._ordered()
        vals = list(map(self.levels.__getitem__, keys))
        return self._distribution(keys, vals, strs)

    @classmethod
    def from_distribution(cls, dist: Mapping[str, int], tick_size: float = 0.05) -> VolumeProfile:
        """Rebuild a profile from `to_distribution` output (exact round trip).

        Keys are read as exact decimals and rounded to the tick like live prices, so a
        distribution written with a finer tick still loads (its volumes merge per level).
        """
        profile = cls(tick_size)
        levels = profile.levels
        for key, raw in dist.items():
            volume = int(raw)
            if volume != raw or isinstance(raw, bool):
                raise ValueError(f"volume at {key!r} must be an integer, got {raw!r}")
            if volume < 0:
                raise ValueError(f"volume at {key!r} must be >= 0, got {volume}")
            if volume == 0:
                continue
            try:
                price = Decimal(key.strip())
                level = profile._exact_level(price)
            except (InvalidOperation, ValueError, OverflowError) as exc:
                raise ValueError(f"bad price {key!r} in distribution") from exc
            levels[level] = levels.get(level, 0) + volume
            profile._total += volume
        if levels:
            profile._low = min(levels)
            profile._high = max(levels)
        return profile

    def _ordered(self) -> tuple[list[int], list[str] | None]:
        """Ascending levels, and their price strings when the profile keeps them."""
        ordered = self._sorted
        if ordered is not None:
            return ordered, self._strs
        levels = self.levels
        keys = sorted(levels)
        if len(keys) < _CACHE_FROM_LEVELS:
            return keys, None
        self._sorted = keys
        self._strs = self._price_strs(keys)
        return keys, self._strs

    def snapshot(
        self, last_price: float | None = None, *, value_area: float = 0.70, max_levels: int = 3
    ) -> ProfileSnapshot | None:
        """POC, value area, strength, distribution and support/resistance; None when empty.

        Runs for every changed symbol at every flush, so it works on one sorted pass of the
        levels, scanned by the C kernel where it is built (else `_scan_levels`), and
        special-cases the common single peak.
        """
        total = self._total
        if total <= 0:
            return None
        num, den = _DEFAULT_RATIO if value_area == 0.70 else _ratio(value_area)
        if max_levels < 0:
            raise ValueError(f"max_levels must be >= 0, got {max_levels}")
        levels = self.levels
        if len(levels) == 1:  # most symbols at most flushes: everything is that one level
            return self._single_level_snapshot(last_price, max_levels)
        keys, strs = self._ordered()
        vals = list(map(levels.__getitem__, keys))
        count = len(keys)
        ref = None if last_price is None else self.level_of(last_price)
        scan: Scan | None = None
        if _native_scan is not None:
            try:
                scan = _native_scan(keys, vals, total, num, den, ref, max_levels)
            except OverflowError:  # beyond the kernel's 64-bit range: the reference is exact
                scan = None
        if scan is None:
            scan = _scan_levels(keys, vals, total, num, den, ref, max_levels, levels)
        poc, peak, lo, hi, support, resistance, sum_sq = scan

        # Strength: exact normalised Herfindahl index.
        strength = (count * sum_sq - total * total) / (total * total * (count - 1))
        strength = min(1.0, max(0.0, strength))

        price_of = self.price_of
        return ProfileSnapshot(
            poc_price=price_of(poc),
            poc_volume=peak,
            value_area_high=price_of(hi),
            value_area_low=price_of(lo),
            profile_strength=strength,
            total_volume=total,
            distribution=self._distribution(keys, vals, strs),
            support_levels=list(map(price_of, support)),
            resistance_levels=list(map(price_of, resistance)),
        )

    def _single_level_snapshot(
        self, last_price: float | None, max_levels: int
    ) -> ProfileSnapshot:
        """`snapshot` when one level holds all the volume: it is the POC, the whole value area
        and the only HVN (a local maximum at the mean), with strength 1."""
        ((level, volume),) = self.levels.items()
        ref = level if last_price is None else self.level_of(last_price)
        price = self.price_of(level)
        return ProfileSnapshot(
            poc_price=price,
            poc_volume=volume,
            value_area_high=price,
            value_area_low=price,
            profile_strength=1.0,
            total_volume=self._total,
            distribution=self._distribution([level], [volume]),
            support_levels=[price] if level < ref and max_levels > 0 else [],
            resistance_levels=[price] if level > ref and max_levels > 0 else [],
        )

    def _distribution(
        self, keys: list[int], vals: list[int], strs: list[str] | None = None
    ) -> dict[str, int]:
        """`price_str(level) -> volume` for ascending levels (their strings, when known)."""
        return dict(zip(self._price_strs(keys) if strs is None else strs, vals, strict=True))

    def _price_strs(self, keys: list[int]) -> list[str]:
        """`price_str` of ascending levels, in one pass."""
        if keys and keys[0] >= 0:
            # price_str for units >= 0 is exactly "%d.%0{d}d" % divmod(units, 10**d).
            d = self._decimals
            fmt = f"%d.%0{d}d"
            scale = 10**d
            mult = self._str_mult
            return [fmt % divmod(lv * mult, scale) for lv in keys]
        return list(map(self.price_str, keys))


class VolumeProfileManager:
    """symbol -> VolumeProfile for each symbol's current session.

    A profile's tick size is fixed when it is created (by the first `add`, `reset` or
    `restore`); a different `tick_size` on a later `add` is ignored: call `reset` to change it.
    """

    __slots__ = ("_default_tick", "_profiles")

    def __init__(self, default_tick_size: float = 0.05) -> None:
        self._default_tick = _tick_parts(default_tick_size)[0]
        self._profiles: dict[str, VolumeProfile] = {}

    def __len__(self) -> int:
        return len(self._profiles)

    def add(self, symbol: str, price: float, volume: int, tick_size: float | None = None) -> None:
        """Add volume to the symbol's profile, creating it on its first volume."""
        profile = self._profiles.get(symbol)
        if profile is None:
            if volume == 0:
                return
            profile = VolumeProfile(self._default_tick if tick_size is None else tick_size)
            self._profiles[symbol] = profile
        profile.add(price, volume)

    def get(self, symbol: str) -> VolumeProfile | None:
        return self._profiles.get(symbol)

    def reset(self, symbol: str, tick_size: float | None = None) -> VolumeProfile:
        """Start an empty profile (a new session); keeps the old tick size when none is given."""
        if tick_size is None:
            old = self._profiles.get(symbol)
            tick_size = self._default_tick if old is None else old.tick_size
        profile = VolumeProfile(tick_size)
        self._profiles[symbol] = profile
        return profile

    def restore(self, symbol: str, profile: VolumeProfile) -> None:
        """Adopt a profile rebuilt from Redis (see `VolumeProfile.from_distribution`)."""
        self._profiles[symbol] = profile

    def drop(self, symbol: str) -> None:
        self._profiles.pop(symbol, None)
