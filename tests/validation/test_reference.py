"""The CPU reference: the installed awkward_cpp for unchanged kernels, the kernel's own C built
with awkward-cpp's compile flags for new or changed ones (tests/toolchain/test_port.py runs both
through `akcuda port`)."""

from __future__ import annotations

import shutil

import pytest

from akcuda.toolchain import specs, upstream
from akcuda.validation import reference, reference_build


def test_the_compile_flags_are_read_from_the_trees_cmakelists(upstream_cpp, tmp_path):
    flags = reference_build.cmake_flags(upstream_cpp)
    assert {"-std=c++17", "-O3", "-fvisibility=hidden", "-fvisibility-inlines-hidden", '-DVERSION_INFO="57"'} <= set(
        flags
    )
    tree = tmp_path / "cpp"
    tree.mkdir()
    text = (upstream_cpp / "CMakeLists.txt").read_text().replace("cxx_std_17", "cxx_std_20")
    (tree / "CMakeLists.txt").write_text(text.replace("CXX_EXTENSIONS NO", "CXX_EXTENSIONS YES"))
    assert "-std=gnu++20" in reference_build.cmake_flags(tree)
    with pytest.raises(reference_build.ReferenceBuildError, match="no CMakeLists.txt"):
        reference_build.cmake_flags(tmp_path)


def test_an_unchanged_kernel_keeps_the_installed_awkward_cpp(upstream_cpp):
    spec = specs.load_all()["awkward_ListArray_compact_offsets"]
    ref = reference.for_kernel(spec, upstream.select())
    assert ref.kind == reference.INSTALLED and ref.describe()["version"] == upstream.PINS[0].version


@pytest.mark.gxx
def test_a_changed_kernel_is_built_from_its_c_and_called_like_the_real_one(upstream_cpp, tmp_path):
    import numpy as np

    spec = specs.load_all()["awkward_ListArray_compact_offsets"]
    mine = tmp_path / "awkward_ListArray_compact_offsets.cpp"
    shutil.copy(upstream_cpp / spec["source"], mine)
    mine.write_text(mine.read_text().replace("(stop - start)", "(stop - start) * 3"))
    ref = reference.for_kernel(spec, upstream.select(kernels=[mine]))
    assert ref.kind == reference.SOURCE and "differs from awkward-cpp 57" in ref.why
    special = spec["specializations"][2]  # the uint32 one
    starts, stops = np.array([0, 2], dtype=np.uint32), np.array([2, 5], dtype=np.uint32)
    values = [np.zeros(3, dtype=np.int64), starts, stops, 2]
    assert ref.call(special, values) is None and values[0].tolist() == [0, 6, 15]
    installed = [np.zeros(3, dtype=np.int64), starts, stops, 2]
    assert reference.call(special, installed) is None and installed[0].tolist() == [0, 2, 5]
    failing = [np.zeros(3, dtype=np.int64), stops, starts, 2]  # stops before starts: the C's own error
    assert ref.call(special, failing).message == "stops[i] < starts[i]"


# A contributor's C that misbehaves where a row is longer than 2: (statement put first in the
# loop's last line, what the call raises)
MISBEHAVIOURS = {
    "faults": ("if (stop - start > 2) __builtin_trap();", "crashed \\(signal SIGILL\\)"),
    "never ends": ("if (stop - start > 2) { volatile int spin = 1; while (spin) {} }", "ran over 1 s"),
}


@pytest.mark.gxx
@pytest.mark.parametrize("misbehaviour", MISBEHAVIOURS)
def test_a_kernel_built_from_source_that_misbehaves_loses_a_child_not_the_run(
    upstream_cpp, tmp_path, monkeypatch, misbehaviour
):
    """A contributor's C may fault or never end on inputs its recipe does not yet keep within
    its preconditions: the call says which, and the next call still runs."""
    import numpy as np

    statement, match = MISBEHAVIOURS[misbehaviour]
    monkeypatch.setattr(reference, "CALL_TIMEOUT", 1.0)
    spec = specs.load_all()["awkward_ListArray_compact_offsets"]
    mine = tmp_path / "awkward_ListArray_compact_offsets.cpp"
    shutil.copy(upstream_cpp / spec["source"], mine)
    mine.write_text(mine.read_text().replace("tooffsets[i + 1] =", f"{statement} tooffsets[i + 1] ="))
    ref = reference.for_kernel(spec, upstream.select(kernels=[mine]))
    special = spec["specializations"][2]
    starts = np.array([0, 2], dtype=np.uint32)
    with pytest.raises(reference.ReferenceCrashed, match=match):
        ref.call(special, [np.zeros(3, dtype=np.int64), starts, np.array([2, 5], dtype=np.uint32), 2])
    values = [np.zeros(3, dtype=np.int64), starts, np.array([1, 4], dtype=np.uint32), 2]
    assert ref.call(special, values) is None and values[0].tolist() == [0, 1, 3]
