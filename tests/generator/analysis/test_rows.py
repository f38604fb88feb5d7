"""Row proofs (analysis/rows.py): writes that land on places distinct per iteration, and what only the data
can tell, checked at run time; on small kernels written for these tests (tests/kernels/), run on
the host emulation under the race check and compared with independent NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.expr import Arg, evaluate
from akcuda.plan.model import RowRef, Segment, StepKind
from akcuda.runtime import executor

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

I64, PI64 = "int64_t", "int64_t*"

ROWS = (
    "akc_demo_rows",
    [("akc_demo_rows", [], [PI64] * 6 + [I64, I64])],
    ["byoffset", "bycount", "byshift", "cursor", "offsets", "counts", "limit", "length"],
)
PAD = (
    "akc_demo_pad",
    [("akc_demo_pad", [], [PI64, PI64, I64, I64, I64])],
    ["toindex", "marks", "target", "size", "length"],
)


def _rows_reference(offsets, counts, cursor, limit, size):
    """The C loops of akc_demo_rows in order (a later row overwrites an earlier one)."""
    byoffset, bycount, byshift = (np.full(size, -1, np.int64) for _ in range(3))
    cursor = cursor.copy()
    for i in range(len(counts)):
        byoffset[offsets[i] : offsets[i + 1]] = i
    for i in range(len(counts)):
        start, stop = cursor[i], cursor[i] + counts[i]
        bycount[start:stop] = np.arange(stop - start)
        cursor[i] = stop
    for i in range(len(counts)):
        byshift[offsets[i] - offsets[0] : min(offsets[i + 1] - offsets[0], limit)] = i
    return byoffset, bycount, byshift, cursor


@pytest.mark.parametrize("overlapping", [False, True])
def test_row_ranges_by_base_counts_and_shift_run_in_parallel_when_disjoint(tmp_path, demo, overlapping):
    steps, _, run = demo.translated(demo.spec(*ROWS), tmp_path)
    assert [s.kind for s in steps[:2]] + [steps[-1].kind] == [StepKind.PARALLEL] * 3
    assert steps[0].segments == (Segment(RowRef("offsets"), stops=RowRef("offsets", 1)),)
    assert steps[1].segments == (Segment(RowRef("cursor"), counts=RowRef("counts")),)
    assert steps[-1].segments == (Segment(RowRef("offsets"), stops=RowRef("offsets", 1)),)
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 5, 60)
    offsets = np.concatenate([[3], 3 + np.cumsum(counts)])
    cursor = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if overlapping:  # row 10 starts inside row 9's range: the C order decides, serially
        offsets[10], cursor[10] = offsets[9] + 1, cursor[9] + 1
        counts[9] = 3
    size = int(offsets.max() + counts.sum() + 8)
    out = [np.full(size, -1, np.int64) for _ in range(3)]
    values = [*out, cursor.copy(), offsets, counts, 100, 60]
    assert run(values) is None
    for got, want in zip([*out, values[3]], _rows_reference(offsets, counts, cursor, 100, size), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target, size", [(4, 5), (4, 2), (4, 0), (-2, 3)])
def test_clipping_bounds_become_run_time_requirements(tmp_path, demo, target, size):
    steps, _, run = demo.translated(demo.spec(*PAD), tmp_path)
    (pad,) = [s for s in steps if s.kind == StepKind.PARALLEL]
    # a negative target would write before each row: the C order then runs, serially
    assert evaluate(pad.requires, {"target": target, "size": size}) == (target >= 0)
    marks = np.array([4, -1, 7, -1, -1, 0], np.int64)
    length = 6
    toindex = np.full(max(target, 0) * length, -9, np.int64)
    assert run([toindex, marks, target, size, length]) is None
    expected = np.full(max(target, 0) * length, -9, np.int64)
    for i in range(length):
        for j in range(target):
            expected[i * target + j] = i * size + j if j < size else -1
    np.testing.assert_array_equal(toindex, expected)
    # the counter reads back the place it writes: numbered in order, through count-scan-fill
    assert steps[-1].kind == StepKind.SCAN
    np.testing.assert_array_equal(marks, [4, 0, 7, 1, 2, 0])


BLOCKS = (
    "akc_demo_blocks",
    [("akc_demo_blocks", [], ["int32_t*", "const int32_t*", "const int64_t*", I64, I64])],
    ["torows", "values", "offsets", "width", "length"],
)


@pytest.mark.parametrize("longest", [4, 6])
def test_block_copies_stay_in_their_row_or_keep_the_c_order(tmp_path, demo, longest):
    spec = demo.spec(*BLOCKS)
    steps, _, run = demo.translated(spec, tmp_path)
    (step,) = [s for s in steps if s.kind == StepKind.PARALLEL]
    longest_row = Segment(RowRef("offsets"), stops=RowRef("offsets", 1), disjoint=False, longest=Arg("width"))
    assert longest_row in step.segments
    width, sizes = 4, np.array([2, 0, longest, 1, 3], np.int64)  # a 6 spills into the next row
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    values = np.arange(100, 100 + offsets[-1], dtype=np.int32)
    torows = np.full(width * 5 + 4, 7, np.int32)
    arrays = {"torows": torows, "values": values, "offsets": offsets}
    assert executor.rows_hold(np, step, arrays, {"width": width, "length": 5}, 5) == (longest <= width)
    assert run([torows, values, offsets, width, 5]) is None
    expected = np.full(width * 5 + 4, 7, np.int32)
    for i in range(5):  # the C order: a later row overwrites what an earlier one spilled
        expected[i * width : i * width + sizes[i]] = values[offsets[i] : offsets[i + 1]]
        expected[i * width + sizes[i] : max((i + 1) * width, i * width + sizes[i])] = -1
    np.testing.assert_array_equal(torows, expected)


def _body(source: str):
    from pycparser import c_parser

    return c_parser.CParser().parse(f"void f(long* out, long* starts, long* stops, long i) {source}").ext[0].body


def test_an_input_sized_loop_in_an_iteration_is_found_and_a_constant_one_is_not():
    from akcuda.generator.analysis.loops import input_sized_loop

    row = input_sized_loop(_body("{ for (long j = starts[i]; j < stops[i]; j++) out[j] = i; }"))
    assert row is not None and row.coord.line == 1
    assert input_sized_loop(_body("{ for (long k = 0; k < 4; k++) out[4 * i + k] = 0; }")) is None
    assert input_sized_loop(_body("{ while (out[i] > 0) out[i]--; }")) is not None
    assert input_sized_loop(_body("{ for (long k = 0; k < i; k++) out[k] = 0; }")) is not None  # bound from the input


def test_the_plans_report_names_each_step_whose_thread_walks_a_whole_row(tmp_path, demo):
    """akc_demo_rows' three row loops give a thread each row's elements; akc_demo_offsets' loops
    do constant work per iteration (a length, an offset)."""
    from akcuda.validation import plans

    steps, plan, _ = demo.translated(demo.spec(*ROWS), tmp_path)
    source = (demo.folder / "akc_demo_rows.cpp").read_text().splitlines()
    rows = plans.describe(plan, "akc_demo_rows")
    parallel = [(s, r) for s, r in zip(steps, rows["steps"]) if s.kind == StepKind.PARALLEL]
    assert len(parallel) == 3 and rows["row_per_thread"]
    for step, row in parallel:
        assert row["per_thread"] == "row" and row["row_loop"] == step.row_loop > step.line
        assert source[step.row_loop - 1].lstrip().startswith("for (int64_t j =")
    steps, plan, _ = demo.translated(demo.offsets, tmp_path)
    described = plans.describe(plan, "akc_demo32_offsets_64")
    assert {s.kind for s in steps} >= {StepKind.PARALLEL, StepKind.SCAN}
    assert not described["row_per_thread"] and all(s.row_loop is None for s in steps)
