"""Prometheus metrics of the streaming service.

One registry per service instance (tests run several in one process), one prefix, `_total`
counters, seconds for durations, and never a symbol label: the label sets are bounded by the
partition count and by fixed enumerations.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.process_collector import ProcessCollector

from . import cores
from ._version import __version__
from .profile_scan import kernel
from .store import keys
from .ticks import DEAD_LETTER_REASONS as _REASONS

PREFIX = "volume_engine"

TICK_OUTCOMES = ("applied", "duplicate", "dead_lettered", "rerouted")
LEASE_EVENTS = ("acquired", "released", "lost")
KEY_FAMILIES = keys.KEY_FAMILIES
DEAD_LETTER_REASONS = tuple(sorted(_REASONS))
FLUSH_ERROR_KINDS = ("fenced", "connection", "error")


class ServiceMetrics:
    """Every metric the service exports, bound to one registry."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, core: str | None = None
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        p = PREFIX
        self.ticks = Counter(f"{p}_ticks", "Stream entries processed, by outcome", ["outcome"],
                             registry=r)
        self.rerouted = Counter(f"{p}_rerouted_ticks",
                                "Ticks found in another partition than their symbol's and "
                                "forwarded to its owner, by the partition they were read from",
                                ["partition"], registry=r)
        self.dead_letters = Counter(f"{p}_dead_letters", "Entries sent to the dead-letter stream",
                                    ["reason"], registry=r)
        self.flush_duration = Histogram(
            f"{p}_flush_duration_seconds", "Time of one fenced flush round trip",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r)
        # A tick's way to readers, after its partition's next drain point: the two steps the
        # worker controls (bench README, "What bounds latency").
        self.apply_lag = Histogram(
            f"{p}_apply_lag_seconds",
            "Age of a batch's oldest entry when it is applied: since Redis received it (its "
            "entry id's time), so the stream's wait, the read and the apply",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0, 30.0, 60.0),
            registry=r)
        self.drain_duration = Histogram(
            f"{p}_drain_duration_seconds",
            "Time to drain one flush: every changed symbol's snapshot, encoded for the write",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r)
        self.flush_errors = Counter(f"{p}_flush_errors", "Flushes that failed or were fenced",
                                    ["kind"], registry=r)
        self.read_batch = Histogram(
            f"{p}_read_batch_entries", "Entries returned by one XREADGROUP",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=r)
        self.flush_symbols = Histogram(
            f"{p}_flush_symbols", "Dirty symbols written by one flush",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000), registry=r)
        self.partition_lag = Gauge(f"{p}_partition_lag",
                                   "Entries not yet delivered to the group (XINFO GROUPS lag)",
                                   ["partition"], registry=r)
        self.partition_pending = Gauge(f"{p}_partition_pending",
                                       "Entries delivered but not acknowledged", ["partition"],
                                       registry=r)
        self.reclaimed = Counter(f"{p}_entries_reclaimed",
                                 "Pending entries taken over (XAUTOCLAIM)", registry=r)
        self.partition_owned = Gauge(f"{p}_partition_owned",
                                     "1 when this worker holds the partition's lease",
                                     ["partition"], registry=r)
        self.partitions_owned = Gauge(f"{p}_partitions_owned", "Partitions this worker holds",
                                      registry=r)
        self.lease_changes = Counter(f"{p}_lease_changes", "Partition lease events", ["event"],
                                     registry=r)
        self.symbols_in_memory = Gauge(f"{p}_symbols_in_memory",
                                       "Symbols whose session state this worker holds", registry=r)
        self.key_writes = Counter(f"{p}_key_writes", "Hash writes by key family", ["family"],
                                  registry=r)
        self.fields_left_out = Counter(
            f"{p}_write_filter_left_out",
            "Hash fields (set or deleted) the write filter left out: Redis held them already",
            registry=r)
        self.last_exchange_ts = Gauge(f"{p}_last_exchange_timestamp_seconds",
                                      "Newest exchange timestamp applied", registry=r)
        self.reconnects = Counter(f"{p}_redis_reconnects", "Redis connection losses recovered",
                                  registry=r)
        # Which build runs: a worker on the Python core (no Rust toolchain where it was
        # installed, or VOLUME_CORE=python) costs several times the CPU; operators see it here.
        self.build = Info(f"{p}_build", "Package version, tick core and profile scan in use",
                          registry=r)
        self.build.info({"version": __version__,
                         "core": core if core is not None else cores.resolve("auto"),
                         "profile_kernel": kernel()})
        self.migration_ratio = Gauge(f"{p}_migration_unified_read_ratio",
                                     "Share of gateway reads served from unified keys", registry=r)
        for outcome in TICK_OUTCOMES:
            self.ticks.labels(outcome)
        for event in LEASE_EVENTS:
            self.lease_changes.labels(event)
        for family in KEY_FAMILIES:
            self.key_writes.labels(family)
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)
        for kind in FLUSH_ERROR_KINDS:
            self.flush_errors.labels(kind)

    def init_partitions(self, partitions: int) -> None:
        """Export every partition from the start so a missing owner shows as 0, not as absent."""
        for n in range(partitions):
            label = str(n)
            self.partition_owned.labels(label).set(0)
            self.partition_lag.labels(label)
            self.partition_pending.labels(label)
            self.rerouted.labels(label)


def metric_names() -> frozenset[str]:
    """Sample names a scrape can show: what dashboards and alert rules may query."""
    names: set[str] = set()
    metrics = ServiceMetrics()
    metrics.init_partitions(1)
    for family in metrics.registry.collect():
        for sample in family.samples:
            names.add(sample.name)
    return frozenset(names)
