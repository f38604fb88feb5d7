"""Plan executor: runs one specialization's plan (launches, scans, read-backs) on a target.

The same code drives the `host` target (NumPy arrays, the g++ emulation library) and the `cuda`
target (CuPy arrays, RawModule kernels), so the host run tests the plan that runs on the GPU.
A target offers `xp` (its array module), `launch`, `to_device`, `to_host` and `pointer_table`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from akcuda import paths
from akcuda import plan as plans
from akcuda.plan.ctype import base_type
from akcuda.plan.errors import NO_ERROR, ErrorSlot, KernelFailure, initial_record
from akcuda.plan.expr import evaluate
from akcuda.plan.model import Counter, CounterKind, CounterOp, Plan, Role, RowRef, Step, StepKind
from akcuda.runtime import sorting

# What every step kernel takes after the C kernel's own arguments: the error record, the
# spilled locals, the scan buffer, the iteration count and the report index.
PLAN_CTYPES = ["int64_t*", "int64_t*", "int64_t*", "int64_t", "int64_t"]


def load_plan(kernel: str, generated=None) -> Plan:
    """The kernel family's plan, read once and kept as objects."""
    return plans.load((generated or paths.GENERATED) / f"{kernel}.plan.json")


@dataclass
class _Run:
    """One specialization's run: its plan, arguments and device buffers."""

    plan: Plan
    special: dict
    values: list
    target: Any
    block: int

    def __post_init__(self) -> None:
        self.spec_plan = self.plan.specializations[self.special["symbol"]]
        self.entry = self.plan.entries[self.spec_plan.entry]
        self.names = [a["name"] for a in self.special["args"]]
        self.ctypes = [a["ctype"] for a in self.special["args"]] + PLAN_CTYPES
        self.scalars = {
            a["name"]: v for a, v in zip(self.special["args"], self.values) if base_type(a["ctype"])[1] == 0
        }
        self.err = self.target.to_device(np.array(initial_record(), dtype=np.int64))
        self.spill = self.target.to_device(np.zeros(max(1, len(self.entry.locals)), dtype=np.int64))
        self.empty = self.target.to_device(np.zeros(1, dtype=np.int64))
        self.counts: dict[int, int] = {}

    def launch(self, k: int, role: Role, grid: int, threads: int, n: int, report: int, scan=None) -> None:
        self.target.launch(
            self.plan.kernel,
            self.spec_plan.launches[k][role],
            grid,
            threads,
            [*self.values, self.err, self.spill, self.empty if scan is None else scan, n, report],
            self.ctypes,
        )

    def serial(self, k: int) -> None:
        """The step in C order, in one thread."""
        self.launch(k, Role.SERIAL if self.entry.steps[k].kind != StepKind.SERIAL else Role.MAIN, 1, 1, 1, 0)

    def array(self, name: str):
        return self.values[self.names.index(name)]

    def error_slot(self, slot: ErrorSlot) -> int:
        return int(self.target.to_host(self.err)[slot])


def combine(
    xp, scan, counters: tuple[Counter, ...], rows: int, n: int, only: CounterOp | None = None
) -> list[tuple[Counter, Any, Any]]:
    """In place, per counter (or only those with op `only`): a sum's (or a speculated counter's
    nominal) advances in row[0:n] become starting values in row[0:n+1] (exclusive scan, total
    last); a max/min reduces into row[n]; a last-value counter's flag row gets the last assigning
    iteration (or -1) at n and its row that iteration's value; a keyed counter's advances are
    scanned within each key. Returns (counter, keys, totals) per keyed counter."""
    view = scan.reshape(rows, n + 1)
    keyed = []
    for c in counters:
        if (only is not None and c.op != only) or (only is None and c.op == CounterOp.SPECULATED):
            continue
        row = view[c.row]
        if c.kind == CounterKind.KEYED:
            keys, totals = _scan_by_key(xp, row, view[c.key_row, :n], n)
            keyed.append((c, keys, totals))
        elif c.op in (CounterOp.SUM, CounterOp.SPECULATED):
            row[1:] = xp.cumsum(row[:n])
            row[0] = 0
        elif c.op in (CounterOp.MAX, CounterOp.MIN):
            row[n] = row[:n].max() if c.op == CounterOp.MAX else row[:n].min()
        elif c.op == CounterOp.LAST:
            last = view[c.flag_row, :n].max()
            view[c.flag_row, n] = last
            row[n] = row[xp.maximum(last, 0)]
    return keyed


def _scan_by_key(xp, advances, keys, n: int):
    """Exclusive scan of advances[:n] within each key, in place, in iteration order; returns the
    distinct keys and each one's total."""
    order = xp.lexsort(xp.stack([xp.arange(n), keys]))
    sorted_keys, steps = keys[order], advances[:n][order]
    inclusive = xp.cumsum(steps)
    first = xp.ones(n, dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    before = (inclusive - steps)[first]  # what the keys before this one added up to
    advances[order] = inclusive - steps - before[xp.cumsum(first) - 1]
    last = xp.ones(n, dtype=bool)
    last[:-1] = first[1:]
    return sorted_keys[last], inclusive[last] - before


def _as_nominal(run: _Run, step: Step, scan, n: int) -> bool:
    """Did every iteration before the first failing one advance each speculated counter by
    exactly its nominal share (so the positions count and fill started from were the C's)?"""
    first = min(n, run.error_slot(ErrorSlot.FIRST))
    view = scan.reshape(step.scan_rows, n + 1)
    return all(
        bool(run.target.xp.all(view[c.row, 1 : first + 1] - view[c.row, :first] == view[c.actual_row, :first]))
        for c in step.counters
        if c.op == CounterOp.SPECULATED
    )


def rows_hold(xp, step: Step, arrays: Mapping[str, Any], scalars: Mapping[str, Any], n: int) -> bool:
    """Are the rows' ranges [A[i], B[i]) (or [A[i], A[i] + C[i])) that the step's parallel form
    relies on ordered, and where it says so non-overlapping or no longer than a bound? (One
    read-back; the C reads exactly these elements.)"""
    if not step.segments:
        return True
    first = evaluate(step.first, scalars)

    def rows(ref: RowRef):
        return arrays[ref.array][first + ref.shift : first + ref.shift + n]

    for segment in step.segments:
        starts = rows(segment.starts)
        stops = rows(segment.stops) if segment.stops is not None else starts + rows(segment.counts)
        if not bool(xp.all(starts <= stops)) or (segment.disjoint and not bool(xp.all(stops[:-1] <= starts[1:]))):
            return False
        if segment.longest is not None and not bool(xp.all(stops - starts <= evaluate(segment.longest, scalars))):
            return False
    return True


def _parallel_form_holds(run: _Run, step: Step, n: int) -> bool:
    """What the data must show before the step may run in parallel (else it runs in C order)."""
    arrays = dict(zip(run.names, run.values))
    if step.requires is not None and not evaluate(step.requires, run.scalars, arrays):
        return False
    return rows_hold(run.target.xp, step, arrays, run.scalars, n)


def _run_parallel(run: _Run, k: int, step: Step, n: int, grid: int) -> None:
    if step.checked:  # finds the first failing iteration; main stops there
        run.launch(k, Role.CHECK, grid, run.block, n, -1)
    run.launch(k, Role.MAIN, grid, run.block, n, -1)


def _run_scan(run: _Run, k: int, step: Step, n: int, grid: int) -> None:
    """Count, scan (on the array library), fill and finish; C order where the data say so."""
    xp = run.target.xp
    scan = run.target.to_device(np.zeros(step.scan_rows * (n + 1), dtype=np.int64))
    speculated = any(c.op == CounterOp.SPECULATED for c in step.counters)
    if speculated:  # starting positions from the nominal shares, before count reads there
        run.launch(k, Role.NOMINAL, grid, run.block, n, -1, scan)
        combine(xp, scan, step.counters, step.scan_rows, n, only=CounterOp.SPECULATED)
    run.launch(k, Role.COUNT, grid, run.block, n, -1, scan)
    if speculated and not _as_nominal(run, step, scan, n):
        run.err[:] = run.target.to_device(np.array(initial_record(), dtype=np.int64))
        run.serial(k)  # an iteration consumed other than its share: C order
        return
    keyed = [
        (run.array(c.array), keys, totals) for c, keys, totals in combine(xp, scan, step.counters, step.scan_rows, n)
    ]
    if any(len(keys) and not (0 <= int(keys.min()) and int(keys.max()) < len(array)) for array, keys, _ in keyed):
        run.serial(k)  # a key outside its array: the C order, as it is
        return
    launches = run.spec_plan.launches[k]
    if Role.FILL in launches:
        run.launch(k, Role.FILL, grid, run.block, n, -1, scan)
    run.launch(k, Role.FINISH, 1, 1, n, -1, scan)
    if keyed and run.error_slot(ErrorSlot.ITERATION) == NO_ERROR:  # each key's count moves on by its total
        for array, keys, totals in keyed:
            array[keys] = (array[keys].astype(np.int64) + totals).astype(array.dtype)


def run(plan: Plan, special: dict, values: list, target, block: int = 256) -> KernelFailure | None:
    """Run one specialization's plan on device values (arrays already on the target)."""
    state = _Run(plan, special, values, target, block)
    for k, step in enumerate(state.entry.steps):
        if step.guard is not None and not evaluate(step.guard, state.scalars):
            continue
        if step.kind == StepKind.SORT:  # on the array library's sort: no launch
            sorting.run(target.xp, step.sort, dict(zip(state.names, state.values)), state.scalars)
            continue
        if step.kind == StepKind.SERIAL:
            state.serial(k)
            continue
        n = state.counts[k] = evaluate(step.count, state.scalars)
        if n <= 0:
            continue
        if not _parallel_form_holds(state, step, n):
            state.serial(k)  # the parallel form may not hold: keep the C order
            continue
        grid = math.ceil(n / block)
        (_run_parallel if step.kind == StepKind.PARALLEL else _run_scan)(state, k, step, n, grid)
    record = target.to_host(state.err)
    if record[ErrorSlot.ITERATION] == NO_ERROR:
        return None
    if record[ErrorSlot.MESSAGE] < 0:  # a parallel step failed: re-run its first failing iteration to report it
        failed = int(record[ErrorSlot.STEP])
        state.launch(failed, Role.MAIN, 1, 1, state.counts[failed], int(record[ErrorSlot.ITERATION]))
        record = target.to_host(state.err)
    return KernelFailure(
        plan.messages[int(record[ErrorSlot.MESSAGE])],
        int(record[ErrorSlot.IDENTITY]),
        int(record[ErrorSlot.ATTEMPT]),
        int(record[ErrorSlot.LINE]),
    )
