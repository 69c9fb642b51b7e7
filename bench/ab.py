"""Two versions of the service on the same machine, run alternately: the medians side by side.

`python -m bench.ab COMMIT [--runs 3] [--only ceiling,engine] [--full] [--latency-rate R]`
checks COMMIT out in a temporary worktree, builds its native extension there (cargo,
release), then runs `python -m bench --core native` for it and for the working tree in turn,
`--runs` times each, and prints each figure's median for both, then every run's value. The
benchmark code is this tree's in every run (the older version's service is what is swapped
in, on PYTHONPATH), so both are measured alike.

Why alternately and by medians: this machine's speed moves by a third from minute to minute
(bench README, session 15), more than most changes move a figure, so one run of each, or two
runs far apart, compare the machine's moments rather than the code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
# (figure, detail field) pairs the table shows, when the runs have them.
COLUMNS = (
    ("ceiling", "ticks_per_s"), ("ceiling", "worker_cpu_us_per_tick"),
    ("ceiling_raw", "ticks_per_s"),
    ("engine", "ticks_per_s"), ("engine", "worker_cpu_us_per_tick"),
    ("engine", "redis_cpu_us_per_tick"), ("engine", "hsets_per_tick"),
    ("engine_steady", "ticks_per_s"), ("engine_steady", "worker_cpu_us_per_tick"),
    ("engine_steady", "redis_cpu_us_per_tick"), ("engine_steady", "hsets_per_tick"),
    ("latency", "p50_ms"), ("latency", "p99_ms"), ("latency", "ticks_per_s"),
    ("latency", "worker_cpu_share"), ("latency", "redis_cpu_share"),
    ("latency", "hsets_per_tick"),
)


def build_tree(commit: str, into: Path) -> Path:
    """A worktree of `commit` under `into` with its native extension built in place."""
    tree = into / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
                   check=True, capture_output=True)
    target = into / "target"
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "volume_native"],
                   cwd=tree / "native", env={**os.environ, "CARGO_TARGET_DIR": str(target)},
                   check=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    shutil.copy(target / "release" / "lib_native.so",
                tree / "service" / "shared_core" / "volume_files" / f"_native{suffix}")
    return tree


def run_once(tree: Path | None, args: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One benchmark run, this tree's service or `tree`'s: figure name -> its JSON line."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "service"), str(tree)])
    out = subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    rows = (orjson.loads(line) for line in out.splitlines() if line.startswith("{"))
    return {row["name"]: row for row in rows}


def run_by_run(runs: Sequence[dict[str, dict[str, Any]]]
               ) -> dict[tuple[str, str], list[float]]:
    """Each column's values in run order (runs that lack it left out): the spread a median
    hides, for the note."""
    out = {}
    for figure, field in COLUMNS:
        values = [r[figure][field] for r in runs if figure in r and field in r[figure]]
        if values:
            out[(figure, field)] = values
    return out


def medians(runs: Sequence[dict[str, dict[str, Any]]]) -> dict[tuple[str, str], float]:
    out = {key: statistics.median(values) for key, values in run_by_run(runs).items()}
    cpu = [r["engine_steady"]["worker_cpu_us_per_tick"] / r["ceiling"]["worker_cpu_us_per_tick"]
           for r in runs if {"engine_steady", "ceiling"} <= r.keys()]
    if cpu:
        out[("engine_steady", "worker cpu / ceiling's")] = statistics.median(cpu)
    cold = [r["engine"]["worker_cpu_us_per_tick"] / r["ceiling"]["worker_cpu_us_per_tick"]
            for r in runs if {"engine", "ceiling"} <= r.keys()]
    if cold:
        out[("engine", "worker cpu / ceiling's")] = statistics.median(cold)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("commit", help="the other version (a commit, branch or tag)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each version")
    parser.add_argument("--only", default="ceiling,engine", help="figures, as bench --only")
    parser.add_argument("--full", action="store_true", help="the full workload, not --quick")
    parser.add_argument("--latency-rate", type=float, default=0.0,
                        help="the latency figure's rate, the same for both (bench's option)")
    args = parser.parse_args(argv)
    bench_args = ["--core", "native", "--only", args.only, *([] if args.full else ["--quick"])]
    if args.latency_rate:
        bench_args += ["--latency-rate", str(args.latency_rate)]
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        tree = build_tree(args.commit, Path(tmp))
        try:
            runs: dict[str, list[dict[str, dict[str, Any]]]] = {args.commit: [], "working": []}
            for i in range(args.runs):
                for name, where in ((args.commit, tree), ("working", None)):
                    runs[name].append(run_once(where, bench_args))
                    print(f"run {i + 1}/{args.runs}: {name} done", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)
    table = {name: medians(r) for name, r in runs.items()}
    print(f"\nmedians of {args.runs} alternate runs each\n")
    print(f"{'figure':<44} {args.commit[:12]:>12} {'working':>12} {'ratio':>7}")
    for key in table["working"]:
        old, new = table[args.commit].get(key), table["working"][key]
        ratio = f"{new / old:7.2f}" if old else ""
        print(f"{key[0] + ' ' + key[1]:<44} {old or 0:>12,.2f} {new:>12,.2f} {ratio}")
    print("\nrun by run")
    for name, r in runs.items():
        for key, values in run_by_run(r).items():
            shown = ", ".join(f"{v:,.4g}" for v in values)
            print(f"{name[:12]:>12}  {key[0] + ' ' + key[1]:<44} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
