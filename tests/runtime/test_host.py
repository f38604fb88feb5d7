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
