"""The tick step of a partition, behind a narrow protocol a native core can also implement.

A worker hands a batch of stream entries to `stage`, loads the symbols it reports as new, then
calls `apply_staged` and, at flush time, `drain`. Nothing here does I/O: the two halves of a
batch (stage, apply) are split exactly where the worker has to go to Redis for the new symbols'
history, so no state moves before every symbol the batch touches is loaded.

A core knows its partition: a valid tick of a symbol another partition owns is not applied but
handed back as a `Forward`, which the worker re-publishes to the owner's stream inside the
flush, so two owners never hold state for one symbol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, overload

from .. import cores
from ..engine_core import CoreConfig, SymbolHistory, VolumeEngineCore
from ..session_tracker import StaleSessionError
from ..store import keys
from ..store.codec import HashWrite, snapshot_writes
from ..store.loader import LoadSteps, reference_steps
from ..store.replies import stream_entries
from ..store.resp import EncodedWrites, encode_hash_writes
from ..store.wire import Fields, field_map
from ..store.write_filter import FilterPlan, WriteFilter
from ..ticks import STALE_SESSION, Tick, TickError, parse_entry
from .partitions import parse_entry_id, reroute

RawFields = Fields  # a mapping, or a raw reply's flat list (the worker's reads)


class StreamEntry(NamedTuple):
    """One stream entry as read: its id (text) and its raw fields (empty: trimmed away)."""

    entry_id: str
    fields: RawFields


class EntryBatch(Sequence[StreamEntry], ABC):
    """A read's entries held some other way than as a list (the native core keeps them as
    the reply's bytes): the ledger asks it for the ids, not for an object per entry, and an
    entry is made only when one is asked for (`entry`)."""

    @abstractmethod
    def entry(self, index: int) -> StreamEntry:
        """Entry `index` (negative from the end); IndexError past either end."""

    @overload
    def __getitem__(self, index: int) -> StreamEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[StreamEntry]: ...
    def __getitem__(self, index: int | slice) -> StreamEntry | list[StreamEntry]:
        if isinstance(index, slice):
            return [self.entry(i) for i in range(*index.indices(len(self)))]
        return self.entry(index)

    @abstractmethod
    def ids(self) -> list[str]:
        """Every entry's id, in order."""

    @abstractmethod
    def trimmed(self) -> bool:
        """Whether an entry has no fields (trimmed away while pending)."""


def entry_ids(entries: Sequence[StreamEntry]) -> list[str]:
    """The entries' ids, in order."""
    if isinstance(entries, EntryBatch):
        return entries.ids()
    return [e.entry_id for e in entries]


def with_fields(entries: Sequence[StreamEntry]) -> Sequence[StreamEntry]:
    """The entries that have fields (the others were trimmed away while pending)."""
    if isinstance(entries, EntryBatch) and not entries.trimmed():
        return entries
    return [e for e in entries if e.fields]


def read_entries(replies: Sequence[Any]) -> list[StreamEntry]:
    """The entries of one XREADGROUP's replies as objects (`replies.stream_entries`)."""
    (reply,) = replies
    make = StreamEntry._make  # per entry, _make and an inline decode: a third of the cost
    return [make((i.decode() if type(i) is bytes else i, f or ()))
            for i, f in stream_entries(reply)]


@dataclass(frozen=True, slots=True)
class Forward:
    """A valid tick of a symbol owned by `partition`: re-published there with its fields."""

    entry_id: str
    fields: RawFields
    partition: int


class ParsedEntry(NamedTuple):
    """A staged entry: what the parser made of it, kept beside the raw fields for dead letters."""

    entry_id: str
    fields: RawFields
    outcome: Tick | TickError | Forward


@dataclass(frozen=True, slots=True)
class Reject:
    """An entry that becomes a dead letter: why (a dead-letter reason) and the error text."""

    entry_id: str
    fields: RawFields
    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What applying the staged entries did; rejects and forwards are in entry order."""

    applied: int
    last_ts_ms: int  # the newest exchange timestamp applied, 0 when none
    rejects: list[Reject] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)  # ticks of other partitions' symbols


@dataclass(frozen=True, slots=True)
class Drained:
    """Every dirty symbol's hash writes, encoded for the flush, with its metrics' counts.

    Encoded by the core (store/resp.py's layout) so a native core hands over bytes it built
    itself and the flush never needs the writes as objects.
    """

    encoded: EncodedWrites
    families: dict[str, int]  # writes per key family (the key_writes metric)
    symbols: int  # session hashes written, one per changed symbol and session (flush_symbols)
    left_out: int = 0  # fields (set or deleted) the write filter left out: Redis held them


@dataclass(frozen=True, slots=True)
class DrainedWrites:
    """A drain of the Python core as HashWrite objects, before encoding (tests, tools)."""

    writes: list[HashWrite]
    families: dict[str, int]
    symbols: int
    left_out: int = 0

    @classmethod
    def of(cls, writes: list[HashWrite], left_out: int = 0) -> DrainedWrites:
        """The writes with the flush metrics' counts (as Drained carries them)."""
        # Counted per family here: a labelled child lookup per write cost more than the write.
        families: dict[str, int] = {}
        sessions: set[str] = set()
        for w in writes:
            families[w.family] = families.get(w.family, 0) + 1
            if w.family == keys.FAMILY_UNIFIED:
                sessions.add(w.key)
        return cls(writes, families, len(sessions), left_out)


class TickBatchCore(Protocol):
    """The partition's state and tick step; the worker around it only does I/O."""

    # drain() does its work without the GIL: the worker runs it in a thread, beside the
    # other partitions' reads and batches.
    drains_without_gil: bool
    # The worker reads entries raw (`Commands.raw`) for `entries` to keep them as bytes.
    reads_raw: bool

    def entries(self, replies: Any) -> Sequence[StreamEntry]:
        """The entries of an XREADGROUP's replies (as `store.replies.exchange` gave them)."""
        ...

    def __len__(self) -> int:
        """Symbols held in memory (the symbols_in_memory gauge)."""
        ...

    def stage(self, entries: Sequence[StreamEntry]) -> dict[str, int]:
        """Parse and keep the entries; return new symbol -> ts_ms of its first valid tick.

        Symbols another partition owns are never reported: their ticks are forwarded.
        """
        ...

    def load(self, symbol: str, history: SymbolHistory, first_ts_ms: int) -> None:
        """Adopt a symbol reported by stage() with what Redis had for it."""
        ...

    def load_steps(self, first_ts_ms: dict[str, int], minute_history_days: int) -> LoadSteps:
        """Load stage()'s new symbols (symbol -> first tick's ts_ms): the reads to send, one
        payload per round trip, ending with the symbols adopted. Starting again after a lost
        connection is safe: nothing is adopted before the last replies are in."""
        ...

    def apply_staged(self) -> BatchOutcome:
        """Apply what stage() kept, in order, and forget it."""
        ...

    def drain(self) -> Drained:
        """The writes of every symbol changed since the last drain, encoded: with a write
        filter, only what Redis does not hold yet from the committed drains (a drain never
        committed is forgotten, its keys written in full again)."""
        ...

    def commit_drain(self) -> None:
        """The last drain's writes landed (the flush was applied, or found applied)."""
        ...


class PythonBatchCore:
    """TickBatchCore on the Python parser, engine core and codec (the reference)."""

    drains_without_gil = False
    reads_raw = False

    def __init__(
        self, config: CoreConfig, *, dual_write: bool, timestamp_from_entry_id: bool = False,
        partition: int = 0, partitions: int = 1, write_filter_keys: int = 0,
    ) -> None:
        self.engine = VolumeEngineCore(config)
        # Write less (VOLUME_WRITE_FILTER_KEYS; 0: every drain writes in full).
        self.write_filter = WriteFilter(write_filter_keys) if write_filter_keys > 0 else None
        self._plan: FilterPlan | None = None  # the last drain's, until commit_drain
        self.dual_write = dual_write
        self.timestamp_from_entry_id = timestamp_from_entry_id  # VOLUME_TIMESTAMP_FROM_ENTRY_ID
        self.partition = partition  # this core's, of `partitions`: others' ticks are forwarded
        self.partitions = partitions
        self._staged: list[ParsedEntry] = []

    def __len__(self) -> int:
        return len(self.engine)

    def entries(self, replies: Any) -> Sequence[StreamEntry]:
        return read_entries(replies)

    def stage(self, entries: Sequence[StreamEntry]) -> dict[str, int]:
        first: dict[str, int] = {}
        needs_load = self.engine.needs_load
        partition, partitions = self.partition, self.partitions
        staged = self._staged
        make = ParsedEntry._make  # a third of the constructor's cost, once per entry
        tokens = self.engine.config.registry.tokens  # per batch: a new import swaps the map
        from_id = self.timestamp_from_entry_id
        for entry_id, fields in entries:
            outcome: Tick | TickError | Forward
            try:
                outcome = parse_entry(
                    field_map(fields), tokens=tokens,
                    entry_ms=parse_entry_id(entry_id)[0] if from_id else None,
                )
            except TickError as exc:
                outcome = exc
            if type(outcome) is Tick:
                symbol = outcome.symbol
                # Only a symbol not held yet can be foreign: the held ones were all ours.
                if symbol not in first and needs_load(symbol):
                    owner = reroute(symbol, partition, partitions)
                    if owner is None:
                        first[symbol] = outcome.ts_ms
                    else:
                        outcome = Forward(entry_id, fields, owner)
            staged.append(make((entry_id, fields, outcome)))
        return first

    def load(self, symbol: str, history: SymbolHistory, first_ts_ms: int) -> None:
        engine = self.engine
        engine.load(symbol, history, engine.calendar.trading_date(first_ts_ms))

    def load_steps(self, first_ts_ms: dict[str, int], minute_history_days: int) -> LoadSteps:
        histories = yield from reference_steps(list(first_ts_ms), minute_history_days)
        for symbol, history in histories.items():
            self.load(symbol, history, first_ts_ms[symbol])

    def apply_staged(self) -> BatchOutcome:
        staged, self._staged = self._staged, []
        apply = self.engine.apply
        applied = 0
        last_ts = 0
        rejects: list[Reject] = []
        forwards: list[Forward] = []
        for entry_id, fields, outcome in staged:
            if type(outcome) is Tick:
                try:
                    apply(outcome)
                except StaleSessionError as exc:
                    rejects.append(Reject(entry_id, fields, STALE_SESSION, str(exc)))
                    continue
                applied += 1
                if outcome.ts_ms > last_ts:
                    last_ts = outcome.ts_ms
            elif type(outcome) is Forward:
                forwards.append(outcome)
            elif isinstance(outcome, TickError):
                rejects.append(Reject(entry_id, fields, outcome.reason, str(outcome)))
        return BatchOutcome(applied, last_ts, rejects, forwards)

    def drain(self) -> Drained:
        d = self.drain_writes()
        return Drained(encode_hash_writes(d.writes), d.families, d.symbols, d.left_out)

    def drain_writes(self) -> DrainedWrites:
        """drain() before encoding: the writes as objects."""
        writes: list[HashWrite] = []
        dual_write = self.dual_write
        for snap in self.engine.drain():
            writes.extend(snapshot_writes(snap, dual_write=dual_write))
        wf = self.write_filter
        if wf is None:
            return DrainedWrites.of(writes)
        if self._plan is not None:  # never committed: it may or may not have landed
            wf.forget(self._plan)
        self._plan = plan = wf.filter(writes)
        return DrainedWrites.of(plan.writes, _fields(writes) - _fields(plan.writes))

    def commit_drain(self) -> None:
        if self.write_filter is not None and self._plan is not None:
            self.write_filter.commit(self._plan)
            self._plan = None


def _fields(writes: list[HashWrite]) -> int:
    return sum(len(w.fields) + len(w.absent) for w in writes)


def build_batch_core(
    core: str, config: CoreConfig, *, dual_write: bool, timestamp_from_entry_id: bool = False,
    partition: int = 0, partitions: int = 1, write_filter_keys: int = 0,
) -> TickBatchCore:
    """The batch core `core` names (cores.NATIVE or cores.PYTHON, as cores.resolve gave it)."""
    if core == cores.NATIVE:
        from .native_batch_core import NativeBatchCore  # needs the built extension

        return NativeBatchCore(config, dual_write=dual_write,
                               timestamp_from_entry_id=timestamp_from_entry_id,
                               partition=partition, partitions=partitions,
                               write_filter_keys=write_filter_keys)
    if core != cores.PYTHON:
        raise ValueError(f"unknown core {core!r}")
    return PythonBatchCore(config, dual_write=dual_write,
                           timestamp_from_entry_id=timestamp_from_entry_id,
                           partition=partition, partitions=partitions,
                           write_filter_keys=write_filter_keys)
