"""`akcuda bench` in the CPU smoke run: JSON, Markdown and PNGs, and the per-call figures."""

from __future__ import annotations

import json

import pytest

from akcuda.toolchain import cli
from akcuda.validation import upstream_launches

pytestmark = pytest.mark.gxx


@pytest.fixture(scope="module")
def smoke(upstream_cpp, tmp_path_factory):
    """One smoke run for the tests of this module: its folder and its JSON."""
    out = tmp_path_factory.mktemp("bench")
    args = ["bench", "-k", "ListArray_getitem_jagged_apply", "--out", str(out), "--timed-on", "host"]
    assert cli.main(args) == 0  # the timed sections on the host at small sizes, GPU or not
    return out, json.loads((out / "bench.json").read_text())


def test_the_smoke_run_writes_its_report_and_the_summary_holds(smoke):
    tmp_path, result = smoke
    summary = result["summary"]
    for field in (
        "specializations",
        "h2d_copies_per_call_max",
        "syncs_per_call_deferred_max",
        "over_upstream_launches",
    ):
        assert isinstance(summary[field], int)
    assert summary["specializations"] == 3 and summary["h2d_copies_per_call_max"] == 0
    assert summary["syncs_per_call_deferred_max"] == 0
    for entry in result["specializations"]:
        assert entry["immediate"]["syncs"] >= 1  # immediate reads its record back
        assert entry["upstream_launches"] == upstream_launches.by_symbol()[entry["symbol"]]
        assert not entry["over_upstream"] or entry["why_more"]
    assert "No GPU figures" in (tmp_path / "bench.md").read_text() and not result["gpu"]
    for png in ("per_call.png", "host_vs_cpu.png", "sweeps.png", "workloads.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_the_smoke_run_times_the_gpu_sections_on_the_host(smoke):
    """The sections a GPU times run on the host target at small sizes: same code, host clock."""
    tmp_path, result = smoke
    device = result["device"]
    assert device["target"] == "host" and device["copy_bandwidth_gb_s"] > 0
    compact = [r for r in device["sweeps"] if r["symbol"] == "awkward_ListArray64_compact_offsets_64"]
    assert [r["n"] for r in compact] == [1000, 10000]
    for r in compact:  # int64 starts and stops read, int64 offsets (n + 1) written
        assert r["ideal_bytes"] == 8 * (2 * r["n"] + r["n"] + 1)
        assert r["akcuda"]["median_us"] > 0 and 0 < r["akcuda"]["of_copy"]
        assert r["akcuda"]["allocations"] == 0  # the stream's buffers were made by the warm-up
    overhead = device["overhead"]
    for run in ("akcuda_immediate", "akcuda_deferred", "awkward"):
        assert overhead[run]["runs"] >= 200
    assert overhead["akcuda_deferred"]["allocations"] == 0
    assert [f["prebuilt"] for f in device["first_call"]] == [True, False]
    assert all("error" not in f and f["first_call_s"] > 0 for f in device["first_call"])
    names = {w["workload"] for w in device["workloads"]}
    assert names == {
        "met_histogram",
        "jet_selection",
        "dimuon_masses",
        "trijet_closest_to_top",
        "muon_isolation",
        "ragged_argminmax",
    }
    for w in device["workloads"]:
        assert "error" not in w and w["equal"], w
        if w["config"] == "akcuda host":
            assert w["kernel_calls"] > 0 and w["fallbacks"] == 0
    assert result["summary"]["workloads_unequal"] == 0 and result["summary"]["workloads_checked"] == 12
    markdown = (tmp_path / "bench.md").read_text()
    assert "### Kernel sweeps" in markdown and "### Physics workloads" in markdown
    assert "### Whole-row steps on skewed rows" in markdown


def test_the_smoke_run_times_whole_row_steps_on_skewed_and_balanced_rows(smoke):
    """Each row workload on both shapes, the same elements, equal to the CPU, and the kernels whose
    thread does a whole row ran through akcuda."""
    _, result = smoke
    rows = result["device"]["rows"]
    assert {(r["workload"], r["shape"]) for r in rows} == {
        (w, s)
        for w in ("pairs", "unique", "sum_per_list", "sum_per_column", "max_per_column")
        for s in ("skewed", "balanced")
    }
    for r in rows:
        assert "error" not in r and r["equal"], r
    for workload, kernel in (
        ("pairs", "awkward_ListArray_combinations"),
        ("unique", "awkward_unique_ranges"),
        ("sum_per_list", "awkward_reduce_sum"),
        ("sum_per_column", "awkward_ListOffsetArray_reduce_nonlocal_preparenext_64"),
        ("max_per_column", "awkward_reduce_max"),
    ):
        ours = [r for r in rows if r["workload"] == workload and r["config"] == "akcuda host"]
        assert len({r["elements"] for r in ours}) == 1  # one set of values, two shapes
        assert all(kernel in r["kernels"] and r["fallbacks"] == 0 for r in ours)


def test_upstream_launches_are_counted_from_the_wrapper_text():
    text = """
def by_signature(cuda_kernel_templates):
    out = {}
    out['awkward_a', int64] = None
    def f(grid, block, args):
        scan = cupy.zeros(3, dtype=cupy.int64)
        cuda_kernel_templates.get_function('x_a')(grid, block, args)
        scan = cupy.cumsum(scan)
        cuda_kernel_templates.get_function('x_b')(grid, block, args)
    out['awkward_b', int64, int32] = f
    return out
"""
    assert upstream_launches.parse(text) == {("awkward_a", "int64"): None, ("awkward_b", "int64", "int32"): 4}


@pytest.mark.parametrize(
    "kernel", ["awkward_ListOffsetArray_argsort_strings", "awkward_NumpyArray_sort_asstrings_uint8"]
)
def test_a_string_sort_copies_nothing_to_the_device(upstream_cpp, kernel):
    """The counting target's array module counts every crossing itself: a string sort's passes
    (descending and reversed ties among the bench's cases) stay on the device (a one-element
    array built from a host list was one copy per call)."""
    from akcuda.runtime.host import CountingTarget
    from akcuda.toolchain import specs
    from akcuda.validation import bench

    spec = specs.load_all()[kernel]
    (special,) = spec["specializations"]  # each has one exported symbol
    entry = bench.count_specialization(spec, special, CountingTarget(seed=1))
    assert entry["immediate"]["h2d_copies"] == entry["deferred"]["h2d_copies"] == 0
