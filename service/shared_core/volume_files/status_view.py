"""`volume-engine status`: who owns which partition, how far behind it is, what is stuck.

Read-only and cheap: one pipelined round trip for the partitions (lease, its TTL, the group's
lag and pending count, the stream length) and the lengths of the streams past the last
partition (a producer with more partitions writes there, and no worker reads them), one for
the membership. Heartbeat expiries are
compared with Redis's clock (TIME), the same clock the leases use, never this machine's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .key_usage_tracker import parse_stats, progress_line
from .settings import Settings, redacted_url
from .store import keys
from .store.wire import text

UNREAD_PROBE = 256  # streams {stream}:P..255 are looked at for entries no worker reads


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    partition: int
    stream: str
    owner: str | None
    generation: str | None
    lease_ttl_ms: int | None
    length: int
    lag: int | None  # None: the group does not exist, or Redis cannot tell
    pending: int | None
    consumers: int


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    worker: str
    expires_in_ms: int
    partitions: tuple[int, ...] | None  # from its health key; None when unreadable


@dataclass(frozen=True, slots=True)
class StatusReport:
    url: str
    stream: str
    group: str
    partitions: tuple[PartitionStatus, ...]
    workers: tuple[WorkerStatus, ...]
    dead_letters: int
    migration: str
    unread: tuple[tuple[str, int], ...] = ()  # non-empty streams past the last partition


def parse_lease(value: Any) -> tuple[str | None, str | None]:
    """A lease value `worker:generation` as (worker, generation)."""
    if value is None:
        return None, None
    owner, _, generation = text(value).rpartition(":")
    return (owner, generation) if owner else (text(value), None)


def _group(groups: Any, name: str) -> Mapping[str, Any] | None:
    if isinstance(groups, Exception) or not groups:
        return None
    for g in groups:
        if text(g.get("name") or "") == name:
            return dict(g)
    return None


def _partition(p: int, stream: str, group: str, lease: Any, ttl: Any, groups: Any,
               length: Any) -> PartitionStatus:
    owner, generation = parse_lease(lease)
    g = _group(groups, group)
    lag = None if g is None or g.get("lag") is None else int(g["lag"])
    return PartitionStatus(
        partition=p, stream=stream, owner=owner, generation=generation,
        lease_ttl_ms=int(ttl) if isinstance(ttl, int) and ttl >= 0 else None,
        length=int(length) if isinstance(length, int) else 0,
        lag=lag,
        pending=None if g is None else int(g.get("pending") or 0),
        consumers=0 if g is None else int(g.get("consumers") or 0),
    )  # fmt: skip


def _health(raw: Any) -> tuple[int, ...] | None:
    if raw is None:
        return None
    try:
        doc = orjson.loads(raw)
        return tuple(int(p) for p in doc["partitions"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def collect(client: redis.Redis, settings: Settings) -> StatusReport:
    s = settings
    pipe = client.pipeline(transaction=False)
    for p in range(s.partitions):
        stream = keys.stream_key(s.stream, p)
        pipe.get(keys.lease_key(s.stream, p))
        pipe.pttl(keys.lease_key(s.stream, p))
        pipe.xinfo_groups(stream)
        pipe.xlen(stream)
    pipe.xlen(keys.dead_letter_key(s.stream))
    pipe.hgetall(keys.MIGRATION_STATS_KEY)
    pipe.zrange(keys.workers_key(s.stream), 0, -1, withscores=True)
    pipe.time()
    beyond = [keys.stream_key(s.stream, p) for p in range(s.partitions, UNREAD_PROBE)]
    for stream in beyond:
        pipe.xlen(stream)  # 0 for a missing key; an error reply for a key of another type
    replies = pipe.execute(raise_on_error=False)
    lengths = replies[len(replies) - len(beyond):] if beyond else []
    replies = replies[:len(replies) - len(beyond)]
    unread = tuple((stream, n) for stream, n in zip(beyond, lengths, strict=True)
                   if isinstance(n, int) and n > 0)
    parts = tuple(
        _partition(p, keys.stream_key(s.stream, p), s.group, *replies[4 * p: 4 * p + 4])
        for p in range(s.partitions)
    )
    dead, stats, members, now = replies[4 * s.partitions:]
    now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
    live = [(text(w), int(score)) for w, score in members if int(score) > now_ms]
    health = client.mget([keys.worker_health_key(w) for w, _ in live]) if live else []
    workers = tuple(
        WorkerStatus(w, expiry - now_ms, _health(h))
        for (w, expiry), h in zip(live, health, strict=True)
    )
    return StatusReport(
        url=redacted_url(s.redis_url), stream=s.stream, group=s.group, partitions=parts,
        workers=workers, dead_letters=int(dead) if isinstance(dead, int) else 0,
        migration=progress_line(parse_stats(stats if isinstance(stats, dict) else {})),
        unread=unread,
    )


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def partitions_table(parts: Sequence[PartitionStatus]) -> Table:
    table = Table(title="Partitions", title_justify="left")
    for name, justify in (("partition", "left"), ("owner", "left"), ("lease", "right"),
                          ("length", "right"), ("lag", "right"), ("pending", "right"),
                          ("consumers", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for p in parts:
        lease = "–" if p.lease_ttl_ms is None else \
            f"gen {p.generation} · {p.lease_ttl_ms / 1000:.1f}s"
        owner = Text(p.owner) if p.owner else Text("unowned", style="bold red")
        lag = Text(_count(p.lag), style="yellow" if p.lag else "")
        table.add_row(p.stream, owner, lease, f"{p.length:,}", lag, _count(p.pending),
                      str(p.consumers))
    return table


def workers_table(workers: Sequence[WorkerStatus]) -> Table:
    table = Table(title="Live workers", title_justify="left")
    table.add_column("worker", no_wrap=True)
    table.add_column("partitions")
    table.add_column("heartbeat valid for", justify="right")
    for w in workers:
        parts = "?" if w.partitions is None else ", ".join(map(str, w.partitions)) or "none"
        table.add_row(w.worker, parts, f"{w.expires_in_ms / 1000:.1f}s")
    return table


def render(report: StatusReport) -> RenderableType:
    owned = sum(1 for p in report.partitions if p.owner)
    head = Text(f"{report.url} · stream {report.stream}:0..{len(report.partitions) - 1} · "
                f"group {report.group} · {owned}/{len(report.partitions)} partitions owned",
                style="bold")
    parts: list[RenderableType] = [head, partitions_table(report.partitions)]
    if report.workers:
        parts.append(workers_table(report.workers))
    else:
        parts.append(Text("No live workers: nothing is consuming the streams.", style="bold red"))
    if report.unread:
        listed = ", ".join(f"{stream} ({n:,})" for stream, n in report.unread)
        parts.append(Text(
            f"entries no worker reads: {listed}: a producer uses more partitions than the "
            f"service's {len(report.partitions)} (VOLUME_PARTITIONS)", style="bold red"))
    style = "bold red" if report.dead_letters else ""
    parts.append(Text(f"dead letters: {report.dead_letters:,} in "
                      f"{keys.dead_letter_key(report.stream)}", style=style))
    parts.append(Text(report.migration))
    return Group(*parts)


def run_status(settings: Settings, console: Console | None = None) -> int:
    """The `status` command; 1 when Redis cannot be reached."""
    console = console if console is not None else Console()
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    try:
        report = collect(client, settings)
    except redis.exceptions.ConnectionError as exc:
        console.print(f"status: cannot reach {redacted_url(settings.redis_url)}: {exc}",
                      markup=False, highlight=False)
        return 1
    finally:
        client.close()
    console.print(render(report))
    return 0
