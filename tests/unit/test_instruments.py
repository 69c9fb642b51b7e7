"""Instruments: every symbol form, the ambiguity policy, and the Kite master overriding parsing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.instruments import (
    DEFAULT_INDICES,
    Instrument,
    InstrumentKind,
    InstrumentRegistry,
    parse_symbol,
)
from shared_core.volume_files.market_clock import MarketCalendar

EQUITY, INDEX = InstrumentKind.EQUITY, InstrumentKind.INDEX
FUTURE, OPTION = InstrumentKind.FUTURE, InstrumentKind.OPTION
CALENDAR = MarketCalendar(
    holidays=frozenset({date(2025, 12, 25), date(2026, 3, 31), date(2025, 2, 26)})
)
AS_OF = date(2025, 3, 1)


def parse(symbol: str, as_of: date = AS_OF, ambiguous: str = "auto") -> Instrument:
    return parse_symbol(symbol, as_of=as_of, calendar=CALENDAR, ambiguous=ambiguous)


# -- forms -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "underlying", "kind", "expiry", "strike", "option_type"),
    [
        # Kite monthly: YY MON strike; expiry from the calendar (Thursday before 2025-09)
        ("NIFTY25JAN25000CE", "NIFTY", OPTION, "2025-01-30", 25000.0, "CE"),
        ("BANKNIFTY25MAR48000PE", "BANKNIFTY", OPTION, "2025-03-27", 48000.0, "PE"),
        ("NIFTY25DEC24000PE", "NIFTY", OPTION, "2025-12-30", 24000.0, "PE"),  # Tuesday era
        ("NIFTY26MAR24000CE", "NIFTY", OPTION, "2026-03-30", 24000.0, "CE"),  # 31st a holiday
        ("RELIANCE25JAN2450.5CE", "RELIANCE", OPTION, "2025-01-30", 2450.5, "CE"),
        ("NIFTYNXT5025JAN70000CE", "NIFTYNXT50", OPTION, "2025-01-30", 70000.0, "CE"),
        ("M&M25JAN3000CE", "M&M", OPTION, "2025-01-30", 3000.0, "CE"),
        ("BAJAJ-AUTO25FEB9000PE", "BAJAJ-AUTO", OPTION, "2025-02-27", 9000.0, "PE"),
        # Kite weekly: YY M DD strike, the date as written
        ("NIFTY2510925000CE", "NIFTY", OPTION, "2025-01-09", 25000.0, "CE"),
        ("NIFTY2590224500PE", "NIFTY", OPTION, "2025-09-02", 24500.0, "PE"),
        ("NIFTY25O0725000CE", "NIFTY", OPTION, "2025-10-07", 25000.0, "CE"),
        ("NIFTY25N1125000CE", "NIFTY", OPTION, "2025-11-11", 25000.0, "CE"),
        ("NIFTY25D0925000PE", "NIFTY", OPTION, "2025-12-09", 25000.0, "PE"),
        ("SENSEX2510780000CE", "SENSEX", OPTION, "2025-01-07", 80000.0, "CE"),
        ("NIFTYNXT502510970000CE", "NIFTYNXT50", OPTION, "2025-01-09", 70000.0, "CE"),
        ("NIFTY2510924500.5CE", "NIFTY", OPTION, "2025-01-09", 24500.5, "CE"),
        # futures
        ("NIFTY25JANFUT", "NIFTY", FUTURE, "2025-01-30", None, None),
        ("RELIANCE25OCTFUT", "RELIANCE", FUTURE, "2025-10-28", None, None),
        ("M&M25FEBFUT", "M&M", FUTURE, "2025-02-27", None, None),
        # legacy day-month behind the colon-less NSE prefix: the next such date on/after as_of
        ("NSENIFTY27MAR25000CE", "NIFTY", OPTION, "2025-03-27", 25000.0, "CE"),
        ("NSENIFTY27JAN25000CE", "NIFTY", OPTION, "2026-01-27", 25000.0, "CE"),
        ("NSENIFTY01MAR22000PE", "NIFTY", OPTION, "2025-03-01", 22000.0, "PE"),  # as_of itself
        ("NSENIFTY29FEB22000PE", "NIFTY", OPTION, "2028-02-29", 22000.0, "PE"),  # leap day
        ("NSENIFTY27MARFUT", "NIFTY", FUTURE, "2025-03-27", None, None),
        # impossible day: the year reading is used
        ("NSENIFTY30FEB25000CE", "NIFTY", OPTION, "2030-02-26", 25000.0, "CE"),
        ("NSENIFTY45JAN25000CE", "NIFTY", OPTION, "2045-01-31", 25000.0, "CE"),
        # prefixes and case
        ("NFO:NIFTY25JAN25000CE", "NIFTY", OPTION, "2025-01-30", 25000.0, "CE"),
        ("NSE:NIFTY25JAN25000CE", "NIFTY", OPTION, "2025-01-30", 25000.0, "CE"),
        ("BFO:SENSEX2510780000CE", "SENSEX", OPTION, "2025-01-07", 80000.0, "CE"),
        ("NFONIFTY25JAN25000CE", "NIFTY", OPTION, "2025-01-30", 25000.0, "CE"),
        ("nifty25jan25000ce", "NIFTY", OPTION, "2025-01-30", 25000.0, "CE"),
        ("nfo:nifty25janfut", "NIFTY", FUTURE, "2025-01-30", None, None),
    ],
)
def test_derivative_forms(
    symbol: str,
    underlying: str,
    kind: InstrumentKind,
    expiry: str,
    strike: float | None,
    option_type: str | None,
) -> None:
    assert parse(symbol) == Instrument(
        symbol, underlying, kind, date.fromisoformat(expiry), strike, option_type
    )


@pytest.mark.parametrize(
    ("symbol", "underlying", "kind"),
    [
        ("RELIANCE", "RELIANCE", EQUITY),
        ("NSE:RELIANCE", "RELIANCE", EQUITY),
        ("BSE:RELIANCE", "RELIANCE", EQUITY),
        ("NSERELIANCE", "NSERELIANCE", EQUITY),  # a colon-less prefix is kept on equities
        ("BAJAJ-AUTO", "BAJAJ-AUTO", EQUITY),
        ("YESBANK", "YESBANK", EQUITY),
        ("360ONE", "360ONE", EQUITY),
        ("NIFTY", "NIFTY", INDEX),
        ("BANKNIFTY", "BANKNIFTY", INDEX),
        ("NSE:NIFTY 50", "NIFTY 50", INDEX),
        ("NSE:NIFTY BANK", "NIFTY BANK", INDEX),
        ("BSE:SENSEX", "SENSEX", INDEX),
        ("NSENIFTY", "NIFTY", INDEX),
        ("nifty", "NIFTY", INDEX),
        ("INDIAVIX", "INDIAVIX", INDEX),
        # not derivatives: what cannot be read is a plain equity
        ("NIFTY2513225000CE", "NIFTY2513225000CE", EQUITY),  # day 32
        ("NIFTY25JAN0CE", "NIFTY25JAN0CE", EQUITY),  # zero strike
        ("NIFTY25XYZ25000CE", "NIFTY25XYZ25000CE", EQUITY),
        ("12JANFUT", "12JANFUT", EQUITY),
        ("25JAN25000CE", "25JAN25000CE", EQUITY),
        ("CE", "CE", EQUITY),
        ("FUT", "FUT", EQUITY),
        ("NSE", "NSE", EQUITY),
        ("NSE:", "NSE:", EQUITY),
        ("SPICE", "SPICE", EQUITY),
        ("NIFTY25JAN25000XE", "NIFTY25JAN25000XE", EQUITY),
        ("NIFTY25JAN25000CEX", "NIFTY25JAN25000CEX", EQUITY),
        ("ÉNERGIE25JANFUT", "ÉNERGIE25JANFUT", EQUITY),
    ],
)
def test_equities_and_indices(symbol: str, underlying: str, kind: InstrumentKind) -> None:
    instrument = parse(symbol)
    assert instrument == Instrument(symbol, underlying, kind)
    assert not instrument.is_fno


def test_custom_indices() -> None:
    instrument = parse_symbol(
        "NSE:MYINDEX", as_of=AS_OF, calendar=CALENDAR, indices=frozenset({"MYINDEX"})
    )
    assert instrument.kind is INDEX
    assert parse_symbol("NIFTY", as_of=AS_OF, calendar=CALENDAR, indices=frozenset()).kind is EQUITY


def test_default_indices() -> None:
    expected = {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "SENSEX", "BANKEX"}
    assert expected | {"INDIA VIX", "NIFTY 50", "NIFTY BANK"} <= DEFAULT_INDICES


def test_is_fno_and_defaults() -> None:
    option = parse("NIFTY25JAN25000CE")
    assert option.is_fno
    assert parse("NIFTY25JANFUT").is_fno
    assert (option.tick_size, option.lot_size) == (0.05, None)
    assert str(InstrumentKind.OPTION) == "option"


# -- ambiguity policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "ambiguous", "expiry"),
    [
        ("NIFTY27JAN25000CE", "auto", "2027-01-26"),  # no prefix: YY MON (Kite)
        ("NSE:NIFTY27JAN25000CE", "auto", "2027-01-26"),  # colon prefix: YY MON
        ("NFONIFTY27JAN25000CE", "auto", "2027-01-26"),  # only NSE marks the legacy form
        ("NSENIFTY27JAN25000CE", "auto", "2026-01-27"),  # colon-less NSE: DD MON
        ("NIFTY27JAN25000CE", "day", "2026-01-27"),
        ("NSE:NIFTY27JAN25000CE", "day", "2026-01-27"),
        ("NSENIFTY27JAN25000CE", "year", "2027-01-26"),
        ("NIFTY27JANFUT", "day", "2026-01-27"),
        ("NSENIFTY27JANFUT", "year", "2027-01-26"),
        ("NIFTY2510925000CE", "day", "2025-01-09"),  # weekly forms are never ambiguous
    ],
)
def test_ambiguity_policy(symbol: str, ambiguous: str, expiry: str) -> None:
    assert parse(symbol, ambiguous=ambiguous).expiry == date.fromisoformat(expiry)


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="ambiguous: must be one of auto, day, year"):
        parse("NIFTY", ambiguous="guess")
    with pytest.raises(ValueError, match="ambiguous"):
        InstrumentRegistry(CALENDAR, ambiguous="month")


# Symbols as they pass tick validation: printable, no whitespace, at most 64 characters.
SYMBOLS = st.one_of(
    st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=64),
    st.from_regex(r"(NSE:?|NFO:?|BSE:)?[A-Z&-]{1,12}[0-9]{2}[0-9A-Z]{1,4}[0-9.]{1,8}(CE|PE|FUT)",
                  fullmatch=True),
)  # fmt: skip


@given(
    SYMBOLS,
    st.dates(date(2000, 1, 1), date(2090, 12, 31)),
    st.sampled_from(["auto", "day", "year"]),
)
def test_parse_never_raises_for_valid_symbols(symbol: str, as_of: date, ambiguous: str) -> None:
    instrument = parse_symbol(symbol, as_of=as_of, calendar=CALENDAR, ambiguous=ambiguous)
    assert instrument.symbol == symbol
    assert (instrument.expiry is not None) == instrument.is_fno
    assert (instrument.strike is not None) == (instrument.kind is OPTION)
    if instrument.strike is not None:
        assert instrument.strike > 0
        assert instrument.option_type in ("CE", "PE")


@given(st.integers(2001, 2089), st.integers(1, 12), st.integers(1, 99_999))
def test_monthly_symbols_round_trip(year: int, month: int, strike: int) -> None:
    mon = date(year, month, 1).strftime("%b").upper()
    option = parse(f"NIFTY{year % 100:02d}{mon}{strike}PE")
    assert (option.kind, option.strike, option.option_type) == (OPTION, float(strike), "PE")
    assert option.expiry == CALENDAR.monthly_expiry(year, month)
    assert parse(f"BANKNIFTY{year % 100:02d}{mon}FUT").expiry == option.expiry


@given(st.dates(date(2001, 1, 1), date(2099, 12, 31)), st.integers(1, 99_999))
def test_weekly_symbols_round_trip(expiry: date, strike: int) -> None:
    code = "123456789OND"[expiry.month - 1]
    option = parse(f"NIFTY{expiry:%y}{code}{expiry:%d}{strike}CE")
    assert (option.expiry, option.strike, option.underlying) == (expiry, float(strike), "NIFTY")


@given(
    st.dates(date(2001, 1, 1), date(2090, 12, 31)), st.dates(date(2001, 1, 1), date(2090, 12, 31))
)
def test_legacy_day_month_is_the_next_such_date(as_of: date, target: date) -> None:
    symbol = f"NSENIFTY{target:%d}{target:%b}".upper() + "20000CE"
    expiry = parse(symbol, as_of=as_of).expiry
    assert expiry is not None
    assert (expiry.month, expiry.day) == (target.month, target.day)
    assert as_of <= expiry
    previous = [y for y in range(as_of.year, expiry.year) if _valid(y, target.month, target.day)]
    assert all(date(y, target.month, target.day) < as_of for y in previous)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# -- registry ----------------------------------------------------------------------------------

KITE_HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
    "lot_size,instrument_type,segment,exchange"
)
KITE_CSV = "\n".join(
    [
        KITE_HEADER,
        '128083204,500325,RELIANCE,"RELIANCE INDUSTRIES",0,,0,0.05,1,EQ,BSE,BSE',
        '738561,2885,RELIANCE,"RELIANCE INDUSTRIES",0,,0,0.1,1,EQ,NSE,NSE',
        "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE",
        '12345678,48226,NIFTY25JAN25000CE,"NIFTY",0,2025-01-30,25000,0.05,75,CE,NFO-OPT,NFO',
        '12345679,48227,BANKNIFTY25JANFUT,"BANKNIFTY",0,2025-01-29,0,0.2,30,FUT,NFO-FUT,NFO',
        '12345680,48228,NIFTY27JAN25000CE,"NIFTY",0,2027-01-26,25000,0.05,75,CE,NFO-OPT,NFO',
        "12345681,48229,FINNIFTY25JAN23000PE,,0,2025-01-28,23000,0.05,65,PE,NFO-OPT,NFO",
    ]
)


@pytest.fixture
def registry() -> InstrumentRegistry:
    return InstrumentRegistry.from_kite_csv(KITE_CSV, CALENDAR)


def test_master_overrides_parsing(registry: InstrumentRegistry) -> None:
    # BANKNIFTY's January 2025 monthly expired on Wednesday the 29th, not the calendar Thursday.
    future = registry.resolve("BANKNIFTY25JANFUT", AS_OF)
    assert future == Instrument(
        "BANKNIFTY25JANFUT", "BANKNIFTY", FUTURE, date(2025, 1, 29), None, None, 0.2, 30
    )
    option = registry.resolve("NIFTY25JAN25000CE", AS_OF)
    assert option == Instrument(
        "NIFTY25JAN25000CE", "NIFTY", OPTION, date(2025, 1, 30), 25000.0, "CE", 0.05, 75
    )


def test_master_rows(registry: InstrumentRegistry) -> None:
    # NSE wins the bare name over BSE; each exchange keeps its qualified key.
    assert registry.resolve("RELIANCE", AS_OF) == Instrument(
        "RELIANCE", "RELIANCE", EQUITY, tick_size=0.1, lot_size=1
    )
    assert registry.resolve("BSE:RELIANCE", AS_OF).tick_size == 0.05
    # Index rows: segment INDICES; Kite's zero tick size and lot size become the defaults.
    assert registry.resolve("NSE:NIFTY 50", AS_OF) == Instrument("NSE:NIFTY 50", "NIFTY 50", INDEX)
    # An F&O row without a name gets its underlying from the symbol.
    assert registry.resolve("FINNIFTY25JAN23000PE", AS_OF).underlying == "FINNIFTY"
    assert len(registry) == 13  # 7 rows, each bare and qualified; one bare RELIANCE


def test_prefixed_stream_symbols_find_master_rows(registry: InstrumentRegistry) -> None:
    option = registry.resolve("NFO:NIFTY25JAN25000CE", AS_OF)
    assert (option.symbol, option.lot_size) == ("NFO:NIFTY25JAN25000CE", 75)
    equity = registry.resolve("NSERELIANCE", AS_OF)
    assert (equity.symbol, equity.underlying, equity.tick_size) == ("NSERELIANCE", "RELIANCE", 0.1)


def test_legacy_symbol_is_not_matched_to_kite_year_form(registry: InstrumentRegistry) -> None:
    legacy = registry.resolve("NSENIFTY27JAN25000CE", AS_OF)
    assert (legacy.expiry, legacy.lot_size) == (date(2026, 1, 27), None)
    years = InstrumentRegistry.from_kite_csv(KITE_CSV, CALENDAR, ambiguous="year")
    assert years.resolve("NSENIFTY27JAN25000CE", AS_OF).lot_size == 75


def test_registry_falls_back_to_parsing(registry: InstrumentRegistry) -> None:
    assert registry.resolve("NIFTY25FEB22000PE", AS_OF) == parse("NIFTY25FEB22000PE")
    assert registry.resolve("TCS", AS_OF) == Instrument("TCS", "TCS", EQUITY)
    assert InstrumentRegistry(CALENDAR).resolve("NIFTY", AS_OF).kind is INDEX


def test_registry_from_instruments_first_wins() -> None:
    first = Instrument("ABC", "ABC", EQUITY, tick_size=0.01)
    registry = InstrumentRegistry(CALENDAR, [first, Instrument("ABC", "ABC", EQUITY)])
    assert registry.resolve("ABC", AS_OF) is first


def test_registry_policy_applies(registry: InstrumentRegistry) -> None:
    days = InstrumentRegistry(CALENDAR, ambiguous="day")
    assert days.resolve("NIFTY28MAR25000CE", AS_OF).expiry == date(2025, 3, 28)


def test_resolve_is_cached() -> None:
    registry = InstrumentRegistry(CALENDAR)
    first = registry.resolve("NIFTY25JAN25000CE", AS_OF)
    assert registry.resolve("NIFTY25JAN25000CE", date(2030, 1, 1)) is first


def test_legacy_answer_is_re_resolved_after_its_expiry() -> None:
    registry = InstrumentRegistry(CALENDAR)
    first = registry.resolve("NSENIFTY27MAR25000CE", AS_OF)
    assert first.expiry == date(2025, 3, 27)
    assert registry.resolve("NSENIFTY27MAR25000CE", date(2025, 3, 27)) is first
    assert registry.resolve("NSENIFTY27MAR25000CE", date(2025, 3, 28)).expiry == date(2026, 3, 27)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,2,,X,0,,0,0.05,1,EQ,NSE,NSE", "line 2: empty tradingsymbol"),
        ("1,2,ABC,ABC,0,,0,0.05,1,BOND,NSE,NSE", "line 2: instrument_type must be EQ, FUT, CE"),
        ("1,2,ABC,ABC,0,30-01-2025,0,0.05,1,FUT,NFO-FUT,NFO", "line 2: expiry is not a date"),
        ("1,2,ABC25JANFUT,ABC,0,,0,0.05,1,FUT,NFO-FUT,NFO", "line 2: FUT row without expiry"),
        ("1,2,ABC,ABC,0,2025-01-30,0,0.05,1,CE,NFO-OPT,NFO", "line 2: option without a positive"),
        ("1,2,ABC,ABC,0,,0,fine,1,EQ,NSE,NSE", "line 2: tick_size is not a number: 'fine'"),
        ("1,2,ABC,ABC,0,,0,0.05,nan,EQ,NSE,NSE", "line 2: lot_size is not a number"),
    ],
)
def test_kite_csv_errors_name_the_line(row: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InstrumentRegistry.from_kite_csv(f"{KITE_HEADER}\n{row}\n", CALENDAR)


def test_kite_csv_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\): expiry, strike"):
        InstrumentRegistry.from_kite_csv(
            "tradingsymbol,name,tick_size,lot_size,instrument_type,segment,exchange\n", CALENDAR
        )


def test_empty_kite_csv_gives_an_empty_master() -> None:
    assert len(InstrumentRegistry.from_kite_csv(KITE_HEADER + "\n", CALENDAR)) == 0
