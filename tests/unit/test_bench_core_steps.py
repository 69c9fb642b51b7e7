"""bench.core_steps: its raw read path hands the native core the very entries it encodes."""

from __future__ import annotations

import pytest
from bench import core_steps

from shared_core.volume_files import cores

pytestmark = pytest.mark.skipif(not cores.native_available(), reason="the extension is not built")


def test_a_batch_read_as_raw_bytes_is_the_batch() -> None:
    entries = core_steps._entries(symbols=200, ticks=core_steps.BATCH, seed=3)
    reply = core_steps._reply(entries)
    assert len(reply) > core_steps.READ_SIZE  # read in several pieces, as a worker reads it
    batch = core_steps._raw_batch(reply)
    assert len(batch) == len(entries)
    assert batch.ids() == [e.entry_id for e in entries]
    assert [batch.entry(i) for i in (0, 17, len(entries) - 1)] == [
        entries[0], entries[17], entries[-1]]
