"""Sans-I/O command plans and their two drivers, so each sync/async twin is written once.

A plan is a generator: it yields a `Round` (commands for one pipeline) and is sent that round's
replies, until it returns its result. Everything a call does (which keys, in which order, how
the replies are read, what the tracker counts) lives in the plan; `run_plan` and
`run_plan_async` only execute rounds, one for `redis.Redis` and one for `redis.asyncio`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .wire import Command

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aredis

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Round:
    """Commands for one pipelined round trip; an empty round costs none."""

    commands: Sequence[Command]
    transaction: bool = False


Plan = Generator[Round, list[Any], T]


def one_round(round_: Round, parse: Callable[[list[Any]], T]) -> Plan[T]:
    """The plan of a single round whose replies `parse` reads."""
    return parse((yield round_))


def then(plan: Plan[T], f: Callable[[T], U]) -> Plan[U]:
    """`plan`, its result passed through `f`."""
    return f((yield from plan))


def run_plan(client: redis.Redis, plan: Plan[T]) -> T:
    """Run a plan's rounds on a synchronous client."""
    try:
        round_ = next(plan)
        while True:
            round_ = plan.send(_execute(client, round_))
    except StopIteration as done:
        result: T = done.value
        return result


async def run_plan_async(client: aredis.Redis, plan: Plan[T]) -> T:
    """Run a plan's rounds on an asyncio client."""
    try:
        round_ = next(plan)
        while True:
            round_ = plan.send(await _execute_async(client, round_))
    except StopIteration as done:
        result: T = done.value
        return result


def _execute(client: redis.Redis, round_: Round) -> list[Any]:
    if not round_.commands:
        return []
    pipe: Any = client.pipeline(transaction=round_.transaction)  # execute_command is untyped
    for command in round_.commands:
        pipe.execute_command(*command)
    return list(pipe.execute())


async def _execute_async(client: aredis.Redis, round_: Round) -> list[Any]:
    if not round_.commands:
        return []
    pipe = client.pipeline(transaction=round_.transaction)
    for command in round_.commands:
        pipe.execute_command(*command)
    return list(await pipe.execute())
