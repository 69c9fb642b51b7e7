"""`volume-engine instruments import FILE`: Kite's instruments dump into the shared master.

The shell around the pure parser (`instruments_master`) and the store (`store.instruments_store`):
read the file, report every malformed row with its line, import the rest atomically. A file
with no usable row at all is refused rather than allowed to replace a working master.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from .instruments_master import MasterFormatError, RowProblem, master_text, parse_master
from .market_clock import MarketCalendar
from .store.instruments_store import import_master


@dataclass(frozen=True, slots=True)
class InstrumentsImportResult:
    version: int
    rows: int
    tokens: int
    problems: tuple[RowProblem, ...]

    def summary(self) -> str:
        skipped = f", skipped {len(self.problems)} malformed row(s)" if self.problems else ""
        return (f"imported {self.rows} instruments ({self.tokens} tokens) as version "
                f"{self.version}{skipped}")


def import_instruments_file(
    client: redis.Redis, path: Path, *, calendar: MarketCalendar, now: datetime
) -> InstrumentsImportResult:
    """Parse `path` (.csv or .csv.gz) and make it the shared master.

    Raises MasterFormatError (the file as a whole is unusable, or holds no valid row) or OSError.
    """
    parsed = parse_master(master_text(path.read_bytes()), calendar)
    if not parsed.rows:
        detail = f"; first problem: {parsed.problems[0]}" if parsed.problems else ""
        raise MasterFormatError(f"no valid instrument rows, the current master is kept{detail}")
    tokens = len({row.token for row in parsed.rows if row.token is not None})
    version = import_master(
        client, parsed.rows, source=path.name, skipped=len(parsed.problems),
        imported_at=now.isoformat(timespec="seconds"),
    )
    return InstrumentsImportResult(version, len(parsed.rows), tokens, parsed.problems)
