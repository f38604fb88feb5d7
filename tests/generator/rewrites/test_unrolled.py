"""Rolled sums (rewrites/unrolled.py): a hand-unrolled integer sum becomes one loop, which the split-fold
rule then takes; on a small kernel written for these tests (tests/kernels/akc_demo_unrolled.cpp),
run on the host emulation under the race check against NumPy, and on C the rule must refuse."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.analysis.ast_util import same
from akcuda.generator.analysis.context import Signature
from akcuda.generator.rewrites.unrolled import rerolled_sums
from akcuda.plan.expr import evaluate
from akcuda.plan.model import SplitFold

UNROLLED = """void f(long* out, const double* x, const long* offsets, long bins) {
  for (long bin = 0; bin < bins; bin++) {
    long c0 = 0; long c1 = 0;
    long i = offsets[bin];
    for (; i + 2 <= offsets[bin + 1]; i += 2) { c0 += x[i + 0] != 0; c1 += x[i + 1] != 0; }
    long c = c1 + c0;
    for (; i < offsets[bin + 1]; i++) { c += x[i] != 0; }
    out[bin] = c;
  }
}"""
ROLLED = """void f(long* out, const double* x, const long* offsets, long bins) {
  for (long bin = 0; bin < bins; bin++) {
    long c = 0;
    for (long i = offsets[bin]; i < offsets[bin + 1]; i++) { c += x[i] != 0; }
    out[bin] = c;
  }
}"""

PLAIN = Signature(frozenset(), frozenset())  # no template parameters: int64_t is an integer


def parsed(source: str):
    return c_parser.CParser().parse(source).ext[-1]


def test_an_unrolled_integer_sum_is_one_loop():
    rolled = rerolled_sums(parsed(UNROLLED), PLAIN)
    assert rolled is not None and same(rolled, parsed(ROLLED))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("long c0 = 0; long c1 = 0;", "double c0 = 0; double c1 = 0;"), "float partial sums round by grouping"),
        (("long c = c1 + c0;", "long c = c1 + c1;"), "a partial sum left out"),
        (("c1 += x[i + 1] != 0;", "c1 += x[i + 2] != 0;"), "not the next element"),
        (("out[bin] = c;", "out[bin] = c + i;"), "the cursor read after the loops"),
        (("i += 2)", "i += 3)"), "the step is not the unrolling"),
        (("c += x[i] != 0;", "c += x[i] != c0;"), "the tail reads a partial sum"),
    ],
)
def test_what_is_not_an_unrolled_sum_stays(change, why):
    assert rerolled_sums(parsed(UNROLLED.replace(*change)), PLAIN) is None, why


@pytest.mark.gxx  # g++ -E to translate, a g++ host build to run
@pytest.mark.parametrize("element", ["int64", "float64"])
@pytest.mark.parametrize("bins", [1, 5, 40000])
def test_the_rolled_sum_splits_and_counts_what_the_c_counts(tmp_path, demo, element, bins):
    types = {"int64": "int64_t", "float64": "double"}
    order = [element] + [e for e in types if e != element]  # the runner runs the first
    spec = demo.spec(
        "akc_demo_unrolled",
        [
            (
                f"akc_demo_unrolled_{e}",
                [types[e]],
                ["int64_t*", f"const {types[e]}*", "const int64_t*", types[e], "int64_t"],
            )
            for e in order
        ],
        ["toabove", "values", "offsets", "floor", "bins"],
    )
    steps, plan, run = demo.translated(spec, tmp_path)
    split = [s for s in steps if isinstance(s.form, SplitFold)]
    assert len(split) == 2 and all(evaluate(s.guard, {"bins": bins}) == (bins <= 32768) for s in split)
    rng = np.random.default_rng(bins)
    counts = rng.integers(0, 8, bins)
    counts[rng.integers(0, bins)] = 5001  # a long bin: pieces, and a tail of 5001 % 3
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    dtype = np.int64 if element == "int64" else np.float64
    values = rng.integers(-5, 6, int(offsets[-1])).astype(dtype)
    if element == "float64":
        values[rng.random(len(values)) < 0.1] = np.nan  # never above
    floor = dtype(1)
    above = np.full(bins, -9, np.int64)
    assert run([above, values, offsets, floor, bins], block=64) is None
    want = [int((values[offsets[b] : offsets[b + 1]] > floor).sum()) for b in range(bins)]
    assert above.tolist() == want
