"""The real service under test: `volume-engine run` worker processes.

Start is gated so that process start-up, imports and lease acquisition are not timed: the
workers' group is created at the end of the copied streams (`$`), the workers start and take
their leases with nothing to read, and the clock starts when XGROUP SETID moves the group back
to the first entry. SETID does not wake a blocked XREADGROUP, so these runs use a 50 ms block
(it only matters while a worker is idle). The clock stops when every partition's backlog (lag
plus pending) is zero: the service acks in the same script that writes the state, so at that
moment every tick's effect is in Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from shared_core.volume_files.store import keys
from shared_core.volume_files.stream.leases import assignment

from .analysis import CpuSplit, command_delta
from .dev import RedisServer
from .workloads import (
    PARTITIONS,
    STREAM,
    backlogs,
    copy_streams,
    drop_db,
    publish,
    seed_history,
    stream_keys,
)

GATED_BLOCK_MS = 50
POLL_S = 0.01


def worker_env(url: str, group: str, worker_id: str, extra: dict[str, str]) -> dict[str, str]:
    """The documented environment variables; everything else is the shipped default config."""
    env = dict(os.environ)
    env.update({
        "VOLUME_REDIS_URL": url,
        "VOLUME_STREAM": STREAM,
        "VOLUME_PARTITIONS": str(PARTITIONS),
        "VOLUME_GROUP": group,
        "VOLUME_WORKER_ID": worker_id,
        "VOLUME_METRICS_PORT": "0",
        "VOLUME_LOG_LEVEL": "warning",
    })
    if GC_GEN0 is not None:
        env["VOLUME_GC_GEN0_THRESHOLD"] = str(GC_GEN0)
    env.update(extra)
    return env


# Set by `python -m bench --gc-gen0 N`: the workers run with VOLUME_GC_GEN0_THRESHOLD=N (0 is
# Python's own garbage collector thresholds: the figures before the service tuned them).
GC_GEN0: int | None = None


def worker_command() -> list[str]:
    """`volume-engine run`, as `python -m shared_core.volume_files.cli run`."""
    return [sys.executable, "-m", "shared_core.volume_files.cli", "run"]


def start_workers(
    server: RedisServer, db: int, group: str, n: int, log_dir: Path, extra: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    url = f"redis://127.0.0.1:{server.port}/{db}"
    procs = []
    for i in range(n):
        worker_id = f"bench-w{i + 1}"
        with (log_dir / f"{group}-{worker_id}.log").open("wb") as log:  # the child keeps it
            procs.append(subprocess.Popen(
                worker_command(),
                env=worker_env(url, group, worker_id, extra), stdout=log,
                stderr=subprocess.STDOUT,
            ))
    return procs


def lease_losses(log_dir: Path, group: str) -> int:
    """Leases the group's workers lost or were fenced from (their logs): a figure with any is
    measuring recovery (replays), not the steady pipeline."""
    lost = 0
    for log in log_dir.glob(f"{group}-bench-w*.log"):
        text = log.read_text(errors="replace")
        lost += text.count('"lease_lost"') + text.count('"partition_fenced"')
    return lost


def worker_ids(n: int) -> list[str]:
    return [f"bench-w{i + 1}" for i in range(n)]


def wait_owned(client: redis.Redis, ids: Sequence[str], procs: Sequence[subprocess.Popen[bytes]],
               timeout: float = 60.0) -> None:
    """Until every partition's lease is held by the worker the assignment gives it to."""
    wanted = {p: w for w, ps in assignment(PARTITIONS, list(ids)).items() for p in ps}
    lease_keys = [keys.lease_key(STREAM, p) for p in range(PARTITIONS)]
    deadline = time.monotonic() + timeout
    stable_since: float | None = None
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode} before owning leases")
        values: list[Any] = client.mget(lease_keys)
        owners = {p: None if v is None else v.decode().rsplit(":", 1)[0]
                  for p, v in enumerate(values)}
        if owners == wanted:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= 0.5:
                return
        else:
            stable_since = None
        time.sleep(0.05)
    raise RuntimeError(f"leases not settled within {timeout}s")


def stop_workers(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_profiler(pid: int, out: Path, *, native: bool = False) -> subprocess.Popen[bytes] | None:
    """py-spy (when installed) sampling the worker, idle time included, collapsed stacks;
    `native` adds the Rust and C frames (at a higher rate: they are short)."""
    binary = Path(sys.executable).parent / "py-spy"
    if not binary.exists():
        print("py-spy not found next to the interpreter; pip install py-spy", file=sys.stderr)
        return None
    flags = ["--rate", "1000", "--native"] if native else ["--rate", "200"]
    return subprocess.Popen(
        [str(binary), "record", "--pid", str(pid), *flags, "--idle", "--format", "raw",
         "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_memory_mib(pid: int) -> tuple[float, float]:
    """(resident now, resident peak) in MiB, from /proc/PID/status (VmRSS, VmHWM)."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(rest.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def redis_cpu_s(client: redis.Redis) -> float:
    """The server's user + system CPU seconds so far (all of its threads)."""
    info: Any = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass(frozen=True, slots=True)
class CommandStats:
    """One INFO commandstats reading."""

    seconds: dict[str, float]  # server-side seconds per command so far
    # HSET commands so far: one per changed hash a flush writes, so per tick it says how often
    # a tick's symbol is rewritten, which sets Redis's share of a live worker's cost (bench
    # README, session 21).
    hsets: int


def command_stats(client: redis.Redis) -> CommandStats:
    stats: Any = client.info("commandstats")
    return CommandStats(
        {name.removeprefix("cmdstat_"): float(v["usec"]) / 1e6 for name, v in stats.items()},
        int(stats.get("cmdstat_hset", {}).get("calls", 0)))


# A consumer group parked here is delivered nothing: every id XADD can make is below it.
PARKED_ID = "9999999999999-0"
# The service trims its streams below what every group has finished with; a parked group
# looks finished with everything, so a group that never reads holds entries until released.
HOLD_GROUP = "bench-hold"


def hold(client: redis.Redis) -> None:
    """Keep the workers' own trimming off the streams (see `park`)."""
    for key in stream_keys():
        client.xgroup_create(key, HOLD_GROUP, id="0", mkstream=True)


def park(client: redis.Redis, group: str) -> list[tuple[str, int]]:
    """Hold back everything published from now on from `group`; returns each partition's
    (last-delivered id, entries read) for `release`. The workers keep running and polling.

    This is how entries are put in front of running workers without timing the publishing:
    park, publish, then release, and the workers find the whole batch at once, as the
    first pass finds its backlog when the clock starts.
    """
    pipe = client.pipeline(transaction=False)
    for key in stream_keys():
        pipe.xinfo_groups(key)
    marks = []
    for groups in pipe.execute():
        (g,) = [g for g in groups if _text(g["name"]) == group]
        marks.append((_text(g["last-delivered-id"]), int(g["entries-read"] or 0)))
    pipe = client.pipeline(transaction=False)
    for key in stream_keys():
        pipe.xgroup_setid(key, group, PARKED_ID)
    pipe.execute()
    return marks


def release(client: redis.Redis, group: str, marks: Sequence[tuple[str, int]]) -> None:
    """Deliver what was published since `park`, from where the group was."""
    pipe = client.pipeline(transaction=False)
    for key, (last_id, entries_read) in zip(stream_keys(), marks, strict=True):
        pipe.xgroup_setid(key, group, last_id, entries_read=entries_read)
    pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Pass:
    """One timed drain: its ticks, wall time, and the CPU each side spent on it."""

    ticks: int
    seconds: float
    workers: int
    worker_cpu_s: float
    redis_cpu_s: float
    redis_command_s: dict[str, float]
    # Seconds until each partition's backlog was zero: the last ones alone set the tail.
    partitions_done_s: tuple[float, ...] = ()
    hsets: int = 0  # HSET commands the flushes ran (`CommandStats.hsets`)

    @property
    def ticks_per_s(self) -> float:
        return self.ticks / self.seconds if self.seconds > 0 else 0.0

    @property
    def split(self) -> CpuSplit:
        return CpuSplit(self.ticks, self.seconds, self.workers, self.worker_cpu_s,
                        self.redis_cpu_s)

    def detail(self) -> dict[str, Any]:
        return {"ticks": self.ticks, "seconds": round(self.seconds, 3), "workers": self.workers,
                "worker_cpu_s": round(self.worker_cpu_s, 2),
                "redis_cpu_s": round(self.redis_cpu_s, 2), **self.split.detail(),
                "redis_command_s": self.redis_command_s,
                "hsets_per_tick": round(self.hsets / self.ticks, 3) if self.ticks else None,
                "partitions_done_s": [round(s, 3) for s in self.partitions_done_s]}


@dataclass(frozen=True, slots=True)
class EngineRun:
    cold: Pass
    steady: Pass | None
    checks: dict[str, Any]


def _drain(client: redis.Redis, group: str, procs: Sequence[subprocess.Popen[bytes]],
           started: float, total: int, timeout: float,
           log_dir: Path) -> tuple[float, tuple[float, ...]]:
    """Seconds from `started` until the group's backlog is zero, and until each partition's
    was (in partition order)."""
    deadline = started + timeout
    done: dict[int, float] = {}
    while True:
        left = backlogs(client, group)
        now = time.perf_counter() - started
        done.update((p, now) for p, n in enumerate(left) if n == 0 and p not in done)
        if not any(left):
            return now, tuple(done[p] for p in range(len(left)))
        if time.perf_counter() > deadline:
            raise RuntimeError(f"engine did not drain {total} entries within {timeout}s")
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"a worker exited early; logs in {log_dir}")
        time.sleep(POLL_S)


def _pass(client: redis.Redis, procs: Sequence[subprocess.Popen[bytes]], ticks: int,
          seconds: float, workers: int, cpu_before: float, redis_before: float,
          commands_before: CommandStats, done: tuple[float, ...]) -> Pass:
    """A timed drain's Pass, its CPU and commands read now, against the readings before."""
    cpu = sum(process_cpu_s(proc.pid) for proc in procs) - cpu_before
    redis_cpu = redis_cpu_s(client) - redis_before
    after = command_stats(client)
    return Pass(ticks, seconds, workers, cpu, redis_cpu,
                command_delta(commands_before.seconds, after.seconds), done,
                after.hsets - commands_before.hsets)


def run_engine(
    server: RedisServer,
    db: int,
    *,
    workers: int,
    total: int,
    log_dir: Path,
    timeout: float = 600.0,
    histories: Mapping[str, Mapping[str, str]] | None = None,
    profile: Path | None = None,
    profile_native: bool = False,
    extra: dict[str, str] | None = None,
    steady: Sequence[dict[str, str]] | None = None,
    label: str = "",
) -> EngineRun:
    """Drain a fresh copy of the workload (and its history) with `workers` service processes.

    The cold pass starts from empty state: every symbol is loaded on first sight. With
    `steady` (see `analysis.steady_pass`), those entries are then put in front of the same,
    still running workers and drained on their own clock.
    """
    group = f"engine-{workers}w" + (f"-{label}" if label else "")
    copy_streams(server, db, group=group, group_at="$")
    if histories:
        seed_history(server, db, histories.items())
    env = {"VOLUME_BLOCK_MS": str(GATED_BLOCK_MS), **(extra or {})}
    client = server.client(db=db)
    if steady:
        hold(client)
    procs = start_workers(server, db, group, workers, log_dir, env)
    profiler = None
    second: Pass | None = None
    try:
        wait_owned(client, worker_ids(workers), procs)
        if profile is not None:
            profiler = start_profiler(procs[0].pid, profile, native=profile_native)
            time.sleep(0.5)  # let py-spy attach before the clock starts
        commands_before = command_stats(client)
        cpu_before = sum(process_cpu_s(proc.pid) for proc in procs)
        redis_before = redis_cpu_s(client)
        pipe = client.pipeline(transaction=False)
        for key in stream_keys():
            pipe.xgroup_setid(key, group, "0", entries_read=0)
        started = time.perf_counter()
        pipe.execute()
        seconds, done = _drain(client, group, procs, started, total, timeout, log_dir)
        cold = _pass(client, procs, total, seconds, workers, cpu_before, redis_before,
                     commands_before, done)
        stop_profiler(profiler)
        profiler = None
        if steady:
            marks = park(client, group)
            publish(server, steady, db=db)
            commands_before = command_stats(client)
            cpu_before = sum(process_cpu_s(proc.pid) for proc in procs)
            redis_before = redis_cpu_s(client)
            started = time.perf_counter()
            release(client, group, marks)
            seconds, done = _drain(client, group, procs, started, len(steady), timeout,
                                   log_dir)
            second = _pass(client, procs, len(steady), seconds, workers, cpu_before,
                           redis_before, commands_before, done)
        checks = {
            "sessions_written": sum(1 for _ in client.scan_iter(match="vol:session:*",
                                                                count=5000)),
            "dead_letters": int(client.xlen(keys.dead_letter_key(STREAM))),
        }
    finally:
        stop_profiler(profiler)
        stop_workers(procs)
        client.close()
    checks["lease_losses"] = lease_losses(log_dir, group)
    drop_db(server, db)
    return EngineRun(cold, second, checks)
