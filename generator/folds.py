"""Stage (analysis -> emit): launches a plan need not make on their own.

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

from akcuda.generator.analyze import Step, has_failure
from akcuda.generator.ast_util import ids
from akcuda.generator.counters import rewrite
from akcuda.generator.loops import uses

NEXT, PREVIOUS = "next", "previous"
RESET_BY_COUNT = ("sum", "max", "min")  # ops whose local counter count starts from a neutral value


@dataclass(frozen=True)
class StepFold:
    """What one step's emission does beyond its own launches: `into` says where the step's own
    work runs (NEXT: thread 0 of the next step's first launch; PREVIOUS: the previous step's
    finish); `prologue` / `epilogue` are the steps whose work its first launch does first and
    its finish does last; `declared_only` the locals its first launch declares without loading
    (count resets them), `left_out` those it does not declare (the prologue assigns them, the
    launch never mentions them)."""

    into: str | None = None
    prologue: Step | None = None
    epilogue: Step | None = None
    finish: bool = True
    declared_only: frozenset[str] = frozenset()
    left_out: frozenset[str] = frozenset()


def plan_folds(steps: list[Step], local_names: set[str]) -> list[StepFold]:
    """Per step: which constant-work steps fold into a neighbour, and whether finish is made.

    [serial `k = 0; tooffsets[0] = 0;`, scan over `tocarry[k++]`, serial `*total = k;`] ->
    step 0 into NEXT (count's thread 0 starts the offsets), step 2 into PREVIOUS (finish writes
    the total); with no last step, finish (which only moves `k` on) would not be made at all.
    """
    into: dict[int, str] = {}
    for k, step in enumerate(steps):
        if not _foldable(step):
            continue
        if k > 0 and _finish_hosts(steps[k - 1], step):
            into[k] = PREVIOUS
        elif k + 1 < len(steps) and _prologue_safe(step, steps[k + 1], local_names):
            into[k] = NEXT
    out = []
    for k, step in enumerate(steps):
        prologue = steps[k - 1] if into.get(k - 1) == NEXT else None
        epilogue = steps[k + 1] if into.get(k + 1) == PREVIOUS else None
        later = set().union(*(_mentioned(s) for s in steps[k + 1 :]))
        dead = _plain_scan(step) and epilogue is None and all(_finished_for_nobody(c, later) for c in step.counters)
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


def _finished_for_nobody(counter, later: set[str]) -> bool:
    """Does finish leave nothing of this counter that anyone reads? A local no later step
    mentions, or a running sum (every iteration stored its own value already)."""
    return (counter.kind == "local" and counter.name not in later) or (counter.kind, counter.op) == ("running", "sum")


def _assigned(step: Step, local_names: set[str]) -> set[str]:
    """The top-level locals a step assigns (or declares, with its initializer)."""
    return {name for s in step.stmts for u in [uses(s)] for name in [*u.written_ids, *u.declared]} & local_names


def _foldable(step: Step) -> bool:
    """A constant-work one-thread step with no failure, return or call (so no helper writes)."""
    if step.kind != "serial" or not step.constant_work:
        return False
    return not any(has_failure(s) or uses(s).success_returns or uses(s).calls for s in step.stmts)


def _plain_scan(step: Step) -> bool:
    """A scan step with the plain count, fill and finish launches: no nominal shares, no keys
    the executor places after finish, no private copies, no in-place compaction. (Where a run-time check sends it to
    C order instead, none of them runs, and the executor runs a folded neighbour alone.)"""
    return (
        step.kind == "scan"
        and step.private is None
        and step.compaction is None
        and not any(c.op == "speculated" or c.kind == "keyed" for c in step.counters)
    )


def _finish_hosts(scan: Step, step: Step) -> bool:
    """Can the scan step's finish (one thread, after every fill thread) end with `step`?"""
    return _plain_scan(scan) and scan.guard == step.guard


def _checked_arrays(step: Step) -> set[str]:
    """The arrays the executor reads before the step's first launch to check its row ranges."""
    refs = [r for seg in step.segments for r in (seg.starts, seg.stops, seg.counts) if r is not None]
    return {r.array for r in refs}


def _prologue_safe(step: Step, following: Step, local_names: set[str]) -> bool:
    """May thread 0 of `following`'s first launch do `step`'s work, in any order with the other
    threads: nothing `step` writes is mentioned there, nothing it reads is written there, and its
    locals are not read there (a local counter count resets is not loaded)."""
    if (
        following.loop is None
        or following.guard != step.guard
        or following.requires is not None
        or not (following.kind == "parallel" or _plain_scan(following))
    ):
        return False
    mine = [uses(s) for s in step.stmts]
    written = {name for u in mine for name, _, _ in u.array_writes}
    assigned = _assigned(step, local_names)
    read = set().union(*(u.ids for u in mine)) - assigned
    launched = _first_launch(following)
    theirs = uses(launched)
    their_writes = {name for name, _, _ in theirs.array_writes} | set(theirs.written_ids)
    their_writes |= {name for call in theirs.calls for name in ids(call.args)}
    mentioned = ids(launched)
    reset = {c.name for c in following.counters if c.kind == "local" and c.op in RESET_BY_COUNT}
    if following.kind == "parallel":
        reset = set()
    independent = "?" not in written and not (written & (mentioned | _checked_arrays(following)))
    independent = independent and not (read & their_writes)
    return independent and assigned & mentioned <= reset


def _first_launch(step: Step) -> c_ast.For:
    """The loop as the step's first launch runs it: a parallel `main` runs the loop itself;
    `count` and `check` run it with the stores count drops (only counters and shadows remain)."""
    loop = step.loop
    if step.kind == "parallel" and not step.checked:
        return loop
    variable = loop.init.decls[0].name
    body = rewrite(loop.stmt, variable, step.counters, "count", step.shadows)
    return c_ast.For(loop.init, loop.cond, loop.next, body, coord=loop.coord)


def _mentioned(step: Step) -> set[str]:
    """Every name a step's statements (or loop) mention."""
    return set().union(*(ids(s) for s in ([step.loop] if step.loop is not None else step.stmts)))
