"""The batch cores' own steps, in process: stage, apply and drain, per tick, native and Python.

`python -m bench.core_steps [--symbols N] [--ticks M] [--drain-every K] [--repeat R]
[--write-filter-keys W] [--history-days D] [--cores native,...]`: the bench's workload (the
simulator's session, entries as the worker reads them: flat field lists) fed to a
`NativeBatchCore` and a `PythonBatchCore` in read batches of 500, each symbol loaded at first
sight with an empty history (with `--history-days D`: D days of daily totals, as the bench
seeds them, so each session opens with a baseline through the context callback), a drain
every K entries (default 5,000: a flush's worth at a few tens of thousands of ticks a second),
each drain committed as a landed flush is. Both cores drain through a write filter of W keys
(default 10,000: a partition's share of the service's default); `native-unfiltered` is the
native core without one, so the filter's own cost shows; `native-raw` is the native core
reading each batch as the worker does where hiredis is in use: an XREADGROUP reply's RESP
bytes fed in 64 KiB reads (`store.replies.read_raw`), then staged from the bytes (the read is
counted in its stage step). No Redis, no asyncio: what the worker's CPU per tick would be
without the shell, and how it splits between the steps. Both cores run in the same process
and run, alternately, so the native/Python ratios compare like with like. One JSON line per
core, then a table.

`--cores native --repeat 1` under `valgrind --tool=callgrind` counts the native steps'
instructions per function (`callgrind_annotate --inclusive=yes`): the same count run to run,
whatever else the machine is doing, where the timings move by a third (session 19).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
from datetime import date
from typing import Any

import orjson

from shared_core.volume_files import cores
from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import SymbolHistory
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store.replies import _READ_SIZE
from shared_core.volume_files.stream.batch_core import PythonBatchCore, StreamEntry, TickBatchCore

from .workloads import SESSION_DATE, iter_history

BATCH = 500
READ_SIZE = _READ_SIZE  # what one socket read hands the parser, as the worker reads


def _histories(symbols: int, seed: int, days: int) -> dict[str, SymbolHistory]:
    """Each symbol's history as the bench seeds it (`workloads.iter_history`: `days` daily
    totals), so every session opens through the context callback as in the service."""
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    return {symbol: SymbolHistory(daily_totals={date.fromisoformat(d): int(v)
                                                for d, v in fields.items()})
            for symbol, fields in iter_history(universe, days=days, seed=seed)}


def _entries(symbols: int, ticks: int, seed: int) -> list[StreamEntry]:
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    generator = simulate_ticks(universe, session_date=SESSION_DATE, n_ticks=ticks, seed=seed)
    return [StreamEntry(f"{1765254600000 + i}-0", [x.encode() for kv in t.items() for x in kv])
            for i, t in enumerate(itertools.islice(generator, ticks))]


def _reply(entries: list[StreamEntry], stream: bytes = b"vol:ticks:0") -> bytes:
    """The RESP2 XREADGROUP reply that carries `entries` (one stream's)."""
    def bulk(x: bytes | str) -> bytes:
        b = x if isinstance(x, bytes) else x.encode()
        return b"$%d\r\n%b\r\n" % (len(b), b)

    out = [b"*1\r\n*2\r\n", bulk(stream), b"*%d\r\n" % len(entries)]
    for entry in entries:
        out += [b"*2\r\n", bulk(entry.entry_id), b"*%d\r\n" % len(entry.fields)]
        out += [bulk(x) for x in entry.fields]
    return b"".join(out)


def _raw_batch(reply: bytes) -> Any:
    """A reply read as `read_raw` reads it: in pieces of its read size, kept as bytes."""
    from shared_core.volume_files import _native
    from shared_core.volume_files.stream.native_batch_core import RawBatch

    raw = _native.RawReplies(1)
    for at in range(0, len(reply), READ_SIZE):
        raw.feed(reply[at : at + READ_SIZE])
    return RawBatch(_native.RawEntries(raw))


def _run(core: TickBatchCore, entries: list[StreamEntry], drain_every: int,
         replies: list[bytes] | None = None,
         histories: dict[str, SymbolHistory] | None = None) -> dict[str, float]:
    """Seconds in each step over the entries (read from `replies`, one a batch, if given;
    each new symbol loaded with its entry in `histories`, else an empty history)."""
    spent = {"stage": 0.0, "apply": 0.0, "drain": 0.0}
    empty = SymbolHistory()
    held = histories or {}
    clock = time.perf_counter
    for i in range(0, len(entries), BATCH):
        t0 = clock()
        batch: Any = (entries[i : i + BATCH] if replies is None
                      else _raw_batch(replies[i // BATCH]))
        first = core.stage(batch)
        for symbol, ts in first.items():
            core.load(symbol, held.get(symbol, empty), ts)
        t1 = clock()
        core.apply_staged()
        t2 = clock()
        if (i + BATCH) % drain_every < BATCH:
            core.drain()
            core.commit_drain()
        spent["stage"] += t1 - t0
        spent["apply"] += t2 - t1
        spent["drain"] += clock() - t2
    t0 = clock()
    core.drain()
    spent["drain"] += clock() - t0
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=20_000)
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--drain-every", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write-filter-keys", type=int, default=10_000)
    parser.add_argument("--history-days", type=int, default=0,
                        help="load each symbol with this many days of daily totals, as the "
                             "bench seeds them (0: empty histories, no baselines)")
    parser.add_argument("--cores", default="python,native,native-unfiltered",
                        help="which to run, comma-separated (one, --repeat 1, under "
                             "valgrind --tool=callgrind: instruction counts per function)")
    args = parser.parse_args(argv)
    keys = args.write_filter_keys
    config = load_core_config(load_settings(env={}))
    entries = _entries(args.symbols, args.ticks, args.seed)
    histories = (_histories(args.symbols, args.seed, args.history_days)
                 if args.history_days else None)
    gc.collect()
    gc.freeze()  # the workload's objects stay out of every collection, as a worker's would
    makers: dict[str, Any] = {
        "python": lambda: PythonBatchCore(config, dual_write=True, write_filter_keys=keys)}
    if cores.native_available():
        from shared_core.volume_files.stream.native_batch_core import NativeBatchCore

        makers["native"] = lambda: NativeBatchCore(config, dual_write=True,
                                                   write_filter_keys=keys)
        makers["native-unfiltered"] = lambda: NativeBatchCore(config, dual_write=True)
        makers["native-raw"] = makers["native"]
    wanted = set(args.cores.split(","))
    makers = {name: make for name, make in makers.items() if name in wanted}
    replies = ([_reply(entries[i : i + BATCH]) for i in range(0, len(entries), BATCH)]
               if "native-raw" in makers else None)
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):  # alternately, the fastest of each kept
        for name, make in makers.items():
            spent = _run(make(), entries, args.drain_every,
                         replies if name == "native-raw" else None, histories)
            total = sum(spent.values())
            if name not in best or total < sum(best[name].values()):
                best[name] = spent
    n = len(entries)
    rows = {}
    for name, spent in best.items():
        row = {f"{step}_us_per_tick": round(s / n * 1e6, 3) for step, s in spent.items()}
        row["total_us_per_tick"] = round(sum(spent.values()) / n * 1e6, 3)
        rows[name] = row
        print(orjson.dumps({"name": f"core_steps@{name}", "ticks": n, "symbols": args.symbols,
                            "drain_every": args.drain_every, **row}).decode())
    print(f"\n{'core':<18} {'stage+load':>11} {'apply':>8} {'drain':>8} {'total':>8}  us/tick")
    for name, row in rows.items():
        print(f"{name:<18} {row['stage_us_per_tick']:>11} {row['apply_us_per_tick']:>8} "
              f"{row['drain_us_per_tick']:>8} {row['total_us_per_tick']:>8}")
    if "native" in rows and "python" in rows:
        ratio = rows["python"]["total_us_per_tick"] / rows["native"]["total_us_per_tick"]
        print(f"native is {ratio:.1f}x the Python core per tick")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
