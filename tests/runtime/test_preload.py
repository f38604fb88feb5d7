"""Preloading in one process: everything a first kernel call would load is loaded, so a call
after it builds, opens and binds nothing; a host library that fails to build is one line."""

from __future__ import annotations

import awkward as ak
import pytest

from akcuda import store
from akcuda.runtime import awkward_plugin, host_build, preload

pytestmark = pytest.mark.gxx  # the host build of the generated kernels


def test_after_preload_a_kernel_call_loads_nothing(host_kernels, monkeypatch):
    loaded = preload.preload("host")
    target = awkward_plugin.shared_target("host")
    symbols = sum(len(spec["specializations"]) for spec in store.current().specs().values())
    assert loaded.target == "host"
    assert loaded.specializations + len(loaded.skipped) == symbols
    assert loaded.specializations == len(target._bound) > 400
    assert loaded.families == len(target._libs) > 100
    builds = []
    monkeypatch.setattr(host_build, "build", lambda *args, **kwargs: builds.append(args))
    bound = dict(target._bound)
    with awkward_plugin.installed("host"), awkward_plugin.trace() as calls:
        ak.combinations(ak.Array([[1, 2, 3], [], [4, 5]]), 2)
    assert calls.all_akcuda and builds == [] and target._bound == bound


def test_a_failed_host_build_is_one_line(host_kernels, monkeypatch):
    def fails(sources, out_dir, extra=(), jobs=None):
        return [host_build.HostBuild(sources[0].stem, False, None, "x.cu:1: error: oops\nmore\n")]

    monkeypatch.setattr(host_build, "build_all", fails)
    with pytest.raises(preload.NotReady) as raised:
        preload.preload("host")
    assert str(raised.value).startswith("host build of awkward_") and str(raised.value).endswith(
        ": x.cu:1: error: oops"
    )
