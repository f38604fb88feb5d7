"""The general rule (rules/per_iteration.py): how each top-level loop of a kernel runs (parallel,
count-scan-fill or serial, and why)."""

from __future__ import annotations

import textwrap

import pytest

from akcuda.generator.analysis.context import Signature
from akcuda.generator.frontend.parse import parse
from akcuda.generator.planner import plan_steps
from akcuda.plan.expr import Arg, Binary, Int

pytestmark = pytest.mark.gxx  # parsing preprocesses with g++ -E


def test_independent_loop_is_parallel_and_integer_running_sum_is_a_scan(demo):
    func = parse(demo.folder / "akc_demo_offsets.cpp", [demo.include]).functions["akc_demo_offsets"]
    arrays = frozenset({"tolengths", "tooffsets", "fromstarts", "fromstops"})
    steps, _ = plan_steps(func, Signature(frozenset({"length"}), arrays, integral=lambda array: array == "tooffsets"))
    assert [s.step.kind for s in steps] == ["parallel", "serial", "scan"]
    assert steps[0].step.count == Binary("-", Arg("length"), Int(0))
    assert [(c.kind, c.place) for c in steps[2].step.form.counters] == [("running", "tooffsets")]
    # a floating-point running sum would be reordered by a scan: it stays serial, with the reason
    steps, _ = plan_steps(func, Signature(frozenset({"length"}), arrays))
    assert [s.step.kind for s in steps] == ["parallel", "serial"]
    assert "not of an integer type" in steps[1].step.reason


def test_conditional_counter_becomes_count_scan_fill(tmp_path):
    src = tmp_path / "akc_compact.cpp"
    src.write_text(
        textwrap.dedent("""\
        ERROR akc_compact(int64_t* out, int64_t* total, const int8_t* mask, int64_t length) {
          int64_t k = 0;
          for (int64_t i = 0; i < length; i++) {
            if (mask[i] != 0) {
              out[k] = i;
              k++;
            }
          }
          *total = k;
          return success();
        }
        """)
    )
    func = parse(src, []).functions["akc_compact"]
    steps, decls = plan_steps(func, Signature(frozenset({"length"}), frozenset({"out", "total", "mask"})))
    assert [s.step.kind for s in steps] == ["serial", "scan", "serial"]
    assert [(c.kind, c.name) for c in steps[1].step.form.counters] == [("local", "k")]
    assert [d.name for d in decls] == ["k"]


def test_counter_in_a_condition_is_not_a_scan(tmp_path):
    src = tmp_path / "akc_capped.cpp"
    src.write_text(
        textwrap.dedent("""\
        ERROR akc_capped(int64_t* out, int64_t length) {
          int64_t k = 0;
          for (int64_t i = 0; i < length; i++) {
            if (k < 3) { out[k] = i; k++; }
          }
          return success();
        }
        """)
    )
    steps, _ = plan_steps(parse(src, []).functions["akc_capped"], Signature(frozenset({"length"}), frozenset({"out"})))
    assert (
        steps[0].step.kind == "serial" and "counter 'k' is used in a branch condition at line 4" in steps[0].step.reason
    )


def test_nested_regular_loop_with_private_helper_call_is_parallel(demo):
    parsed = parse(demo.folder / "akc_demo_regular.cpp", [demo.include])
    func = parsed.functions["akc_demo_regular"]
    steps, _ = plan_steps(func, Signature.of(func, {"akc_demo_clamp": parsed.functions["akc_demo_clamp"]}))
    assert steps[0].step.kind == "parallel"


def test_write_through_a_data_dependent_index_is_not_parallel(tmp_path):
    src = tmp_path / "akc_scatter.cpp"
    src.write_text(
        textwrap.dedent("""\
        ERROR akc_scatter(int64_t* out, const int64_t* index, int64_t length) {
          for (int64_t i = 0; i < length; i++) { out[index[i]] = i; }
          return success();
        }
        """)
    )
    func = parse(src, []).functions["akc_scatter"]
    steps, _ = plan_steps(func, Signature(frozenset({"length"}), frozenset({"out", "index"})))
    assert steps[0].step.kind == "serial" and "out[index[i]]" in steps[0].step.reason
