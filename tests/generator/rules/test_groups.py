"""Groups opened at the terms of an arithmetic progression (rules/groups.py), on a small kernel
written for these tests (tests/kernels/akc_demo_groups.cpp, whose branch's locals are lifted
first), run on the host emulation under the race check and compared with the C loops written
again in Python."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.model import StepKind

I64, PI64 = "int64_t", "int64_t*"

GROUPS = (
    "akc_demo_groups",
    [("akc_demo_groups", [], [PI64, PI64, "const int64_t*", I64, I64, I64])],
    ["tostarts", "tolast", "values", "length", "first", "parts"],
)


def _groups(values, first: int, parts: int, size: int):
    """akc_demo_groups in C order: (tostarts, tolast) from buffers of `size` filled with -9."""
    tostarts, tolast = np.full(size, -9, np.int64), np.full(size, -9, np.int64)
    length = len(values)
    if length > 0 and parts != 0:
        width = int(length / parts)  # C division truncates toward zero
        k, nxt = 1, first
        for i in range(length):
            if i == nxt:
                nxt += width
                tostarts[k], tolast[k] = i, -1
                k += 1
            if values[i] != 0:
                tolast[k - 1] = i
    else:
        tostarts[:2] = -1
    return tostarts, tolast


@pytest.mark.gxx  # g++ -E to translate, a g++ host build to run
@pytest.mark.parametrize("seed", [1, 2])
def test_a_progression_opens_groups_one_thread_each_with_the_counter_in_closed_form(tmp_path, demo, seed):
    steps, plan, run = demo.translated(demo.spec(*GROUPS), tmp_path)
    # the arm's locals, lifted, are constant work; each arm's loop runs in parallel
    assert [s.kind for s in steps] == [StepKind.SERIAL, StepKind.PARALLEL, StepKind.PARALLEL]
    assert steps[0].form.constant_work and all(s.guard is not None for s in steps[1:])
    rng = np.random.default_rng(seed)
    for length, first, parts in [
        (1000, 0, 7),  # groups of 142, the last short
        (1000, 5, 7),  # iterations before the first term: group 0, at the counter's first value
        (1000, -3, 7),  # the first term is never met: one group of everything
        (1000, 1200, 7),  # nor here
        (1000, 0, 2000),  # width 0: one term, then never again
        (1000, 4, -300),  # a negative width: one term too
        (1, 0, 1),
        (300, 0, 300),  # rows of one
        (0, 0, 3),  # the other arm
    ]:
        values = np.where(rng.random(length) < 0.3, 0, rng.integers(1, 9, length)).astype(np.int64)
        size = length + 3
        tostarts, tolast = np.full(size, -9, np.int64), np.full(size, -9, np.int64)
        assert run([tostarts, tolast, values, length, first, parts], seed, block=32) is None
        want = _groups(values, first, parts, size)
        np.testing.assert_array_equal(tostarts, want[0])
        np.testing.assert_array_equal(tolast, want[1])
