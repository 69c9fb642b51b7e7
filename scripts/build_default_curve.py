#!/usr/bin/env python3
"""Build config/curve_nse_intraday.json, the default time-of-day volume curve.

Why: RVOL early in the day is meaningless against a flat curve, because NSE volume is U-shaped
(a heavy open, a quiet middle, a heavy close). The default curve is learned from real one-minute
bars of YES BANK (NSE cash), 2019-01-01 to 2019-06-28, as published in the QuantConnect LEAN
repository (Data/equity/india/minute/yesbank); the sample ships in ../shared/data.

Method (the same rule as TimeOfDayCurve.learned): keep the normal-session bars 09:15..15:29
(minute 0..374; the 15:30 and 15:40 closing-session bars are dropped), turn each session into
shares of its own in-session volume so heavy days do not dominate, then average the shares over
sessions. The weights are written times 375 (1.0 = a flat minute) and rounded to 6 decimals;
TimeOfDayCurve.from_weights normalises them again, so only their proportions matter.

Usage: python scripts/build_default_curve.py [--input CSV.GZ] [--output JSON]
Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = ROOT.parent / "shared" / "data" / "nse-yesbank-minute-2019H1.csv.gz"
DEFAULT_OUTPUT = ROOT / "config" / "curve_nse_intraday.json"
OPEN_MINUTE = 9 * 60 + 15  # 09:15 exchange time
MINUTES = 375  # 09:15..15:29
SOURCE = (
    "YESBANK NSE one-minute bars 2019-01-01..2019-06-28 (QuantConnect LEAN "
    "Data/equity/india/minute/yesbank); normal-session bars 09:15..15:29, each session "
    "normalised to shares of its volume, averaged over sessions; weights x375 (1.0 = flat minute)"
)


def read_sessions(path: Path) -> dict[str, list[int]]:
    """date -> per-minute volume of the normal session (missing bars count as 0)."""
    sessions: dict[str, list[int]] = defaultdict(lambda: [0] * MINUTES)
    with gzip.open(path, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            day, clock = row["timestamp"].split("T")
            hh, mm = clock.split(":")[:2]
            minute = int(hh) * 60 + int(mm) - OPEN_MINUTE
            if 0 <= minute < MINUTES:
                sessions[day][minute] += int(row["volume"])
    return dict(sessions)


def learn_weights(sessions: dict[str, list[int]]) -> tuple[list[float], int]:
    """Mean per-minute share over sessions with volume, times MINUTES; and the session count."""
    acc = [0.0] * MINUTES
    used = 0
    for vols in sessions.values():
        total = sum(vols)
        if total <= 0:
            continue
        used += 1
        for m, v in enumerate(vols):
            acc[m] += v / total
    if used == 0:
        raise SystemExit("no session with volume in the input")
    return [round(a / used * MINUTES, 6) for a in acc], used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    weights, used = learn_weights(read_sessions(args.input))
    doc = {"source": SOURCE, "sessions": used, "minutes": MINUTES, "weights": weights}
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.output} ({used} sessions, {MINUTES} minutes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
