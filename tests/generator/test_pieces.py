"""Split folds (pieces.py): a loop over bins folding each bin's range runs one thread per piece
of a bin where the bins are few, the pieces combined in C order; on a small kernel written for
these tests (tests/kernels/akc_demo_folds.cpp), run on the host emulation under the race check
and compared with an independent NumPy reference, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.pieces import bin_pieces
from akcuda.plan.expr import evaluate
from akcuda.plan.model import StepKind
from akcuda.validation import plans

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

NAMES = ["tobest", "tonegative", "toatleast", "values", "offsets", "floor", "bins"]
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
    (its bits), any negative, how many at least `floor`."""
    best, negative, atleast = [], [], []
    for b in range(len(offsets) - 1):
        kept = floor
        for v in values[offsets[b] : offsets[b + 1]]:
            kept = v if v > kept else kept
        best.append(kept)
        part = values[offsets[b] : offsets[b + 1]]
        negative.append(bool((part < 0).any()))
        atleast.append(int((part >= floor).sum()))
    return np.array(best, values.dtype), np.array(negative, bool), np.array(atleast, np.int64)


@pytest.mark.parametrize("element", ["int64", "float64"])
@pytest.mark.parametrize("bins", [1, 3, 100, 40000])
def test_few_bins_run_in_pieces_combined_in_c_order_and_many_bins_one_thread_each(tmp_path, demo, element, bins):
    steps, plan, run = demo.translated(spec(demo, element), tmp_path)
    assert [s.kind for s in steps] == [StepKind.PARALLEL] * 9  # per fold: the bin loop, pieces, combine
    split = [s for s in steps if s.partials is not None]
    assert len(split) == 6 and all(evaluate(s.guard, {"bins": bins}) == (bins <= 32768) for s in split)
    pieces = split[0]
    assert evaluate(pieces.count, {"bins": bins}) == bins * (1024 if bins <= 64 else 65536 // bins)
    described = plans.describe(plan, f"akc_demo_folds_{element}")
    assert described["launches"] == 3 * 2  # one call runs each fold's pieces and combine, or its bin loop
    rows = described["steps"]
    assert [r["per_thread"] for r in rows[:3]] == ["row", "piece", "piece"]  # a piece; at most 1024 results
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
    best, negative, atleast = np.full(bins, -9, dtype), np.zeros(bins, bool), np.full(bins, -9, np.int64)
    assert run([best, negative, atleast, values, offsets, floor, bins], block=64) is None
    want = reference(values, offsets, floor)
    assert best.tobytes() == want[0].tobytes()
    assert np.array_equal(negative, want[1]) and np.array_equal(atleast, want[2])


def test_a_float_sum_is_not_split():
    """Splitting a float sum would round differently from the C's order: the bin loop stays; the
    same loop over an integer accumulator splits."""
    source = """void f(double* out, const double* x, const long* offsets, long bins) {
      for (long bin = 0; bin < bins; bin++) {
        double acc = 0;
        for (long i = offsets[bin]; i < offsets[bin + 1]; i++) acc += x[i];
        out[bin] = acc;
      }
    }"""
    integer = ("long", "int64_t").__contains__
    for accumulator, splits in (("double acc", False), ("long acc", True)):
        loop = c_parser.CParser().parse(source.replace("double acc", accumulator)).ext[0].body.block_items[0]
        assert (bin_pieces(loop, {"bins": None}, integer) is not None) == splits
