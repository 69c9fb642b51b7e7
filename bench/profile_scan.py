"""The profile snapshot with the C scan against the pure-Python reference, on real data.

`python -m bench.profile_scan [--every K] [--repeat R]` replays real trades into one profile
and snapshots it every K ticks, as a flush does for a busy symbol, once with the C kernel and
once with `profile_scan.scan_levels` (the same snapshots, checked equal), and reports the time per
snapshot of each and their ratio, by source:

- `btc_*`: the 9,999 real BTCUSDT trades (../shared/data), at three tick sizes, from a few dozen
  levels to over a thousand: a liquid contract's profile through two hours;
- `yesbank`: real YESBANK one-minute bars, one session's profile per day, 122 sessions (a
  full NSE day at the 0.05 tick, 377 bars).

The whole snapshot is timed (distribution and strength included), so the ratio is what a
flush saves, not the scan's alone. Needs ../shared/data (or $VOLUME_SAMPLE_DATA).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from shared_core.volume_files import profile_scan
from shared_core.volume_files.volume_profile_manager import ProfileSnapshot, VolumeProfile

from .dev import BINANCE_FILE, YESBANK_FILE, binance_trades, default_data_dir, yesbank_ticks

Trades = Sequence[tuple[float, int]]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    snapshots: int
    levels_mean: float
    levels_max: int
    python_us: float
    c_us: float

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name, "snapshots": self.snapshots,
            "levels_mean": round(self.levels_mean, 1), "levels_max": self.levels_max,
            "python_us": round(self.python_us, 2), "c_us": round(self.c_us, 2),
            "speedup": round(self.python_us / self.c_us, 2),
        }


def _replay(sessions: Iterable[Trades], tick: float, every: int
            ) -> tuple[float, list[ProfileSnapshot], list[int]]:
    """Seconds spent in snapshots, the snapshots and their level counts."""
    spent = 0.0
    snaps: list[ProfileSnapshot] = []
    widths: list[int] = []
    clock = time.perf_counter
    for trades in sessions:
        profile = VolumeProfile(tick)
        for i, (price, volume) in enumerate(trades, 1):
            profile.add(price, volume)
            if i % every == 0 or i == len(trades):
                started = clock()
                snap = profile.snapshot(price)
                spent += clock() - started
                assert snap is not None
                snaps.append(snap)
                widths.append(len(profile.levels))
    return spent, snaps, widths


def measure(name: str, sessions: Sequence[Trades], tick: float, every: int, repeat: int
            ) -> Result:
    native = profile_scan._native_scan
    if native is None:
        raise SystemExit("the C profile kernel is not built (pip install -e . with gcc present)")
    best: dict[str, float] = {}
    outputs: dict[str, list[ProfileSnapshot]] = {}
    widths: list[int] = []
    try:
        for _ in range(repeat):  # alternate, so drift on the machine hits both alike
            for label, scan in (("python", None), ("c", native)):
                profile_scan._native_scan = scan
                spent, snaps, widths = _replay(sessions, tick, every)
                best[label] = min(best.get(label, spent), spent)
                outputs[label] = snaps
    finally:
        profile_scan._native_scan = native
    if outputs["python"] != outputs["c"]:
        raise SystemExit(f"{name}: the C and Python snapshots differ")
    n = len(widths)
    return Result(name, n, sum(widths) / n, max(widths), 1e6 * best["python"] / n,
                  1e6 * best["c"] / n)


def sources() -> list[tuple[str, list[Trades], float]]:
    data = default_data_dir()
    if data is None or not (data / BINANCE_FILE).exists() or not (data / YESBANK_FILE).exists():
        raise SystemExit("needs ../shared/data (or $VOLUME_SAMPLE_DATA) with the sample files")
    btc = [(float(t["price"]), int(t["volume"])) for t in binance_trades(data / BINANCE_FILE)]
    days: dict[str, list[tuple[float, int]]] = {}
    for t in yesbank_ticks(data / YESBANK_FILE):
        days.setdefault(t["timestamp"][:10], []).append((float(t["price"]), int(t["volume"])))
    return [
        ("btc_tick_1", [btc], 1.0),
        ("btc_tick_0.1", [btc], 0.1),
        ("btc_tick_0.01", [btc], 0.01),
        ("yesbank", list(days.values()), 0.05),
    ]


def table(results: Sequence[Result]) -> str:
    rows = [("source", "snapshots", "levels mean/max", "python us", "c us", "speedup")]
    for r in results:
        rows.append((r.name, f"{r.snapshots:,}", f"{r.levels_mean:,.0f}/{r.levels_max:,}",
                     f"{r.python_us:,.1f}", f"{r.c_us:,.1f}", f"{r.python_us / r.c_us:.2f}x"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_scan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=10, help="ticks between snapshots")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args(argv)
    results = []
    for name, sessions, tick in sources():
        result = measure(name, sessions, tick, args.every, args.repeat)
        print(orjson.dumps(result.as_json()).decode(), flush=True)
        results.append(result)
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
