"""One thread per (bin, column) pair of a loop over bins of a loop over columns
(rules/pairs.py), on a small kernel written for these tests (tests/kernels/akc_demo_pairs.cpp),
run on the host emulation and compared with the C loops."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.model import StepKind

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

I64, PI64 = "int64_t", "int64_t*"

PAIRS = (
    "akc_demo_pairs",
    [("akc_demo_pairs", [], [PI64, PI64, "const int64_t*", "const int64_t*", I64, I64])],
    ["tocarry", "toends", "offsets", "groups", "width", "numgroups"],
)


def _pairs(offsets, groups, width):
    """The C loops of akc_demo_pairs in order: (tocarry, toends) as far as they are written."""
    carry, ends = [], []
    for g in range(len(groups) - 1):
        for c in range(width):
            carry += [
                offsets[row] + c for row in range(groups[g], groups[g + 1]) if c < offsets[row + 1] - offsets[row]
            ]
            ends.append(len(carry))
    return np.array(carry, np.int64), np.array(ends, np.int64)


@pytest.mark.parametrize("numgroups", [0, 1, 7, 300])
@pytest.mark.parametrize("width", [0, 1, 4])
def test_a_loop_over_groups_of_a_loop_over_columns_runs_one_thread_per_pair(tmp_path, demo, numgroups, width):
    """One group is ak.sum(axis=0)'s case (every row in one bin): the pairs are its columns."""
    from akcuda.plan.expr import evaluate

    steps, _, run = demo.translated(demo.spec(*PAIRS), tmp_path)
    scan = next(s for s in steps if s.kind == StepKind.SCAN)
    assert [c.name for c in scan.form.counters] == ["k"]
    assert evaluate(scan.count, {"numgroups": numgroups, "width": width}) == numgroups * width
    rng = np.random.default_rng(numgroups + 10 * width)
    counts = rng.integers(0, width + 2, 3 * numgroups)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    groups = np.sort(rng.integers(0, len(counts) + 1, numgroups + 1)).astype(np.int64)
    want_carry, want_ends = _pairs(offsets, groups, width)
    tocarry = np.full(int(offsets[-1]) + 1, -1, np.int64)
    toends = np.full(max(numgroups * width, 1), -1, np.int64)
    assert run([tocarry, toends, offsets, groups, width, numgroups], block=8) is None
    assert np.array_equal(tocarry[: len(want_carry)], want_carry) and (tocarry[len(want_carry) :] == -1).all()
    assert np.array_equal(toends[: len(want_ends)], want_ends)
