"""Compare two bench runs: `python -m bench.compare BEFORE.jsonl AFTER.jsonl`.

Reads the JSON lines of each run's output (other lines are ignored, so a whole captured stdout
works) and prints ticks/s side by side with the change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .report import read_figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before = read_figures(args.before.read_text())
    after = read_figures(args.after.read_text())
    names = [*before, *(n for n in after if n not in before)]
    width = max([len(n) for n in names] + [6])
    print(f"{'figure':<{width}}  {'before':>12}  {'after':>12}  change")
    for name in names:
        a = before.get(name, {}).get("ticks_per_s")
        b = after.get(name, {}).get("ticks_per_s")
        change = f"{(b / a - 1) * 100:+.1f}%" if a and b else ""
        print(f"{name:<{width}}  {a if a is not None else '-':>12}  "
              f"{b if b is not None else '-':>12}  {change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
