"""The Rust write filter (`_native.WriteFilter`) against the Python reference, write by write.

Both are fed the same drains (keys written twice in one drain, fields set and deleted, keys
forgotten when more are written than they remember) with the same outcomes, and must leave out
exactly the same fields. The Rust filter forgets a drain never committed when the next begins;
the reference is told so (`forget`), which is what `PythonBatchCore` does.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.volume_files import cores
from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.write_filter import WriteFilter

if not cores.native_available():
    if os.environ.get("VOLUME_REQUIRE_NATIVE") == "1":
        raise AssertionError("VOLUME_REQUIRE_NATIVE=1 but the native core is not built")
    pytest.skip("the native core is not built", allow_module_level=True)

from shared_core.volume_files import _native

NativeWrite = tuple[str, list[tuple[str, str]], list[str]]


def to_native(writes: list[HashWrite]) -> list[NativeWrite]:
    return [(w.key, list(w.fields.items()), list(w.absent)) for w in writes]


names = st.sampled_from(["a", "b", "c", "d", "é"])
values = st.sampled_from(["0", "1", "2", "1.5", "", "[1.5, 2]"])
writes_st = st.lists(
    st.builds(HashWrite, key=st.sampled_from(["k1", "k2", "k3", "k4", "vol:é"]),
              family=st.just("state"),
              fields=st.dictionaries(names, values, max_size=4),
              absent=st.lists(names, max_size=2, unique=True).map(tuple)),
    max_size=6,
)
# the drain's flush landed (commit), its outcome is unknown (forget), or the next drain came
# before any commit (the Rust filter forgets it by itself)
outcomes = st.sampled_from(["commit", "forget", "uncommitted"])


@given(st.lists(st.tuples(writes_st, outcomes), max_size=15), st.integers(1, 5))
@settings(max_examples=500)
def test_both_filters_leave_out_the_same_fields(
    drains: list[tuple[list[HashWrite], str]], max_keys: int
) -> None:
    python = WriteFilter(max_keys=max_keys)
    native = _native.WriteFilter(max_keys)
    for writes, outcome in drains:
        plan = python.filter(writes)
        assert native.filter(to_native(writes)) == to_native(plan.writes)
        if outcome == "uncommitted":
            python.forget(plan)  # what the native filter's next drain does by itself
            continue
        if outcome == "commit":
            python.commit(plan)
            native.commit()
        else:
            python.forget(plan)
            native.forget()
        assert len(native) == len(python)


def test_one_drains_keys_are_remembered_in_key_order() -> None:
    """Bounded: the least recently written go first, and within one drain the keys count in
    key order, so two cores draining their symbols in different orders forget the same keys."""
    python, native = WriteFilter(max_keys=2), _native.WriteFilter(2)
    w = {k: HashWrite(k, "state", {"v": "1"}) for k in "abc"}
    drain = [w["c"], w["a"], w["b"]]  # 3 keys, 2 remembered: a goes (b, c are last)
    python.commit(python.filter(drain))
    native.filter(to_native(drain))
    native.commit()
    again = [w["a"], w["b"], w["c"]]
    assert native.filter(to_native(again)) == to_native(python.filter(again).writes)
    assert python.filter(again).writes == [w["a"]]


def test_at_least_one_key() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        _native.WriteFilter(0)
