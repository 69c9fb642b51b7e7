"""Write less within the contract: leave out what Redis already holds from this owner's writes.

Some fields of a changed symbol's hashes keep their value from one flush to the next (the
baseline, the instrument type, the date, POC fields between profile moves); writing them again
costs Redis and the wire without changing a byte of state. Measured on a simulated session
(bench/README.md) it leaves out 29% of the fields but almost no whole hash, which saves the
MULTI/EXEC path no Redis time (Redis pays per command) and costs the Python worker more than
the encoding it saves: it is the reference of the rule, for a native filter to match.

The rule (the Rust core implements the same one; both must leave out exactly the same writes).
The filter knows, per hash key, what the last committed flush wrote to it: per field of those
writes, the digest of the value, or ABSENT for a field they deleted. Fields of the key that
flush did not mention are forgotten, so a key is never known beyond its last write (a
per-minute hash, written a minute at a time, is known a minute at a time). For each HashWrite,
in order, against that knowledge overlaid with the earlier writes of the same batch:

- a field of `fields` is kept unless the digest of its value is the known one; it becomes known;
- a field of `absent` is kept unless it is known ABSENT; it becomes known ABSENT (after the
  write's fields, as the HDEL follows the HSET);
- a write left with neither is dropped; a kept one keeps its key, family and field order.

What the plan's writes leave becomes known only on `commit(plan)`, once Redis confirmed the flush
(applied, or found already applied). A plan refused with nothing written (FENCED, an EXEC that
kept aborting) is just dropped: the next is computed from the older knowledge. A plan whose
outcome is unknown (the connection failed: it may have landed) must be passed to
`forget(plan)`, which makes its keys unknown, so the next flush writes them in full whatever
landed. A new owner (a new filter) knows nothing and writes everything once. Past `max_keys`
hash keys, the least recently written are forgotten down to 7/8 of `max_keys` (in one go, so
the native filter evicts in one pass now and then rather than a key per commit; the keys of
one drain count as written in key order, so the cores, which drain their symbols in different
orders, forget the same ones); a forgotten key is written in full once again.

The digest is Python's `hash()` of the value: SipHash-1-3, 64 bits, keyed at random per process
(tick data cannot craft a collision), never -1, which stands for ABSENT. A collision (2^-64 per
comparison) would keep a stale value until the field changes again. In Rust: any keyed 64-bit
hash of the UTF-8 bytes (std's SipHash-1-3 RandomState), with its own ABSENT marker; the Rust
filter also finds keys and field names by such digests (the same 2^-64 odds), so a drain's
lookups never chase a key's text.

It rests on the owner being the only writer of its symbols' hashes while it holds the lease,
which is the service's rule. Something else that writes them (a `baselines import` of the open
session, a hand edit) is overwritten at the field's next change, not at the next flush.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from .codec import HashWrite

ABSENT = -1  # hash() of a str is never -1 (CPython reserves it for errors)
_MAX_LAYOUTS = 100_000  # distinct field-name tuples shared between keys, then started over

Layout = tuple[str, ...]
Known = tuple[Layout, "array[int]"]  # a key's field names, and their digests in that order


@dataclass(slots=True)
class FilterPlan:
    """The writes to send, and what the filter knows of their keys once they landed."""

    writes: list[HashWrite]
    generation: int
    known: dict[str, dict[str, int]] = field(default_factory=dict)


class WriteFilter:
    """One owner's knowledge of what it last wrote (see the module docstring).

    Stored compactly: per key the tuple of its field names, shared by every key written with
    the same names (a symbol's session hashes mostly are), and an array of 8-byte digests:
    half the memory of a dict of Python ints (27 against 51 MiB after a 20,000-symbol session).
    """

    def __init__(self, max_keys: int = 500_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._known: dict[str, Known] = {}  # in order of last write: the LRU order
        self._layouts: dict[Layout, Layout] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._known)

    def filter(self, writes: Sequence[HashWrite]) -> FilterPlan:
        """The minimal writes equivalent to `writes`; commit the plan once they landed."""
        committed = self._known
        pending: dict[str, dict[str, int]] = {}
        kept: list[HashWrite] = []
        for w in writes:
            key = w.key
            stored = committed.get(key)
            update = pending.get(key)
            if update is None:
                update = pending[key] = {f: hash(v) for f, v in w.fields.items()}
                if w.absent:
                    update.update(dict.fromkeys(w.absent, ABSENT))
                if stored is None:  # unknown key: all of it
                    kept.append(w)
                    continue
                layout, digests = stored
                n = len(w.fields)
                if len(update) == n + len(w.absent) and layout == tuple(update):
                    # same names as last time: compare digests by position, no dict built
                    # (hash() is cached on each str: this pass does not hash again)
                    fields = {f: v for (f, v), old in zip(w.fields.items(), digests, strict=False)
                              if old != hash(v)}
                    absent = tuple(a for a, old in zip(w.absent, digests[n:], strict=True)
                                   if old != ABSENT)
                else:
                    get = dict(zip(layout, digests, strict=True)).get
                    fields = {f: v for f, v in w.fields.items() if get(f) != hash(v)}
                    absent = tuple(a for a in w.absent if a in w.fields or get(a) != ABSENT)
            else:  # the key's second write in this batch: the first one's values count
                known = dict(zip(*stored, strict=True)) if stored is not None else {}
                fields = {f: v for f, v in w.fields.items()
                          if update.get(f, known.get(f)) != hash(v)}
                absent = tuple(a for a in w.absent
                               if a in w.fields or update.get(a, known.get(a)) != ABSENT)
                update.update({f: hash(v) for f, v in w.fields.items()})
                update.update(dict.fromkeys(w.absent, ABSENT))
            if len(fields) == len(w.fields) and len(absent) == len(w.absent):
                kept.append(w)
            elif fields or absent:
                kept.append(HashWrite(key, w.family, fields, absent))
        return FilterPlan(kept, self._generation, pending)

    def commit(self, plan: FilterPlan) -> None:
        """Redis holds the plan's writes now: know what they left."""
        if plan.generation != self._generation:
            raise ValueError("a plan made before the last commit cannot be committed")
        self._generation += 1
        known = self._known
        layouts = self._layouts
        if len(layouts) > _MAX_LAYOUTS:
            layouts.clear()
        pending = plan.known
        for key in sorted(pending):  # one drain's keys in key order (see the module docstring)
            update = pending[key]
            names = tuple(update)
            names = layouts.setdefault(names, names)
            known.pop(key, None)  # re-inserted last: the most recently written
            # replaces: what the last write did not mention is forgotten
            known[key] = (names, array("q", update.values()))
        if len(known) > self.max_keys:
            excess = len(known) - (self.max_keys - self.max_keys // 8)
            for key in list(itertools.islice(known, excess)):
                del known[key]

    def forget(self, plan: FilterPlan) -> None:
        """The plan may or may not have landed: know nothing about the keys it touched."""
        for key in plan.known:
            self._known.pop(key, None)
        self._generation += 1

    def clear(self) -> None:
        """Forget everything (the state in Redis may have changed behind this owner's back)."""
        self._known.clear()
        self._generation += 1

