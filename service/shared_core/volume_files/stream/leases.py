"""Partition ownership: who should own what (pure), and the lease calls that make it so.

Workers announce themselves in a sorted set scored by heartbeat expiry (Redis's clock, so worker
clocks never matter). Every worker computes the same assignment from the same live set, takes
the free partitions assigned to it and hands back the ones assigned elsewhere. A lease is a key
holding `worker:generation` with a TTL; the generation is the fencing token every flush checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import redis.asyncio as aredis
from redis.commands.core import AsyncScript

from ..store import keys, scripts
from ..store.wire import text


def assignment(partitions: int, live_workers: Sequence[str]) -> dict[str, set[int]]:
    """Partition p goes to the (p mod n)-th live worker in sorted order: balanced within one."""
    members = sorted(set(live_workers))
    out: dict[str, set[int]] = {w: set() for w in members}
    if not members:
        return out
    for p in range(partitions):
        out[members[p % len(members)]].add(p)
    return out




class LeaseClient:
    """The lease and membership scripts for one worker."""

    def __init__(self, client: aredis.Redis, stream: str, worker_id: str, ttl_ms: int) -> None:
        self.client = client
        self.stream = stream
        self.worker_id = worker_id
        self.ttl_ms = ttl_ms
        self._acquire: AsyncScript = client.register_script(scripts.ACQUIRE)
        self._renew: AsyncScript = client.register_script(scripts.RENEW)
        self._release: AsyncScript = client.register_script(scripts.RELEASE)
        self._heartbeat: AsyncScript = client.register_script(scripts.HEARTBEAT)
        self._leave: AsyncScript = client.register_script(scripts.LEAVE)

    async def heartbeat(self, health: str) -> list[str]:
        """Renew this worker's membership and health key; return the live members."""
        members = await self._heartbeat(
            keys=[keys.workers_key(self.stream), keys.worker_health_key(self.worker_id)],
            args=[self.worker_id, self.ttl_ms, health],
        )
        return [text(m) for m in members]

    async def leave(self) -> None:
        await self._leave(
            keys=[keys.workers_key(self.stream), keys.worker_health_key(self.worker_id)],
            args=[self.worker_id],
        )

    async def acquire(self, partition: int) -> str | None:
        """The fencing token when the partition was free, else None."""
        token = await self._acquire(
            keys=[keys.lease_key(self.stream, partition),
                  keys.lease_generation_key(self.stream, partition)],
            args=[self.worker_id, self.ttl_ms],
        )
        return None if token is None else text(token)

    async def renew(self, partition: int, token: str) -> bool:
        ok = await self._renew(keys=[keys.lease_key(self.stream, partition)],
                               args=[token, self.ttl_ms])
        return bool(ok)

    async def renew_all(self, held: Mapping[int, str]) -> dict[int, bool]:
        """Renew every held lease (partition -> token) in one round trip: renewed one after
        another, a CPU-starved worker let the last ones expire before it reached them."""
        if not held:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for partition, token in held.items():
            await self._renew(keys=[keys.lease_key(self.stream, partition)],
                              args=[token, self.ttl_ms], client=pipe)
        replies = await pipe.execute()
        return {partition: bool(ok) for partition, ok in zip(held, replies, strict=True)}

    async def release(self, partition: int, token: str) -> bool:
        ok = await self._release(keys=[keys.lease_key(self.stream, partition)], args=[token])
        return bool(ok)

    async def owners(self, partitions: int) -> dict[int, str | None]:
        """Current lease holder per partition (worker id), for status views."""
        values = await self.client.mget([keys.lease_key(self.stream, p) for p in range(partitions)])
        out: dict[int, str | None] = {}
        for p, value in enumerate(values):
            out[p] = None if value is None else text(value).rsplit(":", 1)[0]
        return out
