"""The parity harness against the real awkward_cpp CPU library: it passes a faithful translation
and catches deliberately wrong ones (wrong output, wrong error identity)."""

from __future__ import annotations

import json

import pytest

from akcuda import executor, parity, specs, upstream
from akcuda.cases import Case
from akcuda.cases.generated import generated_cases
from akcuda.cases.upstream import load_upstream_cases
from generator.translate import translate

KERNEL = "awkward_ListArray_compact_offsets"


def _generate(folder, kernel, mutate=lambda text: text):
    spec = specs.load_all()[kernel]
    cpp = upstream.cpp_dir()
    translation = translate(spec, cpp / "src" / "cpu-kernels", cpp / "include")
    text = mutate(translation.source)
    (folder / f"{kernel}.cu").write_text(text)
    (folder / f"{kernel}.plan.json").write_text(json.dumps(translation.plan))
    return spec


def _outcomes(folder, kernel, block=7):
    spec = specs.load_all()[kernel]
    plan = executor.load_plan(kernel, folder)
    target = executor.HostTarget(seed=3, generated=folder)
    cases = load_upstream_cases(upstream.cpp_dir())
    out = []
    for special in spec["specializations"]:
        for case in cases.get(special["symbol"], []) + generated_cases(spec, special):
            out.append(parity.run_case(plan, special, case, target, block))
    return out


def test_faithful_translation_passes_every_case(tmp_path, upstream_cpp):
    _generate(tmp_path, KERNEL)
    outcomes = _outcomes(tmp_path, KERNEL)
    assert len(outcomes) > 100
    assert all(o.passed for o in outcomes), [o for o in outcomes if not o.passed][:3]
    assert any(o.cpu_failure == "stops[i] < starts[i]" for o in outcomes)


def test_wrong_output_is_caught(tmp_path, upstream_cpp):
    def off_by_one_in_row_5(text):
        assert "AKC_STORE(tooffsets[i + 1]) = akc_ctr0;" in text
        return text.replace("AKC_STORE(tooffsets[i + 1]) = akc_ctr0;", "AKC_STORE(tooffsets[i + 1]) = akc_ctr0 + (i == 5);")

    _generate(tmp_path, KERNEL, off_by_one_in_row_5)
    failed = [o for o in _outcomes(tmp_path, KERNEL) if not o.passed]
    assert failed and all("tooffsets differs at index" in o.reason for o in failed)


def test_wrong_error_identity_is_caught(tmp_path, upstream_cpp):
    def wrong_identity(text):
        assert "(int64_t)(i), (int64_t)(kSliceNone)" in text
        return text.replace("(int64_t)(i), (int64_t)(kSliceNone)", "(int64_t)(i + 1), (int64_t)(kSliceNone)")

    _generate(tmp_path, KERNEL, wrong_identity)
    failed = [o for o in _outcomes(tmp_path, KERNEL) if not o.passed]
    assert failed and all(o.reason == "different outcome" for o in failed)
    assert failed[0].cpu["identity"] + 1 == failed[0].ours["identity"]


def test_out_of_bounds_write_shows_in_the_guard_band(tmp_path, upstream_cpp):
    def overrun(text):
        assert "AKC_STORE(tooffsets[i + 1]) = " in text
        return text.replace("AKC_STORE(tooffsets[i + 1]) = ", "AKC_STORE(tooffsets[i + 2]) = ")

    _generate(tmp_path, KERNEL, overrun)
    failed = [o for o in _outcomes(tmp_path, KERNEL) if not o.passed]
    assert failed


@pytest.mark.parametrize("value, dtype, expect", [([1, 2, 3], "int64_t", [1, 2, 3]), ({"out": 2}, "int32_t", None)])
def test_materialize_fills_outputs_with_the_sentinel_and_a_guard(value, dtype, expect):
    special = {"symbol": "x", "args": [{"name": "a", "ctype": f"{dtype}*", "dir": "out" if expect is None else "in"}]}
    case = Case("x", "c", "generated", {"a": value})
    (buffer,) = parity.materialize(special, case)
    n = 3 if expect else 2
    assert len(buffer) == n + parity.GUARD
    assert set(buffer.view("uint8")[n * buffer.itemsize:].tolist()) == {parity.SENTINEL_BYTE}
    if expect:
        assert buffer[:n].tolist() == expect
    else:
        assert set(buffer.view("uint8").tolist()) == {parity.SENTINEL_BYTE}


def test_a_write_past_the_end_before_failing_is_caught(tmp_path, upstream_cpp):
    def overrun_then_fail(text):
        assert "{ akc_fail(" in text
        return text.replace("{ akc_fail(", "{ AKC_STORE(tooffsets[length + 1]) = 0; akc_fail(")

    _generate(tmp_path, KERNEL, overrun_then_fail)
    failed = [o for o in _outcomes(tmp_path, KERNEL) if not o.passed]
    assert failed and all(o.reason == "failed as the CPU did, but wrote past the end of tooffsets" for o in failed)
