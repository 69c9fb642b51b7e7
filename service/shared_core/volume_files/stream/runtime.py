"""The service lifecycle: connect, own partitions, run their workers, shut down cleanly.

A supervisor loop ticks every renew interval: heartbeat, renew held leases, hand back partitions
assigned elsewhere, take free ones assigned here, and report lag. SIGTERM/SIGINT start a graceful
stop (stop reading, flush, ack, release leases, leave); a second signal, or the graceful stop
overrunning its deadline, cancels what is left. Partition workers are never cancelled mid-command
on the graceful path, so pooled connections are not left half-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aredis
import structlog
from redis.exceptions import ResponseError

from .. import cores
from ..core_config import load_core_config
from ..engine_core import CoreConfig
from ..http_server import HealthServer
from ..metrics import ServiceMetrics
from ..profile_scan import kernel
from ..settings import Settings, redacted_url
from ..store import keys
from ..store.wire import text
from .instruments_watcher import InstrumentsWatcher
from .leases import LeaseClient, assignment
from .partition_worker import LeaseLostError, PartitionConfig, PartitionWorker
from .partitions import format_entry_id, parse_entry_id
from .retry import RETRYABLE, retrying

LAG_POLL_S = 2.0
TRIM_EVERY_S = 30.0


@dataclass(slots=True)
class Owned:
    token: str
    worker: PartitionWorker
    task: asyncio.Task[None]


def connect(settings: Settings) -> aredis.Redis:
    """A pooled client whose socket timeout outlasts the longest blocking read."""
    return aredis.from_url(
        settings.redis_url,
        socket_timeout=settings.block_ms / 1000 + 10,
        socket_connect_timeout=5,
        health_check_interval=30,
    )


async def ensure_groups(client: aredis.Redis, stream: str, partitions: int, group: str) -> None:
    """Create the group at id 0 with MKSTREAM, so ticks published before we start count."""
    for p in range(partitions):
        try:
            await client.xgroup_create(keys.stream_key(stream, p), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


class VolumeService:
    """One worker process: many partition tasks, one supervisor."""

    def __init__(
        self,
        settings: Settings,
        *,
        core_config: CoreConfig | None = None,
        metrics: ServiceMetrics | None = None,
        shutdown_timeout_s: float = 15.0,
    ) -> None:
        self.settings = settings
        self.core_config = core_config if core_config is not None else load_core_config(settings)
        self.core = cores.resolve(settings.core)  # native or python: settings validated it
        self.metrics = metrics if metrics is not None else ServiceMetrics(core=self.core)
        self.shutdown_timeout_s = shutdown_timeout_s
        self.log = structlog.get_logger().bind(worker=settings.worker_id)
        self.owned: dict[int, Owned] = {}
        self.client: aredis.Redis | None = None
        self.http: HealthServer | None = None
        self.leases: LeaseClient | None = None  # once connected (_startup)
        self._stop = asyncio.Event()
        self._hard_stop = asyncio.Event()
        self._ready = False
        self._last_round = time.monotonic()  # the end of the supervisor's last round
        self._last_lag = 0.0
        self._last_trim = time.monotonic()
        self._live: set[str] = set()
        self.metrics.init_partitions(settings.partitions)

    # -- public ---------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: graceful stop. Second call: hard stop."""
        if self._stop.is_set():
            self._hard_stop.set()
        self._stop.set()

    async def run(self, *, install_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        s = self.settings
        self.http = HealthServer(
            self.metrics.registry, host=s.metrics_host, port=s.metrics_port,
            healthy=self._healthy, ready=lambda: self._ready,
        )
        port = await self.http.start()
        self.log.info("starting", redis=redacted_url(s.redis_url), stream=s.stream,
                      partitions=s.partitions, group=s.group, metrics_port=port,
                      core=self.core, profile_kernel=kernel())
        self.client = connect(s)
        self.instruments = InstrumentsWatcher(
            self.client, self.core_config.registry, interval_s=s.instruments_poll_ms / 1000,
            log=self.log,
        )
        try:
            await self._startup()
            if not self._stop.is_set():
                watching = asyncio.create_task(self.instruments.run(self._stop))
                try:
                    await self._supervise()
                finally:
                    await asyncio.wait([watching], timeout=self.shutdown_timeout_s)
        finally:
            await self._shutdown()
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    @property
    def metrics_port(self) -> int | None:
        return None if self.http is None else self.http.port

    # -- start-up -------------------------------------------------------------------------------

    async def _startup(self) -> None:
        assert self.client is not None
        await retrying(self._connect, metrics=self.metrics, log=self.log, pause=self._pause)
        self.leases = LeaseClient(self.client, self.settings.stream, self.settings.worker_id,
                                  self.settings.lease_ttl_ms)

    async def _connect(self) -> None:
        """Check the server and create the groups; nothing to wait for once stopping."""
        assert self.client is not None
        if self._stop.is_set():
            return
        await self.client.ping()
        await self._check_eviction_policy()
        await ensure_groups(self.client, self.settings.stream, self.settings.partitions,
                            self.settings.group)
        await self.instruments.check()  # the shared master before any partition starts

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when a shutdown is asked for meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _check_eviction_policy(self) -> None:
        assert self.client is not None
        try:
            policy = (await self.client.config_get("maxmemory-policy")).get("maxmemory-policy")
        except ResponseError as exc:
            self.log.warning("eviction_policy_unknown", error=str(exc),
                             hint="CONFIG GET refused; make sure maxmemory-policy is noeviction")
            return
        if policy != "noeviction":
            self.log.error(
                "eviction_policy_unsafe", policy=policy,
                hint="set maxmemory-policy noeviction: an evicting Redis can drop the consumer "
                     "group, pending entries and state, losing or double-counting ticks",
            )

    # -- supervision ----------------------------------------------------------------------------

    def _healthy(self) -> bool:
        stale_after = max(10.0, 3 * self.settings.lease_ttl_ms / 1000)
        return time.monotonic() - self._last_round < stale_after

    async def _supervise(self) -> None:
        interval = self.settings.renew_interval_ms / 1000
        while not self._stop.is_set():
            try:
                await self._supervision_round()
                self._ready = True
            except RETRYABLE as exc:
                self._ready = False
                self.metrics.reconnects.inc()
                self.log.warning("redis_unavailable", error=str(exc))
            self._last_round = time.monotonic()
            await self._pause(interval)

    async def _supervision_round(self) -> None:
        """Heartbeat, renew, rebalance, then the periodic lag poll and trim."""
        self._reap()
        health = orjson.dumps({
            "worker": self.settings.worker_id,
            "partitions": sorted(self.owned),
            "at": time.time(),
        }).decode()
        leases = self.leases
        assert leases is not None
        live = await leases.heartbeat(health)
        self._live = set(live)
        renewed = await leases.renew_all({p: o.token for p, o in self.owned.items()})
        for partition, owned in list(self.owned.items()):
            if not renewed[partition]:
                self.log.warning("lease_lost", partition=partition)
                self.metrics.lease_changes.labels("lost").inc()
                owned.worker.stop()
                owned.task.cancel()
                self._forget(partition)
        desired = assignment(self.settings.partitions, live).get(self.settings.worker_id, set())
        for partition in sorted(set(self.owned) - desired):
            await self._release(partition)
        for partition in sorted(desired - set(self.owned)):
            token = await leases.acquire(partition)
            if token is not None:
                self._start_partition(partition, token)
        self.metrics.partitions_owned.set(len(self.owned))
        self.metrics.symbols_in_memory.set(sum(len(o.worker.core) for o in self.owned.values()))
        now = time.monotonic()
        if now - self._last_lag >= LAG_POLL_S:
            self._last_lag = now
            await self._poll_lag()
        if now - self._last_trim >= TRIM_EVERY_S:
            self._last_trim = now
            await self._trim()

    def _start_partition(self, partition: int, token: str) -> None:
        assert self.client is not None
        s = self.settings
        cfg = PartitionConfig(
            stream=s.stream, partition=partition, group=s.group, consumer=s.worker_id,
            read_count=s.read_count, block_ms=s.block_ms, flush_interval_ms=s.flush_interval_ms,
            read_linger_ms=s.read_linger_ms,
            flush_max_entries=s.flush_max_entries, max_deliveries=s.max_deliveries,
            dual_write=s.dual_write, partitions=s.partitions,
            learned_history_days=s.lookback_sessions if s.curve == "learned" else 0,
            timestamp_from_entry_id=s.timestamp_from_entry_id,
            core=self.core, write_filter_keys=-(-s.write_filter_keys // s.partitions),
        )
        worker = PartitionWorker(self.client, cfg, self.core_config, token, self.metrics)
        task = asyncio.create_task(worker.run(), name=f"partition-{partition}")
        self.owned[partition] = Owned(token, worker, task)
        self.metrics.partition_owned.labels(str(partition)).set(1)
        self.metrics.lease_changes.labels("acquired").inc()
        self.log.info("partition_acquired", partition=partition, token=token)

    def _forget(self, partition: int) -> None:
        self.owned.pop(partition, None)
        label = str(partition)
        self.metrics.partition_owned.labels(label).set(0)

    def _reap(self) -> None:
        """Drop partitions whose task ended on its own (fenced, or a bug)."""
        for partition, owned in list(self.owned.items()):
            if not owned.task.done():
                continue
            exc = None if owned.task.cancelled() else owned.task.exception()
            if isinstance(exc, LeaseLostError):
                self.metrics.lease_changes.labels("lost").inc()
                self.log.warning("partition_fenced", partition=partition)
            elif exc is not None:
                self.log.error("partition_failed", partition=partition, error=repr(exc),
                               exc_info=exc)
            self._forget(partition)

    async def _release(self, partition: int) -> None:
        """Hand a partition back: stop reading, flush, then drop the lease."""
        owned = self.owned[partition]
        owned.worker.stop()
        try:
            await asyncio.wait_for(asyncio.shield(owned.task), self.shutdown_timeout_s)
        except LeaseLostError:
            pass
        except TimeoutError:
            owned.task.cancel()
            self.log.error("partition_stop_timeout", partition=partition)
        finally:
            self._forget(partition)
        assert self.leases is not None
        with contextlib.suppress(*RETRYABLE):
            await self.leases.release(partition, owned.token)
        self.metrics.lease_changes.labels("released").inc()
        self.log.info("partition_released", partition=partition)

    async def _poll_lag(self) -> None:
        assert self.client is not None
        for partition in list(self.owned):
            stream = keys.stream_key(self.settings.stream, partition)
            groups: Any = await self.client.xinfo_groups(stream)
            for g in groups:
                if text(g["name"]) != self.settings.group:
                    continue
                label = str(partition)
                lag = g.get("lag")
                self.metrics.partition_lag.labels(label).set(float(lag) if lag is not None else 0)
                self.metrics.partition_pending.labels(label).set(float(g.get("pending", 0)))

    async def _trim(self) -> None:
        """Trim each owned stream below what every group on it has finished with."""
        assert self.client is not None
        for partition in list(self.owned):
            stream = keys.stream_key(self.settings.stream, partition)
            safe: tuple[int, int] | None = None
            for g in await self.client.xinfo_groups(stream):
                name = g["name"]
                pending = await self.client.xpending(stream, name)
                if pending["pending"]:
                    candidate = parse_entry_id(pending["min"])
                else:
                    last = parse_entry_id(g["last-delivered-id"])
                    candidate = (last[0], last[1] + 1)
                safe = candidate if safe is None else min(safe, candidate)
            if safe is not None and safe > (0, 1):
                await self.client.xtrim(stream, minid=format_entry_id(safe), approximate=False)
            await self._forget_departed_consumers(stream)

    async def _forget_departed_consumers(self, stream: str) -> None:
        """Delete consumers of workers that left for good (nothing pending, not live)."""
        assert self.client is not None
        consumers: Any = await self.client.xinfo_consumers(stream, self.settings.group)
        for c in consumers:
            name = text(c["name"])
            idle_ms = int(c.get("idle", 0))
            if name in self._live or int(c["pending"]) or idle_ms < 10 * self.settings.lease_ttl_ms:
                continue
            await self.client.xgroup_delconsumer(stream, self.settings.group, name)
            self.log.info("consumer_removed", stream=stream, consumer=name)

    # -- shutdown -------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        deadline = time.monotonic() + self.shutdown_timeout_s
        for owned in self.owned.values():
            owned.worker.stop()
        pending = [o.task for o in self.owned.values()]
        if pending:
            wait_for_hard = asyncio.create_task(self._hard_stop.wait())
            everything: asyncio.Future[Any] = asyncio.gather(*pending, return_exceptions=True)
            await asyncio.wait(
                [everything, wait_for_hard],
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            wait_for_hard.cancel()
            for task in pending:
                if not task.done():
                    task.cancel()
                    self.log.error("hard_stop", task=task.get_name())
        leases = self.leases
        if self.client is not None and leases is not None:
            for partition, owned in list(self.owned.items()):
                with contextlib.suppress(*RETRYABLE):
                    if owned.task.done() and not owned.task.cancelled() \
                            and owned.task.exception() is None:
                        await leases.release(partition, owned.token)
                        self.metrics.lease_changes.labels("released").inc()
                self._forget(partition)
            with contextlib.suppress(*RETRYABLE):
                await leases.leave()
        if self.client is not None:
            await self.client.aclose()
        if self.http is not None:
            await self.http.close()
        self.log.info("stopped")
