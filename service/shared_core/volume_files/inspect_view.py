"""`volume-engine inspect SYMBOL`: one session's volume profile drawn in the terminal.

Everything is read through RedisVolumeGateway, so the picture is what a dashboard would read.
The histogram has one row per price level from the session low to the high (empty levels
included, as in the profile's definition), highest price on top; more than MAX_ROWS levels are
grouped into buckets of a round price width (1, 2, 2.5 or 5 x 10^n rupees, aligned to it), so
the labels read like a chart axis. The level grid is recovered from the written prices (their
greatest common step), since the profile hash stores prices, not the tick size.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce

import redis
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .redis_volume_gateway import (
    BaselineInfo,
    RedisVolumeGateway,
    SessionMetrics,
    VolumeProfileInfo,
)
from .settings import Settings, redacted_url

MAX_ROWS = 40
BAR_WIDTH = 48
_UNITS = 10_000  # prices are compared in 1/10000 rupee, exact for every NSE tick size


@dataclass(frozen=True, slots=True)
class InspectData:
    symbol: str
    session: SessionMetrics | None
    profile: VolumeProfileInfo | None
    baseline: BaselineInfo | None


@dataclass(frozen=True, slots=True)
class HistRow:
    """One histogram row: a price level, or a bucket of levels [low, high]."""

    low: float
    high: float
    volume: int
    in_value_area: bool
    is_poc: bool
    marks: tuple[str, ...]


def load(gateway: RedisVolumeGateway, symbol: str, day: date | None) -> InspectData | None:
    """The session, its profile and the baseline; None when the symbol has no session."""
    session = gateway.session_metrics(symbol, day)
    if session is None:
        return None
    profile = gateway.profile(symbol, session.date)
    return InspectData(symbol, session, profile, gateway.baseline(symbol))


def _units(price: float) -> int:
    return round(price * _UNITS)


def level_step(prices: Sequence[float]) -> int:
    """The grid step (in 1/10000) the prices lie on: the gcd of their differences."""
    units = sorted({_units(p) for p in prices})
    diffs = [b - a for a, b in itertools.pairwise(units)]
    step = reduce(math.gcd, diffs, 0)
    return step if step > 0 else 5 * _UNITS // 100  # one level: assume the 0.05 default


def bucket_width(step: int, low: int, high: int, max_rows: int) -> int:
    """The narrowest round price width (1, 2, 2.5 or 5 x 10^n rupees, a whole number of levels)
    whose aligned buckets fit in max_rows; whole levels when they already fit."""
    if (high - low) // step + 1 <= max_rows:
        return step
    for exponent in range(12):
        scale: int = 10**exponent
        for digit in (1.0, 2.0, 2.5, 5.0):
            width = round(digit * scale)
            if width > step and width % step == 0 and high // width - low // width + 1 <= max_rows:
                return width
    levels = (high - low) // step + 1
    return math.ceil(levels / max_rows) * step  # an odd grid: plain equal buckets


def histogram_rows(
    profile: VolumeProfileInfo, last_price: float | None = None, max_rows: int = MAX_ROWS
) -> list[HistRow]:
    """Rows from the session high down to the low, with POC / VA / S / R / last marks."""
    dist = profile.distribution
    if not dist:
        return []
    anchors = [*dist, profile.poc_price, profile.value_area_low, profile.value_area_high]
    step = level_step(anchors)
    low = min(_units(p) for p in anchors)
    high = max(_units(p) for p in anchors)
    width = bucket_width(step, low, high, max_rows)
    base = low // width if width != step else 0
    origin = base * width if width != step else low

    def row_of(price: float) -> int | None:
        u = _units(price)
        if u < low - step // 2 or u > high + step // 2:
            return None
        u = min(high, max(low, low + round((u - low) / step) * step))
        return (u - origin) // width

    n_rows = (high - origin) // width + 1
    volumes = [0] * n_rows
    for price, volume in dist.items():
        index = row_of(price)
        if index is not None:
            volumes[index] += volume
    marks: list[list[str]] = [[] for _ in range(n_rows)]

    def mark(price: float | None, label: str) -> None:
        index = None if price is None else row_of(price)
        if index is not None:
            marks[index].append(label)

    mark(profile.poc_price, "◀ POC")
    mark(profile.value_area_high, "VAH")
    mark(profile.value_area_low, "VAL")
    for n, price in enumerate(profile.support_levels, start=1):
        mark(price, f"S{n}")
    for n, price in enumerate(profile.resistance_levels, start=1):
        mark(price, f"R{n}")
    mark(last_price, "last")
    va_low = row_of(profile.value_area_low)
    va_high = row_of(profile.value_area_high)
    poc = row_of(profile.poc_price)
    rows: list[HistRow] = []
    for i in reversed(range(n_rows)):
        first = origin + i * width
        rows.append(HistRow(
            low=first / _UNITS,
            high=(first + width - step) / _UNITS,
            volume=volumes[i],
            in_value_area=va_low is not None and va_high is not None and va_low <= i <= va_high,
            is_poc=i == poc,
            marks=tuple(marks[i]),
        ))  # fmt: skip
    return rows


# -- Rendering ----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ",.2f") -> str:
    return "–" if value is None else format(value, spec)


def _grid(title: str, items: Sequence[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.title = title
    grid.title_justify = "left"
    grid.title_style = "bold"
    grid.add_column(style="dim")
    grid.add_column()
    for name, value in items:
        grid.add_row(name, value)
    return grid


def metrics_grid(s: SessionMetrics) -> Table:
    return _grid(f"Session {s.date}", [
        ("cumulative volume", f"{s.cumulative_volume:,}"),
        ("ticks", f"{s.tick_count:,}"),
        ("last price", _fmt(s.last_price)),
        ("minutes elapsed", _fmt(s.minutes_elapsed, ".1f")),
        ("RVOL", _fmt(s.rvol) if s.rvol is not None else "– (no baseline yet)"),
        ("expected volume", _fmt(s.expected_volume, ",.0f")),
        ("RVOL 1m", _fmt(s.rvol_1m)),
        ("flow 1m / 5m", f"{s.flow_rate_1m:,.0f} / {s.flow_rate_5m:,.0f} per min"),
        ("instrument", s.instrument_type or "–"),
        ("exchange time", s.exchange_timestamp.strftime("%H:%M:%S %z")),
    ])  # fmt: skip


def baseline_grid(b: BaselineInfo | None) -> Table:
    if b is None:
        return _grid("Baseline", [("", "none: no recorded session before this one")])
    return _grid("Baseline", [
        ("avg volume 20d", _fmt(b.avg_volume_20d, ",.0f")),
        ("baseline 1 min", _fmt(b.baseline_1min, ",.1f")),
        ("sessions", "–" if b.sessions is None else str(b.sessions)),
        ("F&O adjustment", _fmt(b.fno_adjustment, ".3f")),
        ("F&O", "yes" if b.is_fno else "no"),
    ])  # fmt: skip


def _prices(levels: Sequence[float]) -> str:
    return ", ".join(f"{p:,.2f}" for p in levels) or "–"


def profile_grid(p: VolumeProfileInfo) -> Table:
    return _grid("Volume profile", [
        ("POC", f"{p.poc_price:,.2f} ({p.poc_volume:,})"),
        ("value area (70%)", f"{p.value_area_low:,.2f} – {p.value_area_high:,.2f}"),
        ("profile strength", f"{p.profile_strength:.3f}"),
        ("total volume", f"{p.total_volume:,}"),
        ("support", _prices(p.support_levels)),
        ("resistance", _prices(p.resistance_levels)),
    ])  # fmt: skip


def bucket_size(rows: Sequence[HistRow]) -> float | None:
    """The price width of one row when levels are grouped, else None."""
    if len(rows) < 2 or all(r.low == r.high for r in rows):
        return None
    return round(rows[0].low - rows[1].low, 4)


def histogram(rows: Sequence[HistRow], width: int = BAR_WIDTH) -> Table:
    """Bucketed rows are labelled with their lowest price; the header gives the width."""
    top = max((r.volume for r in rows), default=0) or 1
    size = bucket_size(rows)
    table = Table(box=None, show_header=True, pad_edge=False, padding=(0, 1))
    table.add_column("price" if size is None else f"from (₹{size:g} rows)", justify="right",
                     no_wrap=True)
    table.add_column("volume", justify="right", no_wrap=True)
    table.add_column("VA", justify="center", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=width)
    table.add_column("", no_wrap=True)
    for r in rows:
        style = "bold yellow" if r.is_poc else "cyan" if r.in_value_area else "grey50"
        cells = round(r.volume / top * width * 8)
        bar = "█" * (cells // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[cells % 8]
        table.add_row(
            f"{r.low:,.2f}", f"{r.volume:,}", "│" if r.in_value_area else "",
            Text(bar, style=style), Text(" ".join(r.marks), style="bold" if r.marks else ""),
        )
    return table


def render(data: InspectData) -> RenderableType:
    parts: list[RenderableType] = []
    s = data.session
    head = f"{data.symbol}" + (f" · {s.date}" if s else "")
    parts.append(Text(head, style="bold underline"))
    side = Table.grid(padding=(0, 4))
    grids = [metrics_grid(s)] if s else []
    grids.append(baseline_grid(data.baseline))
    if data.profile is not None:
        grids.append(profile_grid(data.profile))
    side.add_row(*grids)
    parts.append(side)
    if data.profile is None or not data.profile.distribution:
        parts.append(Text("No volume profile: no traded volume in this session yet "
                          "(indices carry no volume).", style="yellow"))
        return Group(*parts)
    rows = histogram_rows(data.profile, s.last_price if s else None)
    size = bucket_size(rows)
    grouped = "" if size is None else f", levels grouped into ₹{size:g} rows"
    parts.append(Text.assemble(
        f"\nVolume at price{grouped}: ", ("█", "bold yellow"), " POC ", ("█", "cyan"),
        " value area (│) ", ("█", "grey50"), " outside · VAH/VAL value area bounds · "
        "S/R support/resistance, nearest first",
    ))
    parts.append(histogram(rows))
    return Group(*parts)


def no_data_message(symbol: str, day: date | None, url: str) -> str:
    when = f"on {day}" if day else "in any session"
    return (f"No data for {symbol!r} {when} in {redacted_url(url)}. Symbols are spelled as on "
            "the stream (e.g. RELIANCE, NIFTY25DECFUT, NIFTY25DEC26000CE); check --redis-url "
            "(the database the service writes, usually /1) and --date.")


def run_inspect(settings: Settings, symbol: str, day: date | None,
                console: Console | None = None) -> int:
    """The `inspect` command; 1 when the symbol has no data or Redis cannot be reached."""
    console = console if console is not None else Console()
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    try:
        data = load(RedisVolumeGateway(client), symbol, day)
    except redis.exceptions.ConnectionError as exc:
        console.print(f"inspect: cannot reach {redacted_url(settings.redis_url)}: {exc}",
                      markup=False, highlight=False)
        return 1
    finally:
        client.close()
    if data is None:
        console.print(no_data_message(symbol, day, settings.redis_url), markup=False,
                      highlight=False)
        return 1
    console.print(render(data))
    return 0
