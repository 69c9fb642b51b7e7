"""Resident memory of a worker's state: per symbol and per profile level.

Run in a fresh interpreter (`python -m bench.memory --symbols N --ticks M`) so the RSS read from
/proc/self/statm is this state and nothing else. Three readings:

1. base: imports, config, the universe and a primed tick generator;
2. every symbol adopted with its 20 recorded sessions (built from hash fields exactly as the
   loader does) and one tick (one level, one minute bucket): the fixed cost a symbol has as
   soon as a worker has seen it;
3. after a full session of simulated ticks (the whole 09:15-15:30 window, heavy tailed, parsed
   and applied like the worker does): the growth per profile level added (the minute buckets
   that come with them are included, and counted in the output). Snapshots are built and
   dropped every 50,000 ticks, as flushes do, so the peak includes that transient.

One JSON object is printed. The same VolumeEngineCore holds a worker's state whatever the
partition count, so this is the per-worker figure minus the runtime's fixed overhead.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import time
from typing import Any

import orjson

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import VolumeEngineCore
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store import codec
from shared_core.volume_files.ticks import Tick, parse_entry

from .workloads import SESSION_DATE, iter_history

DRAIN_EVERY = 50_000  # ticks between drains: a worker flushes (and drops snapshots) as it goes

_PAGE = os.sysconf("SC_PAGE_SIZE")
_OPEN_MS = 1765251900000  # 2025-12-09 09:15:00 IST


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _settled_rss() -> int:
    gc.collect()
    return rss_bytes()


def _counts(core: VolumeEngineCore) -> tuple[int, int]:
    levels = 0
    minutes = 0
    for symbol in core.symbols():
        profile = core.profiles.get(symbol)
        if profile is not None:
            levels += len(profile.levels)
        session = core.sessions.get(symbol)
        if session is not None:
            minutes += len(session.minute_volumes)
    return levels, minutes


def measure(symbols: int, ticks: int, seed: int) -> dict[str, Any]:
    core = VolumeEngineCore(load_core_config(load_settings(env={})))
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    generator = simulate_ticks(universe, session_date=SESSION_DATE, n_ticks=max(1, ticks),
                               seed=seed)
    first = next(generator)
    rss0 = _settled_rss()

    by_symbol = {inst.symbol: inst for inst in universe}
    for symbol, fields in iter_history(universe, seed=seed):  # as the loader builds it
        core.load(symbol, codec.build_history(fields, {}, {}, {}), SESSION_DATE)
        inst = by_symbol[symbol]
        core.apply(Tick(symbol, inst.price, _OPEN_MS, inst.lot_size, None))
    core.drain()
    rss1 = _settled_rss()
    levels1, minutes1 = _counts(core)

    started = time.perf_counter()
    fed = 0
    for fields in itertools.chain([first], generator) if ticks else ():
        core.apply(parse_entry(fields))
        fed += 1
        if fed % DRAIN_EVERY == 0:
            core.drain()
    core.drain()
    seconds = time.perf_counter() - started
    rss2 = _settled_rss()
    levels2, minutes2 = _counts(core)
    peak = peak_rss_bytes()

    mib = 1024 * 1024
    per_level = (rss2 - rss1) / max(1, levels2 - levels1)
    return {
        "name": f"memory_{symbols}",
        "ticks_per_s": round(fed / seconds, 1) if seconds > 0 else 0.0,
        "symbols": symbols,
        "ticks": fed,
        "rss_mib": round(rss2 / mib, 1),
        "peak_rss_mib": round(peak / mib, 1),
        "base_rss_mib": round(rss0 / mib, 1),
        "state_mib": round((rss2 - rss0) / mib, 1),
        "bytes_per_symbol": round((rss2 - rss0) / symbols),
        "bytes_per_symbol_fixed": round((rss1 - rss0) / symbols),
        "bytes_per_level": round(per_level),
        "levels": levels2,
        "levels_per_symbol": round(levels2 / symbols, 2),
        "max_levels": max((len(p.levels) for s in core.symbols()
                           if (p := core.profiles.get(s)) is not None), default=0),
        "minute_buckets": minutes2,
        "minute_buckets_added": minutes2 - minutes1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--symbols", type=int, required=True)
    parser.add_argument("--ticks", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.stdout.write(orjson.dumps(measure(args.symbols, args.ticks, args.seed)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
