"""Session volume profiles: volume per integer price level, and their snapshots.

A level is an integer: the price divided by the tick size, rounded to the nearest integer with an
exact half going up. Working in integer levels keeps the finance exact: every comparison below
(POC tie-break, value-area stop rule, strength) is integer arithmetic, and prices only appear at
the edges (`price_of`, `price_str`). Rounding is fast on the hot path (one float division) and
exact where it matters: a quotient within a millionth of a level of an exact half is settled
with the decimal value of the price (its shortest repr), so 120.525 at tick 0.05 is level 2411
even though `120.525 / 0.05` is 2410.4999... in binary floating point.

The definitions of POC, value area, strength, high-volume nodes, support and resistance (README
"Definitions") are in `profile_scan`, which computes them from a profile's levels; this module
holds the levels, rounds prices onto them and assembles the snapshot.

Pure: no I/O, no clock, no module state that changes.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor

from . import profile_scan

__all__ = ["ProfileSnapshot", "VolumeProfile", "VolumeProfileManager"]

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
        levels (`profile_scan.scan`, in C where the kernel is built) and special-cases the
        common single peak.
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
        found = profile_scan.scan(keys, vals, total, num, den, ref, max_levels, levels)

        price_of = self.price_of
        return ProfileSnapshot(
            poc_price=price_of(found.poc),
            poc_volume=found.poc_volume,
            value_area_high=price_of(found.value_area_high),
            value_area_low=price_of(found.value_area_low),
            profile_strength=profile_scan.strength(count, total, found.sum_sq),
            total_volume=total,
            distribution=self._distribution(keys, vals, strs),
            support_levels=list(map(price_of, found.support)),
            resistance_levels=list(map(price_of, found.resistance)),
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
