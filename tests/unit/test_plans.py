"""Command plans without a server: the rounds a plan yields and what it makes of the replies."""

from __future__ import annotations

from typing import Any

from shared_core.volume_files.store.plans import Plan, Round, one_round, then


def _drive(plan: Plan[Any], replies: list[list[Any]]) -> tuple[list[Round], Any]:
    """Feed `replies` round by round; the rounds seen and the result."""
    rounds: list[Round] = []
    try:
        rounds.append(next(plan))
        for reply in replies:
            rounds.append(plan.send(reply))
    except StopIteration as done:
        return rounds, done.value
    raise AssertionError("the plan wanted more rounds than replies given")


def test_one_round_parses_its_replies() -> None:
    plan = one_round(Round([("GET", "a"), ("GET", "b")]), lambda r: [x * 2 for x in r])
    rounds, result = _drive(plan, [[1, 2]])
    assert rounds == [Round([("GET", "a"), ("GET", "b")])]
    assert result == [2, 4]


def test_then_maps_the_result_and_keeps_every_round() -> None:
    def two_rounds() -> Plan[int]:
        first = yield Round([("GET", "n")])
        second = yield Round([("INCRBY", "n", str(first[0]))], transaction=True)
        return int(second[0])

    rounds, result = _drive(then(two_rounds(), lambda n: n + 1), [[5], [10]])
    assert [r.transaction for r in rounds] == [False, True]
    assert rounds[1].commands == [("INCRBY", "n", "5")]
    assert result == 11
