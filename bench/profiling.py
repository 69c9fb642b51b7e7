"""Summarise a py-spy profile (`--format raw`, collapsed stacks) of the engine worker.

`python -m bench --only engine --profile DIR` samples the worker while it drains the workload;
`python -m bench.profiling DIR/engine.txt` prints where the time goes: the share of samples
in each function including its callees (inclusive) and in its own code (self), per function
with line numbers dropped. Idle samples (the event loop waiting on Redis) are included, so the
shares add up to wall time.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    match = _FRAME.match(raw.strip())
    if match is None:
        return raw.strip()
    return f"{match['func']} ({Path(match['file']).name})"


def summarize(text: str, top: int = 30) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "inclusive  self   function"]
    for name, count in inclusive.most_common(top):
        lines.append(f"{100 * count / total:8.1f}% {100 * own[name] / total:5.1f}%  {name}")
    lines += ["", "self (top)"]
    for name, count in own.most_common(top):
        lines.append(f"{100 * count / total:8.1f}%  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    print(summarize(args.profile.read_text(), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
