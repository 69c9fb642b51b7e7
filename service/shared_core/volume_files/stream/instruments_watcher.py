"""Keeps a running worker's instruments registry on the shared master, without a restart.

It polls the master's version (one HGET) every VOLUME_INSTRUMENTS_POLL_MS and, when an import
bumped it, reads the rows and swaps them into the registry every partition shares. So a new
import is in use within one poll interval plus the reload (about a second for Kite's full dump,
decoded off the event loop). Symbols a worker already holds keep the instrument they were
loaded with until the worker next loads them; new symbols and every token lookup use the new
master at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisError

from ..instruments import InstrumentRegistry
from ..store.instruments_store import (
    StoredMasterError,
    decode_tables,
    load_master_async,
    read_version,
)
from .retry import RETRYABLE


class InstrumentsWatcher:
    """Polls the shared master's version and reloads `registry` when it moves."""

    def __init__(
        self, client: aredis.Redis, registry: InstrumentRegistry, *, interval_s: float, log: Any
    ) -> None:
        self.client = client
        self.registry = registry
        self.interval_s = interval_s
        self.log = log
        self.version: int | None = None  # of the master in the registry; None: not loaded yet

    async def check(self) -> bool:
        """Reload if an import happened since the last check; True when it reloaded.

        Connection errors propagate (the caller retries); anything else wrong with the stored
        master (undecodable rows, a key of the wrong type) is logged and the registry keeps
        what it has: a bad import must not stop a worker.
        """
        try:
            return await self._check()
        except RETRYABLE:
            raise
        except (RedisError, ValueError) as exc:
            self.log.error("instruments_unreadable", version=self.version, error=repr(exc))
            return False

    async def _check(self) -> bool:
        version = await read_version(self.client)
        if version is None or version == self.version:
            return False
        stored = await load_master_async(self.client)
        if stored is None:
            return False
        version, blob = stored
        try:
            tables = await asyncio.to_thread(decode_tables, blob)
        except StoredMasterError as exc:
            self.log.error("instruments_unreadable", version=version, error=str(exc))
            self.version = version  # do not retry the same broken import every poll
            return False
        self.registry.replace_master(tables.instruments, tables.tokens)
        self.version = version
        self.log.info("instruments_loaded", version=version, keys=len(tables.instruments),
                      tokens=len(tables.tokens))
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Check every interval until `stop` is set; never raises for Redis trouble."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
            if stop.is_set():
                return
            try:
                await self.check()
            except RETRYABLE as exc:
                self.log.warning("instruments_poll_failed", error=str(exc))
