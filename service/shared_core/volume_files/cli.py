"""`volume-engine`: run the service, publish ticks, import baselines, look at the state.

Each command is a small function; argument parsing and settings errors live here so that a bad
setting ends start-up with one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import orjson
import redis
import redis.asyncio as aredis

from . import cores
from ._version import __version__
from .logs import configure_logging
from .settings import Settings, SettingsError, load_settings
from .stream.producer import TickProducer


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    overrides = {}
    if getattr(args, "redis_url", None):
        overrides["redis_url"] = args.redis_url
    if overrides:
        import dataclasses

        settings = dataclasses.replace(settings, **overrides)
    return settings


# -- run ----------------------------------------------------------------------------------------


def tune_gc(gen0_threshold: int) -> None:
    """Collect the young generation every `gen0_threshold` allocations instead of 700.

    A worker holds millions of long-lived objects (sessions, profile levels) and makes mostly
    acyclic garbage that reference counting frees, so the default thresholds spend ~20% of its
    CPU in collections that find nothing, and the full collections they trigger are the worst
    pauses in publish-to-visible latency (`python -m bench --gc-gen0 0` measures the defaults).
    """
    if gen0_threshold > 0:
        gc.set_threshold(gen0_threshold, 50, 1000)


def cmd_run(args: argparse.Namespace) -> int:
    from .stream.runtime import VolumeService

    settings = _settings(args)
    configure_logging(settings.log_level, worker=settings.worker_id)
    tune_gc(settings.gc_gen0_threshold)
    service = VolumeService(settings)
    asyncio.run(service.run())
    return 0


# -- publish ------------------------------------------------------------------------------------


def read_tick_file(path: Path) -> Iterator[dict[str, str]]:
    """CSV with a header row, or JSON lines (one tick object per line)."""
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    obj = orjson.loads(line)
                    yield {str(k): v if isinstance(v, str) else orjson.dumps(v).decode()
                           for k, v in obj.items()}
        return
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            yield {k: v for k, v in row.items() if k and v not in (None, "")}


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        n = sum(1 for _ in fh)
    return n - (0 if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else 1)


async def _publish(settings: Settings, entries: Iterator[dict[str, str]], total: int,
                   rate: float, quiet: bool, tokens: Mapping[int, str] | None = None) -> int:
    from rich.progress import Progress

    client = aredis.from_url(settings.redis_url)
    producer = TickProducer(client, stream=settings.stream, partitions=settings.partitions,
                            tokens=tokens or {})
    sent = 0
    chunk: list[dict[str, str]] = []
    step = max(1, min(1000, int(rate / 10) if rate else 1000))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with Progress(disable=quiet, transient=False) as progress:
        task = progress.add_task("publishing", total=total or None)
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= step:
                sent += await producer.publish(chunk)
                progress.update(task, completed=sent)
                chunk = []
                if rate:
                    ahead = sent / rate - (loop.time() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        if chunk:
            sent += await producer.publish(chunk)
            progress.update(task, completed=sent)
    await client.aclose()
    return sent


def cmd_publish(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.simulate:
        from .simulator import build_universe, simulate_ticks

        day = date.fromisoformat(args.date) if args.date else date.today()
        universe = build_universe(args.symbols, session_date=day, seed=args.seed)
        entries = simulate_ticks(universe, session_date=day, n_ticks=args.ticks, seed=args.seed)
        total = args.ticks
    else:
        if args.file is None:
            print("publish: give a FILE or --simulate", file=sys.stderr)
            return 2
        path = Path(args.file)
        if not path.is_file():
            print(f"publish: no such file {path}", file=sys.stderr)
            return 2
        entries = read_tick_file(path)
        total = _count_lines(path)
    tokens = None if args.simulate else shared_tokens(settings)
    sent = asyncio.run(_publish(settings, entries, total, args.rate, args.quiet, tokens))
    print(f"published {sent} ticks to {settings.stream}:0..{settings.partitions - 1}")
    return 0


def shared_tokens(settings: Settings) -> Mapping[int, str]:
    """Token -> symbol of the shared master (else VOLUME_INSTRUMENTS_CSV's), to route by symbol."""
    from .core_config import load_core_config
    from .store.instruments_store import adopt_shared_master

    registry = load_core_config(settings).registry
    client = redis.Redis.from_url(settings.redis_url)
    try:
        adopt_shared_master(client, registry)
    finally:
        client.close()
    return registry.tokens


# -- instruments --------------------------------------------------------------------------------


def cmd_instruments_import(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from .core_config import load_core_config
    from .instruments_import import import_instruments_file
    from .instruments_master import MasterFormatError
    from .store.instruments_store import StoredMasterError

    settings = _settings(args)
    calendar = load_core_config(settings).calendar
    path = Path(args.file)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        result = import_instruments_file(client, path, calendar=calendar, now=datetime.now(UTC))
    except (MasterFormatError, StoredMasterError, OSError) as exc:
        print(f"instruments import: {path}: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(result.summary())
    for problem in result.problems[:50]:
        print(f"  skipped {problem}")
    if len(result.problems) > 50:
        print(f"  ... and {len(result.problems) - 50} more")
    return 0


# -- baselines ----------------------------------------------------------------------------------


def cmd_baselines_import(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from .baseline_import import ImportFormatError, import_file
    from .core_config import load_core_config

    settings = _settings(args)
    client = redis.Redis.from_url(settings.redis_url)
    path = Path(args.file)
    with Progress(disable=args.quiet) as progress:
        task = progress.add_task("importing", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = import_file(client, path, progress=report,
                                 core_config=load_core_config(settings))
        except (ImportFormatError, OSError) as exc:
            print(f"baselines import: {path}: {exc}", file=sys.stderr)
            return 1
    print(result.summary())
    for line_no, reason in result.skipped[:50]:
        print(f"  skipped line {line_no}: {reason}")
    if len(result.skipped) > 50:
        print(f"  ... and {len(result.skipped) - 50} more")
    return 0


# -- migration ----------------------------------------------------------------------------------


def cmd_migration(args: argparse.Namespace) -> int:
    from .key_usage_tracker import parse_stats, progress_line
    from .store import keys

    settings = _settings(args)
    client = redis.Redis.from_url(settings.redis_url)
    print(progress_line(parse_stats(client.hgetall(keys.MIGRATION_STATS_KEY))))
    return 0


# -- demo, inspect, status -----------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DEFAULT_DATE, DemoOptions, run_demo

    options = DemoOptions(
        duration=args.duration, symbols=args.symbols, ticks=args.ticks, headless=args.headless,
        keep=args.keep, redis_url=getattr(args, "redis_url", None), force=args.force,
        session_date=date.fromisoformat(args.date) if args.date else DEFAULT_DATE,
        seed=args.seed,
    )
    return run_demo(options, load_settings())


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect_view import run_inspect

    day = date.fromisoformat(args.date) if args.date else None
    return run_inspect(_settings(args), args.symbol, day)


def cmd_status(args: argparse.Namespace) -> int:
    from .status_view import run_status

    return run_status(_settings(args))


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _natural(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _iso_date(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None
    return text


def _add_view_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    url_help = "overrides VOLUME_REDIS_URL (may also be given before the command)"
    demo = sub.add_parser(
        "demo", help="replay a simulated NSE session through a private Redis and watch it live",
        description="Start a private redis-server and the service in-process, seed 20 sessions "
                    "of history, replay a simulated NSE session (index, futures, weekly and "
                    "monthly options, equities) within --duration and show the busiest "
                    "symbols live, read through the gateway.",
    )
    demo.add_argument("--duration", type=_positive, default=30.0,
                      help="seconds the replayed session takes (default 30)")
    demo.add_argument("--symbols", type=_natural, default=200, help="instruments (default 200)")
    demo.add_argument("--ticks", type=_natural, default=None,
                      help="ticks to replay (default 2000 per second of --duration)")
    demo.add_argument("--headless", action="store_true",
                      help="plain periodic lines instead of the live table (also when not a TTY)")
    demo.add_argument("--keep", action="store_true",
                      help="leave the private redis-server running so the printed commands work")
    demo.add_argument("--redis-url", default=argparse.SUPPRESS,
                      help="use this (empty, scratch) Redis instead of starting one; "
                           "VOLUME_REDIS_URL is deliberately not used")
    demo.add_argument("--force", action="store_true",
                      help="with --redis-url: write into a database that is not empty")
    demo.add_argument("--date", type=_iso_date, help="session date (default 2025-12-09)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    ins = sub.add_parser("inspect", help="draw a symbol's session volume profile and metrics")
    ins.add_argument("symbol", help="as on the stream, e.g. RELIANCE or NIFTY25DECFUT")
    ins.add_argument("--date", type=_iso_date, help="session date (default: the latest)")
    ins.add_argument("--redis-url", default=argparse.SUPPRESS, help=url_help)
    ins.set_defaults(func=cmd_inspect)

    st = sub.add_parser("status", help="partitions, owners, lag, dead letters, live workers")
    st.add_argument("--redis-url", default=argparse.SUPPRESS, help=url_help)
    st.set_defaults(func=cmd_status)


def version_text(env: Mapping[str, str] | None = None) -> str:
    """`volume-engine 0.1.0` and `core: native` (or python), as VOLUME_CORE resolves here."""
    choice = (os.environ if env is None else env).get("VOLUME_CORE", "auto")
    try:
        core = cores.resolve(choice)
    except ValueError as exc:
        core = f"unavailable (VOLUME_CORE: {exc})"
    return f"volume-engine {__version__}\ncore: {core}"


class _Version(argparse.Action):
    """argparse's version action rewraps the text; this prints it line for line."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="volume-engine", description=__doc__)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the version and the tick core this install runs, and exit")
    parser.add_argument("--redis-url", help="overrides VOLUME_REDIS_URL")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="consume the tick streams and write metrics (the service)")
    run.set_defaults(func=cmd_run)

    pub = sub.add_parser("publish", help="publish ticks from a CSV/JSON-lines file or simulate")
    pub.add_argument("file", nargs="?", help="CSV with a header row, or .jsonl")
    pub.add_argument("--simulate", action="store_true", help="publish a simulated NSE session")
    pub.add_argument("--symbols", type=int, default=500)
    pub.add_argument("--ticks", type=int, default=100_000)
    pub.add_argument("--date", help="session date for --simulate (YYYY-MM-DD)")
    pub.add_argument("--seed", type=int, default=7)
    pub.add_argument("--rate", type=float, default=0.0, help="ticks per second (0 = as fast)")
    pub.add_argument("--quiet", action="store_true")
    pub.set_defaults(func=cmd_publish)

    base = sub.add_parser("baselines", help="baseline history")
    base_sub = base.add_subparsers(dest="baselines_command", required=True)
    imp = base_sub.add_parser("import", help="import daily volume history (bhavcopy or plain CSV)")
    imp.add_argument("file")
    imp.add_argument("--quiet", action="store_true")
    imp.set_defaults(func=cmd_baselines_import)

    ins = sub.add_parser("instruments", help="the shared instruments master")
    ins_sub = ins.add_subparsers(dest="instruments_command", required=True)
    ins_imp = ins_sub.add_parser(
        "import", help="load Kite's instruments dump (.csv or .csv.gz) for every worker",
        description="Replace the instruments master in Redis atomically; running workers pick "
                    "it up within VOLUME_INSTRUMENTS_POLL_MS. Malformed rows are listed with "
                    "their line and skipped.",
    )
    ins_imp.add_argument("file")
    ins_imp.set_defaults(func=cmd_instruments_import)

    mig = sub.add_parser("migration", help="dual-write migration progress")
    mig.set_defaults(func=cmd_migration)

    _add_view_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"volume-engine: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
