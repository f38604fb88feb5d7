"""Split best-index folds (rewrites/best_index.py): a loop over bins finding each bin's best index from
its first element runs one thread per piece of a bin where the bins are few, the candidates
combined in C order; on a small kernel written for these tests (tests/kernels/akc_demo_best.cpp),
run on the host emulation under the race check against an independent Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.rewrites.best_index import best_index_pieces
from akcuda.plan.expr import evaluate
from akcuda.plan.model import SplitFold
from akcuda.validation import plans

TYPES = {"int64": ("int64_t", np.int64), "float64": ("double", np.float64)}
ARGMAX = """void f(long* out, const double* x, const long* offsets, long bins) {
  for (long bin = 0; bin < bins; bin++) {
    const long start = offsets[bin];
    const long stop = offsets[bin + 1];
    long best = -1;
    if (start < stop) {
      best = start;
      double best_val = x[start];
      for (long i = start + 1; i < stop; i++) {
        double v = x[i];
        if (v > best_val) { best_val = v; best = i; }
      }
    }
    out[bin] = best;
  }
}"""


def loop_of(source: str):
    return c_parser.CParser().parse(source).ext[-1].body.block_items[0]


def test_the_argmax_form_splits():
    found = best_index_pieces(loop_of(ARGMAX), {"bins": None})
    assert found is not None
    assert evaluate(found.words, {"bins": 3}) == 2 * 3 * 1024  # a found flag and an index per piece


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("v > best_val", "v >= best_val"), "not strict: the last of equals, which pieces cannot tell"),
        (("long i = start + 1", "long i = start"), "the loop does not start after the seed"),
        (("best = i; }", "best = i; best_val = 0; }"), "a third statement in the update"),
        (("double v = x[i];", "double v = x[i] + best_val;"), "an element reads the best value"),
        (("best_val = v;", "best_val = -v;"), "the kept value is not the compared one"),
    ],
)
def test_what_is_not_a_best_index_stays(change, why):
    assert best_index_pieces(loop_of(ARGMAX.replace(*change)), {"bins": None}) is None, why


def reference(values, offsets, shift) -> list[int]:
    """C's loop in Python: one past the first index whose value beats everything before it,
    from the bin's first (comparisons with NaN are false)."""
    out = []
    for b in range(len(offsets) - 1):
        lo, hi = int(offsets[b]), int(offsets[b + 1])
        best = -1
        if lo < hi:
            best, top = lo, values[lo] - shift
            for i in range(lo + 1, hi):
                v = values[i] - shift
                if top < v:
                    best, top = i, v
        out.append(best + 1)
    return out


@pytest.mark.gxx  # g++ -E to translate, a g++ host build to run
@pytest.mark.parametrize("element", ["int64", "float64"])
@pytest.mark.parametrize("bins", [1, 3, 100, 40000])
def test_few_bins_find_the_c_index_in_pieces_many_bins_one_thread_each(tmp_path, demo, element, bins):
    order = [element] + [e for e in TYPES if e != element]  # the runner runs the first
    spec = demo.spec(
        "akc_demo_best",
        [
            (
                f"akc_demo_best_{e}",
                [TYPES[e][0]],
                ["int64_t*", f"const {TYPES[e][0]}*", "const int64_t*", TYPES[e][0], "int64_t"],
            )
            for e in order
        ],
        ["toafter", "values", "offsets", "shift", "bins"],
    )
    steps, plan, run = demo.translated(spec, tmp_path)
    split = [s for s in steps if isinstance(s.form, SplitFold)]
    assert len(split) == 2 and all(evaluate(s.guard, {"bins": bins}) == (bins <= 32768) for s in split)
    rows = plans.describe(plan, f"akc_demo_best_{element}")["steps"]
    assert [r["per_thread"] for r in rows] == ["row", "piece", "piece"]
    rng = np.random.default_rng(bins)
    counts = rng.integers(0, 6, bins)
    long = rng.integers(0, bins)
    counts[long] = 5000  # a long bin among short ones
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    dtype = TYPES[element][1]
    values = rng.integers(-3, 4, int(offsets[-1])).astype(dtype)  # many ties: the leftmost stays
    if element == "float64":
        nan = rng.random(len(values)) < (0.9 if bins == 3 else 0.3)  # NaN seeds, NaN-first and all-NaN pieces
        values[nan] = np.nan
        values[values == 0] = -0.0
        values[rng.random(len(values)) < 0.05] = 0.0  # a tie of -0.0 and 0.0 keeps the earlier
        values[offsets[:-1][counts > 1][::2]] = np.nan  # NaN seeds: nothing replaces them
        values[offsets[long]] = -3.0  # but not the long bin's: its pieces decide
    shift = dtype(1)
    after = np.full(bins, -9, np.int64)
    assert run([after, values, offsets, shift, bins], block=64) is None
    want = reference(values.tolist(), offsets, shift.item())
    assert after.tolist() == want
