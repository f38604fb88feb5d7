"""The `akcuda` command: stages print a summary and return a meaningful exit code."""

from __future__ import annotations

import json

import pytest

from akcuda.toolchain import cli


@pytest.mark.gxx
def test_specs_check_passes(upstream_cpp, spec_counts, capsys):
    assert cli.main(["specs", "--check"]) == 0
    expected = f"{spec_counts.kernels} kernels, {spec_counts.specializations} specializations, 0 difference(s)"
    assert expected in capsys.readouterr().out


@pytest.mark.gxx
def test_generate_and_parity_for_one_kernel(upstream_cpp, tmp_path, capsys):
    assert cli.main(["generate", "-k", "awkward_ListArray_compact_offsets"]) == 0
    report = tmp_path / "parity.json"
    assert cli.main(["parity", "-k", "awkward_ListArray_compact_offsets", "--json", str(report)]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert {k: summary[k] for k in ("kernels", "specializations", "passed", "failed", "pending")} == {
        "kernels": 1,
        "specializations": 3,
        "passed": 3,
        "failed": 0,
        "pending": 0,
    }
    assert all(
        isinstance(summary[k], int)
        for k in ("kernels", "specializations", "translated", "compiled", "passed", "failed", "pending", "cases")
    )
    assert "akcuda parity" in capsys.readouterr().out
