"""A loop stepping by a constant (rules/stride.py), on a small kernel written for these tests
(tests/kernels/akc_demo_stride.cpp), run on the host emulation under the race check and compared
with the C loop written again in Python; and the loops the rule refuses."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.analysis.context import Analysis, Planned, Refusal, Signature, Site
from akcuda.generator.rules import stride
from akcuda.plan.model import Parallel

STRIDE = (
    "akc_demo_stride",
    [("akc_demo_stride", [], ["double*", "const double*", "int64_t"])],
    ["toptr", "fromptr", "length"],
)


def _conjugates(values: np.ndarray) -> np.ndarray:
    """The C loop: each (real, imaginary) pair's conjugate."""
    out = values.copy()
    out[1::2] = -values[1::2]
    return out


@pytest.mark.gxx  # g++ -E to translate, a g++ host build to run
@pytest.mark.parametrize("length", [0, 1, 2, 255, 256, 257, 3000])
def test_a_loop_stepping_by_two_runs_one_thread_per_step(tmp_path, demo, length):
    steps, _, run = demo.translated(demo.spec(*STRIDE), tmp_path)
    (step,) = steps
    assert step.form == Parallel()  # one thread per (real, imaginary) pair
    values = np.random.default_rng(length).normal(size=2 * length)
    toptr = np.full(2 * length + 3, -7.0)  # the places past the last pair stay as they were
    assert run([toptr, values, length], block=32) is None
    np.testing.assert_array_equal(toptr[: 2 * length], _conjugates(values))
    assert (toptr[2 * length :] == -7.0).all()


def _matched(head: str, body: str):
    """What the rule makes of `for (head) { body }` in `f(int64_t* out, int64_t n, int64_t s)`."""
    source = f"typedef long int64_t; int f(int64_t* out, int64_t n, int64_t s) {{ for ({head}) {{ {body} }} }}"
    func = c_parser.CParser().parse(source).ext[-1]
    loop = func.body.block_items[0]
    ctx = Analysis.of(func, Signature(frozenset({"n", "s"}), frozenset({"out"})))
    return stride.match(Site(loop, loop, frozenset()), ctx)


@pytest.mark.parametrize(
    ("head", "body", "why"),
    [
        ("int64_t i = 0; i < n; i += s", "out[i] = 1;", "with s a constant above 1"),  # a stride only the data tell
        ("int64_t i = 0; i < n; i += 1", "out[i] = 1;", "with s a constant above 1"),  # the general rule's
        ("int64_t i = 0; i <= n; i += 2", "out[i] = 1;", "not a loop"),
        ("int64_t i = 0; i < n; i += 2", "out[0] = i;", "the loop over steps: write 'out[0]' is neither per-iteration"),
    ],
)
def test_what_is_not_a_loop_over_steps_is_refused_in_words(head, body, why):
    found = _matched(head, body)
    assert isinstance(found, Refusal) and why in found.why


def test_a_stride_of_three_is_taken():
    found = _matched("int64_t i = 0; i < n; i += 3", "out[i] = i;")
    assert isinstance(found, Planned) and found.step.form == Parallel()
