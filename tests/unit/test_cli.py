"""Process-level settings the `run` command applies before it starts the service."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared_core.volume_files import cores
from shared_core.volume_files._version import __version__
from shared_core.volume_files.cli import main, tune_gc, version_text


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


def test_version_names_the_core(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"volume-engine {__version__}"
    assert out[1] == f"core: {cores.resolve('auto')}"


def test_version_text_follows_volume_core() -> None:
    assert version_text({"VOLUME_CORE": "python"}).splitlines()[1] == "core: python"
    assert "must be one of" in version_text({"VOLUME_CORE": "rust"})
