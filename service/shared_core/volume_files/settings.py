"""Service settings: config/volume_engine.toml plus environment variables, validated first.

(The core's own tables, calendar to curve, are `core_config`'s.)

A bad value stops start-up with a SettingsError that names the setting, the value and what it
must be; secrets in the Redis URL never appear in that message or in logs (`redacted_url`).
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import cores
from .baseline_service import CURVE_MODES
from .instruments import AMBIGUOUS_POLICIES


class SettingsError(ValueError):
    """Invalid configuration; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str = "redis://localhost:6379/1"
    stream: str = "ticks"
    partitions: int = 8
    group: str = "volume-engine"
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    read_count: int = 500
    block_ms: int = 1000
    read_linger_ms: int = 25  # a live read waits this long after the last (below the interval)
    flush_interval_ms: int = 250
    flush_max_entries: int = 20000
    max_deliveries: int = 5
    lease_ttl_ms: int = 5000
    renew_interval_ms: int = 1000
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    dual_write: bool = True
    write_filter_keys: int = 40_000  # hash keys a worker remembers writing; 0: write in full
    gc_gen0_threshold: int = 50_000
    core: str = "auto"  # the tick core: auto (native where built), native or python
    curve: str = "default"
    lookback_sessions: int = 20
    min_learned_sessions: int = 5
    instruments_csv: str = ""
    ambiguous_dates: str = "auto"
    instruments_poll_ms: int = 5000  # how often workers look for a new `instruments import`
    timestamp_from_entry_id: bool = False  # date a tick without a timestamp by its entry id
    log_level: str = "info"
    config_dir: str = ""


# setting name -> (environment variable, TOML section, TOML key)
_SOURCES: dict[str, tuple[str, str, str]] = {
    "redis_url": ("VOLUME_REDIS_URL", "redis", "url"),
    "stream": ("VOLUME_STREAM", "stream", "name"),
    "partitions": ("VOLUME_PARTITIONS", "stream", "partitions"),
    "group": ("VOLUME_GROUP", "stream", "group"),
    "worker_id": ("VOLUME_WORKER_ID", "stream", "worker_id"),
    "read_count": ("VOLUME_READ_COUNT", "stream", "read_count"),
    "block_ms": ("VOLUME_BLOCK_MS", "stream", "block_ms"),
    "read_linger_ms": ("VOLUME_READ_LINGER_MS", "stream", "read_linger_ms"),
    "flush_interval_ms": ("VOLUME_FLUSH_INTERVAL_MS", "stream", "flush_interval_ms"),
    "flush_max_entries": ("VOLUME_FLUSH_MAX_ENTRIES", "stream", "flush_max_entries"),
    "max_deliveries": ("VOLUME_MAX_DELIVERIES", "stream", "max_deliveries"),
    "lease_ttl_ms": ("VOLUME_LEASE_TTL_MS", "leases", "ttl_ms"),
    "renew_interval_ms": ("VOLUME_RENEW_INTERVAL_MS", "leases", "renew_interval_ms"),
    "metrics_host": ("VOLUME_METRICS_HOST", "metrics", "host"),
    "metrics_port": ("VOLUME_METRICS_PORT", "metrics", "port"),
    "dual_write": ("VOLUME_DUAL_WRITE", "engine", "dual_write"),
    "write_filter_keys": ("VOLUME_WRITE_FILTER_KEYS", "engine", "write_filter_keys"),
    "gc_gen0_threshold": ("VOLUME_GC_GEN0_THRESHOLD", "engine", "gc_gen0_threshold"),
    "core": ("VOLUME_CORE", "engine", "core"),
    "curve": ("VOLUME_CURVE", "baseline", "curve"),
    "lookback_sessions": ("VOLUME_LOOKBACK_SESSIONS", "baseline", "lookback_sessions"),
    "min_learned_sessions": ("VOLUME_MIN_LEARNED_SESSIONS", "baseline", "min_learned_sessions"),
    "instruments_csv": ("VOLUME_INSTRUMENTS_CSV", "instruments", "master_csv"),
    "ambiguous_dates": ("VOLUME_AMBIGUOUS_DATES", "instruments", "ambiguous_dates"),
    "instruments_poll_ms": ("VOLUME_INSTRUMENTS_POLL_MS", "instruments", "poll_ms"),
    "timestamp_from_entry_id": (
        "VOLUME_TIMESTAMP_FROM_ENTRY_ID", "stream", "timestamp_from_entry_id"
    ),
    "log_level": ("VOLUME_LOG_LEVEL", "logging", "level"),
}
_MINIMUMS = {
    "partitions": 1, "read_count": 1, "block_ms": 1, "flush_interval_ms": 1,
    "flush_max_entries": 1, "max_deliveries": 1, "lease_ttl_ms": 100, "renew_interval_ms": 10,
    "metrics_port": 0, "gc_gen0_threshold": 0, "lookback_sessions": 1, "min_learned_sessions": 1,
    "instruments_poll_ms": 100, "write_filter_keys": 0, "read_linger_ms": 0,
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def redacted_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    # host[:port] as written: keeps IPv6 brackets, and a malformed port cannot raise here
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def config_dir(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Where the config tables are: explicit, VOLUME_CONFIG_DIR, the package, the checkout."""
    chosen = explicit or (os.environ if env is None else env).get("VOLUME_CONFIG_DIR")
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise SettingsError(f"VOLUME_CONFIG_DIR: {chosen!r} is not a directory")
        return path
    try:
        # A namespace package (no __init__.py): files() is a MultiplexedPath, whose str() is
        # not a path, so the path is taken from the file inside it.
        packaged = resources.files("shared_core.volume_files.config") / "volume_engine.toml"
        if packaged.is_file():
            return Path(str(packaged)).parent
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[3] / "config"


def read_toml(path: Path) -> dict[str, Any]:
    """A config table; a missing or malformed file is a SettingsError naming it."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {path} is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: {exc}") from exc


def _coerce(name: str, label: str, value: object, default: object) -> object:
    if isinstance(default, bool):
        text = str(value).strip().lower()
        if isinstance(value, bool):
            return value
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingsError(f"{label}: must be true or false, got {value!r}")
    if isinstance(default, int):
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError as exc:
            raise SettingsError(f"{label}: must be an integer, got {value!r}") from exc
        minimum = _MINIMUMS.get(name)
        if minimum is not None and number < minimum:
            raise SettingsError(f"{label}: must be >= {minimum}, got {number}")
        return number
    return str(value)


def load_settings(
    env: Mapping[str, str] | None = None, *, directory: str | None = None
) -> Settings:
    """Defaults < config/volume_engine.toml < environment variables."""
    env = os.environ if env is None else env
    cdir = config_dir(directory, env)
    table = read_toml(cdir / "volume_engine.toml")
    defaults = Settings()
    values: dict[str, object] = {"config_dir": str(cdir)}
    for name, (var, section, key) in _SOURCES.items():
        default = getattr(defaults, name)
        if var in env:
            values[name] = _coerce(name, var, env[var], default)
        elif key in table.get(section, {}):
            values[name] = _coerce(name, f"[{section}] {key}", table[section][key], default)
    settings = Settings(**values)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    url = urlsplit(s.redis_url)
    if url.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(
            f"VOLUME_REDIS_URL: must start with redis://, rediss:// or unix://, "
            f"got {redacted_url(s.redis_url)!r}"
        )
    try:
        _ = url.port  # a malformed or out-of-range port raises ValueError
    except ValueError:
        raise SettingsError(
            f"VOLUME_REDIS_URL: the port must be a number 0-65535, "
            f"got {redacted_url(s.redis_url)!r}"
        ) from None
    try:
        cores.resolve(s.core)
    except ValueError as exc:
        raise SettingsError(f"VOLUME_CORE: {exc}") from None
    if s.curve not in CURVE_MODES:
        raise SettingsError(
            f"VOLUME_CURVE: must be one of {', '.join(CURVE_MODES)}, got {s.curve!r}"
        )
    if s.ambiguous_dates not in AMBIGUOUS_POLICIES:
        raise SettingsError(
            f"VOLUME_AMBIGUOUS_DATES: must be one of {', '.join(AMBIGUOUS_POLICIES)}, "
            f"got {s.ambiguous_dates!r}"
        )
    if s.read_linger_ms >= s.flush_interval_ms:
        raise SettingsError(
            f"VOLUME_READ_LINGER_MS: must be less than VOLUME_FLUSH_INTERVAL_MS "
            f"({s.flush_interval_ms}), got {s.read_linger_ms}"
        )
    if s.renew_interval_ms * 2 > s.lease_ttl_ms:
        raise SettingsError(
            f"VOLUME_RENEW_INTERVAL_MS: must be at most half of VOLUME_LEASE_TTL_MS "
            f"({s.lease_ttl_ms}), got {s.renew_interval_ms}"
        )
    if not s.stream or any(c.isspace() for c in s.stream):
        raise SettingsError(
            f"VOLUME_STREAM: must be a non-empty name without spaces, got {s.stream!r}"
        )
    if s.metrics_port > 65535:
        raise SettingsError(f"VOLUME_METRICS_PORT: must be <= 65535, got {s.metrics_port}")
    if s.instruments_csv and not Path(s.instruments_csv).is_file():
        raise SettingsError(f"VOLUME_INSTRUMENTS_CSV: no such file {s.instruments_csv!r}")
