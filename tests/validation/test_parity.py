"""The parity harness against the real awkward_cpp CPU library: it passes a faithful translation
and catches deliberately wrong ones (wrong output, wrong error identity)."""

from __future__ import annotations

import pytest

from akcuda.runtime import executor
from akcuda.runtime.host import HostTarget
from akcuda.toolchain import specs, upstream
from akcuda.validation import parity
from akcuda.validation.cases import Case
from akcuda.validation.cases.generated import generated_cases
from akcuda.validation.cases.upstream import load_upstream_cases

KERNEL = "awkward_ListArray_compact_offsets"


def _outcomes(folder, kernel, block=7):
    spec = specs.load_all()[kernel]
    plan = executor.load_plan(kernel, folder)
    target = HostTarget(seed=3, generated=folder)
    cases = load_upstream_cases(upstream.cpp_dir())
    out = []
    for special in spec["specializations"]:
        for case in cases.get(special["symbol"], []) + generated_cases(spec, special):
            out.append(parity.run_case(plan, special, case, target, block))
    return out


@pytest.mark.gxx
def test_faithful_translation_passes_every_case(tmp_path, translate_upstream):
    translate_upstream(tmp_path, KERNEL)
    outcomes = _outcomes(tmp_path, KERNEL)
    assert len(outcomes) > 100
    assert all(o.passed for o in outcomes), [o for o in outcomes if not o.passed][:3]
    assert any(o.cpu_failure == "stops[i] < starts[i]" for o in outcomes)


# Deliberately wrong translations: (generated text, its replacement, what every failing case says).
MUTATIONS = {
    "wrong output in row 5": (
        "AKC_STORE(tooffsets[i + 1]) = akc_ctr0;",
        "AKC_STORE(tooffsets[i + 1]) = akc_ctr0 + (i == 5);",
        "tooffsets differs at index",
    ),
    "wrong error identity": (
        "(int64_t)(i), (int64_t)(kSliceNone)",
        "(int64_t)(i + 1), (int64_t)(kSliceNone)",
        "different outcome",
    ),
    "write past the end": ("AKC_STORE(tooffsets[i + 1]) = ", "AKC_STORE(tooffsets[i + 2]) = ", ""),
    "write past the end, then fail": (
        "{ akc_fail(",
        "{ AKC_STORE(tooffsets[length + 1]) = 0; akc_fail(",
        "failed as the CPU did, but wrote past the end of tooffsets",
    ),
}


@pytest.mark.gxx
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_wrong_translation_is_caught(tmp_path, translate_upstream, mutation):
    old, new, reason = MUTATIONS[mutation]

    def mutate(text):
        assert old in text
        return text.replace(old, new)

    translate_upstream(tmp_path, KERNEL, mutate)
    failed = [o for o in _outcomes(tmp_path, KERNEL) if not o.passed]
    assert failed and all(reason in o.reason for o in failed)
    if mutation == "wrong error identity":
        assert failed[0].cpu["identity"] + 1 == failed[0].ours["identity"]


@pytest.mark.parametrize("value, dtype, expect", [([1, 2, 3], "int64_t", [1, 2, 3]), ({"out": 2}, "int32_t", None)])
def test_materialize_fills_outputs_with_the_sentinel_and_a_guard(value, dtype, expect):
    special = {"symbol": "x", "args": [{"name": "a", "ctype": f"{dtype}*", "dir": "out" if expect is None else "in"}]}
    case = Case("x", "c", "generated", {"a": value})
    (buffer,) = parity.materialize(special, case)
    n = 3 if expect else 2
    assert len(buffer) == n + parity.GUARD
    assert set(buffer.view("uint8")[n * buffer.itemsize :].tolist()) == {parity.SENTINEL_BYTE}
    if expect:
        assert buffer[:n].tolist() == expect
    else:
        assert set(buffer.view("uint8").tolist()) == {parity.SENTINEL_BYTE}


@pytest.mark.gxx
def test_a_generated_case_the_c_cannot_take_is_a_recipe_bug_and_ours_is_not_run(
    tmp_path, translate_upstream, upstream_cpp
):
    """A recipe that sizes an output too short, or gives inputs on which the C faults, is
    reported as such, before our kernel runs on what the C could not take."""
    import shutil

    from akcuda.validation import reference

    spec = translate_upstream(tmp_path, KERNEL)
    plan = executor.load_plan(KERNEL, tmp_path)
    special = spec["specializations"][2]
    target = HostTarget(seed=3, generated=tmp_path)
    runs = []
    target.to_device = lambda a, run=target.to_device: runs.append(1) or run(a)  # what ours was given

    short = Case(
        special["symbol"],
        "short",
        "generated",
        {"tooffsets": {"out": 1}, "fromstarts": [0, 1], "fromstops": [1, 3], "length": 2},
    )
    outcome = parity.run_case(plan, special, short, target)
    assert not outcome.passed and outcome.reason == "recipe bug: the CPU kernel wrote past the end of tooffsets"

    mine = tmp_path / "awkward_ListArray_compact_offsets.cpp"
    shutil.copy(upstream_cpp / spec["source"], mine)
    mine.write_text(
        mine.read_text().replace("tooffsets[i + 1] =", "if (stop - start > 2) __builtin_trap(); tooffsets[i + 1] =")
    )
    ref = reference.for_kernel(spec, upstream.select(kernels=[mine]))
    rows = {"tooffsets": {"out": 3}, "fromstarts": [0, 2], "fromstops": [2, 5], "length": 2}
    outcome = parity.run_case(plan, special, Case(special["symbol"], "long", "generated", rows), target, ref=ref)
    assert not outcome.passed and outcome.reason.startswith("recipe bug: the CPU kernel crashed (signal SIGILL)")
    upstream_case = Case(special["symbol"], "long", "upstream", rows)
    outcome = parity.run_case(plan, special, upstream_case, target, ref=ref)
    assert outcome.reason.startswith("the CPU kernel crashed")
    assert not runs  # ours never ran on what the C could not take
