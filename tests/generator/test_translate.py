"""The translator end to end (front end, planner, emission) on small kernels written for these tests
(tests/kernels/): the plan steps it chooses, run on the host emulation against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.expr import Arg, Unary
from akcuda.plan.model import CounterOp, RowRef, Segment, StepKind
from akcuda.runtime import executor
from akcuda.runtime.host import HostTarget

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

BRANCHES = (
    "akc_demo_branches",
    [("akc_demo_branches", [], ["int64_t*", "int64_t*", "int64_t*", "const int64_t*", "int64_t", "bool"])],
    ["out", "longest", "total", "offsets", "length", "reverse"],
)


def test_branches_on_flags_and_reductions_into_memory_run_in_parallel(tmp_path, demo):
    spec = demo.spec(*BRANCHES)
    translation = demo.write(spec, tmp_path)
    steps = translation.plan.entries["akc_demo_branches"].steps
    assert [(s.kind, s.guard) for s in steps[:2]] == [
        (StepKind.PARALLEL, Arg("reverse")),
        (StepKind.PARALLEL, Unary("!", Arg("reverse"))),
    ]
    assert steps[-1].kind == StepKind.SCAN
    assert sorted(c.op for c in steps[-1].form.counters) == [CounterOp.MAX, CounterOp.SUM]
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 9, 500)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for reverse in (False, True):
        out, longest, total = np.zeros(500, np.int64), np.full(1, -5, np.int64), np.full(1, -5, np.int64)
        target = HostTarget(seed=9, generated=tmp_path)
        failure = executor.run(
            translation.plan, spec["specializations"][0], [out, longest, total, offsets, 500, reverse], target, block=32
        )
        assert failure is None
        np.testing.assert_array_equal(out, counts[::-1] if reverse else counts)
        assert (longest[0], total[0]) == (counts.max(), counts.sum())


SEGMENTS = (
    "akc_demo_segments",
    [("akc_demo_segments", [], ["int64_t*", "const int64_t*", "int64_t"])],
    ["torow", "offsets", "length"],
)


def test_segment_writes_run_in_parallel_only_when_the_offsets_rise(tmp_path, demo):
    spec = demo.spec(*SEGMENTS)
    translation = demo.translate(spec)
    (step,) = translation.plan.entries["akc_demo_segments"].steps
    assert step.kind == StepKind.PARALLEL and step.segments == (Segment(RowRef("offsets"), stops=RowRef("offsets", 1)),)
    (tmp_path / "akc_demo_segments.cu").write_text(translation.source)
    special = spec["specializations"][0]

    def reference(offsets, size):  # the C loop, in order: a later row overwrites an earlier one
        out = np.full(size, -1, np.int64)
        for row in range(len(offsets) - 1):
            out[offsets[row] : offsets[row + 1]] = row
        return out

    rising = np.array([0, 3, 3, 7, 10], np.int64)
    overlapping = np.array([0, 6, 2, 9, 10], np.int64)  # rows 1 and 2 share elements 2..5
    for offsets in (rising, overlapping):
        out = np.full(10, -1, np.int64)
        target = HostTarget(seed=5, generated=tmp_path)
        assert executor.run(translation.plan, special, [out, offsets, 4], target, block=2) is None
        np.testing.assert_array_equal(out, reference(offsets, 10))


RANGES = (
    "akc_demo_ranges",
    [("akc_demo_ranges", [], ["int64_t*", "const int64_t*", "const int64_t*", "int64_t"])],
    ["toindex", "starts", "stops", "length"],
)


@pytest.mark.parametrize(
    "starts, stops, parallel",
    [
        ([0, 4, 4, 9], [4, 4, 9, 12], True),  # ordered, non-overlapping: rows run in parallel
        ([6, 0, 3, 9], [9, 3, 6, 12], False),  # disjoint but out of order: C order is kept
        ([0, 2, 5, 9], [4, 6, 9, 12], False),  # overlapping: a later row overwrites, as in C
    ],
)
def test_list_ranges_are_checked_at_run_time(tmp_path, demo, starts, stops, parallel):
    spec = demo.spec(*RANGES)
    translation = demo.translate(spec)
    (step,) = translation.plan.entries["akc_demo_ranges"].steps
    assert step.segments == (Segment(RowRef("starts"), stops=RowRef("stops")),)
    (tmp_path / "akc_demo_ranges.cu").write_text(translation.source)
    starts, stops = np.array(starts, np.int64), np.array(stops, np.int64)
    expected = np.full(12, -1, np.int64)
    for start, stop in zip(starts, stops, strict=True):
        expected[start:stop] = np.arange(stop - start)
    target = HostTarget(seed=2, generated=tmp_path)
    special = spec["specializations"][0]
    assert executor.rows_hold(np, step, {"starts": starts, "stops": stops}, {"length": 4}, 4) == parallel
    out = np.full(12, -1, np.int64)
    assert executor.run(translation.plan, special, [out, starts, stops, 4], target, block=2) is None
    np.testing.assert_array_equal(out, expected)
