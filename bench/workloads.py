"""The benchmark workload: one seeded NSE session from the project's simulator, published once.

Every throughput figure drains the same entries: the workload is published to DB 1 once, and
each figure gets its own copy of the streams (Redis COPY, consumer groups included) in a fresh
DB of the same redis-server. A run therefore never sees another run's output keys, checkpoints
or leases, and no figure pays for publishing.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

import redis

from shared_core.volume_files.simulator import SimInstrument, build_universe, simulate_ticks
from shared_core.volume_files.store import keys
from shared_core.volume_files.store.wire import text
from shared_core.volume_files.stream.partitions import (
    format_entry_id,
    parse_entry_id,
    partition_for,
)
from shared_core.volume_files.stream.producer import entry_symbol, publish_sync

from .dev import RedisServer

SESSION_DATE = date(2025, 12, 9)  # a Tuesday: weekly NIFTY expiry, monthly on 2025-12-30
STREAM = "ticks"
PARTITIONS = 8
SOURCE_DB = 1
HISTORY_DAYS = 20  # recorded sessions per symbol, so every flush computes baselines and RVOL


@dataclass(frozen=True, slots=True)
class Workload:
    """`ticks` entries over the whole 375-minute session for a universe of `symbols`."""

    symbols: int
    ticks: int
    seed: int = 7
    session_date: date = SESSION_DATE

    def universe(self) -> list[SimInstrument]:
        return build_universe(self.symbols, session_date=self.session_date, seed=self.seed)

    def entries(self, universe: Sequence[SimInstrument] | None = None) -> list[dict[str, str]]:
        insts = universe if universe is not None else self.universe()
        return list(
            simulate_ticks(insts, session_date=self.session_date, n_ticks=self.ticks,
                           seed=self.seed)
        )


def iter_history(
    universe: Sequence[SimInstrument], *, session_date: date = SESSION_DATE,
    days: int = HISTORY_DAYS, seed: int = 7,
) -> Iterator[tuple[str, dict[str, str]]]:
    """`vol:history:{symbol}` fields for the `days` weekdays before the session: daily totals
    proportional to each instrument's activity, as a production worker finds them."""
    rng = random.Random(f"{seed}:history")
    dates: list[str] = []
    day = session_date
    while len(dates) < days:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            dates.append(day.isoformat())
    for inst in universe:
        level = 2_000 + 50_000_000 * inst.activity * max(1, inst.lot_size) / 75
        yield inst.symbol, {d: str(max(1, int(level * rng.lognormvariate(0.0, 0.35))))
                            for d in dates}


def history(universe: Sequence[SimInstrument], *, seed: int = 7) -> dict[str, dict[str, str]]:
    return dict(iter_history(universe, seed=seed))


def seed_history(
    server: RedisServer, db: int, histories: Iterable[tuple[str, Mapping[str, str]]]
) -> None:
    """Write the recorded sessions (symbol, fields) into `db`, where the service loads them."""
    client = server.client(db=db)
    try:
        pipe = client.pipeline(transaction=False)
        for i, (symbol, fields) in enumerate(histories, 1):
            pipe.hset(keys.history_key(symbol), mapping=cast(Any, dict(fields)))
            if i % 2000 == 0:
                pipe.execute()
        pipe.execute()
    finally:
        client.close()


def describe(
    universe: Sequence[SimInstrument], entries: Sequence[dict[str, str]]
) -> dict[str, Any]:
    """What the workload looks like: the mix of instruments and how heavy the tail is."""
    kinds = Counter(inst.kind for inst in universe)
    per_symbol = Counter(e["symbol"] for e in entries)
    counts = sorted(per_symbol.values(), reverse=True)
    top_1pct = max(1, len(universe) // 100)
    forms = Counter(
        "cumulative" if "volume_traded" in e else "per_tick" if "volume" in e else "none"
        for e in entries
    )
    return {
        "symbols": len(universe),
        "ticks": len(entries),
        "kinds": dict(sorted(kinds.items())),
        "symbols_ticking": len(per_symbol),
        "busiest_symbol_ticks": counts[0] if counts else 0,
        "median_ticks_per_ticking_symbol": counts[len(counts) // 2] if counts else 0,
        "top_1pct_share": round(sum(counts[:top_1pct]) / max(1, len(entries)), 3),
        "volume_forms": dict(sorted(forms.items())),
    }


def publish(server: RedisServer, entries: Sequence[dict[str, str]], *,
            db: int = SOURCE_DB, misroute: float = 0.0, seed: int = 7) -> float:
    """Publish to `db` with the project's producer (crc32 routing); returns seconds taken.

    With `misroute`, that share of the ticks (drawn with `seed`) goes to the partition after
    its symbol's instead, as a producer with another rule would put it: the workers forward it.
    """
    client = server.client(db=db)
    try:
        started = time.perf_counter()
        if not misroute:
            publish_sync(client, entries, stream=STREAM, partitions=PARTITIONS, batch=2000)
            return time.perf_counter() - started
        rng = random.Random(seed)
        pipe = client.pipeline(transaction=False)
        for i, entry in enumerate(entries):
            owner = partition_for(entry_symbol(entry), PARTITIONS)
            landed = (owner + 1) % PARTITIONS if rng.random() < misroute else owner
            pipe.xadd(keys.stream_key(STREAM, landed), cast(Any, entry))
            if i % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        return time.perf_counter() - started
    finally:
        client.close()


def stream_keys() -> list[str]:
    return [keys.stream_key(STREAM, p) for p in range(PARTITIONS)]


def copy_streams(server: RedisServer, db: int, *, group: str | None = None,
                 group_at: str = "0") -> None:
    """A pristine copy of the published streams in `db` (emptied first), optionally grouped."""
    source = server.client(db=SOURCE_DB)
    target = server.client(db=db)
    try:
        target.flushdb()
        for key in stream_keys():
            if not source.copy(key, key, destination_db=str(db), replace=True):
                raise RuntimeError(f"COPY {key} to DB {db} failed")
            if group is not None:
                target.xgroup_create(key, group, id=group_at)
    finally:
        source.close()
        target.close()


def drop_db(server: RedisServer, db: int) -> None:
    client = server.client(db=db)
    try:
        client.flushdb()
    finally:
        client.close()


def backlog(client: redis.Redis, group: str) -> int:
    """Entries of every partition not yet delivered to `group` plus those not yet acked."""
    return sum(backlogs(client, group))


def backlogs(client: redis.Redis, group: str) -> list[int]:
    """`backlog` per partition, in partition order."""
    pipe = client.pipeline(transaction=False)
    for key in stream_keys():
        pipe.xinfo_groups(key)
    out = []
    for key, groups in zip(stream_keys(), pipe.execute(), strict=True):
        left = 0
        for g in groups:
            if text(g["name"]) != group:
                continue
            lag = g.get("lag")
            if lag is None:  # Redis cannot tell (should not happen here): count from the ids
                lag = _undelivered(client, key, g["last-delivered-id"])
            left += int(g["pending"]) + int(lag)
        out.append(left)
    return out


def _undelivered(client: redis.Redis, key: str, last: bytes | str) -> int:
    ms, seq = parse_entry_id(last)
    start = format_entry_id((ms, seq + 1))
    entries: Any = client.xrange(key, min=start, max="+")
    return len(entries)


def stream_lengths(server: RedisServer, db: int = SOURCE_DB) -> list[int]:
    client = server.client(db=db)
    try:
        return [int(client.xlen(key)) for key in stream_keys()]
    finally:
        client.close()
