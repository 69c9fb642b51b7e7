"""Tick parsing, the native parser (`_native.parse_entry`) against `ticks.parse_entry`.

`python -m bench.ticks_parse [--n N] [--repeat R]` parses N realistic stream entries (default
100,000) with each parser, best of R rounds, and reports ns per entry and the ratio, by form:

- `sim_flat`: the project's simulator session (flat fields as a crawler writes them: ISO
  timestamps, per-tick or Kite-style day-cumulative volume, options with `underlying_price`);
- `epoch_flat`: the same ticks with epoch-millisecond timestamps;
- `kite_json`: the same ticks as full-mode Kite Connect ticks in one `data` JSON field (ohlc,
  five-level depth, oi: about 700 bytes each).

The native figure includes the binding's cost (a Python dict in, a tuple out), which the
production path, calling `volume_core::ticks` from a batch object, does not pay. Every native
result is checked equal to Python's first, and deferrals (entries left to Python) are counted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta

import orjson

from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.ticks import TickError, parse_entry

Entry = dict[bytes, bytes]
Outcome = tuple[object, ...]
SESSION = date(2025, 12, 9)
_IST = timedelta(hours=5, minutes=30)


def _native() -> Callable[[Mapping[bytes, bytes]], Outcome | None]:
    try:
        parse: Callable[[Mapping[bytes, bytes]], Outcome | None]
        parse = importlib.import_module("shared_core.volume_files._native").parse_entry
    except (ImportError, AttributeError) as exc:
        sys.exit(f"the Rust extension _native (with parse_entry) is not built: {exc}")
    return parse


def _reference(fields: Entry) -> Outcome:
    try:
        t = parse_entry(fields)
    except TickError as error:
        return (error.reason, str(error))
    return (t.symbol, t.price, t.ts_ms, t.volume, t.cumulative_volume, t.oi, t.underlying_price)


def _kite(tick: Mapping[str, str]) -> Entry:
    price = float(tick["price"])
    doc: dict[str, object] = {
        "tradable": True,
        "mode": "full",
        "instrument_token": 8_000_000 + len(tick["symbol"]),
        "tradingsymbol": tick["symbol"],
        "last_price": price,
        "last_traded_quantity": int(tick.get("last_traded_quantity") or tick.get("volume") or 0),
        "average_traded_price": round(price * 0.998, 2),
        "volume_traded": int(tick.get("volume_traded") or 0),
        "total_buy_quantity": 120_450,
        "total_sell_quantity": 98_300,
        "ohlc": {"open": price, "high": price * 1.01, "low": price * 0.99, "close": price},
        "change": 0.42,
        "last_trade_time": tick["timestamp"][:19].replace("T", " "),
        "oi": 1_250_000,
        "oi_day_high": 1_300_000,
        "oi_day_low": 1_100_000,
        "exchange_timestamp": tick["timestamp"][:19].replace("T", " "),
        "depth": {
            side: [{"price": price, "quantity": 75 * (i + 1), "orders": i + 1} for i in range(5)]
            for side in ("buy", "sell")
        },
    }
    return {b"data": orjson.dumps(doc)}


def _epoch(tick: Mapping[str, str]) -> Entry:
    moment = datetime.fromisoformat(tick["timestamp"]) - _IST
    ms = (moment - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
    fields = {**tick, "timestamp": str(ms)}
    return {k.encode(): v.encode() for k, v in fields.items()}


def workloads(n: int) -> dict[str, list[Entry]]:
    universe = build_universe(2_000, session_date=SESSION)
    ticks = list(simulate_ticks(universe, session_date=SESSION, n_ticks=n))
    return {
        "sim_flat": [{k.encode(): v.encode() for k, v in t.items()} for t in ticks],
        "epoch_flat": [_epoch(t) for t in ticks],
        "kite_json": [_kite(t) for t in ticks],
    }


def _best(call: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def measure(name: str, entries: Sequence[Entry], repeat: int) -> dict[str, object]:
    native = _native()
    deferred = 0
    for fields in entries:
        got = native(fields)
        if got is None:
            deferred += 1
        elif got != _reference(fields):
            sys.exit(f"{name}: native {got!r} != Python {_reference(fields)!r} for {fields!r}")

    def python_round() -> None:
        for fields in entries:
            parse_entry(fields)

    def native_round() -> None:
        for fields in entries:
            native(fields)

    python_s = _best(python_round, repeat)
    native_s = _best(native_round, repeat)
    n = len(entries)
    scale = 1e9 / n
    return {
        "name": name,
        "entries": n,
        "mean_bytes": round(sum(len(k) + len(v) for e in entries for k, v in e.items()) / n),
        "deferred": deferred,
        "python_ns": round(python_s * scale),
        "native_ns": round(native_s * scale),
        "speedup": round(python_s / native_s, 2),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="entries per form")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per parser (best kept)")
    args = parser.parse_args(argv)
    results = [measure(name, entries, args.repeat) for name, entries in workloads(args.n).items()]
    for result in results:
        print(orjson.dumps(result).decode())
    print(f"\n{'form':<12}{'bytes':>7}{'deferred':>10}{'python ns':>11}{'native ns':>11}{'x':>7}")
    for r in results:
        print(
            f"{r['name']:<12}{r['mean_bytes']:>7}{r['deferred']:>10}"
            f"{r['python_ns']:>11}{r['native_ns']:>11}{r['speedup']:>7}"
        )


if __name__ == "__main__":
    main()
