"""Reading a symbol's history back, as plain command lists (sans I/O).

The same two-phase plan serves the sync library, the async library and the stream workers:
phase one reads each symbol's session totals, phase two the open session (the latest date) and,
for learned curves, the recent per-minute history. Executors only run pipelines.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import date
from typing import Any

from ..engine_core import SymbolHistory
from . import codec, keys
from .resp import Commands
from .wire import Command

# A first-sight load as a sans-I/O exchange: it yields the commands to send, is sent their
# replies (error replies already raised: a list, or `_native.RawReplies` for raw commands
# where the connection allows), and returns when the symbols are loaded.
LoadSteps = Generator[Commands, Any, None]


class SymbolLoad:
    """Plan for loading many symbols in two pipelined round trips."""

    def __init__(self, symbols: Sequence[str], *, minute_history_days: int = 0) -> None:
        self.symbols = list(symbols)
        self.minute_history_days = minute_history_days
        self._histories: list[dict[str, str]] = []
        self._plan: list[tuple[str, date | None, list[date]]] = []

    def first(self) -> list[Command]:
        return [("HGETALL", keys.history_key(s)) for s in self.symbols]

    def second(self, replies: Sequence[Any]) -> list[Command]:
        commands: list[Command] = []
        self._histories = [codec.decode_hash(r) for r in replies]
        for symbol, history in zip(self.symbols, self._histories, strict=True):
            days = sorted(date.fromisoformat(d) for d in history)
            latest = days[-1] if days else None
            recent = days[:-1][-self.minute_history_days :] if self.minute_history_days else []
            self._plan.append((symbol, latest, recent))
            if latest is not None:
                commands.append(("HGETALL", keys.session_key(symbol, latest)))
                commands.append(("HGETALL", keys.minutes_key(symbol, latest)))
                commands.append(("HGETALL", keys.profile_session_key(symbol, latest)))
            commands.extend(("HGETALL", keys.minutes_key(symbol, d)) for d in recent)
        return commands

    def result(self, replies: Sequence[Any]) -> dict[str, SymbolHistory]:
        out: dict[str, SymbolHistory] = {}
        it = iter(codec.decode_hash(r) for r in replies)
        for (symbol, latest, recent), history in zip(self._plan, self._histories, strict=True):
            session: dict[str, str] = {}
            minutes: dict[str, str] = {}
            profile: dict[str, str] = {}
            if latest is not None:
                session, minutes, profile = next(it), next(it), next(it)
            minute_history = {d: codec.parse_minutes(next(it)) for d in recent}
            out[symbol] = codec.build_history(
                history, session, minutes, profile, {d: m for d, m in minute_history.items() if m}
            )
        return out


def reference_steps(
    symbols: Sequence[str], minute_history_days: int
) -> Generator[Commands, list[Any], dict[str, SymbolHistory]]:
    """SymbolLoad as steps (the Python core's load, and the native one's for what it defers)."""
    plan = SymbolLoad(symbols, minute_history_days=minute_history_days)
    replies = yield Commands.of(plan.first())
    second = plan.second(replies)
    replies = (yield Commands.of(second)) if second else []
    return plan.result(replies)
