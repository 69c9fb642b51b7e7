"""Which tick core a worker runs: the native (Rust) one where it was built, else Python's.

The Rust core (`_native`, built from native/ when cargo is present at install) and the Python
core give the same writes byte for byte; the Python one is the reference and the fallback, so a
package installed without a Rust toolchain still runs, and says so (start-up log,
`volume-engine --version`, `volume_engine_build_info{core}`). `VOLUME_CORE` picks one:
`auto` (native where built), `native` (refuse to start without it) or `python`.
"""

from __future__ import annotations

import functools

CORE_CHOICES = ("auto", "native", "python")
NATIVE = "native"
PYTHON = "python"


@functools.cache
def native_available() -> bool:
    """True when the extension is importable and carries the partition core."""
    try:
        from . import _native
    except ImportError:
        return False
    return hasattr(_native, "PartitionCore")


def resolve(choice: str) -> str:
    """The core `choice` (one of CORE_CHOICES) means on this install: native or python."""
    if choice not in CORE_CHOICES:
        raise ValueError(f"must be one of {', '.join(CORE_CHOICES)}, got {choice!r}")
    if choice == PYTHON:
        return PYTHON
    if native_available():
        return NATIVE
    if choice == NATIVE:
        raise ValueError(
            "native, but the native core is not built here (no Rust toolchain when the package "
            "was installed): reinstall with cargo on PATH, or set VOLUME_CORE=python"
        )
    return PYTHON
