"""TransactionPlan's verdict on EXEC's array: the objects (`acked`) and their summary read off
the bytes (`summed`, what `replies.exec_summary` gives) decide alike."""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError

from shared_core.volume_files.store.transaction import TransactionPlan


def plan(queued: int, ack_commands: int) -> TransactionPlan:
    return TransactionPlan(token="t", checkpoint="2-0", previous_checkpoint="1-0", check=b"",
                           writes=b"", tail=b"", queued=queued, ack_commands=ack_commands)


def test_the_acks_are_the_sum_of_the_tail() -> None:
    p = plan(queued=5, ack_commands=2)
    assert p.acked([1, 0, 1, 500, 3]) == 503
    assert p.summed(5, None, 503) == 503
    assert plan(queued=2, ack_commands=0).acked([1, 1]) == 0


def test_a_failed_command_is_raised_before_anything_else() -> None:
    p = plan(queued=3, ack_commands=1)
    failure = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        p.acked([1, failure, 2])
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        p.summed(3, failure, 2)
    with pytest.raises(ResponseError, match="WRONGTYPE"):  # even with the length wrong too
        p.acked([failure])


def test_an_array_of_another_length_is_an_error() -> None:
    p = plan(queued=4, ack_commands=1)
    with pytest.raises(ResponseError, match="EXEC returned 3 replies, expected 4"):
        p.acked([1, 1, 1])
    with pytest.raises(ResponseError, match="EXEC returned 5 replies, expected 4"):
        p.summed(5, None, 1)
