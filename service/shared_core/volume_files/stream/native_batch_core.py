"""TickBatchCore on the Rust core: one `_native.PartitionCore` per partition, called per batch.

The native object parses the batch's raw entries, applies them and encodes the drain's writes;
this adapter keeps what changes at most once a session or needs Python: instrument resolution
at first sight, the session contexts (`native_engine.SessionContexts`), the instruments
master's token map (pushed whole when an import replaces it), and the Python parser for the
rare entry the native one defers (`ticks.parse_entry`, the reference). Both cores give the same
writes byte for byte and the same dead letters (tests/unit/test_native_batch_core.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import _native
from ..engine_core import CoreConfig, SymbolHistory
from ..native_engine import SessionContexts, load_arguments, native_config
from ..store.codec import HashWrite
from ..store.loader import LoadSteps, reference_steps
from ..store.resp import Commands, EncodedWrites
from ..store.wire import field_map
from ..ticks import STALE_SESSION, TickError, parse_entry
from .batch_core import (
    BatchOutcome,
    Drained,
    DrainedWrites,
    EntryBatch,
    Forward,
    Reject,
    StreamEntry,
    read_entries,
)
from .partitions import parse_entry_id, reroute

ParsedTuple = tuple[str, float, int, int | None, int | None, int | None, float | None]


class RawBatch(EntryBatch):
    """A read's entries as the reply's bytes (`_native.RawEntries`): the core stages them
    from the bytes; an entry becomes a `StreamEntry` only when asked for (a dead letter, a
    forward, a recovery's checked admission)."""

    def __init__(self, native: _native.RawEntries) -> None:
        self.native = native

    def __len__(self) -> int:
        return len(self.native)

    def entry(self, index: int) -> StreamEntry:
        return StreamEntry._make(self.native.entry(index))

    def ids(self) -> list[str]:
        return self.native.ids()

    def trimmed(self) -> bool:
        return self.native.trimmed()


class NativeBatchCore:
    """The partition's symbols and tick step in Rust (`_native.PartitionCore`)."""

    drains_without_gil = True  # the snapshots and their encoding run detached from Python
    reads_raw = True  # entries stay the reply's bytes (RawBatch) where the connection allows

    def __init__(
        self, config: CoreConfig, *, dual_write: bool, timestamp_from_entry_id: bool = False,
        partition: int = 0, partitions: int = 1, write_filter_keys: int = 0,
    ) -> None:
        self.config = config
        self.partition = partition
        self.partitions = partitions
        self.dual_write = dual_write
        self.timestamp_from_entry_id = timestamp_from_entry_id
        self._contexts = SessionContexts(config)
        settings = native_config(config) | {
            "dual_write": dual_write,
            "timestamp_from_entry_id": timestamp_from_entry_id,
            "stale_reason": STALE_SESSION,
            "write_filter_keys": write_filter_keys,
        }
        self._core = _native.PartitionCore(settings, self._contexts, self._parse_in_python)
        self._held = 0  # len(self._core) after the last load
        self._tokens: Mapping[int, str] | None = None  # the map last handed to the core
        self._staged: Sequence[StreamEntry] = ()

    def __len__(self) -> int:
        """Symbols held, as of the last load: counted here, not asked of the native object,
        which is mutably borrowed while it drains in a thread (the supervisor's gauge reads
        this at any time)."""
        return self._held

    def entries(self, replies: Any) -> Sequence[StreamEntry]:
        if isinstance(replies, _native.RawReplies):
            return RawBatch(_native.RawEntries(replies))
        return read_entries(replies)

    def stage(self, entries: Sequence[StreamEntry]) -> dict[str, int]:
        tokens = self.config.registry.tokens
        if tokens is not self._tokens:  # a new import swaps the mapping
            self._core.set_tokens(dict(tokens))
            self._tokens = tokens
        self._staged = entries
        if isinstance(entries, RawBatch):
            first = self._core.stage_raw(entries.native)
        else:
            first = self._core.stage(entries)
        # Only a symbol not held yet can be foreign: the held ones were all ours.
        for symbol in list(first):
            owner = reroute(symbol, self.partition, self.partitions)
            if owner is not None:
                self._core.forward_symbol(symbol, owner)
                del first[symbol]
        return first

    def load(self, symbol: str, history: SymbolHistory, first_ts_ms: int) -> None:
        instrument = self.config.registry.resolve(
            symbol, self.config.calendar.trading_date(first_ts_ms)
        )
        self._contexts.expiries[symbol] = instrument.expiry
        self._core.load(*load_arguments(symbol, instrument, history))
        self._held = len(self._core)

    def load_steps(self, first_ts_ms: dict[str, int], minute_history_days: int) -> LoadSteps:
        """The loader's two round trips with every hash read natively: the instruments are
        resolved here, the Rust core plans the reads, reads the replies (their bytes, where
        the connection gives them raw) and adopts the symbols. What it cannot read as this
        service's own text it defers to the reference (`loader.reference_steps`), which reads
        those symbols again and decides."""
        registry, calendar = self.config.registry, self.config.calendar
        facts = []
        for symbol, ts_ms in first_ts_ms.items():
            instrument = registry.resolve(symbol, calendar.trading_date(ts_ms))
            self._contexts.expiries[symbol] = instrument.expiry
            facts.append((symbol, instrument.kind.value, instrument.tick_size, instrument.strike,
                          instrument.expiry is not None, instrument.is_fno))
        core = self._core
        # Raw: the replies reach the Rust core as the bytes Redis sent (store/replies.read_raw).
        replies = yield Commands(*core.plan_loads(facts), raw=True)
        payload, count, deferred = core.read_histories(replies, minute_history_days)
        replies = (yield Commands(payload, count, raw=True)) if count else []
        try:
            deferred += core.finish_loads(replies)
        finally:
            self._held = len(core)
        if deferred:
            # In the batch's order, so the reference raises what it would have raised first.
            held = set(deferred)
            deferred = [s for s in first_ts_ms if s in held]
            histories = yield from reference_steps(deferred, minute_history_days)
            for symbol, history in histories.items():
                self.load(symbol, history, first_ts_ms[symbol])

    def apply_staged(self) -> BatchOutcome:
        entries, self._staged = self._staged, ()
        applied, last_ts, rejected, forwarded = self._core.apply_staged()
        rejects = [Reject(entries[i].entry_id, entries[i].fields, reason, error)
                   for i, reason, error in rejected]
        forwards = [Forward(entries[i].entry_id, entries[i].fields, owner)
                    for i, owner in forwarded]
        return BatchOutcome(applied, last_ts, rejects, forwards)

    def drain(self) -> Drained:
        payload, commands, families, symbols, left_out = self._core.drain()
        return Drained(EncodedWrites(payload, commands), families, symbols, left_out)

    def commit_drain(self) -> None:
        self._core.commit_drain()

    def drain_writes(self) -> DrainedWrites:
        """drain() as HashWrite objects (tests, tools): what the payload encodes."""
        writes, left_out = self._core.drain_writes()
        return DrainedWrites.of([HashWrite(key, family, dict(fields), tuple(absent))
                                 for key, family, fields, absent in writes], left_out)

    def _parse_in_python(self, fields: Any, entry_id: str) -> ParsedTuple | tuple[str, str]:
        """An entry the native parser defers, through the reference parser."""
        entry_ms = parse_entry_id(entry_id)[0] if self.timestamp_from_entry_id else None
        try:
            t = parse_entry(field_map(fields), tokens=self.config.registry.tokens,
                            entry_ms=entry_ms)
        except TickError as exc:
            return (exc.reason, str(exc))
        return (t.symbol, t.price, t.ts_ms, t.volume, t.cumulative_volume, t.oi,
                t.underlying_price)
