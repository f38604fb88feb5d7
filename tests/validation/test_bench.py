"""`akcuda bench` in the CPU smoke run: JSON, Markdown and PNGs, and the per-call figures."""

from __future__ import annotations

import json

import pytest

from akcuda.toolchain import cli
from akcuda.validation import upstream_launches

pytestmark = pytest.mark.gxx


def test_the_smoke_run_writes_its_report_and_the_summary_holds(upstream_cpp, tmp_path):
    assert cli.main(["bench", "-k", "ListArray_getitem_jagged_apply", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
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
    assert "No GPU figures" in (tmp_path / "bench.md").read_text() or result["gpu"]
    for png in ("per_call.png", "host_vs_cpu.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


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
