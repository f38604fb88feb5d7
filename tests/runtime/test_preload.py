"""Preloading in one process: everything a first kernel call would load is loaded, so a call
after it builds, opens and binds nothing; a process that cannot run a target says why in one line."""

from __future__ import annotations

import sys

import awkward as ak
import pytest

from akcuda import paths
from akcuda.runtime import awkward_plugin, host_build, preload

pytestmark = pytest.mark.gxx  # the host build of the generated kernels


def test_after_preload_a_kernel_call_loads_nothing(host_kernels, monkeypatch):
    loaded = preload.preload("host")
    target = awkward_plugin.shared_target("host")
    assert loaded.target == "host"
    assert loaded.specializations + len(loaded.skipped) == len(awkward_plugin._specializations())
    assert loaded.specializations == len(target._bound) > 400
    assert loaded.families == len(target._libs) > 100
    builds = []
    monkeypatch.setattr(host_build, "build", lambda *args, **kwargs: builds.append(args))
    bound = dict(target._bound)
    with awkward_plugin.installed("host"), awkward_plugin.trace() as calls:
        ak.combinations(ak.Array([[1, 2, 3], [], [4, 5]]), 2)
    assert calls.all_akcuda and builds == [] and target._bound == bound


def test_no_kernels_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "GENERATED", tmp_path / "generated")
    with pytest.raises(preload.NotReady) as raised:
        preload.preload("host")
    assert str(raised.value).startswith(f"no generated kernels in {tmp_path / 'generated'} (run `make generate")


def test_without_cupy_the_cuda_target_is_one_line(monkeypatch):
    monkeypatch.setattr(awkward_plugin, "_targets", {})  # no cuda target made earlier in this process
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` fails, as where CuPy is not installed
    with pytest.raises(preload.NotReady, match=r"^no usable GPU: CuPy cannot be imported \(import of cupy"):
        preload.preload("cuda")


def test_a_device_cupy_cannot_use_is_one_line(monkeypatch):
    def no_device(name: str):
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected\n(more lines)")

    monkeypatch.setattr(awkward_plugin, "shared_target", no_device)
    with pytest.raises(preload.NotReady) as raised:
        preload.preload("cuda")
    assert str(raised.value) == "no usable GPU: cudaErrorNoDevice: no CUDA-capable device is detected"
