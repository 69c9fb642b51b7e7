"""Process-level settings the `run` command applies before it starts the service."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared_core.volume_files.cli import tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_raises_the_young_generation_threshold() -> None:
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, 50, 1000)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_zero_keeps_the_interpreter_defaults() -> None:
    before = gc.get_threshold()
    tune_gc(0)
    assert gc.get_threshold() == before
