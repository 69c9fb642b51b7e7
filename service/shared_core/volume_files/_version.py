"""The package's version, importable without the package's `__init__` (metrics reads it).

Keep it equal to `version` in pyproject.toml.
"""

__version__ = "0.1.0"
