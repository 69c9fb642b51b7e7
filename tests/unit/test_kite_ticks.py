"""Raw KiteTicker packets through the parser: tokens, index names, quote mode without a time."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import SymbolHistory, VolumeEngineCore
from shared_core.volume_files.instruments import InstrumentKind
from shared_core.volume_files.instruments_master import master_tables, parse_master
from shared_core.volume_files.ticks import Tick, TickError, parse_entry, parse_tick
from tests.kite_support import (
    EXCHANGE_TIME,
    KITE_MASTER,
    TOKENS,
    as_entry,
    full_packet,
    index_packet,
    ltp_packet,
    quote_packet,
)

IST_MS = 1765254601000  # 2025-12-09 10:00:01 IST (EXCHANGE_TIME), epoch ms
ENTRY_MS = 1765254602345  # when Redis received the entry (its id's time)
CONFIG = load_core_config()
MAP = master_tables(parse_master(KITE_MASTER, CONFIG.calendar).rows).tokens


def test_clock_constants() -> None:
    assert int(datetime.fromisoformat(f"{EXCHANGE_TIME}+05:30").timestamp() * 1000) == IST_MS


def test_full_packet_resolves_its_token() -> None:
    packet = full_packet(TOKENS["RELIANCE"], 1544.2, quantity=25, cumulative=4_123_456, oi=0)
    assert parse_entry(as_entry(packet), tokens=MAP) == Tick(
        "RELIANCE", 1544.2, IST_MS, 25, 4_123_456, 0
    )


def test_full_packet_of_an_option_keeps_open_interest() -> None:
    packet = full_packet(TOKENS["NIFTY25DEC26000CE"], 112.5, quantity=75, cumulative=9_001_275,
                         oi=4_431_300)
    tick = parse_entry(as_entry(packet), tokens=MAP)
    assert (tick.symbol, tick.oi, tick.cumulative_volume) == (
        "NIFTY25DEC26000CE", 4_431_300, 9_001_275
    )


def test_bse_token_is_its_own_symbol() -> None:
    packet = full_packet(TOKENS["BSE:RELIANCE"], 1544.0, quantity=3, cumulative=81_000)
    assert parse_entry(as_entry(packet), tokens=MAP).symbol == "BSE:RELIANCE"


def test_unknown_token_is_dead_lettered_naming_it() -> None:
    packet = full_packet(4_242_424, 10.0, quantity=1, cumulative=1)
    with pytest.raises(TickError) as info:
        parse_entry(as_entry(packet), tokens=MAP)
    assert (info.value.reason, info.value.field) == ("unknown_instrument", "instrument_token")
    assert "4242424" in str(info.value)
    with pytest.raises(TickError, match="none is loaded") as info:
        parse_entry(as_entry(packet))  # no master at all
    assert info.value.reason == "unknown_instrument"


def test_bad_token_is_an_invalid_number() -> None:
    with pytest.raises(TickError) as info:
        parse_entry({b"instrument_token": b"abc", b"price": b"1", b"timestamp": b"1765254601"},
                    tokens=MAP)
    assert (info.value.reason, info.value.field) == ("invalid_number", "instrument_token")


def test_an_explicit_symbol_wins_over_the_token() -> None:
    packet = {**full_packet(TOKENS["RELIANCE"], 1.0, quantity=1, cumulative=1),
              "tradingsymbol": "YESBANK"}
    assert parse_entry(as_entry(packet), tokens=MAP).symbol == "YESBANK"


def test_flat_token_fields() -> None:
    fields = {b"instrument_token": b"3050241", b"last_price": b"20.15",
              b"last_traded_quantity": b"100", b"exchange_timestamp": b"2025-12-09 10:00:01"}
    assert parse_entry(fields, tokens=MAP) == Tick("YESBANK", 20.15, IST_MS, 100, None)


@pytest.mark.parametrize("name", ["NIFTY 50", "NIFTY BANK", "INDIA VIX"])
def test_index_ticks_by_name_or_by_token(name: str) -> None:
    by_token = parse_entry(as_entry(index_packet(TOKENS[name], 25910.35)), tokens=MAP)
    by_name = parse_entry(as_entry({**index_packet(0, 25910.35), "tradingsymbol": name}))
    assert by_token == by_name == Tick(name, 25910.35, IST_MS, None, None)
    assert parse_tick(name, {"last_price": 1, "exchange_timestamp": EXCHANGE_TIME}).symbol == name


@pytest.mark.parametrize("name", ["NIFTY  50", "NIFTY\t50", "NIFTY\u00a050", "NIFTY\n50"])
def test_other_whitespace_in_a_name_stays_bad(name: str) -> None:
    with pytest.raises(TickError) as info:
        parse_entry({"symbol": name, "price": "1", "timestamp": "1765254601"})
    assert info.value.reason == "bad_symbol"


def test_quote_and_ltp_packets_need_a_time() -> None:
    quote = as_entry(quote_packet(TOKENS["RELIANCE"], 1544.3, quantity=5, cumulative=4_123_461))
    ltp = as_entry(ltp_packet(TOKENS["NIFTY25DECFUT"], 26012.4))
    for entry in (quote, ltp):
        with pytest.raises(TickError) as info:
            parse_entry(entry, tokens=MAP)  # the default: no time, a missing_field dead letter
        assert (info.value.reason, info.value.field) == ("missing_field", "timestamp")
    assert parse_entry(quote, tokens=MAP, entry_ms=ENTRY_MS) == Tick(
        "RELIANCE", 1544.3, ENTRY_MS, 5, 4_123_461
    )
    assert parse_entry(ltp, tokens=MAP, entry_ms=ENTRY_MS) == Tick(
        "NIFTY25DECFUT", 26012.4, ENTRY_MS, None, None
    )


def test_the_entry_time_never_overrides_a_tick_s_own() -> None:
    packet = full_packet(TOKENS["YESBANK"], 20.1, quantity=1, cumulative=10)
    assert parse_entry(as_entry(packet), tokens=MAP, entry_ms=ENTRY_MS).ts_ms == IST_MS
    bad = {**packet, "exchange_timestamp": "yesterday"}
    with pytest.raises(TickError) as info:
        parse_entry(as_entry(bad), tokens=MAP, entry_ms=ENTRY_MS)
    assert info.value.reason == "bad_timestamp"


def test_index_ticks_apply_without_volume() -> None:
    core = VolumeEngineCore(CONFIG)
    core.load("NIFTY 50", SymbolHistory(), date(2025, 12, 9))
    for i, price in enumerate((25910.35, 25912.8, 25908.1)):
        at = EXCHANGE_TIME.replace(second=i)
        assert core.apply(parse_entry(as_entry(index_packet(256265, price, at=at)),
                                      tokens=MAP)) == 0
    [snap] = core.drain()
    assert snap.instrument.kind is InstrumentKind.INDEX
    assert (snap.session.cumulative_volume, snap.session.tick_count) == (0, 3)
    assert snap.session.last_price == 25908.1
