"""`bench.memory`'s figure for the Rust engine: RSS of a worker's state held by NativeEngineCore.

Run in a fresh interpreter (`python -m bench.native_memory --symbols N --ticks M`): the same
universe, recorded sessions and simulated session as `bench.memory`, applied to the native
engine (writes encoded at each drain and dropped). One JSON object is printed.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any

import orjson

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.native_engine import NativeEngineCore
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store import codec
from shared_core.volume_files.ticks import Tick, parse_entry

from .memory import _OPEN_MS, DRAIN_EVERY, _settled_rss, peak_rss_bytes
from .workloads import SESSION_DATE, iter_history


def measure(symbols: int, ticks: int, seed: int) -> dict[str, Any]:
    core = NativeEngineCore(load_core_config(load_settings(env={})))
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
    core.drain(dual_write=True)
    rss1 = _settled_rss()
    started = time.perf_counter()
    fed = 0
    for fields in itertools.chain([first], generator) if ticks else ():
        core.apply(parse_entry(fields))
        fed += 1
        if fed % DRAIN_EVERY == 0:
            core.drain(dual_write=True)
    core.drain(dual_write=True)
    seconds = time.perf_counter() - started
    rss2 = _settled_rss()
    mib = 1024 * 1024
    return {
        "name": f"native_memory_{symbols}",
        "ticks_per_s": round(fed / seconds, 1) if seconds > 0 else 0.0,
        "symbols": symbols,
        "ticks": fed,
        "rss_mib": round(rss2 / mib, 1),
        "peak_rss_mib": round(peak_rss_bytes() / mib, 1),
        "base_rss_mib": round(rss0 / mib, 1),
        "state_mib": round((rss2 - rss0) / mib, 1),
        "bytes_per_symbol": round((rss2 - rss0) / symbols),
        "bytes_per_symbol_fixed": round((rss1 - rss0) / symbols),
        "native_heap_bytes_per_symbol": round(core._engine.heap_bytes() / symbols),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.native_memory", description=__doc__)
    parser.add_argument("--symbols", type=int, required=True)
    parser.add_argument("--ticks", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.stdout.write(orjson.dumps(measure(args.symbols, args.ticks, args.seed)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
