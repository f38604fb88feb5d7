"""Peeling the first iteration of a loop that sets a place once from its sentinel
(rules/peeled.py), on a small kernel written for these tests (tests/kernels/akc_demo_common.cpp),
run on the host emulation and compared with the C loop."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.expr import Binary, Int, Memory, Unary
from akcuda.plan.model import StepKind

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

I64, PI64 = "int64_t", "int64_t*"

COMMON = ("akc_demo_common", [("akc_demo_common", [], [PI64, "const int64_t*", I64])], ["common", "values", "length"])


def _common(values):
    """The C loop of akc_demo_common, in order: (common, failing item or None)."""
    common = -1
    for i, value in enumerate(values):
        value = int(np.fmod(value, 100))
        if common == -1:
            common = value
        elif common != value:
            return common, i
    return common, None


@pytest.mark.parametrize("case", ["same", "differs", "first is the sentinel"])
def test_a_place_set_once_from_its_sentinel_peels_the_first_iteration(tmp_path, demo, case):
    steps, _, run = demo.translated(demo.spec(*COMMON), tmp_path)
    assert [s.kind for s in steps] == [StepKind.SERIAL, StepKind.PARALLEL]
    assert steps[1].requires == Binary("!=", Memory("common"), Unary("neg", Int(1))) and steps[1].form.checked
    values = np.full(300, 7, np.int64) + 100 * np.arange(300)
    if case == "differs":
        values[[37, 150]] = 8
    if case == "first is the sentinel":  # the first item leaves -1: every later one runs in C order
        values[0], values[1] = -1, -1
    common = np.zeros(1, np.int64)
    failure = run([common, values, 300], block=16)
    expected, failing = _common(values)
    assert common[0] == expected
    assert (failure is None) == (failing is None)
    if failing is not None:
        assert (failure.message, failure.identity, failure.attempt) == ("items differ", failing, 8)
