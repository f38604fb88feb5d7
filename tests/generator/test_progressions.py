"""Groups opened at the terms of an arithmetic progression (progressions.py), locals declared in
the arms of a branch on scalar arguments (branch_locals.py) and a cursor skipping runs
(run_cursors.py), on small kernels written for these tests (tests/kernels/), run on the host
emulation under the race check and compared with the C loops written again in Python."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.ast_util import text
from akcuda.generator.branch_locals import hoisted_branch_locals
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


def test_branch_locals_are_lifted_in_front_of_the_branch():
    source = """
    int f(int64_t* out, int64_t n, int64_t total) {
      if (n > 0) { int64_t m = total / n; int64_t k = 0; int64_t v = out[0]; for (int64_t i = 0; i < n; i++) { k++; } }
      else { for (int64_t k = 0; k < 2; k++) { out[k] = 0; } }
      return 0;
    }"""
    func = c_parser.CParser().parse("typedef long int64_t;" + source).ext[1]
    lifted = hoisted_branch_locals(func, {"n", "total"})
    items = lifted.body.block_items
    # a division only under the arm's condition; the other arm's own `k` makes this one renamed;
    # a value read from memory stays an assignment in its arm
    assert [text(d) for d in items[:3]] == [
        "int64_t m = (n > 0) ? (total / n) : (0)",
        "int64_t akc_arm_k = 0",
        "int64_t v",
    ]
    arm = items[3].iftrue.block_items
    assert text(arm[0]) == "v = out[0]" and "akc_arm_k++" in text(arm[1])
    assert "int64_t k = 0" in text(items[3].iffalse)  # the other arm is as written
    assert hoisted_branch_locals(lifted, {"n", "total"}) is None  # nothing left to lift


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


RUNS = (
    "akc_demo_runs",
    [("akc_demo_runs", [], [PI64, PI64, "const int64_t*", "const int64_t*", I64, I64, I64, I64])],
    ["tolabels", "toowner", "keys", "labels", "groups", "length", "first", "gap"],
)


def _runs(keys, labels, groups: int, first: int, gap: int, size: int):
    """akc_demo_runs in C order: (tolabels, toowner) from buffers of `size` filled with -9."""
    tolabels, toowner = np.full(size, -9, np.int64), np.full(size, -9, np.int64)
    j, length = first, len(keys)
    for g in range(groups):
        tolabels[j], toowner[j] = labels[g] + j, g
        for _ in range(j, length - 1):  # the trip count is fixed here; the test reads j
            if keys[j + 1] - keys[j] < gap:
                tolabels[j + 1], toowner[j + 1] = labels[g] + j + 1, g
                j += 1
        j += 1
    return tolabels, toowner


@pytest.mark.gxx  # g++ -E to translate, a g++ host build to run
@pytest.mark.parametrize("seed", [1, 2])
def test_a_cursor_skipping_runs_becomes_a_loop_over_positions_counting_their_owner(tmp_path, demo, seed):
    steps, _, run = demo.translated(demo.spec(*RUNS), tmp_path)
    (scan,) = [s for s in steps if s.kind == StepKind.SCAN]  # the owner is a counter over positions
    assert [c.name for c in scan.form.counters] == ["akc_run_g"]
    assert all(s.form.constant_work for s in steps if s.kind == StepKind.SERIAL)
    rng = np.random.default_rng(seed)
    for length, first, gap, spare in [
        (3000, 0, 3, 0),  # runs of a few
        (3000, 0, 3, -400),  # fewer groups than runs: later positions are not written
        (3000, 0, 3, 50),  # more: each extra group takes one position past the items
        (3000, 7, 2, 0),  # the cursor starts inside
        (3000, 0, 0, 0),  # runs of one
        (3000, 0, 99, 0),  # one run of everything
        (1, 0, 3, 0),
        (0, 0, 3, 2),
    ]:
        keys = np.cumsum(rng.integers(0, 5, length)).astype(np.int64)
        size = length + 100
        ends = [p for p in range(first, length) if p >= length - 1 or not keys[p + 1] - keys[p] < gap]
        groups = max(len(ends) + spare, 0)
        labels = rng.integers(0, 1000, max(groups, 1)).astype(np.int64)
        tolabels, toowner = np.full(size, -9, np.int64), np.full(size, -9, np.int64)
        assert run([tolabels, toowner, keys, labels, groups, length, first, gap], seed, block=64) is None
        want = _runs(keys, labels, groups, first, gap, size)
        np.testing.assert_array_equal(tolabels, want[0])
        np.testing.assert_array_equal(toowner, want[1])
