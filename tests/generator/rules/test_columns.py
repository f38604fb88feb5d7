"""A scratch histogram reset per bin and updated column by column (rules/columns.py), on a small kernel
written for these tests (tests/kernels/akc_demo_columns.cpp), run on the host emulation under the
race check and compared with the C loops written again in Python; and the run-time check on the
rows of the bins' ranges that the parallel form relies on."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.expr import Arg
from akcuda.plan.model import Parallel, RowRef, Segment, Step, StepKind
from akcuda.runtime.executor import rows_hold

I64, PI64, CI64 = "int64_t", "int64_t*", "const int64_t*"

COLUMNS = (
    "akc_demo_columns",
    [("akc_demo_columns", [], [PI64, PI64, CI64, CI64, CI64, I64, I64])],
    ["hist", "out", "offsets", "bins", "weights", "nbins", "width"],
)


def _columns(hist, out, offsets, bins, weights, nbins: int, width: int) -> None:
    """akc_demo_columns in C order, in place (`hist` long enough for the longest row)."""
    for b in range(nbins):
        hist[:width] = 1
        for r in range(bins[b], bins[b + 1]):
            begin, end = offsets[r], offsets[r + 1]
            for j in range(end - begin):
                out[begin + j] = hist[j] * 3 + weights[r]
                hist[j] += weights[r]
            for k in range(end - begin, width):
                hist[k] = np.fmod(hist[k] * 2, 1000003)  # C remainder: the sign of the dividend


def _case(rng, nbins: int, most: int, empty: float):
    """offsets, bins and weights of `nbins` bins of up to `most` rows, a share `empty` of them empty."""
    rows = rng.integers(0, most + 1, nbins)
    bins = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
    counts = np.where(rng.random(bins[-1]) < empty, 0, rng.integers(1, 6, bins[-1]))
    offsets = 2 + np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, bins, rng.integers(-4, 9, bins[-1]).astype(np.int64), int(counts.max(initial=0))


@pytest.mark.gxx  # g++ -E to translate, a g++ host build to run
@pytest.mark.parametrize("seed", [1, 2])
def test_a_histogram_reset_per_bin_runs_one_thread_per_bin_column_by_column(tmp_path, demo, seed):
    steps, _, run = demo.translated(demo.spec(*COLUMNS), tmp_path)
    assert [s.kind for s in steps] == [StepKind.PARALLEL]
    (segment,) = steps[0].segments
    assert segment.within == Segment(RowRef("bins"), RowRef("bins", 1))
    assert segment.longest == Arg("width") and segment.within_rows == Arg("nbins")  # a thread per bin and column
    assert not steps[0].form_on_device  # rows within rows: the host reads the bins' ends to know which
    rng = np.random.default_rng(seed)
    for nbins, most, empty, out_of_order, cut in [
        (200, 6, 0.3, False, 0),  # many rows
        (100, 8, 0.9, False, 0),  # mostly empty rows
        (150, 1, 0.0, False, 0),  # bins of one row
        (1, 40, 0.2, False, 0),  # one bin
        (0, 3, 0.0, False, 0),  # no bins
        (60, 5, 0.2, True, 0),  # bins out of order, overlapping: the C's order
        (60, 5, 0.2, False, 1),  # rows longer than the histogram: the C's order
        (60, 5, 0.2, False, 99),  # a histogram of width 0 (no threads) and rows reading past it: the C's order
    ]:
        offsets, bins, weights, longest = _case(rng, nbins, most, empty)
        if out_of_order and nbins > 2:
            bins[nbins // 2] = bins[-1]
        width = max(0, longest - cut)
        args = [np.full(longest + 2, -9, np.int64), np.full(offsets[-1] + 1, -9, np.int64), offsets, bins, weights]
        want = [a.copy() for a in args[:2]]
        _columns(*want, offsets, bins, weights, nbins, width)
        assert run([*args, nbins, width], seed, block=32) is None
        np.testing.assert_array_equal(args[0], want[0])
        np.testing.assert_array_equal(args[1], want[1])


def _step(*segments: Segment) -> Step:
    return Step(Parallel(), first=Arg("lo"), segments=segments)


def test_rows_within_the_iterations_ranges_are_checked_over_those_rows():
    within = Segment(RowRef("bins"), RowRef("bins", 1))
    step = _step(Segment(RowRef("offsets"), RowRef("offsets", 1), longest=Arg("width"), within=within))
    offsets = np.array([0, 2, 2, 5, 6], np.int64)
    good = {"offsets": offsets, "bins": np.array([0, 1, 3, 4], np.int64)}
    assert rows_hold(np, step, good, {"lo": 0, "width": 3}, 3)
    assert not rows_hold(np, step, good, {"lo": 0, "width": 2}, 3)  # row 2 has 3 elements
    assert rows_hold(np, step, good, {"lo": 2, "width": 1}, 1)  # bin 2 alone: row 3, of one element
    assert not rows_hold(np, step, good, {"lo": 1, "width": 1}, 1)  # bin 1 holds row 2, of three
    # bins out of order: rows met twice
    assert not rows_hold(np, step, {"offsets": offsets, "bins": np.array([0, 3, 1, 4])}, {"lo": 0, "width": 3}, 3)
    # rows whose ranges go back
    back = {"offsets": np.array([0, 2, 1, 5, 6]), "bins": np.array([0, 1, 3, 4])}
    assert not rows_hold(np, step, back, {"lo": 0, "width": 9}, 3)
    # the iterations cover two bins (one thread per bin and column, say): bins 0 and 1, or 0 to 2
    two = _step(Segment(RowRef("offsets"), RowRef("offsets", 1), within=within, within_rows=Arg("bins_")))
    bins = {"offsets": np.array([0, 2, 1, 5, 6]), "bins": np.array([0, 1, 1, 4])}
    assert rows_hold(np, two, bins, {"lo": 0, "bins_": 2}, 4)
    assert not rows_hold(np, two, bins, {"lo": 0, "bins_": 3}, 4)  # bin 2 holds row 1, of -1 elements
    assert not rows_hold(np, two, bins, {"lo": 0, "bins_": 3}, 0)  # whatever the iterations
    # bins naming rows past the offsets: not the parallel form
    far = {"offsets": offsets, "bins": np.array([0, 1, 3, 9])}
    assert not rows_hold(np, step, far, {"lo": 0, "width": 9}, 3)
