"""The simulator feeds the demo, tests and benchmarks: its output must look like real NSE ticks."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files.simulator import (
    INDEX_NAMES,
    MAX_TRADE_UNITS,
    STOCK_NAMES,
    SimInstrument,
    build_universe,
    default_intensity,
    equity_session_volume,
    mean_size_units,
    monthly_expiry,
    simulate_ticks,
    stock_strike_step,
)

DAY = date(2025, 12, 9)  # a Tuesday: NIFTY weekly expiry day under the post-2025-09 rules
MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
FUTURE = re.compile(rf"^(?P<u>[A-Z0-9&-]+?)(?P<yy>\d{{2}})(?P<mon>{MONTHS})FUT$")
MONTHLY = re.compile(
    rf"^(?P<u>[A-Z0-9&-]+?)(?P<yy>\d{{2}})(?P<mon>{MONTHS})(?P<k>\d+(\.\d+)?)(?P<t>CE|PE)$"
)
WEEKLY = re.compile(
    r"^(?P<u>[A-Z]+?)(?P<yy>\d{2})(?P<m>[1-9OND])(?P<dd>\d{2})(?P<k>\d+)(?P<t>CE|PE)$"
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")


@pytest.fixture(scope="module")
def universe() -> list[SimInstrument]:
    return build_universe(2000, session_date=DAY)


@pytest.fixture(scope="module")
def ticks(universe: list[SimInstrument]) -> list[dict[str, str]]:
    return list(simulate_ticks(universe, session_date=DAY, n_ticks=50_000))


def test_monthly_expiry_moves_from_thursday_to_tuesday() -> None:
    assert monthly_expiry(2019, 1) == date(2019, 1, 31)
    assert monthly_expiry(2025, 8) == date(2025, 8, 28)
    assert monthly_expiry(2025, 9) == date(2025, 9, 30)
    assert monthly_expiry(2025, 12) == date(2025, 12, 30)
    assert monthly_expiry(2026, 2) == date(2026, 2, 24)


def test_stock_strike_steps() -> None:
    assert [stock_strike_step(p) for p in (22, 75, 170, 410, 950, 1500, 3100, 9000)] == [
        0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 50.0, 100.0,
    ]  # fmt: skip


def test_reference_lists() -> None:
    assert INDEX_NAMES == ("NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY")
    assert len(STOCK_NAMES) >= 150
    assert len(set(STOCK_NAMES)) == len(STOCK_NAMES)
    assert STOCK_NAMES[:6] == ("RELIANCE", "HDFCBANK", "ICICIBANK", "INFY", "TCS", "SBIN")


@pytest.mark.parametrize("n", [1, 7, 100, 1000, 5000, 20_000, 100_000])
def test_universe_has_exactly_n_unique_symbols(n: int) -> None:
    universe = build_universe(n, session_date=DAY)
    assert len(universe) == n
    assert len({inst.symbol for inst in universe}) == n
    assert max(inst.activity for inst in universe) == 1.0


def test_large_universe_adds_synthetic_stocks() -> None:
    universe = build_universe(100_000, session_date=DAY)
    names = {inst.underlying for inst in universe}
    assert set(INDEX_NAMES) <= names
    assert "STK0001" in names
    assert {inst.kind for inst in universe} == {"index", "equity", "future", "option"}


def test_universe_is_deterministic_per_seed() -> None:
    a = build_universe(3000, session_date=DAY, seed=3)
    assert a == build_universe(3000, session_date=DAY, seed=3)
    assert a != build_universe(3000, session_date=DAY, seed=4)


def test_universe_rejects_non_positive_size() -> None:
    with pytest.raises(ValueError, match="n_symbols"):
        build_universe(0, session_date=DAY)


def _check_symbol(inst: SimInstrument, session: date) -> str:
    """Parse a symbol by regex and check it against the instrument's fields; returns its form."""
    if inst.kind in ("equity", "index"):
        assert inst.symbol == inst.underlying
        assert (inst.kind == "index") == (inst.symbol in INDEX_NAMES)
        return inst.kind
    assert inst.expiry is not None
    assert inst.expiry >= session
    assert inst.lot_size > 1
    if inst.kind == "future":
        m = FUTURE.match(inst.symbol)
        assert m is not None, inst.symbol
        assert m["u"] == inst.underlying
        assert (int(m["yy"]), MONTHS.split("|").index(m["mon"]) + 1) == (
            inst.expiry.year % 100,
            inst.expiry.month,
        )
        assert inst.expiry == monthly_expiry(inst.expiry.year, inst.expiry.month)
        return "future"
    assert inst.strike is not None
    w = WEEKLY.match(inst.symbol)
    if w is not None and w["u"] == inst.underlying:
        assert inst.underlying == "NIFTY"
        assert w["m"] == "123456789OND"[inst.expiry.month - 1]
        assert (int(w["yy"]), int(w["dd"])) == (inst.expiry.year % 100, inst.expiry.day)
        assert inst.expiry != monthly_expiry(inst.expiry.year, inst.expiry.month)
        assert float(w["k"]) == inst.strike
        assert w["t"] == inst.option_type
        return "weekly"
    m = MONTHLY.match(inst.symbol)
    assert m is not None, inst.symbol
    assert m["u"] == inst.underlying
    assert float(m["k"]) == inst.strike
    assert m["t"] == inst.option_type
    assert inst.expiry == monthly_expiry(inst.expiry.year, inst.expiry.month)
    return "monthly"


@pytest.mark.parametrize("session", [DAY, date(2025, 12, 31), date(2019, 3, 5)])
def test_symbols_parse_as_kite_tradingsymbols(session: date) -> None:
    universe = build_universe(20_000, session_date=session)
    forms = Counter(_check_symbol(inst, session) for inst in universe)
    assert set(forms) == {"index", "equity", "future", "weekly", "monthly"}
    assert forms["index"] == 4


def test_first_contracts_are_the_real_ones() -> None:
    symbols = {inst.symbol for inst in build_universe(20_000, session_date=DAY)}
    assert {"NIFTY", "RELIANCE", "M&M", "NIFTY25DECFUT", "NIFTY26JANFUT", "RELIANCE25DECFUT"} <= (
        symbols
    )
    # 2025-12-09 is itself a weekly expiry; 2025-12-30 is the December monthly (last Tuesday).
    assert {"NIFTY25D0926000CE", "NIFTY25D1626000PE", "NIFTY25DEC26000CE"} <= symbols
    assert "NIFTY25D3026000CE" not in symbols  # that day takes the monthly form
    assert {"BANKNIFTY25DEC59000PE", "RELIANCE25DEC1500CE", "YESBANK25DEC22CE"} <= symbols
    assert "YESBANK25DEC22.5CE" in symbols


def test_strikes_sit_on_nse_steps(universe: list[SimInstrument]) -> None:
    steps = {"NIFTY": 50.0, "BANKNIFTY": 100.0, "FINNIFTY": 50.0, "MIDCPNIFTY": 25.0}
    for inst in build_universe(20_000, session_date=DAY):
        if inst.kind != "option":
            continue
        assert inst.strike is not None
        assert inst.strike > 0
        step = steps.get(inst.underlying)
        if step is not None:
            assert inst.strike % step == 0, inst.symbol


def test_activity_is_heavy_tailed_and_led_by_atm_near_expiry(
    universe: list[SimInstrument],
) -> None:
    ranked = sorted(universe, key=lambda inst: -inst.activity)
    top = ranked[:20]
    assert all(inst.underlying in ("NIFTY", "BANKNIFTY") for inst in top[:10])
    nifty = [i for i in universe if i.underlying == "NIFTY" and i.kind == "option"]
    near = [i for i in nifty if i.expiry == DAY]
    far = [i for i in nifty if i.expiry != DAY]
    assert max(i.activity for i in near) > 3 * max(i.activity for i in far)
    atm = [i.activity for i in near if i.strike == 26000.0]
    wing = [i.activity for i in near if i.strike is not None and abs(i.strike - 26000.0) >= 300]
    assert len(atm) == 2
    assert len(wing) >= 8
    assert sum(atm) / len(atm) > 4 * sum(wing) / len(wing)


def test_ticks_count_fields_and_format(ticks: list[dict[str, str]]) -> None:
    assert len(ticks) == 50_000
    for tick in ticks[:5000]:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in tick.items())
        assert TIMESTAMP.match(tick["timestamp"])
        assert tick["timestamp"].startswith("2025-12-09T")
        assert set(tick) >= {"symbol", "price", "timestamp"}
        assert not ({"volume", "volume_traded"} <= set(tick))


def test_ticks_are_in_time_order_within_the_session(ticks: list[dict[str, str]]) -> None:
    stamps = [tick["timestamp"] for tick in ticks]
    assert stamps == sorted(stamps)
    assert stamps[0] >= "2025-12-09T09:15:00.000"
    assert stamps[-1] <= "2025-12-09T15:29:59.999"
    assert stamps[0] < "2025-12-09T09:15:01.000"
    assert stamps[-1] > "2025-12-09T15:29:59.000"


def test_prices_on_tick_grid_and_positive(
    universe: list[SimInstrument], ticks: list[dict[str, str]]
) -> None:
    tick_size = {inst.symbol: inst.tick_size for inst in universe}
    for tick in ticks:
        price = float(tick["price"])
        size = tick_size[tick["symbol"]]
        assert price > 0
        assert abs(price / size - round(price / size)) < 1e-6, tick
        assert len(tick["price"].split(".")[1]) == 2


def test_volumes_by_kind(universe: list[SimInstrument], ticks: list[dict[str, str]]) -> None:
    by_symbol = {inst.symbol: inst for inst in universe}
    last_cumulative: dict[str, int] = defaultdict(int)
    form_of: dict[str, str] = {}
    for tick in ticks:
        inst = by_symbol[tick["symbol"]]
        if inst.kind == "index":
            assert not {"volume", "volume_traded", "last_traded_quantity"} & set(tick)
            continue
        form = "cumulative" if "volume_traded" in tick else "incremental"
        assert form_of.setdefault(inst.symbol, form) == form  # one form per symbol
        qty = int(tick["last_traded_quantity"] if form == "cumulative" else tick["volume"])
        assert qty >= 1
        if inst.kind in ("future", "option"):
            assert qty % inst.lot_size == 0
        if form == "cumulative":
            total = int(tick["volume_traded"])
            assert total == last_cumulative[inst.symbol] + qty
            last_cumulative[inst.symbol] = total
        assert ("underlying_price" in tick) == (inst.kind == "option")
    assert set(form_of.values()) == {"cumulative", "incremental"}


def test_trade_sizes_are_heavy_tailed(ticks: list[dict[str, str]]) -> None:
    sizes = sorted(int(t.get("volume") or t.get("last_traded_quantity") or 0) for t in ticks)
    sizes = [s for s in sizes if s]
    median = sizes[len(sizes) // 2]
    assert sizes[-1] > 20 * median


@pytest.mark.parametrize(
    ("form", "keys"),
    [("incremental", {"volume"}), ("cumulative", {"volume_traded", "last_traded_quantity"})],
)
def test_single_volume_form(universe: list[SimInstrument], form: str, keys: set[str]) -> None:
    seen: set[str] = set()
    for tick in simulate_ticks(universe, session_date=DAY, n_ticks=3000, volume_form=form):
        seen |= set(tick) & {"volume", "volume_traded", "last_traded_quantity"}
    assert seen == keys


def test_ticks_deterministic_per_seed(universe: list[SimInstrument]) -> None:
    def run(seed: int) -> list[dict[str, str]]:
        return list(simulate_ticks(universe, session_date=DAY, n_ticks=2000, seed=seed))

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_heavy_tail_top_one_percent_takes_a_large_share() -> None:
    universe = build_universe(5000, session_date=DAY)
    counts = Counter(
        tick["symbol"] for tick in simulate_ticks(universe, session_date=DAY, n_ticks=100_000)
    )
    top = sum(n for _, n in counts.most_common(50))
    assert top / 100_000 > 0.25
    assert len(counts) > 2500  # but the tail still trades


def test_intensity_and_window_place_the_ticks(universe: list[SimInstrument]) -> None:
    weights = [0.0] * 375
    weights[10] = 1.0
    stamps = [
        t["timestamp"]
        for t in simulate_ticks(universe, session_date=DAY, n_ticks=500, intensity=weights)
    ]
    assert len(stamps) == 500
    assert all(s.startswith("2025-12-09T09:25:") for s in stamps)

    window = list(
        simulate_ticks(
            universe,
            session_date=DAY,
            n_ticks=1000,
            start_minute=60.0,
            end_minute=61.5,
            intensity=[1.0] * 375,
        )
    )
    assert window[0]["timestamp"] >= "2025-12-09T10:15:00.000"
    assert window[-1]["timestamp"] < "2025-12-09T10:16:30.000"
    assert sum(t["timestamp"] < "2025-12-09T10:16:00" for t in window) == 667  # 2/3 by weight


def test_default_intensity_is_u_shaped() -> None:
    w = default_intensity()
    assert len(w) == 375
    assert w[0] > w[-1] > w[187]
    assert min(w) == w[min(range(375), key=w.__getitem__)] > 0


def test_bad_arguments_fail_at_the_call(universe: list[SimInstrument]) -> None:
    with pytest.raises(ValueError, match="volume_form"):
        simulate_ticks(universe, session_date=DAY, n_ticks=10, volume_form="kite")
    with pytest.raises(ValueError, match="start_minute"):
        simulate_ticks(universe, session_date=DAY, n_ticks=10, start_minute=100, end_minute=50)
    with pytest.raises(ValueError, match="start_minute"):
        simulate_ticks(universe, session_date=DAY, n_ticks=10, end_minute=400)
    with pytest.raises(ValueError, match="n_ticks"):
        simulate_ticks(universe, session_date=DAY, n_ticks=-1)
    with pytest.raises(ValueError, match="intensity"):
        simulate_ticks(universe, session_date=DAY, n_ticks=10, intensity=[-1.0] * 375)
    with pytest.raises(ValueError, match="empty"):
        simulate_ticks([], session_date=DAY, n_ticks=10)
    assert list(simulate_ticks([], session_date=DAY, n_ticks=0)) == []


def test_hand_built_universe_without_spot() -> None:
    """An option whose underlying is absent still ticks, with the strike as a stand-in spot."""
    option = SimInstrument(
        "ABC25DEC100CE", "option", "ABC", 5.0, 0.05, 1.0, 10, date(2025, 12, 30), 100.0, "CE"
    )
    out = list(simulate_ticks([option], session_date=DAY, n_ticks=100, volume_form="incremental"))
    assert len(out) == 100
    assert {t["underlying_price"] for t in out} == {"100.00"}
    assert all(int(t["volume"]) % 10 == 0 for t in out)


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**32),
    n_symbols=st.integers(1, 300),
    n_ticks=st.integers(0, 400),
    start=st.floats(0.0, 370.0),
)
def test_property_order_grid_and_count(
    seed: int, n_symbols: int, n_ticks: int, start: float
) -> None:
    universe = build_universe(n_symbols, session_date=DAY, seed=seed)
    assert len(universe) == n_symbols
    sizes = {inst.symbol: inst.tick_size for inst in universe}
    out = list(
        simulate_ticks(
            universe, session_date=DAY, n_ticks=n_ticks, seed=seed, start_minute=start,
            end_minute=start + 5.0,
        )
    )  # fmt: skip
    assert len(out) == n_ticks
    stamps = [t["timestamp"] for t in out]
    assert stamps == sorted(stamps)
    cumulative: dict[str, int] = {}
    for t in out:
        price = float(t["price"])
        assert price > 0
        assert abs(price / sizes[t["symbol"]] - round(price / sizes[t["symbol"]])) < 1e-6
        if "volume_traded" in t:
            total = int(t["volume_traded"])
            assert total >= cumulative.get(t["symbol"], 0)
            cumulative[t["symbol"]] = total


def test_generation_is_lazy_and_fast_enough(universe: list[SimInstrument]) -> None:
    stream = simulate_ticks(universe, session_date=DAY, n_ticks=10**9)
    assert len(list(islice(stream, 10))) == 10  # a billion-tick plan does not build a list


def test_ticks_parse_with_the_engine_parser(
    universe: list[SimInstrument], ticks: list[dict[str, str]]
) -> None:
    module = pytest.importorskip("shared_core.volume_files.ticks")
    by_symbol = {inst.symbol: inst for inst in universe}
    for fields in ticks[:3000]:
        tick = module.parse_entry(fields)
        assert tick.symbol == fields["symbol"]
        assert tick.price == float(fields["price"])
        inst = by_symbol[tick.symbol]
        if inst.kind == "index":
            assert tick.volume is None
            assert tick.cumulative_volume is None
        elif "volume_traded" in fields:
            assert tick.cumulative_volume == int(fields["volume_traded"])
        else:
            assert tick.volume == int(fields["volume"])


def test_symbols_resolve_with_the_engine_symbol_parser() -> None:
    instruments = pytest.importorskip("shared_core.volume_files.instruments")
    market_clock = pytest.importorskip("shared_core.volume_files.market_clock")
    calendar = market_clock.MarketCalendar()
    for inst in build_universe(3000, session_date=DAY):
        parsed = instruments.parse_symbol(inst.symbol, as_of=DAY, calendar=calendar)
        assert str(parsed.kind) == inst.kind, inst.symbol
        assert parsed.underlying == inst.underlying, inst.symbol
        assert parsed.expiry == inst.expiry, inst.symbol
        assert parsed.strike == inst.strike, inst.symbol
        assert parsed.option_type == inst.option_type, inst.symbol


def test_expiries_follow_the_calendar_given_holidays_included() -> None:
    from shared_core.volume_files.market_clock import MarketCalendar

    holiday = date(2025, 12, 30)  # December's monthly expiry (last Tuesday)
    calendar = MarketCalendar(holidays=frozenset({holiday}))
    assert monthly_expiry(2025, 12, calendar) == date(2025, 12, 29)
    futures = [i for i in build_universe(200, session_date=DAY, calendar=calendar)
               if i.kind == "future" and i.expiry is not None and i.expiry.month == 12]
    assert futures
    assert {i.expiry for i in futures} == {date(2025, 12, 29)}
    assert build_universe(300, session_date=DAY) == build_universe(
        300, session_date=DAY, calendar=MarketCalendar())


# -- equities trade like real ones ---------------------------------------------------------------


def _equity_totals(
    n_symbols: int, n_ticks: int, start_minute: float = 0.0, end_minute: float = 375.0
) -> dict[str, tuple[int, int]]:
    """symbol -> (its typical session volume, what the simulated window traded)."""
    universe = build_universe(n_symbols, session_date=DAY, seed=3)
    traded: dict[str, int] = {}
    for tick in simulate_ticks(universe, session_date=DAY, n_ticks=n_ticks, seed=3,
                               start_minute=start_minute, end_minute=end_minute):
        traded[tick["symbol"]] = traded.get(tick["symbol"], 0) + int(
            tick.get("volume") or tick.get("last_traded_quantity") or 0
        )
    return {i.symbol: (i.session_volume, traded.get(i.symbol, 0))
            for i in universe if i.kind == "equity"}


def test_large_caps_trade_millions_of_shares_a_session() -> None:
    totals = _equity_totals(200, 20_000)
    for symbol in ("RELIANCE", "HDFCBANK", "ICICIBANK", "SBIN"):
        typical, traded = totals[symbol]
        assert typical > 3_000_000
        assert 0.4 * typical < traded < 2.5 * typical, (symbol, typical, traded)
    # a cheap, busy stock trades far more shares than a dear one (YESBANK vs TCS)
    assert equity_session_volume(22.0, 75) > 10 * equity_session_volume(3100.0, 4)


def test_equity_volume_does_not_depend_on_the_tick_count() -> None:
    few, many = _equity_totals(100, 4_000), _equity_totals(100, 40_000)
    assert few.keys() == many.keys()
    busy = [s for s in few if few[s][0] >= 5_000_000]
    assert busy
    ratio = sum(few[s][1] for s in busy) / sum(many[s][1] for s in busy)
    assert 0.6 < ratio < 1.6


def test_half_a_session_trades_about_half_the_volume() -> None:
    whole = _equity_totals(100, 30_000)
    half = _equity_totals(100, 15_000, start_minute=0.0, end_minute=187.5)
    assert 0.3 < sum(v for _, v in half.values()) / sum(v for _, v in whole.values()) < 0.7


def test_mean_size_units_is_the_capped_pareto_mean() -> None:
    import random

    rng = random.Random(1)
    draws = [min(MAX_TRADE_UNITS, 1 + int((rng.random() + 1e-9) ** (-1 / 1.3) - 1.0))
             for _ in range(200_000)]
    assert mean_size_units(1.0) == pytest.approx(sum(draws) / len(draws), rel=0.02)


def test_yesbank_trades_like_the_real_one(shared_data: Path) -> None:
    """Within a factor of 3 of the median session of the real 2019 bars (48 million shares)."""
    import csv
    import gzip

    daily: Counter[str] = Counter()
    with gzip.open(shared_data / "nse-yesbank-minute-2019H1.csv.gz", "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            daily[row["timestamp"][:10]] += int(float(row["volume"]))
    real = sorted(daily.values())[len(daily) // 2]
    [yesbank] = [i for i in build_universe(500, session_date=DAY) if i.symbol == "YESBANK"]
    assert real / 3 < yesbank.session_volume < real * 3, (yesbank.session_volume, real)
