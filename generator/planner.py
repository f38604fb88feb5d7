"""Stage: one entry's body -> its plan steps, each with the C it runs (`plan_steps`).

The passes run in one written order, in this module only (`akcuda explain` shows each):

1. the function rewrites (`rewrites.FUNCTION`), each on what the one before left;
2. each top-level statement in turn: a loop gets the loop rewrites (`rewrites.LOOP`), then the
   rules (`rules.RULES`) in order until one takes it, then the after-match rewrites
   (`rewrites.AFTER_MATCH`) on the step it made; a loop no rule takes joins the serial step
   before it, with the general rule's refusal as the reason; a branch on scalar arguments plans
   each arm under its condition (the executor picks); any other statement joins the serial step;
3. the steps must work as separate launches (top-level locals spill between them, and no step
   but the last may return early), else the whole body is one serial step; a serial step no
   rule was needed for does constant work.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pycparser import c_ast

from akcuda.generator import rewrites, rules
from akcuda.generator.analysis.ast_util import block, is_call, walk
from akcuda.generator.analysis.context import Analysis, Code, Planned, Refusal, Signature, Site
from akcuda.generator.analysis.loops import both, host_expr, input_sized_loop, type_names, uses
from akcuda.plan import model as P
from akcuda.plan.expr import Expr, Unary

CONSTANT_WORK = "constant work outside loops"


def name_of(part: types.ModuleType | Callable) -> str:
    """A rule's name (its module's) or a rewrite's (module.function), as `akcuda explain` shows it."""
    if isinstance(part, types.ModuleType):
        return part.__name__.rpartition(".")[2]
    return f"{part.__module__.rpartition('.')[2]}.{part.__name__}"


@dataclass
class LoopTrace:
    """What the planner did with one top-level loop."""

    written: c_ast.For
    guard: Expr | None
    rewrites: list[tuple[str, c_ast.For | None]] = field(default_factory=list)  # None: did not apply
    tried: list[tuple[str, str | None]] = field(default_factory=list)  # rule, its refusal (None: took it)
    after_match: str | None = None  # the after-match rewrite that applied
    steps: list[Planned] = field(default_factory=list)  # the steps it made (none: it runs serially)


@dataclass
class Trace:
    """What the planner did with one function, pass by pass."""

    rewrites: list[tuple[str, c_ast.FuncDef | None]] = field(default_factory=list)  # None: did not apply
    loops: list[LoopTrace] = field(default_factory=list)
    whole: str | None = None  # why the whole body became one serial step, if it did


@dataclass
class _Planner:
    """Appends the steps of a body's statements in order; a statement no rule takes joins the
    serial step before it, and `why_serial` says why."""

    ctx: Analysis
    trace: Trace
    steps: list[Planned] = field(default_factory=list)
    why_serial: list[str] = field(default_factory=list)

    def plan_items(self, items: list[c_ast.Node], guard: Expr | None, after: set[str]) -> None:
        """Plan each statement of `items` under `guard`; `after` is what statements after
        `items` read."""
        for position, stmt in enumerate(items):
            live_after = after | {n for later in items[position + 1 :] for n in uses(later).ids}
            if isinstance(stmt, c_ast.Return) and is_call(stmt.expr, "success") and guard is None:
                continue
            if isinstance(stmt, c_ast.For):
                self.plan_loop(stmt, guard, live_after)
            elif isinstance(stmt, c_ast.If) and _has_loop(stmt):
                self.plan_branch(stmt, guard, live_after)
            else:
                self.add_serial(
                    stmt, guard, "a loop nested in a top-level statement other than a loop" if _has_loop(stmt) else None
                )

    def plan_loop(self, stmt: c_ast.For, guard: Expr | None, live_after: set[str]) -> None:
        """A top-level loop: the loop rewrites, the rules until one takes it, the after-match
        rewrites on its step; serial (with the general rule's refusal) if no rule takes it."""
        ctx, log = self.ctx, LoopTrace(stmt, guard)
        self.trace.loops.append(log)
        loop = stmt
        for rewrite, _ in rewrites.LOOP:
            changed = rewrite(loop, ctx, frozenset(live_after))
            log.rewrites.append((name_of(rewrite), changed))
            loop = changed or loop
        site, refusals, found = Site(stmt, loop, frozenset(live_after)), {}, None
        for rule, _ in rules.RULES:
            found = rule.match(site, ctx)
            log.tried.append((name_of(rule), found.why if isinstance(found, Refusal) else None))
            if not isinstance(found, Refusal):
                break
            refusals[rule] = found
        if isinstance(found, Refusal):
            self.add_serial(stmt, guard, refusals[rules.GENERAL].why)
            return
        for first in found.code.before:
            self.add_serial(first, guard, None)
        found = Planned(replace(found.step, guard=guard), found.code)
        log.steps = [found]
        for rewrite, _ in rewrites.AFTER_MATCH:
            split = rewrite(found, ctx)
            if split is not None:
                log.steps, log.after_match = split, name_of(rewrite)
                break
        self.steps += log.steps

    def plan_branch(self, stmt: c_ast.If, guard: Expr | None, live_after: set[str]) -> None:
        """`if (flag) {...} else {...}` with loops, on scalar arguments: each branch's steps
        under the condition or its negation (the executor picks); else the `if` is serial."""
        branch_guard = host_expr(stmt.cond, self.ctx.scalars)
        branches = [stmt.iftrue] + ([stmt.iffalse] if stmt.iffalse is not None else [])
        if branch_guard is None:
            self.add_serial(stmt, guard, "a loop inside an 'if' whose condition is not on scalar arguments alone")
        elif any(isinstance(item, c_ast.Decl) for b in branches for item in block(b)):
            self.add_serial(stmt, guard, "a loop inside an 'if' whose branches declare locals")
        else:
            self.plan_items(block(stmt.iftrue), both(guard, branch_guard), live_after)
            if stmt.iffalse is not None:
                self.plan_items(block(stmt.iffalse), both(guard, Unary("!", branch_guard)), live_after)

    def add_serial(self, stmt: c_ast.Node, guard: Expr | None, reason: str | None) -> None:
        """Append a statement to the serial step before it (or a new one), noting why."""
        steps = self.steps
        if reason:
            self.why_serial.append(f"line {stmt.coord.line}: {reason}")
        if not (steps and isinstance(steps[-1].step.form, P.Serial) and steps[-1].step.guard == guard):
            steps.append(Planned(P.Step(P.Serial(), guard=guard), Code([])))
        steps[-1].code.stmts.append(stmt)
        if reason:
            why = "; ".join(filter(None, [steps[-1].step.reason, f"line {stmt.coord.line}: {reason}"]))
            steps[-1] = Planned(replace(steps[-1].step, reason=why), steps[-1].code)


def _has_loop(node: c_ast.Node) -> bool:
    return any(isinstance(n, (c_ast.For, c_ast.While, c_ast.DoWhile)) for n in walk(node))


def plan_steps(
    func: c_ast.FuncDef, signature: Signature, trace: Trace | None = None
) -> tuple[list[Planned], list[c_ast.Decl]]:
    """The body's steps (parallel loops, count-scan-fill loops, serial runs of the rest) and the
    top-level locals that live in the spill buffer between them; `trace` (if given) records
    each pass."""
    trace = trace if trace is not None else Trace()
    for rewrite, _ in rewrites.FUNCTION:
        changed = rewrite(func, signature)
        trace.rewrites.append((name_of(rewrite), changed))
        func = changed or func
    ctx = Analysis.of(func, signature)
    stmts = func.body.block_items or []
    planner = _Planner(ctx, trace)
    planner.plan_items(stmts, None, set())
    steps, decls = planner.steps, ctx.decls
    if len(steps) == 1 and not isinstance(steps[0].step.form, P.Serial):
        pass  # one loop step: nothing to spill or fold
    elif len(steps) <= 1:
        steps, decls = [_whole(stmts, "; ".join(planner.why_serial))], []
    elif problem := _launch_problem(steps, decls):
        steps, decls, trace.whole = [_whole(stmts, problem)], [], problem
    else:
        steps = [_constant_work(found) for found in steps]
    return [_placed(found, ctx.helpers) for found in steps], decls


def _constant_work(found: Planned) -> Planned:
    """A serial step no rule was needed for: its reason says so."""
    if not isinstance(found.step.form, P.Serial) or found.step.reason:
        return found
    return Planned(replace(found.step, form=P.Serial(constant_work=True), reason=CONSTANT_WORK), found.code)


def _whole(stmts: list[c_ast.Node], reason: str) -> Planned:
    """The whole body as one serial step; with no reason, it does constant work."""
    step = P.Step(P.Serial(constant_work=not reason), reason=reason or CONSTANT_WORK)
    return Planned(step, Code(list(stmts)))


def _placed(found: Planned, helpers: dict[str, c_ast.FuncDef]) -> Planned:
    """The step with the line it starts at and, for a loop, the line of the input-sized loop each
    iteration runs."""
    first = found.code.stmts[0] if found.code.stmts else None
    line = first.coord.line if first is not None and first.coord else None
    return Planned(replace(found.step, line=line, row_loop=_row_loop(found.code, helpers)), found.code)


def _row_loop(code: Code, helpers: dict[str, c_ast.FuncDef]) -> int | None:
    """The line of an input-sized loop each iteration of a loop step runs (in its body, or the
    line of a call to a helper that loops), so the report can say a thread does a whole row's
    work; None for constant work per iteration or a serial step."""
    if code.loop is None:
        return None
    found = input_sized_loop(code.loop.stmt)
    if found is None:
        calls = (n for n in walk(code.loop.stmt) if isinstance(n, c_ast.FuncCall) and isinstance(n.name, c_ast.ID))
        found = next((c for c in calls if c.name.name in helpers and input_sized_loop(helpers[c.name.name].body)), None)
    if found is None:
        return None
    coord = found.coord or code.loop.coord
    return coord.line if coord else 0  # a loop the rules wrote without a position: line unknown


def _launch_problem(steps: list[Planned], decls: list[c_ast.Decl]) -> str | None:
    """Why the steps cannot be separate launches: top-level locals live in a spill buffer between
    them, and no step but the last may return early (a later launch would not know)."""
    for decl in decls:
        if "auto" in type_names(decl) or not type_names(decl):
            return f"local '{decl.name}' cannot be kept between launches"
    for found in steps[:-1]:
        for stmt in found.code.stmts:
            if uses(stmt).success_returns:
                return f"line {stmt.coord.line}: early return before a later loop"
    return None
