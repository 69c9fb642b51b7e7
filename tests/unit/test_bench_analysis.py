"""The bench's pure arithmetic: core naming, CPU split, the steady pass, ratios and targets."""

from __future__ import annotations

import asyncio
import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from bench.ab import medians as ab_medians
from bench.ab import run_by_run
from bench.analysis import (
    CpuSplit,
    command_delta,
    core_env,
    core_ratios,
    cores_for,
    figure_name,
    parse_memory,
    ratio_table,
    split_name,
    steady_pass,
    targets,
)
from bench.latency import MAX_SEND_S, due_ticks, parts_ms, scrape
from bench.service import lease_losses
from prometheus_client import CollectorRegistry

from shared_core.volume_files.http_server import HealthServer
from shared_core.volume_files.metrics import ServiceMetrics
from shared_core.volume_files.session_tracker import SessionTracker
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.ticks import parse_entry

DAY = date(2025, 12, 9)


def test_cores_for_each_option() -> None:
    assert cores_for(None) == (None,)
    assert cores_for("") == (None,)
    assert cores_for("native") == ("native",)
    assert cores_for("python") == ("python",)
    assert cores_for("both") == ("native", "python")
    with pytest.raises(ValueError, match="core must be"):
        cores_for("rust")


def test_core_env_leaves_the_default_to_the_service() -> None:
    assert core_env(None) == {}
    assert core_env("python") == {"VOLUME_CORE": "python"}


def test_names_are_plain_unless_several_cores_run() -> None:
    assert figure_name("engine", None, suffixed=False) == "engine"
    assert figure_name("engine", "native", suffixed=False) == "engine"
    assert figure_name("engine", "native", suffixed=True) == "engine@native"
    assert split_name("engine_steady@python") == ("engine_steady", "python")
    assert split_name("ceiling") == ("ceiling", None)


def test_parse_memory() -> None:
    assert parse_memory("20000:160000, 100000:500000") == ((20_000, 160_000), (100_000, 500_000))
    for bad in ("", "100000", "a:1", "0:10", "5:-1"):
        with pytest.raises(ValueError, match="SYMBOLS:TICKS"):
            parse_memory(bad)


def test_cpu_split_names_the_busier_side() -> None:
    split = CpuSplit(ticks=100_000, seconds=4.0, workers=1, worker_cpu_s=3.6, redis_cpu_s=1.0)
    assert split.wall_us_per_tick == pytest.approx(40.0)
    assert split.worker_us_per_tick == pytest.approx(36.0)
    assert split.redis_us_per_tick == pytest.approx(10.0)
    assert split.worker_busy == pytest.approx(0.9)
    assert split.redis_busy == pytest.approx(0.25)
    assert split.bound == "worker"
    assert split.detail()["bound"] == "worker"
    assert "worker-bound" in split.note(3.2)
    assert "(ceiling 3.2)" in split.note(3.2)


def test_cpu_split_per_worker_and_redis_bound() -> None:
    # Two workers at 60% of a core each against Redis at 90%: Redis is what they wait on.
    split = CpuSplit(ticks=10, seconds=1.0, workers=2, worker_cpu_s=1.2, redis_cpu_s=0.9)
    assert split.worker_busy == pytest.approx(0.6)
    assert split.bound == "redis"


def test_cpu_split_neither_side_saturated() -> None:
    # Both well under a core: other load or round trips set the pace, not CPU on either side.
    split = CpuSplit(ticks=10, seconds=1.0, workers=1, worker_cpu_s=0.4, redis_cpu_s=0.2)
    assert split.bound == "neither"
    assert "neither side saturated" in split.note()


def test_cpu_split_without_ticks_or_time_is_nan() -> None:
    split = CpuSplit(ticks=0, seconds=0.0, workers=1, worker_cpu_s=0.0, redis_cpu_s=0.0)
    assert math.isnan(split.worker_us_per_tick)
    assert math.isnan(split.redis_busy)
    assert split.bound == "neither"


def test_command_delta_keeps_what_changed() -> None:
    before = {"evalsha": 1.0, "xack": 0.5, "get": 0.1}
    after = {"evalsha": 3.25, "xack": 0.5004, "get": 0.1, "xreadgroup": 0.2}
    assert command_delta(before, after) == {"evalsha": 2.25, "xreadgroup": 0.2}


def test_steady_pass_adds_what_the_first_pass_added() -> None:
    universe = build_universe(300, session_date=DAY)
    entries = list(simulate_ticks(universe, session_date=DAY, n_ticks=3000, seed=3))
    again = steady_pass(entries)
    assert any("volume_traded" in e for e in entries)
    assert any("volume" in e for e in entries)

    def added(stream: list[dict[str, str]], tracker: SessionTracker) -> list[int]:
        out = []
        for fields in stream:
            tick = parse_entry(fields)
            out.append(tracker.update(
                tick.symbol, day=DAY, ts_ms=tick.ts_ms, minute=0, price=tick.price,
                volume=tick.volume, cumulative=tick.cumulative_volume).increment)
        return out

    tracker = SessionTracker()
    first = added(entries, tracker)
    second = added(again, tracker)  # the same tracker: the state the first pass left
    assert second == first
    assert sum(first) > 0
    # Nothing else about the ticks changes: same symbols, prices and times, in order.
    for a, b in zip(entries, again, strict=True):
        assert {k: v for k, v in a.items() if k != "volume_traded"} == {
            k: v for k, v in b.items() if k != "volume_traded"}


def _fig(tps: float, **detail: Any) -> tuple[float, dict[str, Any]]:
    return tps, detail


def test_core_ratios_pair_native_with_python() -> None:
    figures: list[tuple[str, dict[str, Any], float]] = [
        ("ceiling", {}, 300_000.0),
        ("engine@native", {}, 150_000.0),
        ("engine@python", {}, 30_000.0),
        ("engine_cold@native", {"same_as": "engine@native"}, 150_000.0),
        ("engine_cold@python", {"same_as": "engine@python"}, 30_000.0),
        ("latency@native", {"p99_ms": 100.0}, 75_000.0),
        ("latency@python", {"p99_ms": 250.0}, 15_000.0),
        ("memory_worker_100000@native", {"peak_rss_mib": 200.0}, math.nan),
        ("memory_worker_100000@python", {"peak_rss_mib": 800.0}, math.nan),
        ("scaling_2@native", {}, 200_000.0),  # its python twin is missing: no ratio
    ]
    ratios = core_ratios(figures)
    assert [(r.figure, r.metric) for r in ratios] == [
        ("engine", "ticks_per_s"), ("latency", "p99_ms"), ("memory_worker_100000", "peak_rss_mib")]
    assert [r.ratio for r in ratios] == pytest.approx([5.0, 0.4, 0.25])
    text = ratio_table(ratios)
    assert "native/python" in text
    assert "5.00" in text


def test_targets_met_and_missed_per_phase() -> None:
    figures = {
        "ceiling": _fig(100_000.0),
        "naive": _fig(1_000.0),
        "engine_cold": _fig(40_000.0),
        "engine_steady": _fig(60_000.0),
        "latency": _fig(30_000.0, p99_ms=310.0, target_p99_ms=300),
        "memory_worker_100000": _fig(math.nan, peak_rss_mib=255.0, rss_mib=240.0),
    }
    got = {t.label: t.met for t in targets(figures, (None,))}
    assert got == {
        "engine cold >= 50% of ceiling": False,
        "engine cold >= 20x naive": True,
        "engine steady >= 50% of ceiling": True,
        "engine steady >= 20x naive": True,
        "p99 publish-to-visible <= flush interval + 50 ms (300 ms) at half capacity": False,
        "worker RSS, 100,000 symbols, full session < 256 MiB": True,
    }


def test_latency_target_is_not_met_at_a_rate_the_publisher_did_not_hold() -> None:
    figures = {"latency": _fig(20_000.0, p99_ms=280.0, target_p99_ms=300, target_rate=40_000.0,
                               rate_held=False)}
    (target,) = targets(figures, (None,))
    assert not target.met
    assert "asked 40,000: not held" in target.measured
    figures["latency"][1]["rate_held"] = True
    assert targets(figures, (None,))[0].met


def test_publisher_schedule_is_capped_per_exchange() -> None:
    # On schedule: what the rate says by now.
    assert due_ticks(0, 0.01, 10_000.0, 1_000_000) == 100
    # Far behind: one exchange carries at most MAX_SEND_S of the rate.
    assert due_ticks(0, 10.0, 10_000.0, 1_000_000) == int(10_000 * MAX_SEND_S)
    assert due_ticks(5_000, 10.0, 10_000.0, 1_000_000) == 5_000 + int(10_000 * MAX_SEND_S)
    # Never past the workload, and at least one tick at a tiny rate.
    assert due_ticks(0, 10.0, 10_000.0, 300) == 300
    assert due_ticks(0, 1_000.0, 1.0, 10) == 1


def test_targets_per_core_when_both_run() -> None:
    figures = {
        "ceiling": _fig(100_000.0),
        "engine_cold@native": _fig(50_000.0),
        "engine_cold@python": _fig(10_000.0),
        "memory_worker_100000@python": _fig(math.nan, peak_rss_mib=900.0, rss_mib=800.0),
    }
    got = {t.label: t.met for t in targets(figures, ("native", "python"))}
    assert got == {
        "engine cold >= 50% of ceiling [native]": True,
        "engine cold >= 50% of ceiling [python]": False,
        "worker RSS, 100,000 symbols, full session < 256 MiB [python]": False,
    }


def test_lease_losses_counts_the_groups_own_worker_logs(tmp_path: Path) -> None:
    lost = '{"partition": 4, "event": "lease_lost", "level": "warning"}\n'
    fenced = '{"partition": 0, "event": "partition_fenced", "level": "warning"}\n'
    other = '{"event": "starting", "level": "info"}\n'
    (tmp_path / "engine-1w-bench-w1.log").write_text(lost * 2 + other + fenced)
    (tmp_path / "engine-2w-bench-w1.log").write_text(lost)
    (tmp_path / "engine-2w-bench-w2.log").write_text(fenced * 3)
    assert lease_losses(tmp_path, "engine-1w") == 3
    assert lease_losses(tmp_path, "engine-2w") == 4
    assert lease_losses(tmp_path, "latency") == 0


def test_ab_medians_per_figure_and_the_cpu_over_the_ceilings() -> None:
    def run(ceiling_cpu: float, steady: float, steady_cpu: float) -> dict[str, dict[str, Any]]:
        return {"ceiling": {"ticks_per_s": 1.0, "worker_cpu_us_per_tick": ceiling_cpu},
                "engine_steady": {"ticks_per_s": steady, "worker_cpu_us_per_tick": steady_cpu}}

    out = ab_medians([run(2.0, 10.0, 4.0), run(4.0, 30.0, 4.0), run(1.0, 20.0, 3.0)])
    assert out[("engine_steady", "ticks_per_s")] == 20.0
    assert out[("engine_steady", "worker cpu / ceiling's")] == 2.0  # of 2.0, 1.0, 3.0
    assert ("engine", "ticks_per_s") not in out  # not in these runs
    runs = [run(2.0, 10.0, 4.0), {"ceiling": {"ticks_per_s": 5.0}}, run(1.0, 20.0, 3.0)]
    spread = run_by_run(runs)
    assert spread[("engine_steady", "ticks_per_s")] == [10.0, 20.0]  # in run order
    assert spread[("ceiling", "ticks_per_s")] == [1.0, 5.0, 1.0]


async def test_the_latency_figure_splits_a_ticks_path_from_the_workers_metrics() -> None:
    """scrape reads the worker's histograms over HTTP as the service serves them; parts_ms
    gives each one's mean between two scrapes, and the flushes in between."""
    metrics = ServiceMetrics(CollectorRegistry())
    server = HealthServer(metrics.registry, host="127.0.0.1", port=0,
                          healthy=lambda: True, ready=lambda: True)
    port = await server.start()
    try:
        metrics.flush_duration.observe(1.0)  # before: left out of the means
        before = await asyncio.to_thread(scrape, port)
        for seconds in (0.010, 0.030):
            metrics.drain_duration.observe(seconds)
            metrics.flush_duration.observe(seconds / 2)
        for seconds in (0.002, 0.004, 0.006):
            metrics.apply_lag.observe(seconds)
        after = await asyncio.to_thread(scrape, port)
    finally:
        await server.close()
    means, flushes = parts_ms(before, after)
    assert flushes == 2
    assert means["drain_ms"] == pytest.approx(20.0)
    assert means["flush_write_ms"] == pytest.approx(10.0)
    assert means["apply_lag_ms"] == pytest.approx(4.0)
    nothing, none = parts_ms(after, after)
    assert none == 0
    assert all(math.isnan(v) for v in nothing.values())
