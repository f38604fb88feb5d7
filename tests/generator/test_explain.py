"""`akcuda explain` (explain.py): each loop's C, each rewrite, each rule tried with its refusal,
the rule that took it and the step it made, then the entry's plan steps; on small kernels
written for the translator's tests (tests/kernels/)."""

from __future__ import annotations

import pytest

from akcuda.generator import rules
from akcuda.generator.explain import explain
from akcuda.generator.planner import name_of

pytestmark = pytest.mark.gxx  # translating preprocesses with g++ -E

I64, PI64, CI64 = "int64_t", "int64_t*", "const int64_t*"


def _explained(demo, name: str, ctypes: list[str], names: list[str]) -> list[str]:
    return explain(demo.spec(name, [(name, [], ctypes)], names), demo.folder, demo.include)


def test_every_rule_before_the_one_that_took_the_loop_says_why_not(demo):
    lines = _explained(
        demo,
        "akc_demo_columns",
        [PI64, PI64, CI64, CI64, CI64, I64, I64],
        ["hist", "out", "offsets", "bins", "weights", "nbins", "width"],
    )
    tried = [line.strip() for line in lines if line.strip().startswith("rule ")]
    order = [name_of(rule) for rule, _ in rules.RULES]
    assert [t.split(":")[0] for t in tried] == [f"rule {name}" for name in order]  # all, in registry order
    assert all("refused: " in t and len(t.split("refused: ")[1]) > 10 for t in tried[:-1])  # in words
    assert "write 'hist[k]' is neither per-iteration nor at a counter" in " ".join(tried)  # the general rule's
    assert tried[-1] == "rule columns: took it"
    at = lines.index("  loop at line 15 (runs always)")
    assert lines[at + 1].strip().startswith("for (int64_t b = 0; b < nbins; b++)")  # the C as written
    step = next(line for line in lines if line.strip().startswith("step: parallel"))
    assert "1 row range(s) checked" in step  # the plan step it made
    assert "its loop:" in lines[lines.index(step) + 1]  # and the loop the rule wrote for it
    assert lines[-1] == "explain: 1 loop(s), 1 taken by a rule, 0 in C order; 1 step(s)"


def test_rewrites_and_the_plan_steps_as_the_plan_file_has_them(demo):
    lines = _explained(
        demo,
        "akc_demo_padrows",
        [PI64, "int32_t*", PI64, CI64, CI64, CI64, I64, I64],
        ["toindex", "tostarts", "shifted", "starts", "stops", "bases", "target", "length"],
    )
    assert any("carried.forwarded_stores: changed" in line for line in lines)
    made = next(k for k, line in enumerate(lines) if line.strip() == "carried.forwarded_stores made:")
    assert lines[made + 1].strip().startswith("for (")  # the loop after the rewrite
    listed = lines.index("  plan steps (as build/generated/akc_demo_padrows.plan.json has them):")
    steps = [line for line in lines[listed + 1 :] if line.startswith("    ")]
    assert [s.split(":")[1].strip() for s in steps] == ["serial", "scan", "serial", "scan"]


def test_a_loop_no_rule_takes_runs_in_c_order_with_the_general_rules_reason(demo):
    lines = _explained(demo, "akc_demo_overrun", [PI64, CI64, I64], ["out", "sizes", "length"])
    assert any("rule per_iteration: refused: write 'out[k + j]' may leave the range" in line for line in lines)
    assert "    no rule took it: it runs in C order (a serial step)" in lines
    assert any(line.startswith("    0: serial: line 10: write 'out[k + j]' may leave") for line in lines)
    assert lines[-1] == "explain: 1 loop(s), 0 taken by a rule, 1 in C order; 1 step(s)"


def test_a_sort_is_one_library_step(demo):
    lines = _explained(
        demo, "akc_demo_rank", ["int64_t*", "const int32_t*", "int64_t"], ["toorder", "scores", "length"]
    )
    assert lines[1] == "  one library sort step, no loop planned: the sort rule read it"
    assert lines[2].startswith("  step: sort: scores into toorder")
