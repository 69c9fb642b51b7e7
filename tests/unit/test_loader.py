from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from shared_core.volume_files.session_tracker import SessionState
from shared_core.volume_files.store.loader import SymbolLoad

D1, D2, D3 = date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 6)

SESSION = {
    b"symbol": b"SBIN", b"date": b"2025-01-06", b"cumulative_volume": b"1200",
    b"tick_count": b"7", b"last_price": b"612.35", b"last_ts_ms": b"1736138700000",
    b"last_minute": b"60", b"minutes_elapsed": b"60", b"rvol": b"0.5",
}
MINUTES = {b"0": b"1000", b"60": b"200", b"61": b"0"}
PROFILE = {b"price_volume_distribution": orjson.dumps({"612.30": 1000, "612.35": 200}),
           b"poc_price": b"612.3"}


def test_first_phase_reads_every_history() -> None:
    plan = SymbolLoad(["SBIN", "YESBANK"])
    assert plan.first() == [("HGETALL", "vol:history:SBIN"), ("HGETALL", "vol:history:YESBANK")]


def test_open_session_is_restored_from_the_latest_date() -> None:
    plan = SymbolLoad(["SBIN", "NEW"])
    second = plan.second([
        {b"2025-01-02": b"30000", b"2025-01-06": b"1200", b"2025-01-03": b"45000"},
        {},
    ])
    assert second == [
        ("HGETALL", "vol:session:SBIN:2025-01-06"),
        ("HGETALL", "vol:minutes:SBIN:2025-01-06"),
        ("HGETALL", "volume_profile:session:SBIN:2025-01-06"),
    ]
    out = plan.result([SESSION, MINUTES, PROFILE])
    assert list(out) == ["SBIN", "NEW"]
    sbin = out["SBIN"]
    assert sbin.daily_totals == {D1: 30_000, D2: 45_000, D3: 1200}
    assert sbin.session == SessionState(
        date=D3, cumulative_volume=1200, tick_count=7, last_price=612.35,
        last_ts_ms=1_736_138_700_000, last_minute=60, minute_volumes={0: 1000, 60: 200},
    )
    assert sbin.profile == {"612.30": 1000, "612.35": 200}
    assert sbin.minute_history == {}
    new = out["NEW"]
    assert (new.daily_totals, new.session, new.profile, new.minute_history) == ({}, None, None, {})


def test_history_without_a_session_hash_has_no_open_session() -> None:
    # e.g. history from `baselines import` only: totals feed the baseline, nothing is restored
    plan = SymbolLoad(["SBIN"])
    assert len(plan.second([{"2025-01-02": "30000", "2025-01-03": "45000"}])) == 3
    (history,) = plan.result([{}, {}, {}]).values()
    assert history.daily_totals == {D1: 30_000, D2: 45_000}
    assert history.session is None
    assert history.profile is None


def test_session_without_a_profile_restores_an_empty_one() -> None:
    plan = SymbolLoad(["SBIN"])
    plan.second([{b"2025-01-06": b"0"}])
    (history,) = plan.result([SESSION, {}, {}]).values()
    assert history.session is not None
    assert history.session.minute_volumes == {}
    assert history.profile == {}


def test_learned_curves_also_read_recent_minute_history() -> None:
    plan = SymbolLoad(["SBIN", "YESBANK"], minute_history_days=2)
    histories: list[Any] = [
        {b"2024-12-31": b"1", b"2025-01-02": b"2", b"2025-01-03": b"3", b"2025-01-06": b"4"},
        {b"2025-01-03": b"9"},
    ]
    assert plan.second(histories) == [
        ("HGETALL", "vol:session:SBIN:2025-01-06"),
        ("HGETALL", "vol:minutes:SBIN:2025-01-06"),
        ("HGETALL", "volume_profile:session:SBIN:2025-01-06"),
        ("HGETALL", "vol:minutes:SBIN:2025-01-02"),  # the two sessions before the open one
        ("HGETALL", "vol:minutes:SBIN:2025-01-03"),
        ("HGETALL", "vol:session:YESBANK:2025-01-03"),
        ("HGETALL", "vol:minutes:YESBANK:2025-01-03"),
        ("HGETALL", "volume_profile:session:YESBANK:2025-01-03"),
    ]
    out = plan.result([
        SESSION, MINUTES, PROFILE,
        {b"0": b"10", b"5": b"20"},
        {},  # a recorded session without minute buckets is left out
        {}, {}, {},
    ])
    assert out["SBIN"].minute_history == {D1: {0: 10, 5: 20}}
    assert out["SBIN"].session is not None
    assert out["YESBANK"].daily_totals == {D2: 9}
    assert out["YESBANK"].session is None
    assert out["YESBANK"].minute_history == {}


def test_no_second_round_trip_for_unknown_symbols() -> None:
    plan = SymbolLoad(["A", "B"], minute_history_days=5)
    assert plan.second([{}, {}]) == []
    out = plan.result([])
    assert {s: h.session for s, h in out.items()} == {"A": None, "B": None}
