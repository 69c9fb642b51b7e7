from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from shared_core.volume_files import profile_scan
from shared_core.volume_files.metrics import (
    DEAD_LETTER_REASONS,
    FLUSH_ERROR_KINDS,
    KEY_FAMILIES,
    LEASE_EVENTS,
    PREFIX,
    TICK_OUTCOMES,
    ServiceMetrics,
    metric_names,
)
from shared_core.volume_files.ticks import REASONS


def scrape(metrics: ServiceMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def samples(metrics: ServiceMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in metrics.registry.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_every_dead_letter_reason_is_exported_at_zero() -> None:
    assert set(DEAD_LETTER_REASONS) == {*REASONS, "stale_session", "max_deliveries"}
    got = samples(ServiceMetrics(CollectorRegistry()))
    for reason in DEAD_LETTER_REASONS:
        assert got[("volume_engine_dead_letters_total", (("reason", reason),))] == 0.0
    exported = {labels[0][1] for (name, labels) in got
                if name == "volume_engine_dead_letters_total"}
    assert exported == set(DEAD_LETTER_REASONS)


def test_every_flush_error_kind_and_enumeration_is_exported_at_zero() -> None:
    assert FLUSH_ERROR_KINDS == ("fenced", "connection", "error")
    got = samples(ServiceMetrics(CollectorRegistry()))
    for name, label, values in [
        ("volume_engine_flush_errors_total", "kind", FLUSH_ERROR_KINDS),
        ("volume_engine_ticks_total", "outcome", TICK_OUTCOMES),
        ("volume_engine_lease_changes_total", "event", LEASE_EVENTS),
        ("volume_engine_key_writes_total", "family", KEY_FAMILIES),
    ]:
        exported = {dict(labels)[label] for (n, labels) in got if n == name}
        assert exported == set(values), name
        assert all(got[(name, ((label, v),))] == 0.0 for v in values)


def test_partitions_are_exported_from_the_start() -> None:
    m = ServiceMetrics(CollectorRegistry())
    m.init_partitions(3)
    got = samples(m)
    for p in ("0", "1", "2"):
        assert got[("volume_engine_partition_owned", (("partition", p),))] == 0.0
        assert got[("volume_engine_partition_lag", (("partition", p),))] == 0.0
        assert got[("volume_engine_partition_pending", (("partition", p),))] == 0.0
        assert got[("volume_engine_rerouted_ticks_total", (("partition", p),))] == 0.0
    assert ("volume_engine_partition_owned", (("partition", "3"),)) not in got


def test_metric_family_names() -> None:
    m = ServiceMetrics(CollectorRegistry())
    families = {f.name: f.type for f in m.registry.collect() if f.name.startswith(PREFIX)}
    assert families == {
        "volume_engine_ticks": "counter",
        "volume_engine_rerouted_ticks": "counter",
        "volume_engine_dead_letters": "counter",
        "volume_engine_flush_duration_seconds": "histogram",
        "volume_engine_apply_lag_seconds": "histogram",
        "volume_engine_drain_duration_seconds": "histogram",
        "volume_engine_flush_errors": "counter",
        "volume_engine_read_batch_entries": "histogram",
        "volume_engine_flush_symbols": "histogram",
        "volume_engine_partition_lag": "gauge",
        "volume_engine_partition_pending": "gauge",
        "volume_engine_entries_reclaimed": "counter",
        "volume_engine_partition_owned": "gauge",
        "volume_engine_partitions_owned": "gauge",
        "volume_engine_lease_changes": "counter",
        "volume_engine_symbols_in_memory": "gauge",
        "volume_engine_key_writes": "counter",
        "volume_engine_write_filter_left_out": "counter",
        "volume_engine_last_exchange_timestamp_seconds": "gauge",
        "volume_engine_redis_reconnects": "counter",
        "volume_engine_migration_unified_read_ratio": "gauge",
        "volume_engine_build": "info",
    }


def test_naming_conventions() -> None:
    m = ServiceMetrics(CollectorRegistry())
    m.init_partitions(2)
    for family in m.registry.collect():
        if family.name.startswith("process_"):
            continue
        assert family.name.startswith("volume_engine_"), family.name
        for s in family.samples:
            assert "symbol" not in s.labels, s
            assert set(s.labels) <= {"outcome", "reason", "kind", "event", "family",
                                     "partition", "le", "version", "core", "profile_kernel"}, s
            if family.type == "counter":
                assert s.name in (f"{family.name}_total", f"{family.name}_created"), s.name
            else:
                assert not s.name.endswith("_total"), s.name
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_entries", "_symbols")), family.name


def test_the_scrape_text() -> None:
    m = ServiceMetrics(CollectorRegistry())
    m.dead_letters.labels("bad_json").inc(2)
    m.flush_duration.observe(0.003)
    text = scrape(m)
    assert 'volume_engine_dead_letters_total{reason="bad_json"} 2.0' in text
    assert 'volume_engine_dead_letters_total{reason="stale_session"} 0.0' in text
    assert 'volume_engine_flush_errors_total{kind="fenced"} 0.0' in text
    assert 'volume_engine_flush_duration_seconds_bucket{le="0.005"} 1.0' in text
    assert "# TYPE volume_engine_ticks_total counter" in text
    assert not re.search(r"\{[^}]*symbol=", text)


def test_build_info_names_the_profile_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator can tell a worker running the pure-Python fallback from the scrape."""
    kernel = profile_scan.kernel()
    assert f'profile_kernel="{kernel}"' in scrape(ServiceMetrics(CollectorRegistry()))
    monkeypatch.setattr(profile_scan, "_native_scan", None)
    labels = samples(ServiceMetrics(CollectorRegistry()))
    ((name, label_items),) = [k for k in labels if k[0] == "volume_engine_build_info"]
    assert dict(label_items)["profile_kernel"] == "python"
    assert dict(label_items)["version"] not in ("", None)
    assert labels[(name, label_items)] == 1.0


def test_registries_are_independent() -> None:
    a, b = ServiceMetrics(CollectorRegistry()), ServiceMetrics(CollectorRegistry())
    a.ticks.labels("applied").inc(5)
    assert samples(b)[("volume_engine_ticks_total", (("outcome", "applied"),))] == 0.0
    assert samples(a)[("volume_engine_ticks_total", (("outcome", "applied"),))] == 5.0


def test_metric_names_lists_scrapeable_samples() -> None:
    names = metric_names()
    assert {
        "volume_engine_ticks_total",
        "volume_engine_dead_letters_total",
        "volume_engine_flush_duration_seconds_bucket",
        "volume_engine_flush_duration_seconds_count",
        "volume_engine_partition_owned",
        "volume_engine_last_exchange_timestamp_seconds",
        "volume_engine_migration_unified_read_ratio",
    } <= names
    assert "volume_engine_ticks" not in names


def test_the_package_version_is_the_one_pyproject_declares() -> None:
    import tomllib
    from pathlib import Path

    import shared_core.volume_files as package
    from shared_core.volume_files._version import __version__

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert __version__ == pyproject["project"]["version"] == package.__version__
