"""The pure core's configuration, built from the config tables (config/ or VOLUME_CONFIG_DIR).

Apart from `settings`, which reads the environment: this turns the market calendar, holidays,
F&O multipliers and the intraday curve into a `CoreConfig`, the one argument every shell hands
the core. Errors are SettingsErrors that name the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from .baseline_service import BaselineService, FnoMultipliers, TimeOfDayCurve
from .engine_core import CoreConfig
from .instruments import InstrumentRegistry
from .market_clock import MarketCalendar
from .settings import Settings, SettingsError, config_dir, load_settings, read_toml


def load_core_config(settings: Settings | None = None) -> CoreConfig:
    """The pure core's configuration, built from the config tables."""
    s = settings if settings is not None else load_settings()
    cdir = Path(s.config_dir) if s.config_dir else config_dir()
    market = read_toml(cdir / "market.toml")
    holidays = read_toml(cdir / "holidays.toml")
    try:
        calendar = MarketCalendar.from_config({**market.get("market", market),
                                               **holidays.get("holidays", holidays)})
        multipliers = FnoMultipliers.from_config(read_toml(cdir / "fno_multipliers.toml"))
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"config in {cdir}: {exc}") from exc
    curve_path = cdir / "curve_nse_intraday.json"
    try:
        curve_doc = json.loads(curve_path.read_text())
        default_curve = TimeOfDayCurve.from_weights(curve_doc["weights"])
    except (OSError, KeyError, ValueError) as exc:
        raise SettingsError(f"curve file {curve_path}: {exc}") from exc
    minutes = calendar.hours.minutes
    curve = TimeOfDayCurve.flat(minutes) if s.curve == "flat" else default_curve
    if curve.minutes != minutes:
        raise SettingsError(
            f"curve file {curve_path}: has {curve.minutes} minutes, the session has {minutes}"
        )
    baselines = BaselineService(
        curve=curve,
        multipliers=multipliers,
        curve_mode=s.curve,
        lookback=s.lookback_sessions,
        min_learned_sessions=s.min_learned_sessions,
        session_minutes=minutes,
    )
    if s.instruments_csv:
        try:
            registry = InstrumentRegistry.from_kite_csv(
                Path(s.instruments_csv).read_text(), calendar, ambiguous=s.ambiguous_dates
            )
        except (OSError, ValueError) as exc:  # unreadable, not UTF-8, or a malformed row
            raise SettingsError(f"VOLUME_INSTRUMENTS_CSV: {s.instruments_csv}: {exc}") from exc
    else:
        registry = InstrumentRegistry(calendar, ambiguous=s.ambiguous_dates)
    return CoreConfig(
        calendar=calendar,
        registry=registry,
        baselines=baselines,
        learned_curves=s.curve == "learned",
    )
