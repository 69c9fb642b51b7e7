"""Seeded NSE market simulator for the demo, the tests and the benchmarks.

Pure: no I/O, no clock; every random draw comes from a `random.Random` seeded by the caller, so a
seed reproduces the same universe and the same tick stream byte for byte.

Universe (`build_universe`): the four NSE indices (NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY) and
~150 real F&O stocks with approximate late-2025 prices and lot sizes; their equities, index and
stock futures, NIFTY weekly options (NSE lists weeklies only on NIFTY since 2024-11-20; that rule
is used for every date), and index and stock monthly options around spot. Symbols are Kite
tradingsymbols: `RELIANCE`, `NIFTY25DECFUT`, `NIFTY25DEC26000CE`, weekly `NIFTY25D0926000CE`
(YY, month digit 1-9/O/N/D, DD). A weekly that falls on the monthly expiry takes the monthly
form, as on NSE. Expiries follow a `MarketCalendar`'s rule (the monthly expiry: the last Tuesday
of the month from 2025-09-01, the last Thursday before, moved back over the calendar's holidays);
by default one without holidays, so a seed's universe does not depend on a holiday table.
The universe grows (more strikes, then more expiries, then synthetic stocks `STK0001`, ...)
until it reaches `n_symbols`, and is then cut to exactly `n_symbols` by dropping the least
active instruments, so small universes keep the busiest names.

Ticks (`simulate_ticks`): flat string fields as a crawler writes them to a stream, in
non-decreasing exchange time. Activity is heavy tailed (ATM near-expiry options and index futures
busiest), volumes are Pareto-like (whole lots for F&O), prices random-walk in whole ticks with a
per-tick step scaled so a symbol's move over the window does not depend on `n_ticks`.

Equities trade like real ones whatever `n_ticks` is: each has a typical session volume
(`SimInstrument.session_volume`, from a turnover that falls with its activity rank: about
Rs 2,000 crore a session for the busiest stock, so RELIANCE trades ~13 million shares and
YESBANK ~35 million), and a tick's size unit is that volume over the ticks the symbol gets, so
the window's total matches it in expectation (a simulated tick stands for many real trades).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .market_clock import MarketCalendar

__all__ = [
    "INDEX_NAMES",
    "STOCK_NAMES",
    "SimInstrument",
    "build_universe",
    "default_intensity",
    "equity_session_volume",
    "mean_size_units",
    "monthly_expiry",
    "simulate_ticks",
    "stock_strike_step",
]

KINDS = frozenset({"equity", "index", "future", "option"})
VOLUME_FORMS = frozenset({"incremental", "cumulative", "mixed"})
SESSION_MINUTES = 375
_OPEN_MINUTE = 9 * 60 + 15
_NSE_RULES = MarketCalendar()  # the exchange's expiry weekdays, no holidays
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTH = "123456789OND"


MAX_TRADE_UNITS = 50  # lots (F&O) or size units (cash) per tick at the most
TOP_TURNOVER_RS = 2.0e10  # a session's traded value of the busiest NSE stock, roughly
_TURNOVER_DECAY = 0.8  # turnover of the stock at activity rank r: TOP / (r + 1) ** decay
_SIZE_TAIL = 1.3  # Pareto tail index of trade sizes


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """One simulated tradable; `activity` is its relative tick rate (busiest = 1.0)."""

    symbol: str
    kind: str  # "equity" | "index" | "future" | "option"
    underlying: str
    price: float
    tick_size: float
    activity: float
    lot_size: int = 1
    expiry: date | None = None
    strike: float | None = None
    option_type: str | None = None  # "CE" | "PE"
    session_volume: int = 0  # equities: typical shares a whole session (0: the generic sizes)


# (name, spot, lot size, strike step, popularity)
_INDICES: tuple[tuple[str, float, int, float, float], ...] = (
    ("NIFTY", 26000.0, 75, 50.0, 1.0),
    ("BANKNIFTY", 59000.0, 35, 100.0, 0.55),
    ("FINNIFTY", 27500.0, 65, 50.0, 0.10),
    ("MIDCPNIFTY", 13500.0, 140, 25.0, 0.08),
)
_WEEKLY_INDICES = frozenset({"NIFTY"})

# (tradingsymbol, approximate price, lot size), roughly by trading activity.
_STOCKS: tuple[tuple[str, float, int], ...] = (
    ("RELIANCE", 1500, 500), ("HDFCBANK", 1000, 550), ("ICICIBANK", 1400, 700),
    ("INFY", 1550, 400), ("TCS", 3100, 175), ("SBIN", 950, 750), ("BHARTIARTL", 2100, 475),
    ("ITC", 410, 1600), ("LT", 4000, 175), ("KOTAKBANK", 2100, 400), ("AXISBANK", 1250, 625),
    ("HINDUNILVR", 2400, 300), ("BAJFINANCE", 1000, 750), ("MARUTI", 16000, 50),
    ("SUNPHARMA", 1800, 350), ("M&M", 3600, 200), ("TITAN", 3700, 175),
    ("ULTRACEMCO", 12000, 50), ("NTPC", 330, 1500), ("POWERGRID", 290, 1900),
    ("TATASTEEL", 170, 5500), ("ONGC", 245, 2250), ("ASIANPAINT", 2500, 250),
    ("HCLTECH", 1600, 350), ("WIPRO", 250, 3000), ("NESTLEIND", 1250, 500),
    ("ADANIENT", 2400, 300), ("ADANIPORTS", 1450, 475), ("JSWSTEEL", 1150, 675),
    ("COALINDIA", 390, 1350), ("BAJAJFINSV", 2000, 250), ("HINDALCO", 800, 700),
    ("GRASIM", 2700, 250), ("TECHM", 1500, 600), ("DRREDDY", 1250, 625), ("CIPLA", 1500, 375),
    ("EICHERMOT", 7000, 175), ("BAJAJ-AUTO", 9000, 75), ("HEROMOTOCO", 5500, 150),
    ("BRITANNIA", 5900, 125), ("APOLLOHOSP", 7300, 125), ("DIVISLAB", 6500, 100),
    ("TATACONSUM", 1150, 550), ("SBILIFE", 1950, 375), ("HDFCLIFE", 760, 1100),
    ("INDUSINDBK", 850, 700), ("SHRIRAMFIN", 800, 825), ("BEL", 410, 1425), ("TRENT", 4300, 100),
    ("ETERNAL", 300, 2425), ("JIOFIN", 300, 2350), ("HAL", 4600, 150), ("BPCL", 360, 1975),
    ("IOC", 165, 4875), ("GAIL", 180, 3150), ("VEDL", 520, 1150), ("TATAPOWER", 390, 1450),
    ("DLF", 750, 825), ("PIDILITIND", 1500, 500), ("SIEMENS", 3100, 125), ("ABB", 5200, 125),
    ("DABUR", 500, 1250), ("GODREJCP", 1150, 500), ("HAVELLS", 1500, 500),
    ("AMBUJACEM", 560, 1050), ("SHREECEM", 27000, 25), ("ACC", 1850, 300),
    ("BANKBARODA", 280, 2925), ("PNB", 120, 8000), ("CANBK", 150, 6750),
    ("UNIONBANK", 150, 4425), ("IDFCFIRSTB", 80, 9275), ("FEDERALBNK", 250, 5000),
    ("AUBANK", 900, 1000), ("BANDHANBNK", 150, 3600), ("RBLBANK", 320, 3175),
    ("YESBANK", 22, 31100), ("IDEA", 10, 71475), ("SAIL", 135, 4700), ("NMDC", 75, 6750),
    ("NATIONALUM", 250, 3750), ("HINDZINC", 500, 1225), ("JINDALSTEL", 1000, 625),
    ("LUPIN", 2000, 425), ("AUROPHARMA", 1200, 550), ("BIOCON", 380, 2500),
    ("ALKEM", 5500, 125), ("TORNTPHARM", 3600, 250), ("ZYDUSLIFE", 1000, 900),
    ("GLENMARK", 1900, 375), ("MANKIND", 2400, 225), ("LAURUSLABS", 1000, 850),
    ("MPHASIS", 2800, 275), ("LTIM", 6000, 150), ("PERSISTENT", 6000, 100),
    ("COFORGE", 1800, 375), ("OFSS", 8500, 75), ("KPITTECH", 1250, 400),
    ("TATAELXSI", 5500, 100), ("NAUKRI", 1400, 375), ("PAYTM", 1300, 725),
    ("POLICYBZR", 1900, 350), ("NYKAA", 250, 3125), ("DMART", 4200, 150),
    ("PAGEIND", 42000, 15), ("COLPAL", 2200, 225), ("MARICO", 720, 1200), ("UPL", 700, 1355),
    ("PIIND", 3500, 175), ("SRF", 3000, 200), ("DIXON", 15000, 50), ("POLYCAB", 7500, 125),
    ("CUMMINSIND", 4000, 200), ("BHEL", 280, 2625), ("BHARATFORG", 1400, 500),
    ("ASHOKLEY", 150, 5000), ("TVSMOTOR", 3500, 175), ("TIINDIA", 3000, 200),
    ("MOTHERSON", 105, 6150), ("BOSCHLTD", 38000, 25), ("EXIDEIND", 380, 1800),
    ("SONACOMS", 480, 1050), ("BALKRISIND", 2400, 200), ("CHOLAFIN", 1700, 625),
    ("MUTHOOTFIN", 3300, 275), ("MANAPPURAM", 280, 3000), ("LICHSGFIN", 570, 1000),
    ("PFC", 400, 1300), ("RECLTD", 370, 1400), ("IRFC", 120, 4250), ("HUDCO", 230, 2775),
    ("SBICARD", 880, 800), ("ICICIGI", 1950, 325), ("ICICIPRULI", 620, 925),
    ("HDFCAMC", 2700, 300), ("LICI", 900, 700), ("BSE", 2700, 375), ("MCX", 9500, 125),
    ("CDSL", 1600, 475), ("ANGELONE", 2400, 250), ("IEX", 140, 3750), ("INDIGO", 5800, 150),
    ("IRCTC", 720, 875), ("CONCOR", 540, 1250), ("GMRAIRPORT", 95, 6975),
    ("ADANIGREEN", 1050, 600), ("ADANIENSOL", 950, 675), ("TORNTPOWER", 1300, 425),
    ("NHPC", 80, 6400), ("JSWENERGY", 520, 1000), ("INDUSTOWER", 400, 1700),
    ("VOLTAS", 1400, 375), ("BLUESTARCO", 1800, 325), ("KALYANKJIL", 480, 1175),
    ("LODHA", 1150, 450), ("GODREJPROP", 2200, 275), ("OBEROIRLTY", 1700, 350),
    ("PRESTIGE", 1650, 450), ("PHOENIXLTD", 1700, 350), ("DELHIVERY", 420, 2075),
    ("UNITDSPR", 1400, 400), ("VBL", 460, 1025), ("PATANJALI", 590, 900),
    ("SUPREMEIND", 3700, 175), ("ASTRAL", 1450, 425), ("APLAPOLLO", 1750, 350),
    ("CGPOWER", 700, 850), ("MAZDOCK", 2700, 175), ("BDL", 1500, 350),
    ("SOLARINDS", 13500, 75), ("HINDPETRO", 460, 2025), ("PETRONET", 280, 1800),
    ("OIL", 430, 1400), ("SUZLON", 55, 8000), ("TATATECH", 680, 800),
    ("DALBHARAT", 2100, 325), ("INOXWIND", 150, 3225), ("NBCC", 110, 6500),
    ("RVNL", 330, 1375), ("PNBHOUSING", 900, 650), ("LTF", 260, 4450),
    ("ABCAPITAL", 320, 3100),
)  # fmt: skip

INDEX_NAMES: tuple[str, ...] = tuple(name for name, *_ in _INDICES)
STOCK_NAMES: tuple[str, ...] = tuple(name for name, *_ in _STOCKS)


@dataclass(frozen=True, slots=True)
class _Underlying:
    name: str
    spot: float
    lot: int
    step: float  # option strike step
    tick: float  # tick of the spot and its futures
    is_index: bool
    pop: float  # relative popularity (Zipf by rank for stocks)
    cap: int  # most strikes per side that stay well above zero
    session_volume: int = 0  # of the cash stock, shares a session


@dataclass(frozen=True, slots=True)
class _Plan:
    """How wide the listing is at one growth level."""

    k_stock: int
    k_index: int
    n_futures: int
    n_stock_expiries: int
    n_index_expiries: int
    n_weekly: int


_MAX_LEVEL = 30


def _plan(level: int) -> _Plan:
    return _Plan(
        k_stock=3 + 2 * level,
        k_index=8 + 6 * level,
        n_futures=2 if level < 2 else 3,
        n_stock_expiries=2 if level < 4 else 3,
        n_index_expiries=2 if level < 2 else 3,
        n_weekly=min(4, 1 + level),
    )


def monthly_expiry(year: int, month: int, calendar: MarketCalendar = _NSE_RULES) -> date:
    """The calendar's monthly expiry (by default: the exchange's rule, no holidays)."""
    return calendar.monthly_expiry(year, month)


def _monthly_expiries(session_date: date, count: int, calendar: MarketCalendar) -> list[date]:
    out: list[date] = []
    year, month = session_date.year, session_date.month
    while len(out) < count:
        expiry = calendar.monthly_expiry(year, month)
        if expiry >= session_date:
            out.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _weekly_expiries(session_date: date, count: int, calendar: MarketCalendar) -> list[date]:
    """Weekly expiry days on or after the session that are not also a monthly expiry."""
    out: list[date] = []
    day = session_date
    while len(out) < count:
        if (day.weekday() == calendar.expiry_weekday(day)
                and day != calendar.monthly_expiry(day.year, day.month)):
            out.append(day)
        day += timedelta(days=1)
    return out


def stock_strike_step(price: float) -> float:
    """Strike interval for a stock: about 1-2% of spot, on NSE's usual round steps."""
    for limit, step in (
        (50.0, 0.5), (100.0, 1.0), (250.0, 2.5), (500.0, 5.0), (1000.0, 10.0),
        (2500.0, 20.0), (5000.0, 50.0), (10000.0, 100.0), (20000.0, 250.0),
    ):  # fmt: skip
        if price < limit:
            return step
    return 500.0


def _equity_tick(price: float) -> float:
    """NSE's price-banded ticks, floored at 0.05 so every price also sits on the 0.05 grid."""
    for limit, tick in ((1000.0, 0.05), (5000.0, 0.10), (10000.0, 0.50), (20000.0, 1.00)):
        if price < limit:
            return tick
    return 5.00


def _on_grid(value: float, tick: float) -> float:
    return round(max(1, round(value / tick)) * tick, 10)


def _underlying(
    name: str, spot: float, lot: int, step: float, *, is_index: bool, pop: float, rank: int = 0
) -> _Underlying:
    tick = 0.05 if is_index else _equity_tick(spot)
    reach = 0.3 if is_index else 0.5
    cap = max(1, int(reach * spot / step))
    volume = 0 if is_index else equity_session_volume(spot, rank)
    return _Underlying(name, _on_grid(spot, tick), lot, step, tick, is_index, pop, cap, volume)


def equity_session_volume(price: float, rank: int) -> int:
    """Typical shares a session of the stock at activity rank `rank` (0 = busiest)."""
    return max(1000, round(TOP_TURNOVER_RS / math.pow(rank + 1, _TURNOVER_DECAY) / price))


def mean_size_units(scale: float, cap: int = MAX_TRADE_UNITS) -> float:
    """E[min(cap, 1 + floor(scale * (X - 1)))] for the Pareto X of the trade sizes (exact sum:
    P(units >= k) = (1 + (k - 1) / scale) ** -tail)."""
    return math.fsum(math.pow(1.0 + (k - 1) / scale, -_SIZE_TAIL) for k in range(1, cap + 1))


def _real_underlyings() -> list[_Underlying]:
    out = [
        _underlying(name, spot, lot, step, is_index=True, pop=pop)
        for name, spot, lot, step, pop in _INDICES
    ]
    for rank, (name, price, lot) in enumerate(_STOCKS):
        pop = 0.35 / (rank + 1) ** 0.7
        out.append(_underlying(name, price, lot, stock_strike_step(price), is_index=False, pop=pop,
                               rank=rank))
    return out


def _synthetic(number: int, rng: random.Random) -> _Underlying:
    price = math.exp(rng.uniform(math.log(40.0), math.log(8000.0)))
    price = round(price, 0) if price >= 100 else round(price, 1)
    lot = max(25, round(600_000 / price / 25.0) * 25)
    pop = 0.35 / (len(_STOCKS) + number) ** 0.7
    return _underlying(
        f"STK{number:04d}", price, lot, stock_strike_step(price), is_index=False, pop=pop,
        rank=len(_STOCKS) + number,
    )


def _count(u: _Underlying, plan: _Plan) -> int:
    k = min(plan.k_index if u.is_index else plan.k_stock, u.cap)
    strikes = 2 * (2 * k + 1)
    expiries = plan.n_index_expiries if u.is_index else plan.n_stock_expiries
    if u.name in _WEEKLY_INDICES:
        expiries += plan.n_weekly
    return 1 + plan.n_futures + expiries * strikes


def _strike_text(strike: float) -> str:
    if strike == int(strike):
        return str(int(strike))
    return f"{strike:.2f}".rstrip("0").rstrip(".")


def _option_premium(spot: float, strike: float, is_call: bool, days: int, vol: float) -> float:
    """Intrinsic value plus a Bachelier-like time value: rough, but ordered like real premiums."""
    sd = spot * vol * math.sqrt((days + 1) / 365.0)
    intrinsic = max(0.0, spot - strike) if is_call else max(0.0, strike - spot)
    d = (strike - spot) / sd
    return intrinsic + 0.4 * sd * math.exp(-0.5 * d * d)


def _instruments_for(
    u: _Underlying,
    plan: _Plan,
    session_date: date,
    monthly: Sequence[date],
    weekly: Sequence[date],
    rng: random.Random,
) -> list[SimInstrument]:
    noise = rng.lognormvariate
    out: list[SimInstrument] = []
    kind = "index" if u.is_index else "equity"
    base = u.pop * (0.25 if u.is_index else 3.0)
    out.append(SimInstrument(u.name, kind, u.name, u.spot, u.tick, base * noise(0.0, 0.5), u.lot,
                             session_volume=u.session_volume))
    fut_weight = 1.2 if u.is_index else 0.5
    for rank, expiry in enumerate(monthly[: plan.n_futures]):
        days = (expiry - session_date).days
        price = _on_grid(u.spot * (1.0 + 0.065 * days / 365.0), u.tick)
        symbol = f"{u.name}{expiry.year % 100:02d}{_MONTHS[expiry.month - 1]}FUT"
        activity = u.pop * fut_weight * (1.0, 0.12, 0.03)[rank] * noise(0.0, 0.5)
        out.append(SimInstrument(symbol, "future", u.name, price, u.tick, activity, u.lot, expiry))

    n_monthly = plan.n_index_expiries if u.is_index else plan.n_stock_expiries
    expiries = [(e, False) for e in monthly[:n_monthly]]
    if u.name in _WEEKLY_INDICES:
        expiries += [(e, True) for e in weekly[: plan.n_weekly]]
    expiries.sort()
    k = min(plan.k_index if u.is_index else plan.k_stock, u.cap)
    atm = round(u.spot / u.step) * u.step
    vol = 0.14 if u.is_index else 0.30
    opt_weight = 2.0 if u.is_index else 0.6
    otm_width, itm_width = (6.0, 3.0) if u.is_index else (3.0, 1.5)
    for rank, (expiry, is_weekly) in enumerate(expiries):
        days = (expiry - session_date).days
        yy = expiry.year % 100
        if is_weekly:
            prefix = f"{u.name}{yy:02d}{_WEEKLY_MONTH[expiry.month - 1]}{expiry.day:02d}"
        else:
            prefix = f"{u.name}{yy:02d}{_MONTHS[expiry.month - 1]}"
        expiry_weight = u.pop * opt_weight * 0.5**rank * (1.0 + 2.0 / (1.0 + days))
        for j in range(-k, k + 1):
            strike = round(atm + j * u.step, 2)
            for option_type in ("CE", "PE"):
                is_call = option_type == "CE"
                otm = j > 0 if is_call else j < 0
                width = otm_width if otm else itm_width
                premium = _option_premium(u.spot, strike, is_call, days, vol)
                activity = expiry_weight * (1.0 + abs(j) / width) ** -2.0 * noise(0.0, 0.5)
                out.append(
                    SimInstrument(
                        f"{prefix}{_strike_text(strike)}{option_type}",
                        "option",
                        u.name,
                        _on_grid(premium, 0.05),
                        0.05,
                        activity,
                        u.lot,
                        expiry,
                        strike,
                        option_type,
                    )
                )
    return out


def build_universe(
    n_symbols: int, *, session_date: date, seed: int = 7, calendar: MarketCalendar = _NSE_RULES
) -> list[SimInstrument]:
    """Exactly `n_symbols` instruments, grouped by underlying, activity normalised to max 1.0."""
    if n_symbols < 1:
        raise ValueError(f"n_symbols must be >= 1, got {n_symbols}")
    rng = random.Random(seed)
    underlyings = _real_underlyings()
    level = 0
    while level < _MAX_LEVEL and sum(_count(u, _plan(level)) for u in underlyings) < n_symbols:
        level += 1
    plan = _plan(level)
    total = sum(_count(u, plan) for u in underlyings)
    number = 0
    while total < n_symbols:
        number += 1
        extra = _synthetic(number, rng)
        underlyings.append(extra)
        total += _count(extra, plan)

    monthly = _monthly_expiries(session_date, 3, calendar)
    weekly = _weekly_expiries(session_date, plan.n_weekly, calendar)
    universe: list[SimInstrument] = []
    for u in underlyings:
        universe.extend(_instruments_for(u, plan, session_date, monthly, weekly, rng))

    if len(universe) > n_symbols:
        by_activity = sorted(range(len(universe)), key=lambda i: (-universe[i].activity, i))
        keep = set(by_activity[:n_symbols])
        universe = [inst for i, inst in enumerate(universe) if i in keep]
    top = max(inst.activity for inst in universe)
    return [
        SimInstrument(
            inst.symbol, inst.kind, inst.underlying, inst.price, inst.tick_size,
            inst.activity / top, inst.lot_size, inst.expiry, inst.strike, inst.option_type,
            inst.session_volume,
        )
        for inst in universe
    ]  # fmt: skip


def default_intensity(minutes: int = SESSION_MINUTES) -> list[float]:
    """U-shaped per-minute weights: a busy open, a quieter midday, a busier close."""
    return [
        1.0 + 3.0 * math.exp(-m / 15.0) + 1.5 * math.exp(-(minutes - 1 - m) / 30.0)
        for m in range(minutes)
    ]


def _decimals(tick: float) -> int:
    text = f"{tick:.10f}".rstrip("0")
    return max(2, len(text.split(".")[1]))


def _allocate(weights: Sequence[float], n: int) -> list[int]:
    """Largest-remainder split of n into integer counts proportional to weights (exact total)."""
    total = sum(weights)
    raw = [n * w / total for w in weights]
    counts = [int(r) for r in raw]
    short = n - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[:short]:
        counts[i] += 1
    return counts


def simulate_ticks(
    universe: Sequence[SimInstrument],
    *,
    session_date: date,
    n_ticks: int,
    seed: int = 7,
    start_minute: float = 0.0,
    end_minute: float = 375.0,
    intensity: Sequence[float] | None = None,
    volume_form: str = "mixed",
) -> Iterator[dict[str, str]]:
    """Stream entries (flat str fields) in non-decreasing exchange time; see module docstring.

    Fields: `symbol`, `price`, `timestamp` (ISO, exchange time, ms), then `volume` (per tick) or
    `volume_traded` + `last_traded_quantity` (day-cumulative from the window start, Kite style);
    indices carry no volume (as on Kite), options add `underlying_price`. Arguments are checked
    here, before the first tick, so mistakes fail at the call.
    """
    weights = list(intensity) if intensity is not None else default_intensity()
    minutes = len(weights)
    if not universe and n_ticks > 0:
        raise ValueError("universe is empty")
    if n_ticks < 0:
        raise ValueError(f"n_ticks must be >= 0, got {n_ticks}")
    if volume_form not in VOLUME_FORMS:
        raise ValueError(f"volume_form must be one of {sorted(VOLUME_FORMS)}, got {volume_form!r}")
    if not 0.0 <= start_minute < end_minute <= minutes:
        raise ValueError(f"need 0 <= start_minute < end_minute <= {minutes}")
    if any(not (math.isfinite(w) and w >= 0.0) for w in weights) or sum(weights) <= 0.0:
        raise ValueError("intensity must be non-negative weights with a positive sum")
    for inst in universe:
        if inst.kind not in KINDS or inst.price <= 0 or inst.tick_size <= 0 or inst.activity < 0:
            raise ValueError(f"bad instrument {inst!r}")
    if n_ticks > 0 and sum(inst.activity for inst in universe) <= 0.0:
        raise ValueError("universe has no activity")

    start_ms = math.ceil(start_minute * 60_000)
    end_ms = math.ceil(end_minute * 60_000)
    spans: list[tuple[int, int, int]] = []  # (minute, first ms, end ms) within the minute
    span_weights: list[float] = []
    for m in range(minutes):
        lo, hi = max(start_ms, m * 60_000), min(end_ms, (m + 1) * 60_000)
        if hi > lo and weights[m] > 0.0:
            spans.append((m, lo - m * 60_000, hi - m * 60_000))
            span_weights.append(weights[m] * (hi - lo))
    if n_ticks > 0 and not spans:
        raise ValueError("intensity is zero over the whole window")
    counts = _allocate(span_weights, n_ticks) if n_ticks > 0 else [0] * len(spans)
    window_fraction = (end_minute - start_minute) / SESSION_MINUTES
    return _ticks(
        universe, session_date, n_ticks, seed, spans, counts, window_fraction, volume_form
    )


def _step(std_ticks: float) -> tuple[float, int]:
    """(move probability, max step): a uniform move in [-s, s] ticks with variance std_ticks^2."""
    if std_ticks >= 1.0:
        return 1.0, max(1, round(math.sqrt(3.0) * std_ticks - 0.5))
    return min(1.0, 1.5 * std_ticks * std_ticks), 1


_CHUNK = 4096


def _offset_chunks(rnd: Callable[[], float], lo: int, hi: int, count: int) -> Iterator[list[int]]:
    """`count` uniform ms offsets in [lo, hi), ascending, in sorted chunks to bound memory."""
    parts = -(-count // _CHUNK)
    width = hi - lo
    for part in range(parts):
        a = lo + width * part // parts
        b = lo + width * (part + 1) // parts
        n = count * (part + 1) // parts - count * part // parts
        span = b - a
        yield sorted([a + int(rnd() * span) for _ in range(n)])


def _ticks(
    universe: Sequence[SimInstrument],
    session_date: date,
    n_ticks: int,
    seed: int,
    spans: Sequence[tuple[int, int, int]],
    counts: Sequence[int],
    window_fraction: float,
    volume_form: str,
) -> Iterator[dict[str, str]]:
    n = len(universe)
    if n_ticks == 0:
        return
    form_rng = random.Random(f"{seed}:forms")
    rng = random.Random(f"{seed}:ticks")

    # Price state lives in "slots": one per underlying spot (shared by its equity/index
    # instrument and read by its options' underlying_price) plus one per other instrument.
    spot_slot: dict[str, int] = {}
    slot_ticks: list[int] = []
    slot_tick: list[float] = []
    slot_fmt: list[str] = []
    slot_text: list[str] = []  # formatted price, refreshed only when the price moves

    def new_slot(price: float, tick: float) -> int:
        ticks = max(1, round(price / tick))
        fmt = f"%.{_decimals(tick)}f"
        slot_ticks.append(ticks)
        slot_tick.append(tick)
        slot_fmt.append(fmt)
        slot_text.append(fmt % (ticks * tick))
        return len(slot_ticks) - 1

    for inst in universe:
        if inst.kind in ("equity", "index") and inst.underlying not in spot_slot:
            spot_slot[inst.underlying] = new_slot(inst.price, inst.tick_size)
    for inst in universe:  # underlyings only seen through derivatives: guess spot
        if inst.underlying not in spot_slot and inst.kind == "future":
            spot_slot[inst.underlying] = new_slot(inst.price, 0.05)
    for inst in universe:
        if inst.underlying not in spot_slot:
            spot_slot[inst.underlying] = new_slot(inst.strike or inst.price, 0.05)

    total_activity = sum(inst.activity for inst in universe)
    cum: list[float] = []
    running = 0.0
    for inst in universe:
        running += inst.activity
        cum.append(running)

    # Per instrument: (symbol, price slot, move probability, move multiplier, max step,
    # volume form 0 per-tick / 1 day-cumulative / 2 none (index), size scale, size unit,
    # spot slot for options or -1); one tuple keeps the hot loop to a single lookup.
    info: list[tuple[str, int, float, float, int, int, float, int, int]] = []
    equity_units = mean_size_units(1.0)
    for inst in universe:
        is_spot = inst.kind in ("equity", "index")
        slot = spot_slot[inst.underlying] if is_spot else new_slot(inst.price, inst.tick_size)
        spot = spot_slot[inst.underlying] if inst.kind == "option" else -1
        sigma = {"index": 0.009, "equity": 0.018, "future": 0.012, "option": 0.35}[inst.kind]
        expected = max(1.0, n_ticks * inst.activity / total_activity)
        target = sigma * inst.price * math.sqrt(window_fraction) / slot_tick[slot]
        p, s = _step(target / math.sqrt(expected))
        if inst.kind == "index":
            form = 2
        elif volume_form == "mixed":
            form = form_rng.randrange(2)
        else:
            form = 0 if volume_form == "incremental" else 1
        if inst.kind == "equity" and inst.session_volume > 0:
            size_scale = 1.0
            share = inst.session_volume * window_fraction / (expected * equity_units)
            size_unit = max(1, round(share))
        elif inst.kind == "equity":
            size_scale, size_unit = max(1.0, 4000.0 / inst.price), 1
        else:
            size_scale, size_unit = 0.8, max(1, inst.lot_size)
        info.append((inst.symbol, slot, p, (2 * s + 1) / p, s, form, size_scale, size_unit, spot))
    cum_volume = [0] * n

    day = session_date.isoformat()
    sec_ms = [f"{ms // 1000:02d}.{ms % 1000:03d}" for ms in range(60_000)]
    rnd = rng.random
    right = bisect.bisect_right
    last = n - 1
    neg_inv_alpha = -1.0 / _SIZE_TAIL
    # Exchanges cap one order's size (NSE's F&O freeze quantity is a few dozen lots), so the
    # tail is truncated: without it one draw can outweigh a whole session.
    max_units = MAX_TRADE_UNITS
    for (minute, lo, hi), count in zip(spans, counts, strict=True):
        if count == 0:
            continue
        clock = _OPEN_MINUTE + minute
        prefix = f"{day}T{clock // 60:02d}:{clock % 60:02d}:"
        for offsets in _offset_chunks(rnd, lo, hi, count):
            for off in offsets:
                i = right(cum, rnd() * total_activity)
                if i > last:
                    i = last
                symbol, slot, move_p, move_mult, move_s, form, size_scale, size_unit, spot = info[i]
                u = rnd()
                if u < move_p:
                    p = slot_ticks[slot] + int(u * move_mult) - move_s
                    if p < 1:
                        p = 1
                    slot_ticks[slot] = p
                    slot_text[slot] = slot_fmt[slot] % (p * slot_tick[slot])
                tick = {
                    "symbol": symbol,
                    "price": slot_text[slot],
                    "timestamp": prefix + sec_ms[off],
                }
                if form != 2:
                    qty = min(
                        max_units, 1 + int(size_scale * ((rnd() + 1e-6) ** neg_inv_alpha - 1.0))
                    ) * size_unit
                    if form == 0:
                        tick["volume"] = str(qty)
                    else:
                        total = cum_volume[i] + qty
                        cum_volume[i] = total
                        tick["volume_traded"] = str(total)
                        tick["last_traded_quantity"] = str(qty)
                if spot >= 0:
                    tick["underlying_price"] = slot_text[spot]
                yield tick
