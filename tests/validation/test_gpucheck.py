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
    parity = {
        "summary": {"specializations": 494, "passed": 435, "failed": 1, "pending": 58, "cases": 9000},
        "specializations": [
            {
                "symbol": "awkward_x_64",
                "status": "failed",
                "reason": None,
                "failure": {"reason": "tocarry differs at index 3"},
            }
        ],
    }
    corpus = {
        "summary": {
            "operations": 172,
            "identical": 171,
            "different": 1,
            "via_akcuda": 170,
            "fallback_kernels": ["awkward_sort"],
        },
        "operations": [{"name": "sum_axis1", "identical": False, "difference": "values differ"}],
    }
    page = gpucheck.summary_markdown("NVIDIA H100", parity, corpus, {"parity": 12.5})
    assert "# akcuda GPU check on NVIDIA H100" in page
    assert "| 494 | 435 | 1 | 58 | 9000 |" in page and "| 172 | 171 | 1 | 170 |" in page
    assert "`awkward_x_64`: tocarry differs at index 3" in page and "`sum_axis1`: values differ" in page
    assert "Fallback kernels: awkward_sort" in page and "parity 12.5s" in page
