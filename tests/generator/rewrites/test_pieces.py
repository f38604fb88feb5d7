"""Split folds (rewrites/pieces.py): a loop over bins folding each bin's range runs one thread per piece
of a bin where the bins are few, the pieces combined in C order; on a small kernel written for
these tests (tests/kernels/akc_demo_folds.cpp), run on the host emulation under the race check
and compared with an independent NumPy reference, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.rewrites.pieces import bin_pieces
from akcuda.plan.expr import Int, Integral, evaluate
from akcuda.plan.model import SplitFold, StepKind
from akcuda.validation import plans

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

NAMES = ["tobest", "tonegative", "toatleast", "tototal", "values", "offsets", "floor", "bins"]
TYPES = {"int64": ("int64_t", np.int64), "float64": ("double", np.float64)}


def spec(demo, element: str) -> dict:
    order = [element] + [e for e in TYPES if e != element]
    return demo.spec(
        "akc_demo_folds",
        [
            (
                f"akc_demo_folds_{e}",
                [TYPES[e][0]],
                [
                    f"{TYPES[e][0]}*",
                    "bool*",
                    "int64_t*",
                    f"{TYPES[e][0]}*",
                    f"const {TYPES[e][0]}*",
                    "const int64_t*",
                    TYPES[e][0],
                    "int64_t",
                ],
            )
            for e in order
        ],
        NAMES,
    )


def reference(values: np.ndarray, offsets: np.ndarray, floor):
    """The C loops in order: the first value greater than everything before it from `floor`
    (its bits), any negative, how many at least `floor`, the sum from the left."""
    best, negative, atleast, total = [], [], [], []
    for b in range(len(offsets) - 1):
        kept = floor
        for v in values[offsets[b] : offsets[b + 1]]:
            kept = v if v > kept else kept
        best.append(kept)
        part = values[offsets[b] : offsets[b + 1]]
        negative.append(bool((part < 0).any()))
        atleast.append(int((part >= floor).sum()))
        total.append(sum(part.tolist(), start=values.dtype.type(0).item()))  # Python's + in C order
    dtype = values.dtype
    return np.array(best, dtype), np.array(negative, bool), np.array(atleast, np.int64), np.array(total, dtype)


@pytest.mark.parametrize("element", ["int64", "float64"])
@pytest.mark.parametrize("bins", [1, 3, 100, 40000])
def test_few_bins_run_in_pieces_combined_in_c_order_and_many_bins_one_thread_each(tmp_path, demo, element, bins):
    steps, plan, run = demo.translated(spec(demo, element), tmp_path)
    assert [s.kind for s in steps] == [StepKind.PARALLEL] * 12  # per fold: the bin loop, pieces, combine
    symbol = f"akc_demo_folds_{element}"
    split = [s for s in plan.entry_of(symbol).steps if isinstance(s.form, SplitFold)]
    split_here = [s for s in split if s.guard != Int(0)]  # the sum of T splits only where T is an integer
    assert len(split) == 8 and len(split_here) == (8 if element == "int64" else 6)
    assert all(evaluate(s.guard, {"bins": bins}) == (bins <= 32768) for s in split_here)
    pieces = split[0]
    assert evaluate(pieces.count, {"bins": bins}) == bins * (1024 if bins <= 64 else 65536 // bins)
    described = plans.describe(plan, symbol)
    # one call runs each fold's pieces and combine, or its bin loop; the float sum its bin loop
    assert described["launches"] == (4 * 2 if element == "int64" else 3 * 2 + 1)
    rows = described["steps"]
    assert [r["per_thread"] for r in rows[:3]] == ["row", "piece", "piece"]  # a piece; at most 1024 results
    assert [r["per_thread"] for r in rows[9:]] == (["row", "piece", "piece"] if element == "int64" else ["row"])
    rng = np.random.default_rng(bins)
    counts = rng.integers(0, 6, bins)
    counts[rng.integers(0, bins)] = 5000  # one long bin among short ones
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    dtype = TYPES[element][1]
    values = rng.integers(-4, 50, int(offsets[-1])).astype(dtype)
    values[rng.random(len(values)) < 0.6] = 7  # ties: the leftmost is kept
    floor = dtype(5)
    if element == "float64":
        values[rng.random(len(values)) < 0.1] = np.nan  # never kept after the floor
        values[values == 0] = -0.0
        floor = dtype(-0.0)  # against +0.0 values: a tie keeps the earlier bits
        values[rng.random(len(values)) < 0.05] = 0.0
    if element == "float64":  # a sum whose rounding depends on the order: 0.1 steps against 1e16
        values[rng.random(len(values)) < 0.02] = 1e16
        values[rng.random(len(values)) < 0.3] = 0.1
    best, negative, atleast = np.full(bins, -9, dtype), np.zeros(bins, bool), np.full(bins, -9, np.int64)
    total = np.full(bins, -9, dtype)
    assert run([best, negative, atleast, total, values, offsets, floor, bins], block=64) is None
    want = reference(values, offsets, floor)
    assert best.tobytes() == want[0].tobytes() and total.tobytes() == want[3].tobytes()
    assert np.array_equal(negative, want[1]) and np.array_equal(atleast, want[2])


def test_a_float_sum_is_not_split():
    """Splitting a float sum would round differently from the C's order: the bin loop stays; the
    same loop over an integer accumulator splits, and over a template type T where T is one."""
    source = """typedef long T; void f(double* out, const double* x, const long* offsets, long bins) {
      for (long bin = 0; bin < bins; bin++) {
        double acc = 0;
        for (long i = offsets[bin]; i < offsets[bin + 1]; i++) acc += x[i];
        out[bin] = acc;
      }
    }"""

    def integer(name: str):
        return Int(1) if name in ("long", "int64_t") else Integral(name) if name == "T" else None

    for accumulator, splits in (("double acc", False), ("long acc", True), ("T acc", True)):
        loop = c_parser.CParser().parse(source.replace("double acc", accumulator)).ext[-1].body.block_items[0]
        found = bin_pieces(loop, {"bins": None}, integer)
        assert (found is not None) == splits
        if found is not None:  # a template type: the split also needs it to be an integer
            assert (Integral("T") in _parts(found.split)) == (accumulator == "T acc")


def _parts(expr):
    """Every node of a plan expression."""
    yield expr
    for name in ("left", "right", "operand"):
        if hasattr(expr, name):
            yield from _parts(getattr(expr, name))
