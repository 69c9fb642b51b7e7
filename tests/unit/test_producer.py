from __future__ import annotations

import zlib
from typing import Any, cast

import orjson
import pytest
import redis
import redis.asyncio as aredis
from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.stream.producer import (
    TickProducer,
    entry_symbol,
    publish_sync,
    route,
)
from shared_core.volume_files.ticks import TickError, parse_entry


def part(symbol: str, partitions: int = 8) -> str:
    return f"ticks:{zlib.crc32(symbol.encode()) % partitions}"


@pytest.mark.parametrize(
    ("entry", "symbol"),
    [
        ({"symbol": "SBIN", "price": "612.35"}, "SBIN"),
        ({"symbol": "  SBIN ", "price": "612.35"}, "SBIN"),
        ({"tradingsymbol": "YESBANK", "last_price": "20.5"}, "YESBANK"),
        ({"symbol": "", "tradingsymbol": "YESBANK"}, "YESBANK"),
        ({"symbol": "SBIN", "tradingsymbol": "YESBANK"}, "SBIN"),
        ({"data": '{"symbol": "RELIANCE", "price": 2500}'}, "RELIANCE"),
        ({"data": '{"tradingsymbol": "INFY", "last_price": 1500}'}, "INFY"),
        ({"data": '{"symbol": null, "tradingsymbol": "INFY"}'}, "INFY"),
        ({"data": '{"price": 1}'}, ""),
        ({"price": "1"}, ""),
        ({"data": "{not json", "symbol": "SBIN"}, "SBIN"),
        ({"data": "[1, 2]", "symbol": "SBIN"}, "SBIN"),
        # the parser's precedence: JSON keys win over flat fields, symbol over tradingsymbol
        ({"symbol": "SBIN", "data": '{"symbol": "RELIANCE"}'}, "RELIANCE"),
        ({"tradingsymbol": "SBIN", "data": '{"symbol": "RELIANCE"}'}, "RELIANCE"),
        ({"symbol": "SBIN", "data": '{"tradingsymbol": "RELIANCE"}'}, "SBIN"),
        ({"symbol": "SBIN", "data": '{"symbol": ""}'}, "SBIN"),
    ],
)
def test_entry_symbol(entry: dict[str, str], symbol: str) -> None:
    assert entry_symbol(entry) == symbol


def test_route_by_crc32() -> None:
    assert route({"symbol": "SBIN"}, "ticks", 8) == "ticks:5"
    assert route({"symbol": "RELIANCE"}, "ticks", 8) == "ticks:0"
    assert route({"symbol": "RELIANCE"}, "nse", 16) == "nse:8"
    assert route({"data": '{"symbol": "YESBANK"}'}, "ticks", 8) == "ticks:4"
    assert route({"tradingsymbol": "YESBANK"}, "ticks", 8) == part("YESBANK")


@pytest.mark.parametrize(
    "entry",
    [{"data": "{broken"}, {"price": "1", "timestamp": "1"}, {"symbol": "   "}, {"data": "[]"}],
)
def test_entries_without_a_symbol_go_to_partition_zero(entry: dict[str, str]) -> None:
    assert entry_symbol(entry) == ""
    assert route(entry, "ticks", 8) == "ticks:0"


names = st.sampled_from(["SBIN", "YESBANK", " INFY ", "", "RELIANCE"])
maybe = st.none() | names


@given(maybe, maybe, maybe, maybe, st.booleans())
def test_route_agrees_with_the_parser(
    flat_symbol: str | None, flat_trading: str | None, json_symbol: str | None,
    json_trading: str | None, use_json: bool,
) -> None:
    entry: dict[str, str] = {"price": "100.5", "timestamp": "2025-01-06T10:00:00", "volume": "1"}
    if flat_symbol is not None:
        entry["symbol"] = flat_symbol
    if flat_trading is not None:
        entry["tradingsymbol"] = flat_trading
    if use_json:
        nested = {"symbol": json_symbol, "tradingsymbol": json_trading}
        entry["data"] = orjson.dumps({k: v for k, v in nested.items() if v is not None}).decode()
    try:
        parsed = parse_entry(entry).symbol
    except TickError:
        assert route(entry, "ticks", 8) == "ticks:0"
        return
    assert entry_symbol(entry) == parsed
    assert route(entry, "ticks", 8) == part(parsed)


class FakePipeline:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def xadd(self, key: str, fields: dict[str, str]) -> None:
        self.log.append(("xadd", (key, fields)))

    def execute(self) -> list[Any]:
        self.log.append(("execute", None))
        return []


class FakeClient:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.transactions: list[bool] = []

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        self.transactions.append(transaction)
        return FakePipeline(self.log)


class FakeAsyncPipeline(FakePipeline):
    async def execute(self) -> list[Any]:  # type: ignore[override]
        return super().execute()


class FakeAsyncClient(FakeClient):
    def pipeline(self, transaction: bool = True) -> FakeAsyncPipeline:
        self.transactions.append(transaction)
        return FakeAsyncPipeline(self.log)


ENTRIES = [{"symbol": s, "price": "1"} for s in ("SBIN", "RELIANCE", "YESBANK", "SBIN", "M&M")]
EXPECTED_LOG: list[tuple[str, Any]] = [
    ("xadd", ("ticks:5", ENTRIES[0])),
    ("xadd", ("ticks:0", ENTRIES[1])),
    ("execute", None),
    ("xadd", ("ticks:4", ENTRIES[2])),
    ("xadd", ("ticks:5", ENTRIES[3])),
    ("execute", None),
    ("xadd", ("ticks:0", ENTRIES[4])),
    ("execute", None),
]


def test_publish_sync_routes_and_batches() -> None:
    client = FakeClient()
    assert publish_sync(cast(redis.Redis, client), ENTRIES, batch=2) == 5
    assert client.log == EXPECTED_LOG
    assert client.transactions == [False]


async def test_async_producer_routes_and_batches() -> None:
    client = FakeAsyncClient()
    producer = TickProducer(cast(aredis.Redis, client), batch=2)
    assert await producer.publish(ENTRIES) == 5
    assert client.log == EXPECTED_LOG
    assert client.transactions == [False]


# -- raw KiteTicker ticks: routed by the symbol their token stands for ---------------------------

TOKEN_MAP = {738561: "RELIANCE", 256265: "NIFTY 50", 128083204: "BSE:RELIANCE"}


@pytest.mark.parametrize(
    ("entry", "symbol"),
    [
        ({"instrument_token": "738561", "last_price": "1544.2"}, "RELIANCE"),
        ({"data": '{"instrument_token": 256265, "last_price": 25910.35}'}, "NIFTY 50"),
        ({"data": '{"instrument_token": 128083204.0}'}, "BSE:RELIANCE"),
        ({"instrument_token": "738561", "data": '{"instrument_token": 256265}'}, "NIFTY 50"),
        ({"instrument_token": "738561", "tradingsymbol": "YESBANK"}, "YESBANK"),
        ({"data": '{"instrument_token": 738561, "symbol": "SBIN"}'}, "SBIN"),
        ({"instrument_token": "999"}, ""),
        ({"instrument_token": "abc"}, ""),
    ],
)
def test_entry_symbol_resolves_tokens(entry: dict[str, str], symbol: str) -> None:
    assert entry_symbol(entry, TOKEN_MAP) == symbol
    assert route(entry, "ticks", 8, TOKEN_MAP) == (part(symbol) if symbol else "ticks:0")


def test_tokens_are_not_resolved_without_a_map() -> None:
    assert entry_symbol({"instrument_token": "738561"}) == ""


tokens = st.sampled_from([738561, 256265, 128083204, 4242, "738561", "x"])


@given(st.none() | tokens, st.none() | tokens, st.none() | names, st.booleans())
def test_token_route_agrees_with_the_parser(
    flat_token: int | str | None, json_token: int | str | None, symbol: str | None,
    symbol_in_json: bool,
) -> None:
    entry: dict[str, str] = {"price": "100.5", "timestamp": "2025-01-06T10:00:00", "volume": "1"}
    nested: dict[str, object] = {}
    if flat_token is not None:
        entry["instrument_token"] = str(flat_token)
    if json_token is not None:
        nested["instrument_token"] = json_token
    if symbol is not None:
        if symbol_in_json:
            nested["tradingsymbol"] = symbol
        else:
            entry["tradingsymbol"] = symbol
    if nested:
        entry["data"] = orjson.dumps(nested).decode()
    try:
        parsed = parse_entry(entry, tokens=TOKEN_MAP).symbol
    except TickError:
        assert route(entry, "ticks", 8, TOKEN_MAP) == "ticks:0"
        return
    assert entry_symbol(entry, TOKEN_MAP) == parsed
    assert route(entry, "ticks", 8, TOKEN_MAP) == part(parsed)

