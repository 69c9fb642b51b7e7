"""A partition's bookkeeping between reads and flushes, with no I/O.

What makes processing effectively-once lives here, apart from the worker that talks to Redis
(the way aiokafka keeps `SubscriptionState` beside its fetcher): the checkpoint (the last entry
id the state reflects) and its stored text, duplicate skipping, the delivery limit, the
`FlushBatch` being built (acks, dead letters, checkpoint) with the drained writes (encoded) and
the ticks to forward to their owners' partitions, and the flush in flight. Every entry read is
acked; the ones past the checkpoint move it; only those with a tick to apply go on to the batch
core.

A flush is sealed before it is sent and stays sealed until Redis confirms it, so a retry (the
reply was lost) sends exactly what the first try sent, and whatever is admitted meanwhile (a
recovery that runs again) goes into the next one.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..store.resp import EncodedWrites
from ..store.scripts import FlushBatch, dead_letter_fields
from ..store.wire import field_pairs, text
from ..ticks import MAX_DELIVERIES
from .batch_core import Forward, Reject, StreamEntry, entry_ids, with_fields
from .partitions import parse_entry_id

EntryId = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Admitted:
    """What admit() let through, and what it held back."""

    entries: Sequence[StreamEntry]  # to stage, in order
    duplicates: int  # at or below the checkpoint: acked, not applied
    rejects: list[Reject]  # delivered too often: to dead-letter (settle), not applied


@dataclass(frozen=True, slots=True)
class SealedFlush:
    """One flush as it is sent, and resent, until Redis confirms it."""

    batch: FlushBatch  # acks, dead letters, checkpoint; no writes (they are `encoded`)
    encoded: EncodedWrites  # the hash writes of every drain since the last flush
    forwards: list[Forward]  # in entry order: XADDed to their owners' streams
    previous_checkpoint: str  # the stored checkpoint it expects (the fence)
    families: dict[str, int]
    symbols: int
    left_out: int = 0  # fields the write filter left out


@dataclass(frozen=True, slots=True)
class Flushed:
    """What a confirmed flush wrote, for its metrics."""

    families: dict[str, int]
    symbols: int
    left_out: int = 0


class PartitionLedger:
    """Checkpoint, duplicates, delivery counts and the batch under way, for one partition."""

    def __init__(self, *, source_stream: str, max_deliveries: int) -> None:
        self.source_stream = source_stream
        self.max_deliveries = max_deliveries
        self.checkpoint: EntryId = (0, 0)
        self.stored_checkpoint = ""  # the checkpoint text Redis holds (the flush's fence)
        self.batch = FlushBatch()  # the next flush, being built
        self.in_flight: SealedFlush | None = None
        self.unflushed = 0  # entries past the checkpoint not yet sealed into a flush
        self._encoded: list[EncodedWrites] = []
        self._forwards: list[Forward] = []
        self._families: dict[str, int] = {}
        self._symbols = 0
        self._left_out = 0

    def restore(self, stored: bytes | str | None) -> None:
        """Start from the checkpoint Redis holds (None or empty: the stream's beginning)."""
        self.stored_checkpoint = text(stored) if stored else ""
        self.checkpoint = parse_entry_id(self.stored_checkpoint) if stored else (0, 0)

    def admit(
        self, entries: Sequence[StreamEntry], deliveries: Mapping[str, int] | None = None
    ) -> Admitted:
        """Ack every entry; move the checkpoint past the new ones; keep back what must not apply.

        Entries of one read are in id order, so when the first is past the checkpoint and none
        has a delivery history (the normal, non-recovery case) none is a duplicate and no id is
        parsed but the first and the last.
        """
        if not entries:
            return Admitted((), 0, [])
        batch = self.batch
        if deliveries or parse_entry_id(entries[0].entry_id) <= self.checkpoint:
            return self._admit_checked(entries, deliveries or {})
        ids = entry_ids(entries)
        batch.acks.extend(ids)
        last_id = ids[-1]
        self.checkpoint = parse_entry_id(last_id)
        batch.checkpoint = last_id
        self.unflushed += len(ids)
        # Trimmed away while pending (empty fields): acked and checkpointed, nothing to apply.
        return Admitted(with_fields(entries), 0, [])

    def _admit_checked(
        self, entries: Sequence[StreamEntry], deliveries: Mapping[str, int]
    ) -> Admitted:
        batch = self.batch
        staged: list[StreamEntry] = []
        held: list[Reject] = []
        duplicates = 0
        for entry in entries:
            entry_id = entry.entry_id
            batch.acks.append(entry_id)
            eid = parse_entry_id(entry_id)
            if eid <= self.checkpoint:
                duplicates += 1
                continue
            self.checkpoint = eid
            batch.checkpoint = entry_id
            self.unflushed += 1
            if not entry.fields:
                continue
            delivered = deliveries.get(entry_id, 0)
            if delivered > self.max_deliveries:
                held.append(Reject(entry_id, entry.fields, MAX_DELIVERIES,
                                   f"delivered {delivered} times without success"))
            else:
                staged.append(entry)
        return Admitted(staged, duplicates, held)

    def settle(self, held: Sequence[Reject], rejects: Sequence[Reject]) -> Sequence[Reject]:
        """Dead-letter admit()'s and the batch core's rejects together, in entry order."""
        if held and rejects:
            ordered: Sequence[Reject] = list(heapq.merge(
                held, rejects, key=lambda r: parse_entry_id(r.entry_id)))
        else:
            ordered = held or rejects
        letters = self.batch.dead_letters
        for r in ordered:
            letters.append(dead_letter_fields(
                reason=r.reason, error=r.error, source_id=r.entry_id,
                source_stream=self.source_stream,
                payload=[(text(k), text(v)) for k, v in field_pairs(r.fields)],
            ))
        return ordered

    def forward(self, forwards: Sequence[Forward]) -> None:
        """Re-publish these ticks to their owners in the flush that acks them (entry order)."""
        self._forwards.extend(forwards)

    def add_writes(self, encoded: EncodedWrites, families: Mapping[str, int],
                   symbols: int, left_out: int = 0) -> None:
        """Add a drain's encoded writes, with their counts, to the flush being built."""
        if encoded.commands:
            self._encoded.append(encoded)
        for family, count in families.items():
            self._families[family] = self._families.get(family, 0) + count
        self._symbols += symbols
        self._left_out += left_out

    def seal(self) -> SealedFlush | None:
        """The flush to send: the one in flight if any, else what was built (None: nothing)."""
        if self.in_flight is not None:
            return self.in_flight
        if not (self.batch or self._encoded or self._forwards):
            return None
        sealed = SealedFlush(self.batch, EncodedWrites.join(self._encoded), self._forwards,
                             self.stored_checkpoint, self._families, self._symbols,
                             self._left_out)
        self.in_flight = sealed
        self.batch = FlushBatch()
        self.unflushed = 0
        self._encoded = []
        self._forwards = []
        self._families = {}
        self._symbols = 0
        self._left_out = 0
        return sealed

    def flushed(self) -> Flushed:
        """Redis confirmed the flush in flight: its checkpoint is the stored one."""
        sealed = self.in_flight
        if sealed is None:
            return Flushed({}, 0)
        self.in_flight = None
        if sealed.batch.checkpoint:
            self.stored_checkpoint = sealed.batch.checkpoint
        return Flushed(sealed.families, sealed.symbols, sealed.left_out)
