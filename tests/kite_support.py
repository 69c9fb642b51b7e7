"""Kite-shaped test inputs: an instruments master in Kite's exact column layout, and KiteTicker
packets (full, quote, LTP) as a crawler dumps them (`json.dumps(tick, default=str)`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# Kite's header, and rows as its dump writes them (real tokens for the indices and equities;
# names quoted where Kite quotes them). Lines 12 and 14 are malformed, line 13 is blank.
KITE_MASTER = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE
260105,1016,NIFTY BANK,NIFTY BANK,0,,0,0,0,EQ,INDICES,NSE
264969,1035,INDIA VIX,INDIA VIX,0,,0,0,0,EQ,INDICES,NSE
738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.1,1,EQ,NSE,NSE
128083204,500325,RELIANCE,RELIANCE INDUSTRIES LTD.,0,,0,0.05,1,EQ,BSE,BSE
3050241,11915,YESBANK,YES BANK,0,,0,0.05,1,EQ,NSE,NSE
13238274,51712,NIFTY25DECFUT,"NIFTY",0,2025-12-30,0,0.1,75,FUT,NFO-FUT,NFO
10925570,42678,NIFTY25DEC26000CE,"NIFTY",0,2025-12-30,26000,0.05,75,CE,NFO-OPT,NFO
10925826,42679,NIFTY25DEC26000PE,"NIFTY",0,2025-12-30,26000,0.05,75,PE,NFO-OPT,NFO
12178178,47571,NIFTY25D0925900CE,"NIFTY",0,2025-12-09,25900.0,0.05,75,CE,NFO-OPT,NFO
12178434,47572,BADEXPIRY25DECFUT,"BADEXPIRY",0,30-12-2025,0,0.05,75,FUT,NFO-FUT,NFO

x12,1,BROKEN,BROKEN,0,,0,0.05,1,EQ,NSE,NSE
265,1,SENSEX,SENSEX,0,,0,0,0,EQ,INDICES,BSE
"""
MASTER_ROWS = 11  # well-formed rows
TOKENS = {
    "NIFTY 50": 256265,
    "NIFTY BANK": 260105,
    "INDIA VIX": 264969,
    "RELIANCE": 738561,
    "BSE:RELIANCE": 128083204,
    "YESBANK": 3050241,
    "NIFTY25DECFUT": 13238274,
    "NIFTY25DEC26000CE": 10925570,
    "NIFTY25DEC26000PE": 10925826,
    "NIFTY25D0925900CE": 12178178,
    "SENSEX": 265,
}
EXCHANGE_TIME = datetime(2025, 12, 9, 10, 0, 1)  # naive: exchange time, as KiteTicker gives it


def _depth(price: float, step: float) -> dict[str, list[dict[str, Any]]]:
    return {
        "buy": [{"quantity": 75 * (i + 1), "price": round(price - step * (i + 1), 2),
                 "orders": i + 1} for i in range(5)],
        "sell": [{"quantity": 75 * (i + 2), "price": round(price + step * (i + 1), 2),
                  "orders": i + 2} for i in range(5)],
    }


def full_packet(token: int, price: float, *, quantity: int, cumulative: int,
                at: datetime = EXCHANGE_TIME, oi: int = 0) -> dict[str, Any]:
    """A `full` mode tick of a tradable instrument, keys as pykiteconnect names them."""
    return {
        "tradable": True, "mode": "full", "instrument_token": token, "last_price": price,
        "last_traded_quantity": quantity, "average_traded_price": round(price * 0.999, 2),
        "volume_traded": cumulative, "total_buy_quantity": 350_125,
        "total_sell_quantity": 420_900,
        "ohlc": {"open": price - 4, "high": price + 5, "low": price - 9, "close": price - 7},
        "change": 0.45, "last_trade_time": at.replace(second=0), "oi": oi,
        "oi_day_high": oi, "oi_day_low": oi, "exchange_timestamp": at,
        "depth": _depth(price, 0.05),
    }


def quote_packet(token: int, price: float, *, quantity: int, cumulative: int) -> dict[str, Any]:
    """A `quote` mode tick: volumes and OHLC, but no timestamp at all."""
    return {
        "tradable": True, "mode": "quote", "instrument_token": token, "last_price": price,
        "last_traded_quantity": quantity, "average_traded_price": round(price * 0.999, 2),
        "volume_traded": cumulative, "total_buy_quantity": 1_200, "total_sell_quantity": 900,
        "ohlc": {"open": price - 4, "high": price + 5, "low": price - 9, "close": price - 7},
        "change": -0.12,
    }


def ltp_packet(token: int, price: float) -> dict[str, Any]:
    return {"tradable": True, "mode": "ltp", "instrument_token": token, "last_price": price}


def index_packet(token: int, price: float, *, at: datetime | None = EXCHANGE_TIME
                 ) -> dict[str, Any]:
    """An index tick (full mode, or quote mode when `at` is None): no volume fields."""
    packet: dict[str, Any] = {
        "tradable": False, "mode": "full" if at else "quote", "instrument_token": token,
        "last_price": price,
        "ohlc": {"open": price - 40, "high": price + 25, "low": price - 60, "close": price - 30},
        "change": 0.31,
    }
    if at is not None:
        packet["exchange_timestamp"] = at
    return packet


def as_entry(packet: dict[str, Any]) -> dict[bytes, bytes]:
    """The stream entry a crawler writes: one `data` field, datetimes via default=str."""
    return {b"data": json.dumps(packet, default=str).encode()}
