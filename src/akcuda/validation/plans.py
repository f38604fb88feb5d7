"""The plan report: for every specialization, its steps, each step's parallel width, the number of
kernel launches and of passes over the input, and why any input-sized step runs in one thread."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from akcuda import paths
from akcuda.plan.expr import Int, Unary, to_text
from akcuda.plan.model import (
    Compaction,
    CounterKind,
    Plan,
    PrivateRows,
    Role,
    Scans,
    Serial,
    Sort,
    SortRanges,
    SplitFold,
    Step,
    StepKind,
)
from akcuda.runtime import executor
from akcuda.toolchain import specs

KINDS = tuple(kind.value for kind in StepKind)
FALLBACK = Role.SERIAL  # a parallel step's launch kept for inputs whose rows overlap
ONE_THREAD = {Role.FINISH, Role.SERIAL}  # roles that do constant work (a finish) or are the fallback


def _input_sized(step: Step) -> bool:
    """A one-thread step whose work grows with the input (the translator marks constant work)."""
    return isinstance(step.form, Serial) and not step.form.constant_work


def _whole_rows(step: Step) -> bool:
    """A row-parallel step whose thread does a whole row's work (an input-sized loop in each
    iteration: a row's elements, a bin's rows, a helper's rows on private copies, a row's in-place
    compaction, a bin's rows column by column): long rows make it imbalanced, and one long bin
    makes it one thread's loop over the input, so the report names it."""
    return (
        step.row_loop is not None
        or isinstance(step.form, Compaction)
        or isinstance(step.form, PrivateRows)
        and any(c.kind in (CounterKind.COLUMNS, CounterKind.SCRATCH) for c in step.form.counters)
        or any(s.within is not None for s in step.segments)
    )


def _sort_row(step: Step) -> dict:
    """A library sort step: no launch, one pass of the array library's stable argsort (two when
    segmented); "rule" or "override" says whether the translator or the spec named it."""
    sort = step.form
    segmented = sort.ranges != SortRanges.WHOLE
    return {
        "kind": step.kind.value,
        "line": step.line,
        "width": to_text(sort.count),
        "launches": 0,
        "counters": [],
        "reason": step.reason,
        "width1_input_sized": False,
        "per_thread": "library",
        "folded": None,
        "passes": 1,
        "sort": {
            "rule": sort.rule,
            "ranges": sort.ranges.value,
            "keys": "strings" if sort.string_starts is not None else "numbers",
            "writes": sort.writes.value,
            "library": "xp.argsort(kind='stable') by key" + (", then by range" if segmented else ""),
        },
    }


def describe(plan: Plan, symbol: str) -> dict:
    """One specialization's plan, as the report shows it."""
    special = plan.specializations[symbol]
    steps, guards = [], []
    for step, roles in zip(plan.entry_of(symbol).steps, special.launches):
        if step.guard == Int(0):
            continue  # never runs for this specialization's types
        guards.append(step.guard)
        serial = isinstance(step.form, Serial)
        launched = [role for role in roles if not (role == FALLBACK and not serial)]
        fold = step.form.fold if serial else None
        if fold is not None:  # its work runs in a neighbour's launch (on its own only as a fallback)
            launched = []
        input_sized = _input_sized(step)
        if isinstance(step.form, Sort):
            steps.append(_sort_row(step))
            continue
        steps.append(
            {
                "kind": step.kind.value,
                "line": step.line,
                "width": "1" if serial else to_text(step.count),
                "launches": len(launched),
                "counters": [c.name for c in step.form.counters] if isinstance(step.form, Scans) else [],
                "reason": step.reason,
                "width1_input_sized": input_sized,
                "per_thread": "piece"
                if isinstance(step.form, SplitFold)
                else "row"
                if _whole_rows(step)
                else "iteration",
                "row_loop": step.row_loop,
                "guard": None if step.guard is None else to_text(step.guard),
                "folded": None if fold is None else fold.value,
                "passes": 0
                if serial and not input_sized
                else sum(r not in ONE_THREAD or input_sized for r in launched),
            }
        )
    return {
        "symbol": symbol,
        "kernel": plan.kernel,
        "steps": steps,
        "launches": _one_call(steps, guards, "launches"),
        "passes": _one_call(steps, guards, "passes"),
        "width1_input_sized": any(s["width1_input_sized"] for s in steps),
        "row_per_thread": any(s["per_thread"] == "row" for s in steps),
    }


def _one_call(rows: list[dict], guards: list, field: str) -> int:
    """`field` summed over the steps one call runs: of steps under a condition and steps under
    its negation (a branch's arms, a split fold and its bin loop) only the larger side counts."""
    total, sides = 0, {}
    for row, guard in zip(rows, guards):
        if guard is None:
            total += row[field]
            continue
        negated = isinstance(guard, Unary) and guard.op == "!"
        side = sides.setdefault(guard.operand if negated else guard, [0, 0])
        side[negated] += row[field]
    return total + sum(max(side) for side in sides.values())


def build(pattern: str | None = None, generated: Path | None = None) -> dict:
    """The plans report over every translated specialization matching `pattern`."""
    rows = []
    for spec, special in specs.specializations(specs.load_all()):
        if spec["status"] != "translate" or not specs.matches(pattern, spec["name"], special["symbol"]):
            continue
        rows.append(describe(executor.load_plan(spec["name"], generated), special["symbol"]))
    launches = [r["launches"] for r in rows] or [0]
    summary = {
        "specializations": len(rows),
        "width1_input_sized": sum(r["width1_input_sized"] for r in rows),
        "row_per_thread": sorted(r["symbol"] for r in rows if r["row_per_thread"]),
        "launches_median": statistics.median(launches),
        "launches_max": max(launches),
        "passes_median": statistics.median([r["passes"] for r in rows] or [0]),
        "passes_max": max([r["passes"] for r in rows] or [0]),
        "steps": {kind: sum(s["kind"] == kind for r in rows for s in r["steps"]) for kind in KINDS},
        "sorts": {r["kernel"]: s["sort"]["rule"] for r in rows for s in r["steps"] if s["kind"] == StepKind.SORT.value},
    }
    return {"summary": summary, "specializations": rows}


def write(report: dict, out_dir: Path | None = None) -> Path:
    out_dir = out_dir or paths.REPORT
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "plans.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path
