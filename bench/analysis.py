"""Pure arithmetic behind the figures: which core a figure ran on, CPU per tick, targets.

Kept apart from the runs so it can be unit tested without Redis or workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .report import Target

CORES = ("native", "python")
CORE_ENV = "VOLUME_CORE"
MEMORY_TARGET_MIB = 256
CEILING_SHARE_TARGET = 0.5
NAIVE_MULTIPLE_TARGET = 20.0
P99_MARGIN_MS = 50
SATURATED = 0.7  # share of a core from which a side counts as the one the drain waits on


def cores_for(option: str | None) -> tuple[str | None, ...]:
    """The cores to run: None leaves VOLUME_CORE unset (the service's own default)."""
    if option is None or option == "":
        return (None,)
    if option == "both":
        return CORES
    if option in CORES:
        return (option,)
    raise ValueError(f"core must be one of {', '.join(CORES)} or both, got {option!r}")


def core_env(core: str | None) -> dict[str, str]:
    """The workers' environment for `core`: nothing when the service should pick."""
    return {} if core is None else {CORE_ENV: core}


def parse_memory(text: str) -> tuple[tuple[int, int], ...]:
    """`20000:160000,100000:500000` -> ((20000, 160000), (100000, 500000))."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        symbols, sep, ticks = part.partition(":")
        if not sep or not symbols.isdigit() or not ticks.isdigit() or int(symbols) < 1:
            raise ValueError(f"expected SYMBOLS:TICKS, got {part!r}")
        out.append((int(symbols), int(ticks)))
    if not out:
        raise ValueError("no SYMBOLS:TICKS given")
    return tuple(out)


def figure_name(base: str, core: str | None, suffixed: bool) -> str:
    """`engine` or, when several cores run in one bench, `engine@native`: plain names stay
    comparable with runs from before cores were chosen."""
    return f"{base}@{core}" if suffixed and core is not None else base


def split_name(name: str) -> tuple[str, str | None]:
    base, sep, core = name.partition("@")
    return base, (core if sep else None)


# -- CPU ---------------------------------------------------------------------------------------


def us_per_tick(cpu_s: float, ticks: int) -> float:
    return 1e6 * cpu_s / ticks if ticks > 0 else math.nan


@dataclass(frozen=True, slots=True)
class CpuSplit:
    """Where one drain's time went: CPU per tick on each side and how busy each side was.

    Redis executes commands on one thread and each worker is one Python thread, so a side
    near 100% of a core is what the drain waits on; the busier side names the bound.
    """

    ticks: int
    seconds: float
    workers: int
    worker_cpu_s: float
    redis_cpu_s: float

    @property
    def wall_us_per_tick(self) -> float:
        return us_per_tick(self.seconds, self.ticks)

    @property
    def worker_us_per_tick(self) -> float:
        return us_per_tick(self.worker_cpu_s, self.ticks)

    @property
    def redis_us_per_tick(self) -> float:
        return us_per_tick(self.redis_cpu_s, self.ticks)

    @property
    def worker_busy(self) -> float:
        """Share of one core per worker process."""
        if self.seconds <= 0 or self.workers <= 0:
            return math.nan
        return self.worker_cpu_s / self.seconds / self.workers

    @property
    def redis_busy(self) -> float:
        return self.redis_cpu_s / self.seconds if self.seconds > 0 else math.nan

    @property
    def bound(self) -> str:
        """`worker` or `redis`, whichever is near a full core; `neither` when both are well
        below one (the machine's other load, or round trips, set the pace)."""
        busiest = max(self.worker_busy, self.redis_busy)
        if not busiest >= SATURATED:
            return "neither"
        return "redis" if self.redis_busy > self.worker_busy else "worker"

    def detail(self) -> dict[str, Any]:
        return {
            "wall_us_per_tick": round(self.wall_us_per_tick, 2),
            "worker_cpu_us_per_tick": round(self.worker_us_per_tick, 2),
            "redis_cpu_us_per_tick": round(self.redis_us_per_tick, 2),
            "worker_busy": round(self.worker_busy, 3),
            "redis_busy": round(self.redis_busy, 3),
            "bound": self.bound,
        }

    def note(self, ceiling_redis_us: float | None = None, side: str = "worker") -> str:
        against = "" if ceiling_redis_us is None else f" (ceiling {ceiling_redis_us:.1f})"
        bound = {"neither": "neither side saturated", "worker": f"{side}-bound",
                 "redis": "redis-bound"}[self.bound]
        return (f"redis {self.redis_us_per_tick:.1f} us/tick{against}, {side} "
                f"{self.worker_us_per_tick:.1f} us/tick; {bound} ({side} "
                f"{100 * self.worker_busy:.0f}%, redis {100 * self.redis_busy:.0f}% of a core)")


def command_delta(before: Mapping[str, float], after: Mapping[str, float],
                  floor_s: float = 0.001) -> dict[str, float]:
    """Server seconds per command between two INFO commandstats readings (no RESETSTAT, so a
    measurement can start while workers are already running)."""
    out = {}
    for name, value in after.items():
        delta = value - before.get(name, 0.0)
        if delta >= floor_s:
            out[name] = round(delta, 3)
    return out


# -- the steady pass ---------------------------------------------------------------------------


def steady_pass(entries: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The same ticks again, every one adding exactly what it added the first time.

    Day-cumulative volumes are raised by their symbol's last cumulative of the first pass
    (a replayed cumulative would add nothing: a fall is treated as stale); per-tick volumes
    and price-only ticks are kept. Timestamps are kept: the engine puts late volume in the
    tick's own minute, so the work per tick is the first pass's minus the first-sight loads
    and the new levels and minute buckets.
    """
    last: dict[str, int] = {}
    for entry in entries:
        cumulative = entry.get("volume_traded")
        if cumulative is not None:
            symbol = entry["symbol"]
            last[symbol] = max(last.get(symbol, 0), int(cumulative))
    out = []
    for entry in entries:
        again = dict(entry)
        cumulative = entry.get("volume_traded")
        if cumulative is not None:
            again["volume_traded"] = str(int(cumulative) + last[entry["symbol"]])
        out.append(again)
    return out


# -- core against core -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Headline:
    """The one number a figure is compared by."""

    metric: str
    value: float
    higher_is_better: bool


def headline(name: str, detail: Mapping[str, Any], ticks_per_s: float) -> Headline:
    base, _ = split_name(name)
    if base == "latency":
        return Headline("p99_ms", float(detail["p99_ms"]), higher_is_better=False)
    if base.startswith("memory_worker"):
        return Headline("peak_rss_mib", float(detail["peak_rss_mib"]), higher_is_better=False)
    return Headline("ticks_per_s", ticks_per_s, higher_is_better=True)


@dataclass(frozen=True, slots=True)
class CoreRatio:
    figure: str
    metric: str
    native: float
    python: float

    @property
    def ratio(self) -> float:
        return self.native / self.python if self.python else math.nan


def core_ratios(figures: Iterable[tuple[str, Mapping[str, Any], float]]) -> list[CoreRatio]:
    """native/python for every figure measured on both cores, in first-seen order (aliases
    such as `engine_cold`, marked `same_as`, are left out)."""
    by_base: dict[str, dict[str, Headline]] = {}
    for name, detail, tps in figures:
        base, core = split_name(name)
        if core in CORES and "same_as" not in detail:
            by_base.setdefault(base, {})[core] = headline(name, detail, tps)
    out = []
    for base, pair in by_base.items():
        if set(pair) == set(CORES):
            out.append(CoreRatio(base, pair["native"].metric, pair["native"].value,
                                 pair["python"].value))
    return out


# -- targets -----------------------------------------------------------------------------------


def targets(figures: Mapping[str, tuple[float, Mapping[str, Any]]],
            cores: Sequence[str | None]) -> list[Target]:
    """Each target, per core, from the figures measured (name -> (ticks/s, detail)).

    engine >= 50% of the ceiling and >= 20x naive, cold and steady; latency p99 <= flush
    interval + 50 ms at half capacity; a worker's RSS at 100,000 symbols < 256 MiB.
    """
    out: list[Target] = []
    suffixed = len(cores) > 1
    ceiling = figures.get("ceiling")
    naive = figures.get("naive")
    for core in cores:
        tag = f" [{core}]" if suffixed and core else ""
        for phase in ("cold", "steady"):
            fig = figures.get(figure_name(f"engine_{phase}", core, suffixed))
            if fig is None:
                continue
            if ceiling is not None and ceiling[0] > 0:
                share = fig[0] / ceiling[0]
                out.append(Target(f"engine {phase} >= 50% of ceiling{tag}",
                                  share >= CEILING_SHARE_TARGET, f"{100 * share:.0f}%"))
            if naive is not None and naive[0] > 0:
                multiple = fig[0] / naive[0]
                out.append(Target(f"engine {phase} >= 20x naive{tag}",
                                  multiple >= NAIVE_MULTIPLE_TARGET, f"{multiple:.1f}x"))
        lat = figures.get(figure_name("latency", core, suffixed))
        if lat is not None:
            d = lat[1]
            held = bool(d.get("rate_held", True))  # older runs did not record it
            out.append(Target(
                f"p99 publish-to-visible <= flush interval + 50 ms ({d['target_p99_ms']} ms) "
                f"at half capacity{tag}",
                held and d["p99_ms"] <= d["target_p99_ms"],
                f"{d['p99_ms']} ms at {lat[0]:,.0f} ticks/s"
                + ("" if held else f" (asked {d['target_rate']:,.0f}: not held)")))
        mem = figures.get(figure_name("memory_worker_100000", core, suffixed))
        if mem is not None:
            peak = float(mem[1]["peak_rss_mib"])
            out.append(Target(f"worker RSS, 100,000 symbols, full session < "
                              f"{MEMORY_TARGET_MIB} MiB{tag}", peak < MEMORY_TARGET_MIB,
                              f"peak {peak:.0f} MiB (end {mem[1]['rss_mib']:.0f} MiB)"))
    return out


def ratio_table(ratios: Sequence[CoreRatio]) -> str:
    """native/python per figure; above 1 is better for ticks/s, below 1 for ms and MiB."""
    rows = [("figure", "metric", "native", "python", "native/python")]
    rows += [(r.figure, r.metric, f"{r.native:,.1f}", f"{r.python:,.1f}", f"{r.ratio:.2f}")
             for r in ratios]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                *(cell.rjust(w) for cell, w in zip(row[2:], widths[2:],
                                                                     strict=True))]))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
