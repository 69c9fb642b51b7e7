"""The benchmark's reference consumers against a real redis-server: the ceiling figures are
only a ceiling if both do-nothing consumers read and ack every entry exactly once."""

from __future__ import annotations

import pytest
from bench import consumers
from bench.workloads import stream_keys

from shared_core.volume_files import cores
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

DB = 3
GROUP = "ceiling-test"


def _publish(server: RedisServer, per_stream: list[int]) -> None:
    client = server.client(db=DB)
    client.flushdb()
    for stream, n in zip(stream_keys(), per_stream, strict=False):
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        pipe = client.pipeline(transaction=False)
        for i in range(n):
            pipe.xadd(stream, {"symbol": f"S{i % 7}", "price": "100.05", "volume": str(i)})
        pipe.execute()
    client.close()


@pytest.mark.parametrize("raw", [False, True], ids=["redis-py", "raw"])
def test_ceiling_reads_and_acks_every_entry_once(redis_server: RedisServer, raw: bool) -> None:
    if raw and not cores.native_available():
        pytest.skip("the native extension is not built")
    # Uneven streams, one empty, and batches that do not divide them.
    per_stream = [250, 0, 97, 1, 64, 130, 33, 500]
    _publish(redis_server, per_stream)
    drained = consumers.ceiling(redis_server, DB, GROUP, read_count=64, raw=raw)
    assert drained.ticks == sum(per_stream)
    assert drained.seconds > 0
    client = redis_server.client(db=DB)
    try:
        for stream in stream_keys():
            (group,) = client.xinfo_groups(stream)
            assert group["pending"] == 0  # every entry acked
            assert group["lag"] == 0  # and none left unread
    finally:
        client.flushdb()
        client.close()


def test_hash_writes_counts_every_hset_the_server_ran(redis_server: RedisServer) -> None:
    """The figures' HSETs a tick: calls, not fields, and inside MULTI/EXEC too."""
    from bench.service import command_stats

    client = redis_server.client(db=DB)
    try:
        before = command_stats(client).hsets
        client.hset("h:a", mapping={"f1": "1", "f2": "2"})
        pipe = client.pipeline(transaction=True)
        pipe.hset("h:b", "f", "1")
        pipe.hset("h:c", "f", "1")
        pipe.hget("h:b", "f")
        pipe.execute()
        assert command_stats(client).hsets - before == 3
    finally:
        client.flushdb()
        client.close()
