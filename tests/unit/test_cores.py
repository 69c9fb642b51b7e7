"""Which tick core VOLUME_CORE picks, and the refusal when the native one is missing."""

from __future__ import annotations

import os

import pytest

from shared_core.volume_files import cores
from shared_core.volume_files.settings import SettingsError, load_settings


def test_python_is_always_available() -> None:
    assert cores.resolve("python") == "python"


def test_auto_takes_native_where_built() -> None:
    expected = "native" if cores.native_available() else "python"
    assert cores.resolve("auto") == expected


def test_ci_builds_the_native_core() -> None:
    if os.environ.get("VOLUME_REQUIRE_NATIVE") != "1":
        pytest.skip("VOLUME_REQUIRE_NATIVE is not set (CI sets it)")
    assert cores.native_available()
    assert cores.resolve("native") == "native"


def test_an_unknown_choice_names_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, native, python"):
        cores.resolve("rust")
    with pytest.raises(SettingsError, match="VOLUME_CORE"):
        load_settings(env={"VOLUME_CORE": "rust"})


def test_native_without_the_extension_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "native_available", lambda: False)
    with pytest.raises(SettingsError, match="VOLUME_CORE: native, but the native core is not"):
        load_settings(env={"VOLUME_CORE": "native"})
    assert load_settings(env={"VOLUME_CORE": "auto"}).core == "auto"
