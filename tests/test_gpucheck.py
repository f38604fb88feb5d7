"""`make gpu-check`'s CPU-side logic: the no-GPU answer and the results page."""

from __future__ import annotations

import json

import pytest

from akcuda.toolchain import cli
from akcuda.validation import gpucheck


def test_without_a_gpu_the_check_says_so_and_exits_2(tmp_path, capsys):
    present, why = gpucheck.gpu_available()
    if present:
        pytest.skip(f"a GPU is present ({why}): this test covers the machine without one")
    assert cli.main(["gpu-check", "--out", str(tmp_path)]) == 2
    assert json.loads((tmp_path / "gpu-check.json").read_text()) == {"gpu": False, "reason": why}
    assert "no GPU here" in capsys.readouterr().out


def test_results_page_lists_counts_failures_and_fallbacks():
    parity = {"summary": {"specializations": 494, "passed": 435, "failed": 1, "pending": 58, "cases": 9000},
              "specializations": [{"symbol": "awkward_x_64", "status": "failed", "reason": None,
                                   "failure": {"reason": "tocarry differs at index 3"}}]}
    corpus = {"summary": {"operations": 172, "identical": 171, "different": 1, "via_akcuda": 170,
                          "fallback_kernels": ["awkward_sort"]},
              "operations": [{"name": "sum_axis1", "identical": False, "difference": "values differ"}]}
    page = gpucheck.summary_markdown("NVIDIA H100", parity, corpus, {"parity": 12.5})
    assert "# akcuda GPU check on NVIDIA H100" in page
    assert "| 494 | 435 | 1 | 58 | 9000 |" in page and "| 172 | 171 | 1 | 170 |" in page
    assert "`awkward_x_64`: tocarry differs at index 3" in page and "`sum_axis1`: values differ" in page
    assert "Fallback kernels: awkward_sort" in page and "parity 12.5s" in page


def test_prebuilt_cubins_are_used_only_for_the_same_source_and_arch(upstream_cpp):
    """The cuda target's first call needs no compile when `akcuda compile` built this source."""
    from akcuda.runtime import executor
    from akcuda import paths
    from akcuda.toolchain import pipeline
    from akcuda.toolchain.compile import compile_all

    kernel = "awkward_ListArray_compact_offsets"
    assert not any(pipeline.generate(kernel).values())
    compile_all(paths.GENERATED, paths.COMPILED, kernels=[kernel], progress=False)
    source = (paths.GENERATED / f"{kernel}.cu").read_text()
    found = executor.prebuilt_cubin(paths.COMPILED, kernel, "sm_90", source)
    assert found is not None and found[0].read_bytes()[:4] == b"\x7fELF"
    plan = executor.load_plan(kernel)
    assert set(found[1]) == set(plan["name_expressions"])
    assert executor.prebuilt_cubin(paths.COMPILED, kernel, "sm_90", source + "// edited\n") is None
    assert executor.prebuilt_cubin(paths.COMPILED, kernel, "sm_75", source) is None
