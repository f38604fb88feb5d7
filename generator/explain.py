"""`akcuda explain KERNEL`: what the translator did with each loop of a kernel, pass by pass.

For each entry of the family: what each function rewrite made of its body; for each top-level
loop, its C, what each loop rewrite made of it, each rule tried in order with its refusal, the
rule that took it and the plan step it made (and what an after-match rewrite split it into); then
the entry's steps as the plan file has them. A contributor's view of what Halide logs after each
lowering pass and what LLVM's `-Rpass-missed` remarks say.

    loop at line 14 (runs always)
      for (int64_t i = 0; i < length; i++) { ... }
      loop rewrites: carried.forwarded_stores: no change; carried.previous_values: no change
      rule pairs: refused: not a loop over bins whose body is declarations and one loop over columns [0, C)
      rule per_iteration: took it
      step: scan: counters akc_ctr0 (running sum of tooffsets); over length iterations from 0; line 14
"""

from __future__ import annotations

from pathlib import Path

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import text
from akcuda.generator.planner import Trace
from akcuda.generator.sorting import rule as sorts
from akcuda.generator.translate import analyzed, gather, source_path, translate
from akcuda.plan import model as P
from akcuda.plan.codec import tag
from akcuda.plan.expr import to_text

INDENT = "  "


def explain(spec: dict, kernel_dir: Path, include_dir: Path) -> list[str]:
    """The lines `akcuda explain` prints for the kernel family `spec` (a kernel-spec mapping)."""
    translation = translate(spec, kernel_dir, include_dir)
    lines = [f"{spec['name']}: {source_path(spec, kernel_dir)}"]
    if sorts.has_sort(source_path(spec, kernel_dir)) or "sort" in spec:
        step = next(iter(translation.plan.entries.values())).steps[0]
        how = "the sort rule read it" if step.form.rule == "rule" else f"the spec's sort override ({step.reason})"
        lines += [f"{INDENT}one library sort step, no loop planned: {how}", f"{INDENT}step: {describe(step)}"]
        return lines
    family, loops, taken = gather(spec, kernel_dir, include_dir), 0, 0
    for entry in family.entries:
        trace = Trace()
        analyzed(family, entry, trace)
        params = family.templates.get(entry, [])
        lines += ["", f"entry {entry}" + (f"<{', '.join(params)}>" if params else "")]
        lines += _passes(trace)
        lines.append(f"{INDENT}plan steps (as build/generated/{spec['name']}.plan.json has them):")
        for k, step in enumerate(translation.plan.entries[entry].steps):
            lines.append(f"{INDENT * 2}{k}: {describe(step)}")
        loops, taken = loops + len(trace.loops), taken + sum(bool(loop.steps) for loop in trace.loops)
    steps = sum(len(e.steps) for e in translation.plan.entries.values())
    lines += ["", f"explain: {loops} loop(s), {taken} taken by a rule, {loops - taken} in C order; {steps} step(s)"]
    return "\n".join(lines).split("\n")  # the C printed within a line is lines of its own


def _passes(trace: Trace) -> list[str]:
    """The function rewrites, then each loop's rewrites, rules and step."""
    lines = [f"{INDENT}function rewrites: " + "; ".join(_changed(name, after) for name, after in trace.rewrites)]
    lines += [f"{INDENT * 2}{name} made:" + _c(after, 3) for name, after in trace.rewrites if after is not None]
    for loop in trace.loops:
        where = "always" if loop.guard is None else f"where {to_text(loop.guard)}"
        lines += ["", f"{INDENT}loop at line {loop.written.coord.line} (runs {where})", _c(loop.written, 2)[1:]]
        lines.append(f"{INDENT * 2}loop rewrites: " + "; ".join(_changed(name, after) for name, after in loop.rewrites))
        lines += [f"{INDENT * 3}{name} made:" + _c(after, 4) for name, after in loop.rewrites if after is not None]
        for name, refusal in loop.tried:
            lines.append(f"{INDENT * 2}rule {name}: " + ("took it" if refusal is None else f"refused: {refusal}"))
        if not loop.steps:
            lines.append(f"{INDENT * 2}no rule took it: it runs in C order (a serial step)")
        if loop.after_match is not None:
            lines.append(f"{INDENT * 2}after the match, {loop.after_match} split it into {len(loop.steps)} steps")
        seen = [loop.written, *(after for _, after in loop.rewrites if after is not None)]
        for found in loop.steps:
            lines.append(f"{INDENT * 2}step: {describe(found.step)}")
            if found.code.loop is not None and found.code.loop is not seen[-1]:  # the rule's own loop
                lines.append(f"{INDENT * 3}its loop:" + _c(found.code.loop, 4))
    if trace.whole is not None:
        lines.append(
            f"{INDENT}the steps cannot be separate launches ({trace.whole}): the whole body is one serial step"
        )
    return lines


def _changed(name: str, after: c_ast.Node | None) -> str:
    return f"{name}: {'no change' if after is None else 'changed'}"


def _c(node: c_ast.Node, depth: int) -> str:
    """The C of a tree, each line indented `depth` steps (a leading newline)."""
    printed = text(node).rstrip().splitlines()
    return "".join(f"\n{INDENT * depth}{line}" for line in printed)


def describe(step: P.Step) -> str:
    """One plan step in a line: its form and what it carries, its iterations, guard and checks."""
    form = step.form
    parts = []
    match form:
        case P.Serial(constant_work=work, fold=fold):
            parts.append("constant work" if work else step.reason)
            if fold is not None:
                parts.append(f"folded into the {fold.value} step's launch")
        case P.Parallel(checked=True):
            parts.append("with a check launch for the first failure")
        case P.SplitFold(partials=words):
            parts.append(f"partial results in {to_text(words)} scan-buffer words")
        case P.Scan() | P.PrivateRows() | P.Compaction():
            parts.append("counters " + ", ".join(_counter(c) for c in form.counters))
            if isinstance(form, P.Compaction):
                parts.append(f"compacting {form.array} in place at {form.counter}")
            if isinstance(form, P.PrivateRows):
                parts.append(f"through {' -> '.join(form.chain)} on private copies")
        case P.Sort():
            parts.append(
                f"{form.keys} into {form.out}, {form.ranges.value} ranges, {form.writes.value}, by {form.rule}"
            )
    if step.count is not None:
        parts.append(f"over {to_text(step.count)} iterations from {to_text(step.first)}")
    if step.guard is not None:
        parts.append(f"where {to_text(step.guard)}")
    if step.requires is not None:
        parts.append(f"parallel while {to_text(step.requires)}")
    if step.segments:
        parts.append(f"{len(step.segments)} row range(s) checked" + (" on the device" if step.form_on_device else ""))
    if step.line is not None:
        parts.append(f"line {step.line}")
    return f"{tag(type(form))}: " + "; ".join(parts)


def _counter(c: P.Counter) -> str:
    where = f" of {c.place}" if c.place and c.kind != P.CounterKind.LOCAL else ""
    return f"{c.name} ({c.kind.value} {c.op.value}{where})"
