"""Kernels that call libm: listed in the parity report, exact on the host, within CUDA's
documented bound on a GPU."""

from __future__ import annotations

import re

import numpy as np
import pytest

from akcuda import paths
from akcuda.toolchain import pipeline, specs
from akcuda.validation import math_functions
from akcuda.validation.report import SpecResult, build_report, write_report

# libm calls as the C writes them (std::pow, pow, std::exp, ...), read from the kernels' own source
C_CALL = re.compile(r"(?:std::)?\b(" + "|".join(math_functions.CUDA_ULPS) + r")\s*\(")


@pytest.mark.gxx
def test_every_kernel_whose_c_calls_libm_is_listed_in_the_parity_report(upstream_cpp, tmp_path):
    assert not any(pipeline.generate("awkward_reduce_sumofpowers").values())
    from_c = sorted(
        spec["name"] for spec in specs.load_all().values() if C_CALL.search((upstream_cpp / spec["source"]).read_text())
    )
    assert from_c == ["awkward_reduce_sumofpowers"]  # std::pow for a negative power
    report = build_report(
        [SpecResult(f"{k}_x", k, "passed", 1, 1, translated=True, compiled=True) for k in from_c], {}, {}
    )
    markdown = write_report(report, tmp_path)[1].read_text()
    assert "## Math functions (1)" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| awkward_reduce_sumofpowers |"))
    assert "pow (2 ulp double)" in row and "exact (glibc" in row and "within 2 ulp (float: 4) per term" in row
    assert math_functions.of_kernel("awkward_reduce_sumofpowers", paths.GENERATED) == ("pow",)


def test_the_device_bound_is_ulps_per_term_of_the_cpus_value():
    want = np.array([1.0, 3.0e10, -2.5e-300, np.nan, np.inf, 0.0])
    finite = np.isfinite(want)

    def off_by(k: int) -> np.ndarray:
        return np.where(finite, want + k * np.abs(np.spacing(want)), want)

    assert math_functions.within(off_by(2), want, 2, 1)
    assert not math_functions.within(off_by(3), want, 2, 1)
    assert math_functions.within(off_by(3), want, 2, 2)  # two terms of 2 ulp each
    assert not math_functions.within(np.array([np.nan]), np.array([1.0]), 2, 10)
    assert not math_functions.within(np.array([-np.inf]), np.array([np.inf]), 2, 10)
