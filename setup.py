"""Native extensions only; everything else about the package is in pyproject.toml.

`_native` is the Rust core (native/, PyO3) and `_profile_kernel` the C profile scan it replaces.
Both are optional: where no Rust toolchain (or C compiler) is available the package still
installs and runs on the pure-Python core, and says so at start-up.
"""

from setuptools import Extension, setup
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
    ext_modules=[
        Extension(
            "shared_core.volume_files._profile_kernel",
            sources=["service/shared_core/volume_files/_profile_kernel.c"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit"],
            optional=True,
        )
    ],
)
