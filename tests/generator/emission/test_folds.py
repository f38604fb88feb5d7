"""Folds: constant-work one-thread steps folded into a neighbouring launch, dead finishes dropped."""

from __future__ import annotations

import textwrap

import pytest

from akcuda.generator.analysis.context import Signature
from akcuda.generator.emission.folds import plan_folds
from akcuda.generator.frontend.parse import parse
from akcuda.generator.planner import plan_steps
from akcuda.plan.model import Fold

pytestmark = pytest.mark.gxx  # parsing preprocesses with g++ -E


def _steps(tmp_path, body: str, pointers: set[str]):
    src = tmp_path / "akc_fold.cpp"
    src.write_text(
        "ERROR akc_fold(int64_t* out, int64_t* offsets, int64_t* total, const int8_t* mask, int64_t length) {\n"
        + textwrap.indent(textwrap.dedent(body), "  ")
        + "  return success();\n}\n"
    )
    signature = Signature(frozenset({"length"}), frozenset(pointers))
    steps, decls = plan_steps(parse(src, []).functions["akc_fold"], signature)
    return steps, plan_folds(steps, {d.name for d in decls})


COMPACT = """\
int64_t k = 0;
offsets[0] = 0;
for (int64_t i = 0; i < length; i++) {
  if (mask[i] != 0) {
    out[k] = i;
    k++;
  }
  offsets[i + 1] = k;
}
"""
POINTERS = {"out", "offsets", "total", "mask"}


def test_a_prologue_folds_into_count_and_a_finish_nobody_reads_is_not_made(tmp_path):
    steps, folds = _steps(tmp_path, COMPACT, POINTERS)
    assert [s.step.kind for s in steps] == ["serial", "scan"]
    assert [f.into for f in folds] == [Fold.NEXT, None]
    assert folds[1].prologue is steps[0] and not folds[1].finish  # `k` is not read after the loop
    assert folds[1].declared_only == {"k"}  # count starts `k` from 0 itself: it does not load it


def test_a_step_after_the_scan_folds_into_its_finish(tmp_path):
    steps, folds = _steps(tmp_path, COMPACT + "*total = k;\n", POINTERS)
    assert [s.step.kind for s in steps] == ["serial", "scan", "serial"]
    assert [f.into for f in folds] == [Fold.NEXT, None, Fold.PREVIOUS]
    assert folds[1].epilogue is steps[2] and folds[1].finish  # finish writes the total after `k`


def test_a_prologue_writing_what_the_loop_reads_stays_a_launch_of_its_own(tmp_path):
    body = """\
    total[0] = length;
    for (int64_t i = 0; i < length; i++) {
      out[i] = total[0] + i;
    }
    """
    steps, folds = _steps(tmp_path, body, POINTERS)
    assert [s.step.kind for s in steps] == ["serial", "parallel"]
    assert [f.into for f in folds] == [None, None]
