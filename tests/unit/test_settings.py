from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tomllib
from datetime import date, time
from pathlib import Path

import pytest

from shared_core.volume_files.baseline_service import FnoMultipliers, TimeOfDayCurve
from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.instruments import InstrumentKind
from shared_core.volume_files.settings import (
    Settings,
    SettingsError,
    config_dir,
    load_settings,
    redacted_url,
)

SECRET = "s3cret-Pa55"


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A writable copy of the shipped config/ directory."""
    target = tmp_path / "config"
    shutil.copytree(config_dir(env={}), target)
    return target


def _settings_for(directory: Path, **env: str) -> Settings:
    return load_settings(env={"VOLUME_CONFIG_DIR": str(directory), **env})


# -- Defaults and overrides --------------------------------------------------------------------


def test_defaults_load_from_the_shipped_config() -> None:
    s = load_settings(env={})
    assert (Path(s.config_dir) / "volume_engine.toml").is_file()
    assert Path(s.config_dir) == config_dir(env={})
    assert s == Settings(
        redis_url="redis://localhost:6379/1",
        stream="ticks",
        partitions=8,
        group="volume-engine",
        worker_id=f"{socket.gethostname()}-{os.getpid()}",
        read_count=500,
        block_ms=1000,
        read_linger_ms=25,
        flush_interval_ms=250,
        flush_max_entries=20000,
        max_deliveries=5,
        lease_ttl_ms=5000,
        renew_interval_ms=1000,
        metrics_host="127.0.0.1",
        metrics_port=9108,
        dual_write=True,
        write_filter_keys=40_000,
        gc_gen0_threshold=50_000,
        curve="default",
        lookback_sessions=20,
        min_learned_sessions=5,
        instruments_csv="",
        ambiguous_dates="auto",
        log_level="info",
        config_dir=s.config_dir,
    )


def test_toml_values_are_read(conf: Path) -> None:
    toml = conf / "volume_engine.toml"
    text = toml.read_text().replace("partitions = 8", "partitions = 4")
    text = text.replace("dual_write = true", "dual_write = false")
    toml.write_text(text.replace('name = "ticks"', 'name = "nse-ticks"'))
    s = _settings_for(conf)
    assert (s.partitions, s.dual_write, s.stream) == (4, False, "nse-ticks")
    assert s.config_dir == str(conf)


def test_environment_overrides_the_toml(conf: Path) -> None:
    s = _settings_for(
        conf,
        VOLUME_REDIS_URL=f"rediss://:{SECRET}@cache.internal:6380/2",
        VOLUME_PARTITIONS=" 16 ",
        VOLUME_DUAL_WRITE="off",
        VOLUME_CURVE="flat",
        VOLUME_METRICS_PORT="0",
        VOLUME_WORKER_ID="engine-0",
        VOLUME_LEASE_TTL_MS="2000",
        VOLUME_RENEW_INTERVAL_MS="1000",  # exactly half: allowed
        VOLUME_AMBIGUOUS_DATES="day",
    )
    assert s.redis_url == f"rediss://:{SECRET}@cache.internal:6380/2"
    assert s.partitions == 16
    assert s.dual_write is False
    assert s.curve == "flat"
    assert s.metrics_port == 0
    assert s.worker_id == "engine-0"
    assert (s.lease_ttl_ms, s.renew_interval_ms) == (2000, 1000)
    assert s.ambiguous_dates == "day"
    assert s.stream == "ticks"  # untouched: from the TOML


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
     ("0", False), ("False", False), ("no", False), ("OFF", False)],
)
def test_booleans(text: str, value: bool) -> None:
    assert load_settings(env={"VOLUME_DUAL_WRITE": text}).dual_write is value


def test_an_explicit_env_ignores_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("VOLUME_CONFIG_DIR", str(missing))
    monkeypatch.setenv("VOLUME_PARTITIONS", "3")
    s = load_settings(env={})
    assert s.partitions == 8
    assert Path(s.config_dir) != missing
    with pytest.raises(SettingsError, match=r"^VOLUME_CONFIG_DIR: "):
        load_settings()  # env=None reads os.environ


def test_directory_argument_wins(conf: Path, tmp_path: Path) -> None:
    env = {"VOLUME_CONFIG_DIR": str(tmp_path / "nowhere")}
    assert load_settings(env=env, directory=str(conf)).config_dir == str(conf)


# -- Validation errors name the setting --------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOLUME_PARTITIONS": "zero"}, "VOLUME_PARTITIONS: must be an integer, got 'zero'"),
        ({"VOLUME_PARTITIONS": "2.5"}, "VOLUME_PARTITIONS: must be an integer, got '2.5'"),
        ({"VOLUME_PARTITIONS": "0"}, "VOLUME_PARTITIONS: must be >= 1, got 0"),
        ({"VOLUME_PARTITIONS": "-3"}, "VOLUME_PARTITIONS: must be >= 1, got -3"),
        ({"VOLUME_LEASE_TTL_MS": "99"}, "VOLUME_LEASE_TTL_MS: must be >= 100, got 99"),
        (
            {"VOLUME_REDIS_URL": f"http://user:{SECRET}@host:6379/1"},
            "VOLUME_REDIS_URL: must start with redis://, rediss:// or unix://, "
            "got 'http://user:***@host:6379/1'",
        ),
        (
            {"VOLUME_REDIS_URL": f"redis://:{SECRET}@host:63a9/1"},
            "VOLUME_REDIS_URL: the port must be a number 0-65535, got 'redis://:***@host:63a9/1'",
        ),
        (
            {"VOLUME_REDIS_URL": "redis://host:70000/1"},
            "VOLUME_REDIS_URL: the port must be a number 0-65535, got 'redis://host:70000/1'",
        ),
        (
            {"VOLUME_CURVE": "Flat"},
            "VOLUME_CURVE: must be one of default, flat, learned, got 'Flat'",
        ),
        (
            {"VOLUME_AMBIGUOUS_DATES": "month"},
            "VOLUME_AMBIGUOUS_DATES: must be one of auto, day, year, got 'month'",
        ),
        (
            {"VOLUME_RENEW_INTERVAL_MS": "2501"},
            "VOLUME_RENEW_INTERVAL_MS: must be at most half of VOLUME_LEASE_TTL_MS (5000), "
            "got 2501",
        ),
        (
            {"VOLUME_LEASE_TTL_MS": "1000"},  # the default renew interval is now too slow
            "VOLUME_RENEW_INTERVAL_MS: must be at most half of VOLUME_LEASE_TTL_MS (1000), "
            "got 1000",
        ),
        ({"VOLUME_DUAL_WRITE": "maybe"}, "VOLUME_DUAL_WRITE: must be true or false, got 'maybe'"),
        (
            {"VOLUME_STREAM": "my ticks"},
            "VOLUME_STREAM: must be a non-empty name without spaces, got 'my ticks'",
        ),
        ({"VOLUME_METRICS_PORT": "65536"}, "VOLUME_METRICS_PORT: must be <= 65535, got 65536"),
        (
            {"VOLUME_GC_GEN0_THRESHOLD": "-1"},
            "VOLUME_GC_GEN0_THRESHOLD: must be >= 0, got -1",
        ),
        (
            {"VOLUME_READ_LINGER_MS": "250"},
            "VOLUME_READ_LINGER_MS: must be less than VOLUME_FLUSH_INTERVAL_MS (250), got 250",
        ),
        (
            {"VOLUME_READ_LINGER_MS": "40", "VOLUME_FLUSH_INTERVAL_MS": "30"},
            "VOLUME_READ_LINGER_MS: must be less than VOLUME_FLUSH_INTERVAL_MS (30), got 40",
        ),
        ({"VOLUME_READ_LINGER_MS": "-1"}, "VOLUME_READ_LINGER_MS: must be >= 0, got -1"),
        (
            {"VOLUME_WRITE_FILTER_KEYS": "-5"},
            "VOLUME_WRITE_FILTER_KEYS: must be >= 0, got -5",
        ),
        (
            {"VOLUME_INSTRUMENTS_CSV": "/nonexistent/instruments.csv"},
            "VOLUME_INSTRUMENTS_CSV: no such file '/nonexistent/instruments.csv'",
        ),
        (
            {"VOLUME_INSTRUMENTS_POLL_MS": "50"},
            "VOLUME_INSTRUMENTS_POLL_MS: must be >= 100, got 50",
        ),
        (
            {"VOLUME_TIMESTAMP_FROM_ENTRY_ID": "sometimes"},
            "VOLUME_TIMESTAMP_FROM_ENTRY_ID: must be true or false, got 'sometimes'",
        ),
    ],
)
def test_validation_errors_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(env=env)
    assert str(err.value) == message
    assert SECRET not in str(err.value)


def test_config_dir_that_is_not_a_directory(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file.toml"
    not_a_dir.write_text("")
    with pytest.raises(SettingsError) as err:
        load_settings(env={"VOLUME_CONFIG_DIR": str(not_a_dir)})
    assert str(err.value) == f"VOLUME_CONFIG_DIR: {str(not_a_dir)!r} is not a directory"
    with pytest.raises(SettingsError, match=r"^VOLUME_CONFIG_DIR: .* is not a directory$"):
        load_settings(env={"VOLUME_CONFIG_DIR": str(tmp_path / "missing")})


def test_bad_toml_value_names_section_and_key(conf: Path) -> None:
    toml = conf / "volume_engine.toml"
    toml.write_text(toml.read_text().replace("partitions = 8", 'partitions = "eight"'))
    with pytest.raises(SettingsError) as err:
        _settings_for(conf)
    assert str(err.value) == "[stream] partitions: must be an integer, got 'eight'"
    # the environment still overrides a bad file value
    assert _settings_for(conf, VOLUME_PARTITIONS="2").partitions == 2


# -- Redacted URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/1", "redis://localhost:6379/1"),
        (f"redis://:{SECRET}@localhost:6379/1", "redis://:***@localhost:6379/1"),
        (f"redis://user:{SECRET}@h:1/1", "redis://user:***@h:1/1"),
        (f"rediss://default:{SECRET}@Cache.Example/0?ssl_cert_reqs=none",
         "rediss://default:***@Cache.Example/0?ssl_cert_reqs=none"),
        (f"redis://:{SECRET}@[::1]:6380/2", "redis://:***@[::1]:6380/2"),
        (f"redis://:{SECRET}@host:bad/0", "redis://:***@host:bad/0"),
        (f"redis://:p%40{SECRET}@host", "redis://:***@host"),
        (f"unix://:{SECRET}@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
    ],
)
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
    assert SECRET not in redacted_url(url)


# -- The core configuration --------------------------------------------------------------------


def _default_curve(directory: Path) -> TimeOfDayCurve:
    doc = json.loads((directory / "curve_nse_intraday.json").read_text())
    return TimeOfDayCurve.from_weights(doc["weights"])


def test_core_config_default_curve_and_tables() -> None:
    s = load_settings(env={})
    directory = Path(s.config_dir)
    core = load_core_config(s)
    assert core.baselines.curve_mode == "default"
    assert core.learned_curves is False
    assert core.baselines.curve == _default_curve(directory)
    assert core.baselines.curve != TimeOfDayCurve.flat(375)
    assert core.baselines.lookback == 20
    assert core.baselines.min_learned_sessions == 5
    fno = tomllib.loads((directory / "fno_multipliers.toml").read_text())
    assert core.baselines.multipliers == FnoMultipliers.from_config(fno)
    assert core.baselines.multipliers.dte[0] == (0, 2.0)
    hours = core.calendar.hours
    assert (hours.open, hours.close, hours.minutes) == (time(9, 15), time(15, 30), 375)
    holidays = tomllib.loads((directory / "holidays.toml").read_text())["holidays"]["dates"]
    assert core.calendar.holidays == frozenset(date.fromisoformat(d) for d in holidays)
    assert date(2025, 2, 26) in core.calendar.holidays
    # Tuesday expiries from September 2025 (market.toml)
    assert core.calendar.monthly_expiry(2025, 9) == date(2025, 9, 30)
    assert core.calendar.monthly_expiry(2025, 1) == date(2025, 1, 30)


def test_core_config_flat_curve() -> None:
    core = load_core_config(load_settings(env={"VOLUME_CURVE": "flat"}))
    assert core.baselines.curve_mode == "flat"
    assert core.learned_curves is False
    assert core.baselines.curve == TimeOfDayCurve.flat(375)
    assert core.baselines.curve.cumulative(60.0) == 60.0


def test_core_config_learned_curve() -> None:
    s = load_settings(env={"VOLUME_CURVE": "learned", "VOLUME_LOOKBACK_SESSIONS": "10",
                           "VOLUME_MIN_LEARNED_SESSIONS": "3"})
    core = load_core_config(s)
    assert core.baselines.curve_mode == "learned"
    assert core.learned_curves is True
    assert core.baselines.curve == _default_curve(Path(s.config_dir))  # the fallback
    assert (core.baselines.lookback, core.baselines.min_learned_sessions) == (10, 3)


def test_core_config_reads_the_instruments_master(tmp_path: Path) -> None:
    csv = tmp_path / "instruments.csv"
    csv.write_text(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
        "lot_size,instrument_type,segment,exchange\n"
        "1,1,ODDNAME,NIFTY,0,2025-01-30,25000,0.05,75,CE,NFO-OPT,NFO\n"
    )
    core = load_core_config(load_settings(env={"VOLUME_INSTRUMENTS_CSV": str(csv)}))
    inst = core.registry.resolve("ODDNAME", date(2025, 1, 6))
    assert inst.kind is InstrumentKind.OPTION
    assert (inst.underlying, inst.expiry, inst.strike) == ("NIFTY", date(2025, 1, 30), 25000.0)


def test_malformed_instruments_master_names_the_setting(tmp_path: Path) -> None:
    csv = tmp_path / "instruments.csv"
    csv.write_text("tradingsymbol,name\nSBIN,SBI\n")
    s = load_settings(env={"VOLUME_INSTRUMENTS_CSV": str(csv)})
    with pytest.raises(SettingsError, match=r"^VOLUME_INSTRUMENTS_CSV: .*missing column"):
        load_core_config(s)


@pytest.mark.parametrize(
    "name", ["volume_engine.toml", "market.toml", "holidays.toml", "fno_multipliers.toml"]
)
def test_broken_toml_names_the_file(conf: Path, name: str) -> None:
    (conf / name).write_text("[market\nsession_open = ")
    with pytest.raises(SettingsError) as err:
        load_core_config(_settings_for(conf))
    assert str(conf / name) in str(err.value)


def test_broken_settings_toml_stops_load_settings(conf: Path) -> None:
    (conf / "volume_engine.toml").write_text("[stream\n")
    with pytest.raises(SettingsError, match=r"config file .*volume_engine\.toml: "):
        _settings_for(conf)


def test_missing_table_file_names_the_file(conf: Path) -> None:
    (conf / "holidays.toml").unlink()
    with pytest.raises(SettingsError) as err:
        load_core_config(_settings_for(conf))
    assert str(err.value) == f"config file {conf / 'holidays.toml'} is missing"


def test_broken_curve_names_the_file(conf: Path) -> None:
    curve = conf / "curve_nse_intraday.json"
    curve.write_text("{not json")
    with pytest.raises(SettingsError, match=r"^curve file .*curve_nse_intraday\.json: "):
        load_core_config(_settings_for(conf))
    curve.write_text(json.dumps({"weights": [1.0] * 374}))
    with pytest.raises(SettingsError) as err:
        load_core_config(_settings_for(conf))
    assert str(err.value) == f"curve file {curve}: has 374 minutes, the session has 375"


def test_bad_market_value_is_a_settings_error(conf: Path) -> None:
    market = conf / "market.toml"
    market.write_text(market.read_text().replace('"09:15"', '"25:00"'))
    with pytest.raises(SettingsError, match=f"^config in {re.escape(str(conf))}: "):
        load_core_config(_settings_for(conf))


def test_kite_feed_settings() -> None:
    defaults = load_settings(env={})
    assert (defaults.instruments_poll_ms, defaults.timestamp_from_entry_id) == (5000, False)
    chosen = load_settings(
        env={"VOLUME_INSTRUMENTS_POLL_MS": "1500", "VOLUME_TIMESTAMP_FROM_ENTRY_ID": "1"}
    )
    assert (chosen.instruments_poll_ms, chosen.timestamp_from_entry_id) == (1500, True)


def test_config_dir_finds_the_packaged_tables_of_a_wheel_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed from a wheel, the config package is a namespace package: importlib gives a
    MultiplexedPath, whose str() is not a path."""
    from importlib import resources
    from importlib.readers import MultiplexedPath

    from shared_core.volume_files import settings as settings_module

    (tmp_path / "volume_engine.toml").write_text("")
    monkeypatch.setattr(resources, "files", lambda _name: MultiplexedPath(tmp_path))
    assert settings_module.config_dir(env={}) == tmp_path
