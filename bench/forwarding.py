"""`python -m bench.forwarding`: the reader's CPU per forwarded tick, against an applied one.

A misrouted tick costs its reader a parse, the routing check and the XADD's encoding in the
flush plan, and its owner a normal tick later. This times the reader's half in process (no
Redis): the same number of one partition's own ticks, applied, and of other partitions'
ticks, forwarded, through the batch core in read batches of 500 and a flush plan per batch
(one drain at the end, so both sides pay the same drain work). CPU time, best of `--repeat`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import date

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import CoreConfig, SymbolHistory
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store.resp import EncodedWrites
from shared_core.volume_files.store.scripts import FlushBatch
from shared_core.volume_files.store.transaction import Forwarded, plan_flush
from shared_core.volume_files.stream.batch_core import PythonBatchCore, StreamEntry
from shared_core.volume_files.stream.partitions import partition_for

PARTITIONS = 8
BATCH = 500


def _entries(ticks: Sequence[dict[str, str]]) -> list[StreamEntry]:
    return [StreamEntry(f"{i + 1}-0", {k.encode(): v.encode() for k, v in t.items()})
            for i, t in enumerate(ticks)]


def cpu_per_tick(config: CoreConfig, entries: Sequence[StreamEntry]) -> tuple[float, int]:
    """CPU seconds per entry for partition 0 of PARTITIONS, and how many were forwarded."""
    core = PythonBatchCore(config, dual_write=True, partition=0, partitions=PARTITIONS)
    forwarded = 0
    started = time.process_time()
    for i in range(0, len(entries), BATCH):
        batch = entries[i:i + BATCH]
        for symbol, ts in core.stage(batch).items():
            core.load(symbol, SymbolHistory(), ts)
        outcome = core.apply_staged()
        forwarded += len(outcome.forwards)
        forwards: list[Forwarded] = [(f"ticks:{f.partition}", f.fields)
                                     for f in outcome.forwards]
        last = i + BATCH >= len(entries)
        encoded = core.drain().encoded if last else EncodedWrites(b"", 0)
        plan_flush(FlushBatch(acks=[e.entry_id for e in batch], checkpoint=batch[-1].entry_id),
                   encoded=encoded, forwards=forwards, lease="lease", checkpoint_key="cp",
                   stream="ticks:0", dead_stream="ticks:dead", token="w:1", group="g",
                   previous_checkpoint="")
    return (time.process_time() - started) / len(entries), forwarded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forwarding", description=__doc__)
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--ticks", type=int, default=120_000, help="simulated, all partitions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    config = load_core_config(load_settings(env={}))
    day = date(2025, 12, 9)
    universe = build_universe(args.symbols, session_date=day, seed=3)
    ticks = list(simulate_ticks(universe, session_date=day, n_ticks=args.ticks, seed=3))
    own = [t for t in ticks if partition_for(t["symbol"], PARTITIONS) == 0]
    foreign = [t for t in ticks if partition_for(t["symbol"], PARTITIONS) != 0][:len(own)]
    own_entries, foreign_entries = _entries(own), _entries(foreign)
    applied = min(cpu_per_tick(config, own_entries)[0] for _ in range(args.repeat))
    runs = [cpu_per_tick(config, foreign_entries) for _ in range(args.repeat)]
    forwarding = min(r[0] for r in runs)
    assert runs[0][1] == len(foreign_entries)
    print(f"applied: {applied * 1e6:.1f} us/tick ({len(own_entries):,} ticks of partition 0); "
          f"forwarded: {forwarding * 1e6:.1f} us/tick ({len(foreign_entries):,} ticks of the "
          f"others); CPU, best of {args.repeat}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
