"""The native extension only; everything else about the package is in pyproject.toml.

`_native` is the Rust core (native/, PyO3, built with setuptools-rust). It is optional: where no
Rust toolchain is available the package still installs and runs on the pure-Python core, and
says so at start-up (`volume-engine --version`, `volume_engine_build_info{core}`).
"""

from setuptools import setup
from setuptools_rust import Binding, RustExtension

setup(
    rust_extensions=[
        RustExtension(
            "shared_core.volume_files._native",
            path="native/python/Cargo.toml",
            binding=Binding.PyO3,
            features=["pyo3/extension-module"],
            optional=True,
            debug=False,
        )
    ],
)
