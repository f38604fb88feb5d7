"""Locals declared in the arms of a branch on scalar arguments, lifted in front of it
(rewrites/branch_locals.py)."""

from __future__ import annotations

from pycparser import c_parser

from akcuda.generator.analysis.ast_util import text
from akcuda.generator.analysis.context import Signature
from akcuda.generator.rewrites.branch_locals import hoisted_branch_locals


def test_branch_locals_are_lifted_in_front_of_the_branch():
    source = """
    int f(int64_t* out, int64_t n, int64_t total) {
      if (n > 0) { int64_t m = total / n; int64_t k = 0; int64_t v = out[0]; for (int64_t i = 0; i < n; i++) { k++; } }
      else { for (int64_t k = 0; k < 2; k++) { out[k] = 0; } }
      return 0;
    }"""
    func = c_parser.CParser().parse("typedef long int64_t;" + source).ext[1]
    scalars = Signature(frozenset({"n", "total"}), frozenset({"out"}))
    lifted = hoisted_branch_locals(func, scalars)
    items = lifted.body.block_items
    # a division only under the arm's condition; the other arm's own `k` makes this one renamed;
    # a value read from memory stays an assignment in its arm
    assert [text(d) for d in items[:3]] == [
        "int64_t m = (n > 0) ? (total / n) : (0)",
        "int64_t akc_arm_k = 0",
        "int64_t v",
    ]
    arm = items[3].iftrue.block_items
    assert text(arm[0]) == "v = out[0]" and "akc_arm_k++" in text(arm[1])
    assert "int64_t k = 0" in text(items[3].iffalse)  # the other arm is as written
    assert hoisted_branch_locals(lifted, scalars) is None  # nothing left to lift
