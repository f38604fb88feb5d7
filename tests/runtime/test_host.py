"""The host emulation build: the generated .cu text compiled by g++."""

from __future__ import annotations

import pytest

from akcuda.runtime import host_build


@pytest.mark.gxx
def test_host_build_reports_compiler_errors(tmp_path):
    broken = tmp_path / "akc_broken.cu"
    broken.write_text("__global__ void k( { }\n")
    result = host_build.build(broken, tmp_path / "out")
    assert not result.ok and "akc_broken.cu" in result.log


def test_a_librarys_cache_key_covers_source_header_flags_and_compiler(monkeypatch):
    key = host_build._key("source", host_build.FLAGS)
    assert host_build._key("source", host_build.FLAGS) == key
    assert host_build._key("other source", host_build.FLAGS) != key
    assert host_build._key("source", host_build.FLAGS + ("-g",)) != key
    monkeypatch.setattr(host_build, "compiler", lambda: "g++ (another) 99.1 (x86_64-linux-gnu)")
    assert host_build._key("source", host_build.FLAGS) != key


def test_without_gxx_the_host_target_is_one_clear_error_at_install(monkeypatch, tmp_path):
    from akcuda.runtime import awkward_plugin

    monkeypatch.setenv("PATH", str(tmp_path))  # no g++ there
    host_build.compiler.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="akcuda target 'host' cannot run here: no g.. on PATH"):
            awkward_plugin.install("host")
        assert not awkward_plugin.is_installed("host")
        with pytest.raises(RuntimeError, match="no g.. on PATH"):
            host_build.build(tmp_path / "any.cu", tmp_path)
    finally:
        host_build.compiler.cache_clear()


EMPTY_TOPTR = """
import json, sys
import numpy as np
from pathlib import Path
from akcuda.runtime import executor
from akcuda.runtime.host import HostTarget
from akcuda.toolchain import specs

folder = Path(sys.argv[1])
spec = specs.load_all()["awkward_unique_ranges"]
special = next(s for s in spec["specializations"] if s["symbol"] == "awkward_unique_ranges_int64")
plan = executor.load_plan(spec["name"], folder)
tooffsets = np.full(2, -1, np.int64)
values = [np.empty(0, np.int64), np.zeros(2, np.int64), 2, tooffsets]
failure = executor.run(plan, special, values, HostTarget(seed=1, generated=folder), 32)
print(json.dumps([failure is None, tooffsets.tolist()]))
"""


@pytest.mark.gxx
def test_an_empty_array_the_c_reads_gets_a_valid_pointer(tmp_path, translate_upstream):
    """awkward_unique_ranges reads (and writes back) toptr[fromoffsets[i]] even for an empty row:
    one element of an empty array. The host target passes an empty array as CuPy does, a null
    pointer, so the kernel must be handed a valid one (in a child: a fault must fail the test,
    not end the run)."""
    import json
    import subprocess
    import sys

    import numpy as np

    from akcuda.toolchain import specs
    from akcuda.validation import reference

    translate_upstream(tmp_path, "awkward_unique_ranges")
    child = subprocess.run([sys.executable, "-c", EMPTY_TOPTR, str(tmp_path)], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-2000:]
    special = next(
        s for s in specs.load_all()["awkward_unique_ranges"]["specializations"] if s["symbol"].endswith("_int64")
    )
    tooffsets = np.full(2, -1, np.int64)
    cpu = reference.call(special, [np.zeros(4, np.int64)[:0], np.zeros(2, np.int64), 2, tooffsets])
    assert json.loads(child.stdout) == [cpu is None, tooffsets.tolist()]


def test_cupy_allocations_are_padded_for_a_read_one_past_the_end_while_installed():
    """Real CuPy, no device: the allocator akcuda installs asks for PAD_BYTES more, and uninstall
    puts the previous allocator back."""
    import cupy

    from akcuda.runtime.cuda import PAD_BYTES, PaddedAllocations

    asked: list[int] = []
    previous = cupy.cuda.get_allocator()
    cupy.cuda.set_allocator(asked.append)  # stands for the pool's malloc: records the sizes asked
    try:
        patch = PaddedAllocations()
        cupy.cuda.get_allocator()(100)
        patch.undo()
        assert asked == [100 + PAD_BYTES] and cupy.cuda.get_allocator() == asked.append
    finally:
        cupy.cuda.set_allocator(previous)
