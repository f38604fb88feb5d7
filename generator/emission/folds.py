"""Stage (emit): launches a plan need not make on their own (the plan's `Serial.fold` says where
a folded step's work runs).

A constant-work one-thread step is folded into a neighbouring launch where that is provably
safe, and a scan step's finish that leaves nothing anyone reads is not made at all:

- *into the next step's first launch* (`count`, `check` or a parallel `main`), as the work of
  global thread 0 before its own iteration, when the step writes nothing that launch mentions,
  reads nothing it writes, and every local it assigns is either not mentioned there or a local
  counter that `count` starts from its neutral value anyway (those the launch does not load);
- *into the previous scan step's finish* (one thread, so the statements simply follow it);
- a *finish* whose counters are locals no later step mentions, or running sums (stored by
  every iteration already), writes nothing anyone reads.

The threads of one launch run in no fixed order (the host target shuffles them and records
which thread wrote each element), so a fold is only made where the order cannot matter. The
executor runs a folded step on its own whenever its neighbour's launch is not made (a step
skipped by its guard or its count, or run in C order instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import ids
from akcuda.generator.analysis.context import Planned
from akcuda.generator.analysis.loops import has_failure, uses
from akcuda.generator.emission.counting import rewrite
from akcuda.plan.model import Counter, CounterKind, CounterOp, Fold, Parallel, Scan, Serial

# ops whose local counter count starts from a neutral value
RESET_BY_COUNT = (CounterOp.SUM, CounterOp.MAX, CounterOp.MIN)


@dataclass(frozen=True)
class StepFold:
    """What one step's emission does beyond its own launches: `into` says where the step's own
    work runs (NEXT: thread 0 of the next step's first launch; PREVIOUS: the previous step's
    finish); `prologue` / `epilogue` are the steps whose work its first launch does first and
    its finish does last; `declared_only` the locals its first launch declares without loading
    (count resets them), `left_out` those it does not declare (the prologue assigns them, the
    launch never mentions them)."""

    into: Fold | None = None
    prologue: Planned | None = None
    epilogue: Planned | None = None
    finish: bool = True
    declared_only: frozenset[str] = frozenset()
    left_out: frozenset[str] = frozenset()


def plan_folds(steps: list[Planned], local_names: set[str]) -> list[StepFold]:
    """Per step: which constant-work steps fold into a neighbour, and whether finish is made.

    [serial `k = 0; tooffsets[0] = 0;`, scan over `tocarry[k++]`, serial `*total = k;`] ->
    step 0 into NEXT (count's thread 0 starts the offsets), step 2 into PREVIOUS (finish writes
    the total); with no last step, finish (which only moves `k` on) would not be made at all.
    """
    into: dict[int, Fold] = {}
    for k, step in enumerate(steps):
        if not _foldable(step):
            continue
        if k > 0 and _finish_hosts(steps[k - 1], step):
            into[k] = Fold.PREVIOUS
        elif k + 1 < len(steps) and _prologue_safe(step, steps[k + 1], local_names):
            into[k] = Fold.NEXT
    out = []
    for k, step in enumerate(steps):
        prologue = steps[k - 1] if into.get(k - 1) == Fold.NEXT else None
        epilogue = steps[k + 1] if into.get(k + 1) == Fold.PREVIOUS else None
        later = set().union(*(_mentioned(s) for s in steps[k + 1 :]))
        dead = (
            _plain_scan(step)
            and epilogue is None
            and all(_finished_for_nobody(c, later) for c in step.step.form.counters)
        )
        assigned = _assigned(prologue, local_names) if prologue is not None else set()
        mentioned = ids(_first_launch(step)) if prologue is not None else set()
        out.append(
            StepFold(
                into.get(k),
                prologue,
                epilogue,
                not dead,
                frozenset(assigned & mentioned),
                frozenset(assigned - mentioned),
            )
        )
    return out


def _finished_for_nobody(counter: Counter, later: set[str]) -> bool:
    """Does finish leave nothing of this counter that anyone reads? A local no later step
    mentions (but a last value, whose finish picks it), or a running sum (every iteration stored
    its own value already)."""
    local = counter.kind == CounterKind.LOCAL and counter.op != CounterOp.LAST and counter.name not in later
    return local or (counter.kind, counter.op) == (CounterKind.RUNNING, CounterOp.SUM)


def _assigned(step: Planned, local_names: set[str]) -> set[str]:
    """The top-level locals a step assigns (or declares, with its initializer)."""
    return {name for s in step.code.stmts for u in [uses(s)] for name in [*u.written_ids, *u.declared]} & local_names


def _foldable(step: Planned) -> bool:
    """A constant-work one-thread step with no failure, return or call (so no helper writes)."""
    if not (isinstance(step.step.form, Serial) and step.step.form.constant_work):
        return False
    return not any(has_failure(s) or uses(s).success_returns or uses(s).calls for s in step.code.stmts)


def _plain_scan(step: Planned) -> bool:
    """A scan step with the plain count, fill and finish launches: no nominal shares, no keys
    the executor places after finish, no private copies (PrivateRows), no in-place compaction
    (Compaction). (Where a run-time check sends it to C order instead, none of them runs, and the
    executor runs a folded neighbour alone.)"""
    form = step.step.form
    return isinstance(form, Scan) and not any(
        c.op == CounterOp.SPECULATED or c.kind == CounterKind.KEYED for c in form.counters
    )


def _finish_hosts(scan: Planned, step: Planned) -> bool:
    """Can the scan step's finish (one thread, after every fill thread) end with `step`?"""
    return _plain_scan(scan) and scan.step.guard == step.step.guard


def _checked_arrays(step: Planned) -> set[str]:
    """The arrays the executor reads before the step's first launch to check its row ranges."""
    refs = [r for seg in step.step.segments for r in (seg.starts, seg.stops, seg.counts) if r is not None]
    return {r.array for r in refs}


def _prologue_safe(step: Planned, following: Planned, local_names: set[str]) -> bool:
    """May thread 0 of `following`'s first launch do `step`'s work, in any order with the other
    threads: nothing `step` writes is mentioned there, nothing it reads is written there, and its
    locals are not read there (a local counter count resets is not loaded)."""
    if (
        following.code.loop is None
        or following.step.guard != step.step.guard
        or following.step.requires is not None
        or not (isinstance(following.step.form, Parallel) or _plain_scan(following))
    ):
        return False
    mine = [uses(s) for s in step.code.stmts]
    written = {name for u in mine for name, _, _ in u.array_writes}
    assigned = _assigned(step, local_names)
    read = set().union(*(u.ids for u in mine)) - assigned
    launched = _first_launch(following)
    theirs = uses(launched)
    their_writes = {name for name, _, _ in theirs.array_writes} | set(theirs.written_ids)
    their_writes |= {name for call in theirs.calls for name in ids(call.args)}
    mentioned = ids(launched)
    reset = set()
    if isinstance(following.step.form, Scan):
        reset = {c.name for c in following.step.form.counters if c.kind == CounterKind.LOCAL and c.op in RESET_BY_COUNT}
    independent = "?" not in written and not (written & (mentioned | _checked_arrays(following)))
    independent = independent and not (read & their_writes)
    return independent and assigned & mentioned <= reset


def _first_launch(step: Planned) -> c_ast.For:
    """The loop as the step's first launch runs it: a parallel `main` runs the loop itself;
    `count` and `check` run it with the stores count drops (only counters and shadows remain)."""
    loop, form = step.code.loop, step.step.form
    if isinstance(form, Parallel) and not form.checked:
        return loop
    variable = loop.init.decls[0].name
    counters = form.counters if isinstance(form, Scan) else ()
    body = rewrite(loop.stmt, variable, counters, "count", step.code.shadows)
    return c_ast.For(loop.init, loop.cond, loop.next, body, coord=loop.coord)


def _mentioned(step: Planned) -> set[str]:
    """Every name a step's statements (or loop) mention."""
    code = step.code
    return set().union(*(ids(s) for s in ([code.loop] if code.loop is not None else code.stmts)))
