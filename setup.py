"""The C extension only; everything else about the package is in pyproject.toml.

`optional=True`: where no C compiler is available the package still installs, and the profile
snapshot runs its pure-Python reference (`profile_scan.scan_levels`) instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "shared_core.volume_files._profile_kernel",
            sources=["service/shared_core/volume_files/_profile_kernel.c"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit"],
            optional=True,
        )
    ]
)
