"""`volume-engine inspect`: state seeded by the library engine, drawn through the gateway."""

from __future__ import annotations

import dataclasses
import io
from datetime import date

import pytest
import redis
from rich.console import Console

from shared_core.volume_files.cli import main
from shared_core.volume_files.inspect_view import histogram_rows, level_step, run_inspect
from shared_core.volume_files.redis_volume_gateway import RedisVolumeGateway
from shared_core.volume_files.settings import Settings, load_settings
from shared_core.volume_files.unified_engine import UnifiedVolumeEngine

pytestmark = pytest.mark.integration

DAY = date(2025, 12, 9)


def _settings(url: str) -> Settings:
    return dataclasses.replace(load_settings(env={}), redis_url=url)


def _seed(client: redis.Redis) -> None:
    """Two recorded sessions (1,000 and 3,000) then today's profile: POC 100.05 (500)."""
    engine = UnifiedVolumeEngine(client)
    engine.process_tick("RELIANCE", {"price": 99.5, "volume": 1000,
                                     "timestamp": "2025-12-05T10:00:00"})
    engine.process_tick("RELIANCE", {"price": 99.0, "volume": 3000,
                                     "timestamp": "2025-12-08T10:00:00"})
    for minute, (price, volume) in enumerate(
        [(100.0, 100), (100.05, 500), (100.10, 200), (100.20, 100)]
    ):
        engine.process_tick("RELIANCE", {"price": price, "volume": volume,
                                         "timestamp": f"2025-12-09T10:{minute:02d}:00"})


def _render(url: str, symbol: str, day: date | None = None) -> tuple[int, str]:
    console = Console(record=True, width=120, file=io.StringIO())
    code = run_inspect(_settings(url), symbol, day, console)
    return code, console.export_text()


def test_inspect_draws_profile_marks_and_metrics(
    redis_url: str, redis_client: redis.Redis
) -> None:
    _seed(redis_client)
    profile = RedisVolumeGateway(redis_client).profile("RELIANCE", DAY)
    assert profile is not None
    code, text = _render(redis_url, "RELIANCE")
    assert code == 0
    assert "RELIANCE · 2025-12-09" in text
    lines = text.splitlines()
    poc_line = next(line for line in lines if "◀ POC" in line)
    assert poc_line.lstrip().startswith("100.05")
    assert "500" in poc_line
    assert any("VAH" in line and f"{profile.value_area_high:,.2f}" in line for line in lines)
    assert any("VAL" in line and f"{profile.value_area_low:,.2f}" in line for line in lines)
    assert any(line.lstrip().startswith("100.20") and "last" in line for line in lines)
    # The empty level inside the range is a row of its own (levels are every tick).
    assert any(line.lstrip().startswith("100.15 ") for line in lines)
    for needle in ("cumulative volume", "900", "RVOL", "avg volume 20d", "2,000",
                   "value area (70%)", "profile strength"):
        assert needle in text, needle


def test_inspect_by_date_and_unknown_symbol(redis_url: str, redis_client: redis.Redis) -> None:
    _seed(redis_client)
    code, text = _render(redis_url, "RELIANCE", date(2025, 12, 8))
    assert code == 0
    assert "RELIANCE · 2025-12-08" in text
    assert "3,000" in text
    code, text = _render(redis_url, "NOSUCHSYMBOL")
    assert code == 1
    assert "No data for 'NOSUCHSYMBOL' in any session" in text
    code, text = _render(redis_url, "RELIANCE", date(2025, 1, 1))
    assert code == 1
    assert "on 2025-01-01" in text


def test_wide_profile_is_bucketed_and_keeps_the_volume(
    redis_url: str, redis_client: redis.Redis
) -> None:
    engine = UnifiedVolumeEngine(redis_client)
    for i in range(200):  # 200 levels, 0.05 apart: 2000.00 .. 2009.95
        engine.process_tick("TCS", {"price": round(2000 + 0.05 * i, 2), "volume": 10 + i % 7,
                                    "timestamp": f"2025-12-09T11:{i % 60:02d}:00"})
    profile = RedisVolumeGateway(redis_client).profile("TCS")
    assert profile is not None
    assert level_step(list(profile.distribution)) == 500
    rows = histogram_rows(profile)
    assert len(rows) == 40
    assert sum(r.volume for r in rows) == profile.total_volume
    assert rows[0].high == pytest.approx(2009.95)
    assert rows[-1].low == pytest.approx(2000.0)
    assert sum(r.is_poc for r in rows) == 1
    code, text = _render(redis_url, "TCS")
    assert code == 0
    assert "levels grouped into ₹0.25 rows" in text
    assert "from (₹0.25 rows)" in text
    top_row = next(line for line in text.splitlines() if line.lstrip().startswith("2,009.75"))
    assert f"{rows[0].volume:,}" in top_row


def test_cli_inspect(redis_url: str, redis_client: redis.Redis,
                     capsys: pytest.CaptureFixture[str]) -> None:
    _seed(redis_client)
    assert main(["inspect", "RELIANCE", "--redis-url", redis_url]) == 0
    assert "POC" in capsys.readouterr().out
    assert main(["--redis-url", redis_url, "inspect", "NOPE"]) == 1
    assert "No data for 'NOPE'" in capsys.readouterr().out
