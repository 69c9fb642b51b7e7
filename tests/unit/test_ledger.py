"""The partition ledger alone: checkpoint, duplicates, delivery limit and the batch under way."""

from __future__ import annotations

from shared_core.volume_files.store.resp import EncodedWrites
from shared_core.volume_files.stream.batch_core import (
    EntryBatch,
    Forward,
    Reject,
    StreamEntry,
)
from shared_core.volume_files.stream.ledger import PartitionLedger

FIELDS = {b"symbol": b"SBIN", b"price": b"600", b"timestamp": b"1765254600000"}


def _entries(*ids: str, fields: dict[bytes, bytes] = FIELDS) -> list[StreamEntry]:
    return [StreamEntry(i, fields) for i in ids]


def _ledger(max_deliveries: int = 5) -> PartitionLedger:
    return PartitionLedger(source_stream="ticks:0", max_deliveries=max_deliveries)


def test_restore_reads_the_stored_checkpoint() -> None:
    ledger = _ledger()
    ledger.restore(b"17-3")
    assert ledger.checkpoint == (17, 3)
    assert ledger.stored_checkpoint == "17-3"
    ledger.restore(None)
    assert ledger.checkpoint == (0, 0)
    assert ledger.stored_checkpoint == ""


def test_new_entries_are_acked_checkpointed_and_staged() -> None:
    ledger = _ledger()
    entries = _entries("5-0", "5-1", "6-0")
    admitted = ledger.admit(entries)
    assert list(admitted.entries) == entries
    assert admitted.duplicates == 0
    assert admitted.rejects == []
    assert ledger.batch.acks == ["5-0", "5-1", "6-0"]
    assert ledger.batch.checkpoint == "6-0"
    assert ledger.checkpoint == (6, 0)
    assert ledger.unflushed == 3


def test_entries_at_or_below_the_checkpoint_are_acked_as_duplicates() -> None:
    ledger = _ledger()
    ledger.restore("5-1")
    admitted = ledger.admit(_entries("5-0", "5-1", "5-2", "7-0"))
    assert [e.entry_id for e in admitted.entries] == ["5-2", "7-0"]
    assert admitted.duplicates == 2
    assert ledger.batch.acks == ["5-0", "5-1", "5-2", "7-0"]
    assert ledger.batch.checkpoint == "7-0"
    assert ledger.unflushed == 2


def test_a_batch_wholly_below_the_checkpoint_leaves_it_unchanged() -> None:
    ledger = _ledger()
    ledger.restore("9-0")
    admitted = ledger.admit(_entries("8-0", "9-0"))
    assert admitted.duplicates == 2
    assert ledger.batch.checkpoint == ""
    assert ledger.checkpoint == (9, 0)
    assert ledger.unflushed == 0


def test_entries_trimmed_while_pending_are_acked_and_checkpointed_not_staged() -> None:
    for deliveries in (None, {"2-0": 1}):
        ledger = _ledger()
        entries = [StreamEntry("1-0", FIELDS), StreamEntry("2-0", {}), StreamEntry("3-0", FIELDS)]
        admitted = ledger.admit(entries, deliveries)
        assert [e.entry_id for e in admitted.entries] == ["1-0", "3-0"]
        assert ledger.batch.acks == ["1-0", "2-0", "3-0"]
        assert ledger.unflushed == 3


def test_an_entry_delivered_too_often_is_held_back_as_a_reject() -> None:
    ledger = _ledger(max_deliveries=5)
    admitted = ledger.admit(_entries("1-0", "2-0", "3-0"), {"1-0": 5, "2-0": 6})
    assert [e.entry_id for e in admitted.entries] == ["1-0", "3-0"]
    [held] = admitted.rejects
    assert (held.entry_id, held.reason) == ("2-0", "max_deliveries")
    assert held.error == "delivered 6 times without success"
    assert ledger.batch.dead_letters == []  # not until settled


def test_settle_dead_letters_every_reject_in_entry_order() -> None:
    ledger = _ledger()
    held = [Reject("2-0", {b"symbol": b"A"}, "max_deliveries", "delivered 9 times")]
    rejects = [
        Reject("1-5", {b"symbol": b"B", b"price": b"\xff"}, "invalid_number", "price: bad"),
        Reject("10-0", {"symbol": "C"}, "stale_session", "old"),
    ]
    ordered = ledger.settle(held, rejects)
    assert [r.entry_id for r in ordered] == ["1-5", "2-0", "10-0"]
    letters = ledger.batch.dead_letters
    assert [d["source_id"] for d in letters] == ["1-5", "2-0", "10-0"]
    assert letters[0] == {
        "reason": "invalid_number", "error": "price: bad", "source_id": "1-5",
        "source_stream": "ticks:0", "symbol": "B", "price": "\ufffd",
    }
    assert letters[2]["reason"] == "stale_session"


def test_a_sealed_flush_carries_every_drain_and_becomes_the_stored_checkpoint() -> None:
    ledger = _ledger()
    ledger.admit(_entries("4-0"))
    first, second = EncodedWrites(b"*1\r\n$1\r\nA\r\n", 1), EncodedWrites(b"*1\r\n$1\r\nB\r\n", 1)
    ledger.add_writes(first, {"unified": 1}, 1)
    ledger.add_writes(EncodedWrites(b"", 0), {}, 0)  # a drain with nothing changed
    ledger.add_writes(second, {"unified": 2, "state": 1}, 2)
    sealed = ledger.seal()
    assert sealed is not None
    assert sealed.encoded == EncodedWrites(first.payload + second.payload, 2)
    assert sealed.batch.acks == ["4-0"]
    assert (sealed.batch.checkpoint, sealed.previous_checkpoint) == ("4-0", "")
    assert ledger.unflushed == 0
    assert ledger.stored_checkpoint == ""  # not until Redis confirms it
    done = ledger.flushed()
    assert done.families == {"unified": 3, "state": 1}
    assert done.symbols == 3
    assert ledger.stored_checkpoint == "4-0"
    assert ledger.in_flight is None
    assert ledger.seal() is None
    assert ledger.flushed().families == {}


def test_a_flush_in_flight_is_resent_as_it_is_and_later_entries_wait_for_the_next() -> None:
    ledger = _ledger()
    ledger.admit(_entries("1-0", "2-0"))
    ledger.add_writes(EncodedWrites(b"*1\r\n$1\r\nA\r\n", 1), {"state": 1}, 0)
    sealed = ledger.seal()
    # the reply is lost; meanwhile a recovery that ran again admits a new entry and drains more
    ledger.admit(_entries("1-0", "3-0"), {"1-0": 1, "3-0": 1})
    ledger.add_writes(EncodedWrites(b"*1\r\n$1\r\nB\r\n", 1), {"state": 1}, 0)
    assert ledger.seal() is sealed
    assert sealed is not None
    assert sealed.batch.acks == ["1-0", "2-0"]
    ledger.flushed()
    nxt = ledger.seal()
    assert nxt is not None
    assert nxt.batch.acks == ["1-0", "3-0"]
    assert (nxt.batch.checkpoint, nxt.previous_checkpoint) == ("3-0", "2-0")
    assert nxt.encoded.payload == b"*1\r\n$1\r\nB\r\n"


def test_a_flush_without_new_entries_keeps_the_stored_checkpoint() -> None:
    ledger = _ledger()
    ledger.restore("3-0")
    ledger.admit(_entries("2-0"))  # a duplicate: acked, checkpoint unchanged
    sealed = ledger.seal()
    assert sealed is not None
    assert sealed.batch.checkpoint == ""
    ledger.flushed()
    assert ledger.stored_checkpoint == "3-0"


def test_forwards_go_with_the_flush_that_acks_them_in_entry_order() -> None:
    ledger = _ledger()
    ledger.admit(_entries("1-0", "2-0", "3-0"))
    forwards = [Forward("1-0", FIELDS, 3), Forward("3-0", {"symbol": "X"}, 6)]
    ledger.forward(forwards[:1])
    ledger.forward(forwards[1:])
    sealed = ledger.seal()
    assert sealed is not None
    assert sealed.forwards == forwards
    assert sealed.batch.acks == ["1-0", "2-0", "3-0"]
    ledger.admit(_entries("4-0"))
    ledger.flushed()
    nxt = ledger.seal()
    assert nxt is not None
    assert nxt.forwards == []


class _Batch(EntryBatch):
    """Entries held elsewhere (as the native core's RawBatch): counts the ones made."""

    def __init__(self, entries: list[StreamEntry]) -> None:
        self.entries = entries
        self.made = 0

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, index: int) -> StreamEntry:
        self.made += 1
        return self.entries[index]

    def ids(self) -> list[str]:
        return [e.entry_id for e in self.entries]

    def trimmed(self) -> bool:
        return any(not e.fields for e in self.entries)


def test_a_batch_held_elsewhere_is_admitted_by_its_ids_and_staged_as_it_is() -> None:
    ledger = _ledger()
    batch = _Batch(_entries("1-0", "1-1", "2-0"))
    admitted = ledger.admit(batch)
    assert admitted.entries is batch  # staged whole: the core reads it as it is
    assert batch.made == 1  # the first entry, for the duplicate check; no object per entry
    assert ledger.batch.acks == ["1-0", "1-1", "2-0"]
    assert ledger.batch.checkpoint == "2-0"
    trimmed = _Batch([*_entries("3-0"), StreamEntry("3-1", ()), *_entries("4-0")])
    assert [e.entry_id for e in ledger.admit(trimmed).entries] == ["3-0", "4-0"]
    assert ledger.batch.acks[-3:] == ["3-0", "3-1", "4-0"]
