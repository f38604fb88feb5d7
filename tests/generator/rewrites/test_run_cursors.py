"""A cursor skipping runs becomes a loop over positions counting their owner
(rewrites/run_cursors.py), on a small kernel written for these tests
(tests/kernels/akc_demo_runs.cpp), run on the host emulation under the race check and compared
with the C loop written again in Python."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.model import StepKind

I64, PI64 = "int64_t", "int64_t*"

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
