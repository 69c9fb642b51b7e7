"""`volume-engine demo`: the whole service on one machine, in a terminal, in half a minute.

It starts a private redis-server (or uses `--redis-url`), seeds 20 previous sessions of daily
volume so RVOL has a baseline, starts the real VolumeService in-process, and replays a seeded NSE
session from the simulator (index, futures, weekly and monthly options, equities) into the
partitioned streams at a steady rate, so the whole 09:15-15:30 exchange session passes within
`--duration`. The live table is read through the gateway, exactly as a dashboard would read it.
It ends with the redis-cli commands that show the same keys.

The demo writes fake history for real symbol names; it refuses a `--redis-url` database that is
not empty unless `--force`, and it never follows VOLUME_REDIS_URL on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import shlex
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import redis.asyncio as aredis
from redis.exceptions import ResponseError
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .core_config import load_core_config
from .dev.local_redis import INSTALL_HINT, RedisServer, RedisServerNotFoundError
from .engine_core import CoreConfig
from .logs import configure_logging
from .market_clock import MarketCalendar
from .redis_volume_gateway import AsyncRedisVolumeGateway, PocInfo, SessionMetrics
from .settings import Settings, redacted_url
from .simulator import SimInstrument, build_universe, simulate_ticks
from .store import codec, keys
from .store.wire import text
from .stream.producer import TickProducer

DEFAULT_DATE = date(2025, 12, 9)  # a Tuesday: NIFTY weekly expiry, December monthly still ahead
TICKS_PER_SECOND = 2000  # default --ticks is this times --duration
HISTORY_SESSIONS = 20
TOP = 15
QUOTA = (("future", 4), ("equity", 5), ("option", 6))  # rows per kind in the live table
REFRESH_S = 0.5
HEADLESS_EVERY_S = 1.0
PUBLISH_SHARE = 0.85  # publish over this share of --duration, leaving time to drain
DRAIN_GRACE_S = 20.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    duration: float = 30.0
    symbols: int = 200
    ticks: int | None = None
    headless: bool = False
    keep: bool = False
    redis_url: str | None = None
    session_date: date = DEFAULT_DATE
    seed: int = 7
    force: bool = False

    @property
    def n_ticks(self) -> int:
        if self.ticks is not None:
            return self.ticks
        return max(1000, int(TICKS_PER_SECOND * self.duration))


Row = tuple[str, SessionMetrics | None, PocInfo | None]


# -- Pure helpers -------------------------------------------------------------------------------


def tick_volume(entry: Mapping[str, str]) -> int:
    """The quantity a simulated tick traded (per-tick or Kite-style cumulative form)."""
    return int(entry.get("volume") or entry.get("last_traded_quantity") or 0)


def session_totals(ticks: Iterable[Mapping[str, str]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for entry in ticks:
        totals[entry["symbol"]] += tick_volume(entry)
    return {s: v for s, v in totals.items() if v > 0}


def history_days(calendar: MarketCalendar, day: date, n: int = HISTORY_SESSIONS) -> list[date]:
    """The n trading days before `day`, oldest first."""
    out: list[date] = []
    current = day
    for _ in range(n):
        current = calendar.previous_trading_day(current)
        out.append(current)
    return out[::-1]


def fno_adjustments(
    core: CoreConfig, universe: Sequence[SimInstrument], day: date
) -> dict[str, float]:
    """The F&O factor the engine will apply to each symbol's expected volume today."""
    spots = {i.underlying: i.price for i in universe if i.kind in ("equity", "index")}
    out: dict[str, float] = {}
    for sim in universe:
        inst = core.registry.resolve(sim.symbol, day)
        dte = None if inst.expiry is None else core.calendar.days_to_expiry(day, inst.expiry)
        out[sim.symbol] = core.baselines.multipliers.adjustment(
            inst.kind, days_to_expiry=dte, strike=inst.strike,
            underlying_price=spots.get(sim.underlying),
        )
    return out


def history_writes(
    totals: Mapping[str, int], days: Sequence[date], seed: int,
    adjustments: Mapping[str, float] | None = None,
) -> dict[str, dict[str, str]]:
    """`vol:history` fields per symbol: today's simulated volume over the F&O factor (so an
    expiry-day surge reads as one), times a per-symbol trend (so RVOL differs between symbols)
    and day-to-day noise, as real volume does."""
    rng = random.Random(f"{seed}:history")
    out: dict[str, dict[str, str]] = {}
    for symbol in sorted(totals):
        level = totals[symbol] / (adjustments or {}).get(symbol, 1.0)
        trend = rng.lognormvariate(0.0, 0.35)
        out[symbol] = {
            d.isoformat(): codec.fmt_int(max(1, round(level * trend *
                                                      rng.lognormvariate(0.0, 0.15))))
            for d in days
        }
    return out


def pick_rows(published: Counter[str], kinds: Mapping[str, str], top: int = TOP) -> list[str]:
    """The busiest symbols of each kind (futures, equities, options; indices carry no volume),
    topped up with the busiest of the rest."""
    ranked = [s for s, _ in published.most_common() if kinds.get(s) != "index"]
    chosen: list[str] = []
    for kind, n in QUOTA:
        chosen += [s for s in ranked if kinds.get(s) == kind][:n]
    taken = set(chosen)
    chosen += [s for s in ranked if s not in taken][: max(0, top - len(chosen))]
    return chosen[:top]


def redis_cli(url: str) -> str:
    """The redis-cli prefix that reaches the database in `url` (password asked, never shown)."""
    parts = urlsplit(url)
    db = (parts.path or "/0").strip("/") or "0"
    if parts.scheme == "unix":
        args = ["redis-cli", "-s", parts.path]
        db = "0"
    else:
        args = ["redis-cli"]
        if parts.hostname not in (None, "127.0.0.1", "localhost"):
            args += ["-h", parts.hostname]
        args += ["-p", str(parts.port or 6379)]
        if parts.scheme == "rediss":
            args.append("--tls")
    if parts.password:
        args.append("--askpass")
    return " ".join([*args, "-n", db])


def busiest(universe: Sequence[SimInstrument], published: Counter[str], kind: str) -> str | None:
    ranked = [i.symbol for i in universe if i.kind == kind and published[i.symbol]]
    return max(ranked, key=lambda s: published[s], default=None)


def hints(url: str, day: date, universe: Sequence[SimInstrument], published: Counter[str],
          *, cli_url: str) -> list[str]:
    """redis-cli (and volume-engine) commands that show the keys the demo left."""
    cli = redis_cli(url)
    d = day.isoformat()
    future = busiest(universe, published, "future")
    option = busiest(universe, published, "option")
    equity = busiest(universe, published, "equity")
    main = future or option or equity
    lines: list[str] = []
    if main is not None:
        q = shlex.quote
        lines += [
            f"{cli} HGETALL {q(keys.session_key(main, d))}",
            f"{cli} HGETALL {q(keys.baseline_key(main))}",
            f"{cli} HGETALL {q(keys.poc_key(main))}",
            f"{cli} HGET {q(keys.profile_session_key(main, d))} price_volume_distribution",
        ]
        if option is not None and option != main:
            lines.append(f"{cli} HGETALL {q(keys.session_key(option, d))}")
        if equity is not None:
            lines.append(f"{cli} HGETALL {q(keys.legacy_key(equity))}")
        lines.append(f"{cli} --scan --pattern 'vol:session:*:{d}' | head")
        engine = f"volume-engine --redis-url {q(cli_url)}"
        lines += [f"{engine} inspect {q(main)} --date {d}", f"{engine} status"]
    return lines


# -- Rendering ----------------------------------------------------------------------------------


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "–" if value is None else format(value, fmt)


def _price(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _rvol(value: float | None) -> Text:
    if value is None:
        return Text("–", style="dim")
    style = "bold green" if value >= 1.5 else "dim" if value < 0.67 else ""
    return Text(f"{value:.2f}", style=style)


def render_table(rows: Sequence[Row], title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("Symbol", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    for name in ("Last", "Volume", "RVOL", "Flow 1m", "Flow 5m", "POC"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Value area", justify="center", no_wrap=True)
    for symbol, m, p in rows:
        table.add_row(
            symbol,
            (m.instrument_type or "") if m else "",
            _price(m.last_price if m else None),
            _num(m.cumulative_volume if m else None),
            _rvol(m.rvol if m else None),
            _num(m.flow_rate_1m if m else None),
            _num(m.flow_rate_5m if m else None),
            _price(p.poc_price if p else None),
            "–" if p is None else f"{p.value_area_low:,.2f} – {p.value_area_high:,.2f}",
        )
    return table


def headless_line(elapsed: float, status: str, rows: Sequence[Row]) -> str:
    parts = [f"[{elapsed:5.1f}s] {status}"]
    for symbol, m, p in rows[:3]:
        if m is None:
            continue
        rvol = "–" if m.rvol is None else f"{m.rvol:.2f}"
        poc = "–" if p is None else f"{p.poc_price:g}"
        parts.append(f"{symbol} vol={m.cumulative_volume:,} rvol={rvol} poc={poc}")
    return " | ".join(parts)


# -- Running ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Feed:
    """The replay: what is published so far, paced to finish within the publish window."""

    ticks: list[dict[str, str]]
    producer: TickProducer
    window_s: float
    sent: int = 0
    published: Counter[str] = dataclasses.field(default_factory=Counter)

    async def pump(self, elapsed: float, limit: int = 5000) -> None:
        target = len(self.ticks) if elapsed >= self.window_s else \
            int(len(self.ticks) * elapsed / self.window_s)
        target = min(target, self.sent + limit)
        if target <= self.sent:
            return
        chunk = self.ticks[self.sent:target]
        await self.producer.publish(chunk)
        self.published.update(t["symbol"] for t in chunk)
        self.sent = target

    @property
    def done(self) -> bool:
        return self.sent >= len(self.ticks)

    def clock(self) -> str:
        """Exchange time of the latest published tick (HH:MM:SS)."""
        return self.ticks[self.sent - 1]["timestamp"][11:19] if self.sent else "09:15:00"


async def backlog(client: aredis.Redis, settings: Settings) -> int:
    """Entries not yet delivered plus delivered but unacknowledged, over all partitions."""
    total = 0
    for p in range(settings.partitions):
        with contextlib.suppress(ResponseError):
            for g in await client.xinfo_groups(keys.stream_key(settings.stream, p)):
                if text(g["name"]) == settings.group:
                    total += int(g.get("pending") or 0) + int(g.get("lag") or 0)
    return total


class _View:
    """Live table on a terminal, periodic plain lines otherwise."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live: Live | None = Live(console=console, refresh_per_second=4, transient=False) \
            if live else None
        self.last_line = -HEADLESS_EVERY_S

    def __enter__(self) -> _View:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def show(self, elapsed: float, status: str, rows: Sequence[Row], title: str) -> None:
        if self.live is not None:
            table = render_table(rows, title)
            renderable: RenderableType = Group(Text(status, style="cyan"), table)
            self.live.update(renderable, refresh=True)
        elif elapsed - self.last_line >= HEADLESS_EVERY_S:
            self.last_line = elapsed
            print(headless_line(elapsed, status, rows), flush=True)


async def _seed(client: aredis.Redis, fields: Mapping[str, Mapping[str, str]]) -> None:
    pipe = client.pipeline(transaction=False)
    for symbol, days in fields.items():
        flat = [x for item in days.items() for x in item]
        pipe.execute_command("HSET", keys.history_key(symbol), *flat)
    await pipe.execute()


async def _replay(opts: DemoOptions, settings: Settings, url: str, console: Console,
                  live: bool) -> tuple[list[str], bool]:
    """Seed, run the service, replay, show; returns (hint lines, interrupted)."""
    from .stream.runtime import VolumeService

    core = load_core_config(settings)
    day = opts.session_date
    universe = build_universe(opts.symbols, session_date=day, seed=opts.seed)
    ticks = list(simulate_ticks(universe, session_date=day, n_ticks=opts.n_ticks, seed=opts.seed))
    kinds = {i.symbol: i.kind for i in universe}

    client = aredis.from_url(url)
    gateway = AsyncRedisVolumeGateway(client)
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    service = VolumeService(settings, core_config=core)
    task = asyncio.create_task(service.run(install_signals=False), name="volume-service")
    feed = _Feed(ticks, TickProducer(client, stream=settings.stream,
                                     partitions=settings.partitions),
                 window_s=max(0.5, opts.duration * PUBLISH_SHARE))
    title = f"Busiest symbols · NSE session {day} · read through RedisVolumeGateway"
    rows: list[Row] = []
    try:
        await _seed(client, history_writes(
            session_totals(ticks), history_days(core.calendar, day), opts.seed,
            fno_adjustments(core, universe, day),
        ))
        start = loop.time()
        last_refresh = -REFRESH_S
        drained = False
        with _View(console, live) as view:
            while not interrupted.is_set() and not task.done():
                elapsed = loop.time() - start
                await feed.pump(elapsed)
                if elapsed - last_refresh >= REFRESH_S or feed.done:
                    last_refresh = elapsed
                    pending = await backlog(client, settings)
                    drained = feed.done and pending == 0
                    top = pick_rows(feed.published, kinds)
                    sessions = await gateway.many_session_metrics(top, day=day)
                    pocs = await gateway.many_poc(top)
                    rows = [(s, sessions.get(s), pocs.get(s)) for s in top]
                    status = (f"exchange time {feed.clock()} IST · published "
                              f"{feed.sent:,}/{len(ticks):,} ticks · backlog {pending:,}")
                    if service.metrics_port is not None:
                        status += f" · metrics http://127.0.0.1:{service.metrics_port}/metrics"

                    view.show(elapsed, status, rows, title)
                    if drained or elapsed > opts.duration + DRAIN_GRACE_S:
                        break
                await asyncio.sleep(0.05)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        service.request_stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        await client.aclose()
    if not live:
        console.print(render_table(rows, title))
    if not drained and not interrupted.is_set():
        print(f"demo: the service had not caught up after {opts.duration + DRAIN_GRACE_S:.0f}s",
              file=sys.stderr)
    return hints(url, day, universe, feed.published, cli_url=url), interrupted.is_set()


def _check_target(url: str, force: bool) -> str | None:
    """Why an existing Redis must not be used, or None."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        size = int(client.dbsize())
    except redis.exceptions.RedisError as exc:
        return f"cannot reach {redacted_url(url)}: {exc}"
    finally:
        client.close()
    if size and not force:
        return (f"{redacted_url(url)} already holds {size} keys; the demo writes sample data "
                "(fake history for real symbols). Use an empty database, or pass --force.")
    return None


def run_demo(opts: DemoOptions, settings: Settings, console: Console | None = None) -> int:
    """The `demo` command; returns the exit code."""
    tty = sys.stdout.isatty()
    console = console if console is not None else Console(width=None if tty else 120)
    live = tty and not opts.headless
    server: RedisServer | None = None
    if opts.redis_url:
        url = opts.redis_url
        problem = _check_target(url, opts.force)
        if problem:
            print(f"demo: {problem}", file=sys.stderr)
            return 2
    else:
        try:
            server = RedisServer(new_session=True)
        except RedisServerNotFoundError:
            print(f"demo: {INSTALL_HINT}", file=sys.stderr)
            return 2
        server.start()
        url = server.url
    configure_logging("error", worker=None)  # JSON logs would tear the live table
    settings = dataclasses.replace(
        settings, redis_url=url, metrics_port=0, flush_interval_ms=100, block_ms=200,
        worker_id=f"demo-{os.getpid()}", log_level="error",
    )
    started = time.monotonic()
    try:
        lines, interrupted = asyncio.run(_replay(opts, settings, url, console, live))
    finally:
        if server is not None and not opts.keep:
            server.close()
    took = time.monotonic() - started
    print(f"\ndemo: replayed {opts.n_ticks:,} ticks of {opts.symbols} symbols in {took:.1f}s "
          f"into {redacted_url(url)}")
    kept = server is None or opts.keep
    if server is not None and opts.keep:
        pid = server.detach()
        print(f"redis-server left running (pid {pid}, data in {server.dir}); "
              f"stop it with: {redis_cli(url)} shutdown nosave")
    print("Look at the same keys yourself:" if kept else
          "The keys it wrote (run with --keep to leave the server up so these work):")
    for line in lines:
        print(f"  {line}")
    return 130 if interrupted else 0
