"""Counting unified versus legacy key traffic, to know when dual-write can be switched off.

Counts accumulate in memory and leave as HINCRBY commands in whatever pipeline the caller is
already sending, so tracking adds no round trip. Persisted in one hash (`vol:migration:stats`)
whose fields are `writes:{family}` and `reads:{family}`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from .store import keys
from .store.wire import Command, text


class KeyUsageTracker:
    def __init__(self) -> None:
        self._pending: Counter[str] = Counter()

    def record_write(self, family: str, count: int = 1) -> None:
        self._pending[f"writes:{family}"] += count

    def record_read(self, family: str, count: int = 1) -> None:
        self._pending[f"reads:{family}"] += count

    def commands(self) -> list[Command]:
        """HINCRBY commands for what was counted since the last call; the counts reset."""
        out: list[Command] = [
            ("HINCRBY", keys.MIGRATION_STATS_KEY, name, str(n))
            for name, n in sorted(self._pending.items())
            if n
        ]
        self._pending.clear()
        return out


def parse_stats(
    raw: Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str],
) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in raw.items():
        out[text(k)] = int(v)
    return out


def migration_progress(stats: Mapping[str, int]) -> float | None:
    """Share of gateway reads served from unified keys; None before any read was counted."""
    unified = stats.get(f"reads:{keys.FAMILY_UNIFIED}", 0) + stats.get(
        f"reads:{keys.FAMILY_PROFILE}", 0
    ) + stats.get(f"reads:{keys.FAMILY_BASELINE}", 0)
    legacy = stats.get(f"reads:{keys.FAMILY_LEGACY}", 0)
    total = unified + legacy
    return None if total == 0 else unified / total


def progress_line(stats: Mapping[str, int]) -> str:
    """One line for the CLI: read share and write counts per family."""
    share = migration_progress(stats)
    reads = "no reads counted yet" if share is None else f"{share:.1%} of reads from unified keys"
    writes = ", ".join(
        f"{name.split(':', 1)[1]}={n}" for name, n in sorted(stats.items())
        if name.startswith("writes:")
    )
    return f"migration: {reads}; writes: {writes or 'none'}"
