"""Figures as JSON lines (one object per figure, for scripts) and a short table (for people)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Figure:
    """One measured figure; `detail` carries the figure's own numbers and checks."""

    name: str
    ticks_per_s: float
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_json(self, meta: Mapping[str, Any]) -> str:
        body: dict[str, Any] = {"name": self.name, "ticks_per_s": round(self.ticks_per_s, 1)}
        body.update(self.detail)
        body.update(meta)
        return orjson.dumps(body).decode()


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    met: bool
    measured: str


def _tps(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}"


def table(figures: Sequence[Figure], targets: Sequence[Target]) -> str:
    rows = [("figure", "ticks/s", "notes")]
    rows += [(f.name, _tps(f.ticks_per_s), f.note) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]}".rstrip())
        if i == 0:
            lines.append(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}")
    if targets:
        lines.append("")
        lines.append("targets")
        for t in targets:
            lines.append(f"  [{'met' if t.met else 'MISSED'}] {t.label}: {t.measured}")
    return "\n".join(lines)


def read_figures(text: str) -> dict[str, dict[str, Any]]:
    """Figures from a run's output (JSON lines among other lines), by name."""
    out: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "name" in obj and "ticks_per_s" in obj:
            out[str(obj["name"])] = obj
    return out
