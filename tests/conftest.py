"""Shared fixtures: the upstream sdists (fetched by `make test` through `akcuda import`)."""

from __future__ import annotations

import pytest

from akcuda.toolchain import upstream


@pytest.fixture(scope="session")
def upstream_cpp():
    """The unpacked awkward-cpp sdist; `make test` imports it before pytest starts."""
    folder = upstream.cpp_dir()
    if not (folder / "src" / "cpu-kernels").is_dir():
        pytest.fail(f"{folder} is missing: run `akcuda import` (make test does) before the tests")
    return folder
