"""Fixtures of the toolchain tests: a project whose specs and build products live in a temporary
folder (so a test never writes kernel-specs/ or build/generated/), and the contributor kernels of
tests/toolchain/kernels/ (this project's own code, written in upstream's style)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from akcuda import paths
from akcuda.toolchain import upstream

CONTRIBUTOR_KERNELS = Path(__file__).with_name("kernels")


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """kernel-specs/ and the build products (generated, compiled, host libraries, reports) in
    tmp_path; the upstream sdists and the reference cache stay where they are."""
    for name, sub in (("SPECS", "kernel-specs"), ("GENERATED", "generated"), ("COMPILED", "compiled")):
        monkeypatch.setattr(paths, name, tmp_path / sub)
    monkeypatch.setattr(paths, "HOSTLIB", tmp_path / "host")
    monkeypatch.setattr(paths, "REPORT", tmp_path / "report")
    (tmp_path / "kernel-specs").mkdir()
    return tmp_path


@pytest.fixture
def contributor(tmp_path) -> Path:
    """A contributor's folder outside the project, holding a copy of the new test kernel."""
    folder = tmp_path / "contributor"
    folder.mkdir()
    shutil.copy(CONTRIBUTOR_KERNELS / "awkward_ListArray_akctest_positive.cpp", folder)
    return folder / "awkward_ListArray_akctest_positive.cpp"


@pytest.fixture
def cpp_tree(tmp_path, upstream_cpp) -> Path:
    """A local awkward-cpp source tree: the pinned sdist unpacked into tmp_path."""
    with tarfile.open(upstream.paths.UPSTREAM / upstream.PINS[0].sdist) as tar:
        tar.extractall(tmp_path / "tree", filter="data")
    return tmp_path / "tree" / upstream.PINS[0].folder
