"""The write filter: fewer writes, the same end state, whatever happens to each flush."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.write_filter import WriteFilter

Store = dict[str, dict[str, str]]


def apply(store: Store, writes: Iterable[HashWrite]) -> None:
    """What HSET then HDEL do to a Redis hash (an emptied hash is no key at all)."""
    for w in writes:
        h = store.setdefault(w.key, {})
        h.update(w.fields)
        for a in w.absent:
            h.pop(a, None)
        if not h:
            del store[w.key]


def session(fields: dict[str, str], absent: tuple[str, ...] = ()) -> HashWrite:
    return HashWrite("vol:session:SBIN:2025-01-06", "unified", fields, absent)


def flush(f: WriteFilter, writes: list[HashWrite]) -> list[HashWrite]:
    plan = f.filter(writes)
    f.commit(plan)
    return plan.writes


def test_new_owner_writes_everything_once() -> None:
    f = WriteFilter()
    first = [session({"a": "1", "b": "2"}, ("rvol",)),
             HashWrite("ind:SBIN", "legacy", {"volume": "1"})]
    assert flush(f, first) == first
    assert flush(f, first) == []
    assert flush(WriteFilter(), first) == first


def test_keeps_only_what_changed() -> None:
    f = WriteFilter()
    flush(f, [session({"a": "1", "b": "2", "c": "3"}, ("rvol",))])
    out = flush(f, [session({"a": "1", "b": "20", "c": "3"}, ("rvol",))])
    assert out == [HashWrite("vol:session:SBIN:2025-01-06", "unified", {"b": "20"})]
    # a field deleted earlier and set again is written; a field set earlier and now absent too
    out = flush(f, [session({"rvol": "1.5", "a": "1"}, ("c",))])
    assert out == [session({"rvol": "1.5"}, ("c",))]
    assert flush(f, [session({"rvol": "1.5"}, ("c",))]) == []


def test_a_key_is_known_only_as_far_as_its_last_write() -> None:
    f = WriteFilter()
    flush(f, [session({"a": "1", "b": "1"})])
    assert flush(f, [session({"a": "2"})]) == [session({"a": "2"})]
    assert flush(f, [session({"b": "1"})]) == [session({"b": "1"})]  # forgotten, so written


def test_a_failed_flush_teaches_nothing() -> None:
    f = WriteFilter()
    writes = [session({"a": "1"})]
    f.filter(writes)  # refused (FENCED, WatchError): dropped, never committed
    assert flush(f, writes) == writes


def test_an_unknown_outcome_forgets_the_keys() -> None:
    f = WriteFilter()
    flush(f, [session({"a": "1"}), HashWrite("ind:SBIN", "legacy", {"volume": "1"})])
    lost = f.filter([session({"a": "2"})])  # may have landed: Redis holds 1 or 2
    f.forget(lost)
    assert flush(f, [session({"a": "1"})]) == [session({"a": "1"})]
    assert flush(f, [HashWrite("ind:SBIN", "legacy", {"volume": "1"})]) == []


def test_stale_plan_is_refused() -> None:
    f = WriteFilter()
    old = f.filter([session({"a": "1"})])
    f.commit(f.filter([session({"a": "2"})]))
    with pytest.raises(ValueError, match="before the last commit"):
        f.commit(old)


def test_same_key_twice_in_one_batch() -> None:
    f = WriteFilter()
    flush(f, [session({"a": "1", "b": "1"})])
    out = flush(f, [session({"a": "2"}), session({"a": "1", "b": "1"})])
    assert out == [session({"a": "2"}), session({"a": "1"})]
    # set and deleted by the same write: the HDEL wins, so it stays
    out = flush(f, [HashWrite("k", "state", {"x": "1"}, ("x",))])
    assert out == [HashWrite("k", "state", {"x": "1"}, ("x",))]
    assert flush(f, [HashWrite("k", "state", {}, ("x",))]) == []


def test_bounded_least_recently_written_first() -> None:
    f = WriteFilter(max_keys=2)
    a, b, c = (HashWrite(k, "state", {"f": "1"}) for k in "abc")
    flush(f, [a, b])
    flush(f, [a])  # touched, even though nothing was written: b is now the oldest
    flush(f, [c])
    assert len(f) == 2
    assert flush(f, [a, b, c]) == [b]  # b was forgotten: written in full once
    with pytest.raises(ValueError, match="max_keys"):
        WriteFilter(max_keys=0)


def test_clear() -> None:
    f = WriteFilter()
    flush(f, [session({"a": "1"})])
    f.clear()
    assert len(f) == 0
    assert flush(f, [session({"a": "1"})]) == [session({"a": "1"})]


names = st.sampled_from(["a", "b", "c", "d"])
values = st.sampled_from(["0", "1", "2", "1.5"])
writes_st = st.lists(
    st.builds(HashWrite, key=st.sampled_from(["k1", "k2", "k3"]), family=st.just("state"),
              fields=st.dictionaries(names, values, max_size=3),
              absent=st.lists(names, max_size=2, unique=True).map(tuple)),
    max_size=5,
)
# what happened to each flush: landed and confirmed, landed with the reply lost, refused
outcomes = st.sampled_from(["ok", "lost_landed", "lost_not_landed", "refused"])


@given(st.lists(st.tuples(writes_st, outcomes), max_size=12), st.integers(1, 4))
@settings(max_examples=400)
def test_same_end_state_as_writing_everything(
    flushes: list[tuple[list[HashWrite], str]], max_keys: int
) -> None:
    reference: Store = {}
    filtered: Store = {}
    f = WriteFilter(max_keys=max_keys)
    for writes, outcome in flushes:
        plan = f.filter(writes)
        if outcome in ("ok", "lost_landed"):
            apply(reference, writes)
            apply(filtered, plan.writes)
        if outcome == "ok":
            f.commit(plan)
        elif outcome.startswith("lost"):
            f.forget(plan)
        assert filtered == reference
    # and a last flush of everything the reference holds, confirmed, changes nothing
    final = [HashWrite(k, "state", dict(h)) for k, h in reference.items()]
    apply(filtered, f.filter(final).writes)
    assert filtered == reference
