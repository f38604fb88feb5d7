"""`akcuda info`: versions, where the kernels come from and how many, what stops them, which
targets can run here and why not, and which binary a GPU of each architecture would load."""

from __future__ import annotations

import importlib.metadata
import json
import shutil

import pytest

from akcuda import info, store
from akcuda.runtime import host_build, unavailable
from akcuda.toolchain import cli


def test_info_of_the_checkout(spec_counts, capsys):
    found = info.gather()
    for name, distribution in (("awkward", "awkward"), ("awkward-cpp", "awkward_cpp"), ("numpy", "numpy")):
        assert found.versions[name] == importlib.metadata.version(distribution)
    assert found.kernels["origin"] == "checkout" and found.kernels["made from"] == "awkward-cpp 57"
    assert found.kernels["specializations"] == spec_counts.translated
    assert found.kernels["pending"] == len(spec_counts.pending_kernels)
    targets = {t.name: t for t in found.targets}
    assert targets["host"].ready == (shutil.which("g++") is not None)
    assert targets["cuda"].ready == (unavailable("cuda") is None)
    if not targets["cuda"].ready:
        assert targets["cuda"].detail == unavailable("cuda") and found.gpu is None
    assert cli.main(["info"]) == (0 if found.ok else 1)
    printed = capsys.readouterr().out
    assert f"awkward-cpp {found.versions['awkward-cpp']}" in printed and "from the checkout's" in printed
    assert f"target cuda: {'can run' if targets['cuda'].ready else 'cannot run'}" in printed
    assert cli.main(["info", "--json"]) == (0 if found.ok else 1)
    shown = json.loads(capsys.readouterr().out)
    assert shown["kernels"]["kernel families"] == found.kernels["kernel families"] and shown["ok"] == found.ok


def test_info_names_kernels_made_from_another_awkward_cpp(small_store, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "store"
    shutil.copytree(small_store, folder)
    manifest = json.loads((folder / store.MANIFEST).read_text())
    (folder / store.MANIFEST).write_text(json.dumps({**manifest, "awkward_cpp": "56"}))
    monkeypatch.setenv("AKCUDA_KERNELS", str(folder))
    assert info.main([]) == 1
    printed = capsys.readouterr().out
    assert f"from AKCUDA_KERNELS={folder}" in printed and "made from awkward-cpp 56" in printed
    assert "problem: akcuda's kernels were made from awkward-cpp 56, but awkward-cpp 57 is installed" in printed
    assert printed.rstrip().endswith("akcuda info: not ready")


def test_without_gxx_the_host_target_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    host_build.compiler.cache_clear()
    try:
        host = {t.name: t for t in info.gather().targets}["host"]
        assert not host.ready and host.detail == host_build.NO_COMPILER
    finally:
        host_build.compiler.cache_clear()


@pytest.mark.nvrtc
@pytest.mark.parametrize(
    "capability, way",
    [
        (80, "cubin sm_80"),
        (86, "cubin sm_80"),  # same major, a newer minor: the sm_80 cubin runs
        (90, "cubin sm_90"),
        (100, "ptx sm_90"),  # newer than any cubin: the driver compiles the newest PTX
        (120, "ptx sm_90"),
        (75, "nvrtc"),  # older than every binary: compiled on first use
    ],
)
def test_the_binary_a_gpu_would_load(small_store, monkeypatch, capability, way):
    """On the store a wheel carries (cubins for sm_80 and sm_90, the sm_90 PTX)."""
    monkeypatch.setenv("AKCUDA_KERNELS", str(small_store))
    assert info.binaries(store.current(), capability) == {way: 1}
