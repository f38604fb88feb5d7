"""Plan executor: runs one specialization's plan (launches, scans, read-backs) on a target.

The same code drives the `host` target (NumPy arrays, the g++ emulation library) and the `cuda`
target (CuPy arrays, RawModule kernels), so the host run tests the plan that runs on the GPU.
A target offers `xp` (its array module), `bind` (a specialization's kernels, resolved once),
`to_host`, `stream`, `local` (per-thread state) and `call_scope`.

Per call the executor copies nothing to the device: the error record, the spilled locals and
the scan scratch are the stream's persistent buffers (`akcuda.runtime.buffers`). Errors come in
two modes (`Mode`): *immediate* reads the record back at the end of the call and reports the
C kernel's failure at once; *deferred* leaves each call's record on the device and
`synchronize` reports the first failing call in call order, as Awkward's cuda backend does.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from akcuda import plan as plans
from akcuda import store
from akcuda.plan import expr as E
from akcuda.plan.ctype import base_type, c_value
from akcuda.plan.errors import NO_ERROR, ErrorSlot, KernelFailure
from akcuda.plan.expr import evaluate
from akcuda.plan.model import (
    Compaction,
    Counter,
    CounterKind,
    CounterOp,
    Fold,
    Parallel,
    Plan,
    PrivateRows,
    Role,
    Scan,
    Scans,
    Segment,
    Serial,
    Sort,
    SortRanges,
    SplitFold,
    Step,
)
from akcuda.runtime import compaction, private_rows, sorting
from akcuda.runtime.buffers import RECORD, Pending, StreamBuffers, buffers_of
from akcuda.runtime.counting import Event, note, reason

# What every step kernel takes after the C kernel's own arguments: the error record, the
# spilled locals, the scan buffer, the iteration count and the report index.
PLAN_CTYPES = ["int64_t*", "int64_t*", "int64_t*", "int64_t", "int64_t"]


class Mode(str, enum.Enum):
    IMMEDIATE = "immediate"  # the call reads its record back and reports at once
    DEFERRED = "deferred"  # no read-back per call; `synchronize` reports the first failure


def load_plan(kernel: str, generated=None) -> Plan:
    """The kernel family's plan (by default the store's), read once and kept as objects."""
    return plans.load((generated or store.current().generated) / f"{kernel}.plan.json")


@dataclass(frozen=True)
class _Static:
    """What a specialization's runs share, worked out once: argument names and C types, which
    arguments are scalars, its entry and launches."""

    entry: Any
    launches: tuple
    names: tuple[str, ...]
    ctypes: tuple[str, ...]
    scalar_positions: tuple[tuple[str, int], ...]
    array_positions: tuple[int, ...]  # arguments that are one pointer (`T*`), not a table (`T**`)


# By plan object and symbol: a regenerated or differently translated plan of the same kernel is
# another object, so it never reuses a record worked out for an older one.
_statics: dict[tuple[int, str], tuple[Plan, _Static]] = {}
_statics_lock = threading.Lock()


def _static(plan: Plan, special: dict) -> _Static:
    key = (id(plan), special["symbol"])
    found = _statics.get(key)
    if found is not None and found[0] is plan:
        return found[1]
    spec_plan = plan.specializations[special["symbol"]]
    args = special["args"]
    static = _Static(
        plan.entry_of(special["symbol"]),
        spec_plan.launches,
        tuple(a["name"] for a in args),
        tuple(a["ctype"] for a in args) + tuple(PLAN_CTYPES),
        tuple((a["name"], k) for k, a in enumerate(args) if base_type(a["ctype"])[1] == 0),
        tuple(k for k, a in enumerate(args) if base_type(a["ctype"])[1] == 1),
    )
    with _statics_lock:
        _statics[key] = (plan, static)  # holding the plan keeps its id from being reused
    return static


def needs_read_back(entry) -> list[str]:
    """Why a specialization's plan reads data back in the middle of a call, whatever the error
    mode (empty: it needs no read-back by its nature): row ranges or bounds only the data show,
    cursors checked against their shares, keys placed within their array."""
    why = []
    for step in entry.steps:
        if step.segments and not step.form_on_device:
            why.append("row ranges checked before the parallel form")
        if step.requires is not None and E.reads_memory(step.requires):
            why.append("a bound read from an array before the parallel form")
        counters = step.form.counters if isinstance(step.form, Scans) else ()
        if any(c.op == CounterOp.SPECULATED for c in counters):
            why.append("cursors checked against their nominal shares")
        if any(c.kind == CounterKind.KEYED for c in counters):
            why.append("keys checked to lie within their array")
        if isinstance(step.form, Compaction):
            why.append("an in-place compaction's length and reads checked")
        if isinstance(step.form, PrivateRows):
            why.append("private copies checked after count")
        if isinstance(step.form, Sort) and step.form.ranges == SortRanges.OFFSETS:
            why.append("a sort's ranges checked for overlap")
        if isinstance(step.form, Sort) and step.form.string_starts is not None:
            why.append("string lengths, for the sort's passes")
    return list(dict.fromkeys(why))


class _Reads(Mapping):
    """Arrays for `evaluate`: each element it reads is a read-back."""

    def __init__(self, arrays: Mapping[str, Any]):
        self._arrays = arrays

    def __getitem__(self, name: str):
        reason("a bound read from an array")
        return self._arrays[name]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


def bind(plan: Plan, special: dict, target) -> tuple:
    """One specialization's launchers on `target`, resolved now (a call resolves them on first use)."""
    return target.bind(plan, special["symbol"], _static(plan, special).ctypes)


def as_c_sees(static: _Static, values: list, adopt=lambda array: array) -> list:
    """The arguments as the C kernel sees them: every array a flat view of its elements (a 2-D
    NumPy or CuPy array is one pointer to them all), every scalar converted to its parameter's
    type as a C call converts it (modulo 2^bits for integers)."""
    values = list(values)
    for k in static.array_positions:
        if getattr(values[k], "ndim", 1) != 1:
            values[k] = values[k].reshape(-1)
        if hasattr(values[k], "ndim"):
            values[k] = adopt(values[k])
    for _, k in static.scalar_positions:
        values[k] = c_value(base_type(static.ctypes[k])[0], values[k])
    return values


class _Run:
    """One call: its plan, arguments, the record and locals it uses."""

    def __init__(self, plan: Plan, special: dict, values: list, target, block: int, err, spill, buffers, mode: Mode):
        self.plan = plan
        self.mode = mode
        self.static = _static(plan, special)
        self.entry = self.static.entry
        self.values = as_c_sees(self.static, values, target.adopt)
        self.target = target
        self.block = block
        self.kernels = target.bind(plan, special["symbol"], self.static.ctypes)
        self.scalars = {name: self.values[k] for name, k in self.static.scalar_positions}
        self.err, self.spill, self.buffers = err, spill, buffers
        # what the kernels get: every pointer valid for the reads the C makes, an empty array's too
        self.pointers = list(self.values)
        for k in self.static.array_positions:
            if getattr(self.values[k], "size", 1) == 0:
                self.pointers[k] = buffers.pad
        self.finished: int | None = None  # the last scan step whose finish was launched

    def launch(self, k: int, role: Role, grid: int, threads: int, n: int, report: int, scan=None) -> None:
        scan = self.spill if scan is None else scan  # a step without counters reads no scan row
        self.kernels[k][role](grid, threads, [*self.pointers, self.err, self.spill, scan, n, report])

    def serial(self, k: int) -> None:
        """The step in C order, in one thread."""
        self.launch(k, Role.MAIN if isinstance(self.entry.steps[k].form, Serial) else Role.SERIAL, 1, 1, 1, 0)

    def array(self, name: str):
        return self.values[self.static.names.index(name)]

    def error_slot(self, slot: ErrorSlot, why: str) -> int:
        reason(why)
        return int(self.target.to_host(self.err[slot : slot + 1])[0])

    def read_bool(self, value, why: str) -> bool:
        reason(why)
        return bool(value)

    def failed_before(self) -> bool:
        """Deferred: did an earlier call on this stream fail, so that this call's launches did
        nothing and its scratch holds no sizes to trust? (One read-back; immediate: never.)"""
        if self.mode != Mode.DEFERRED:
            return False
        reason("the stream's failure word, before sizing from the data")
        word = int(self.target.to_host(self.buffers.failed)[0])
        return word not in (0, self.target.address(self.err))


def combine(
    xp, scan, counters: tuple[Counter, ...], rows: int, n: int, only: CounterOp | None = None
) -> list[tuple[Counter, Any, Any]]:
    """In place, per counter (or only those with op `only`): a sum's (or a speculated counter's
    nominal) advances in row[0:n] are scanned inclusively in place (an iteration starts at the
    entry before its own, the total is row[n-1]); a max/min reduces into row[n]; a last-value
    counter's flag row gets the last assigning iteration (or -1) at n and its row that
    iteration's value; a keyed counter's advances are scanned, exclusively, within each key.
    Returns (counter, keys, totals) per keyed counter."""
    view = scan.reshape(rows, n + 1)
    keyed = []
    for c in counters:
        if (only is not None and c.op != only) or (only is None and c.op == CounterOp.SPECULATED):
            continue
        if c.kind == CounterKind.SCRATCH:  # private_rows.prepare made its row
            continue
        row = view[c.row]
        if c.kind == CounterKind.KEYED:
            keys, totals = _scan_by_key(xp, row, view[c.key_row, :n], n)
            keyed.append((c, keys, totals))
        elif c.op in (CounterOp.SUM, CounterOp.SPECULATED):
            xp.cumsum(row[:n], out=row[:n])
            note(Event.LIBRARY)
        elif c.op in (CounterOp.MAX, CounterOp.MIN):
            (xp.max if c.op == CounterOp.MAX else xp.min)(row[:n], out=row[n:].reshape(()))
            note(Event.LIBRARY)
        elif c.op == CounterOp.LAST:
            flags = view[c.flag_row]
            xp.max(flags[:n], out=flags[n:].reshape(()))
            # an earlier failed step may leave the flags unset: stay inside the row
            xp.take(row, xp.clip(flags[n:], 0, n - 1), out=row[n:])
            note(Event.LIBRARY, 3)
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
    note(Event.LIBRARY, 16)
    reason("distinct keys (boolean selections)")
    return sorted_keys[last], inclusive[last] - before


def _as_nominal(run: _Run, step: Step, scan, n: int) -> bool:
    """Did every iteration before the first failing one advance each speculated counter by
    exactly its nominal share (so the positions count and fill started from were the C's)?"""
    first = min(n, run.error_slot(ErrorSlot.FIRST, "cursors checked against their nominal shares"))
    view = scan.reshape(step.form.scan_rows, n + 1)
    xp = run.target.xp
    for c in step.form.counters:
        if c.op != CounterOp.SPECULATED or first == 0:
            continue
        ends = view[c.row, :first]  # inclusive scan: where each iteration's share ends
        starts = xp.concatenate([xp.zeros(1, dtype=ends.dtype), ends[:-1]])
        note(Event.LIBRARY, 4)
        if not run.read_bool(xp.all(ends - starts == view[c.actual_row, :first]), "cursors against their shares"):
            return False
    return True


def _ranges(segment: Segment, arrays: Mapping[str, Any], first: int, n: int):
    """(starts, stops) of rows first .. first + n - 1, None where an array is too short."""
    starts = arrays[segment.starts.array][first + segment.starts.shift :][:n]
    ref = segment.stops or segment.counts
    ends = arrays[ref.array][first + ref.shift :][:n]
    if len(starts) < n or len(ends) < n or first + min(segment.starts.shift, ref.shift) < 0:
        return None
    return starts, ends if segment.stops is not None else starts + ends


def _segment_tests(segment: Segment, arrays: Mapping[str, Any], scalars: Mapping[str, Any], first: int, n: int):
    """Lazily, what rows first .. first + n - 1 of one segment must show, each a boolean array to
    hold everywhere: ordered, where it says so disjoint, no longer than a bound; a single False
    where an array is too short (the host knows that without reading anything)."""
    found = _ranges(segment, arrays, first, n)
    if found is None:
        yield False
        return
    starts, stops = found
    yield starts <= stops
    if segment.disjoint:
        yield stops[:-1] <= starts[1:]
    if segment.longest is not None:
        yield stops - starts <= evaluate(segment.longest, scalars)


def rows_hold(xp, step: Step, arrays: Mapping[str, Any], scalars: Mapping[str, Any], n: int) -> bool:
    """Are the rows' ranges [A[i], B[i]) (or [A[i], A[i] + C[i])) that the step's parallel form
    relies on ordered, and where it says so non-overlapping or no longer than a bound? Rows are
    the step's iterations, or those its iterations' ranges hold (`Segment.within`, over
    `within_rows` of its rows). (One
    read-back per test; the C reads exactly these elements.)"""
    if not step.segments:
        return True
    first = evaluate(step.first, scalars)

    def holds(test) -> bool:
        if test is False:
            return False
        note(Event.LIBRARY, 2)
        reason("row ranges checked before the parallel form")
        return bool(xp.all(test))

    def segment_holds(segment: Segment, first: int, n: int) -> bool:
        return all(holds(test) for test in _segment_tests(segment, arrays, scalars, first, n))

    for segment in step.segments:
        if segment.within is None:
            if not segment_holds(segment, first, n):
                return False
            continue
        rows = n if segment.within_rows is None else max(0, evaluate(segment.within_rows, scalars))
        if not segment_holds(segment.within, first, rows):
            return False
        if rows == 0:
            continue
        starts, stops = _ranges(segment.within, arrays, first, rows)
        reason("row ranges checked before the parallel form")
        lo, hi = int(starts[0]), int(stops[-1])
        if not segment_holds(segment, lo, hi - lo):
            return False
    return True


def _refused_on_device(run: _Run, k: int, step: Step, n: int) -> bool:
    """For a step whose form the device picks: False where the host already knows the parallel
    form does not hold (a scalar `requires` false, an array too short); else True, having set
    bit k of the record's FORM slot, on the device and without reading anything back, where
    the rows' ranges do not hold (the parallel form's kernels then leave, the serial one runs)."""
    if step.requires is not None and not evaluate(step.requires, run.scalars):
        return False
    arrays = dict(zip(run.static.names, run.values))
    first = evaluate(step.first, run.scalars)
    tests = [test for s in step.segments for test in _segment_tests(s, arrays, run.scalars, first, n)]
    if any(test is False for test in tests):
        return False
    xp = run.target.xp
    held = xp.stack([xp.all(test) for test in tests]).all()
    form = run.err[ErrorSlot.FORM : ErrorSlot.FORM + 1]
    form |= xp.where(held, 0, 1 << k)
    note(Event.LIBRARY, 2 * len(tests) + 4)  # each test and its all; stack, all, where, or
    return True


def _parallel_form_holds(run: _Run, step: Step, n: int) -> bool:
    """What the data must show before the step may run in parallel (else it runs in C order)."""
    arrays = dict(zip(run.static.names, run.values))
    if step.requires is not None and not evaluate(step.requires, run.scalars, _Reads(arrays)):
        return False
    return rows_hold(run.target.xp, step, arrays, run.scalars, n)


def _run_parallel(run: _Run, k: int, step: Step, n: int, grid: int) -> None:
    form, scan = step.form, None
    if isinstance(form, Parallel) and form.checked:  # finds the first failing iteration; main stops there
        run.launch(k, Role.CHECK, grid, run.block, n, -1)
    if isinstance(form, SplitFold):
        # the pieces leave their results in the scan buffer for the combine step after them (the
        # same size: never grown in between)
        scan = run.buffers.scan_for(evaluate(form.partials, run.scalars))
    run.launch(k, Role.MAIN, grid, run.block, n, -1, scan)


def _run_scan(run: _Run, k: int, step: Step, n: int, grid: int) -> None:
    """Count, scan (on the array library), fill and finish; C order where the data say so."""
    xp, form = run.target.xp, step.form
    scan = run.buffers.scan_for(form.scan_rows * (n + 1))
    speculated = any(c.op == CounterOp.SPECULATED for c in form.counters)
    if speculated:  # starting positions from the nominal shares, before count reads there
        run.launch(k, Role.NOMINAL, grid, run.block, n, -1, scan)
        combine(xp, scan, form.counters, form.scan_rows, n, only=CounterOp.SPECULATED)
    run.launch(k, Role.COUNT, grid, run.block, n, -1, scan)
    if speculated and not _as_nominal(run, step, scan, n):
        run.buffers.reset(run.err)
        run.serial(k)  # an iteration consumed other than its share: C order
        return
    if not private_rows.prepare(xp, step, scan, n):
        run.serial(k)  # an iteration broke its private form: C order
        return
    keyed = [
        (run.array(c.array), keys, totals) for c, keys, totals in combine(xp, scan, form.counters, form.scan_rows, n)
    ]
    if keyed:
        reason("keys checked to lie within their array")
    if any(len(keys) and not (0 <= int(keys.min()) and int(keys.max()) < len(array)) for array, keys, _ in keyed):
        run.serial(k)  # a key outside its array: the C order, as it is
        return
    launches = run.static.launches[k]
    if Role.FILL in launches:
        run.launch(k, Role.FILL, grid, run.block, n, -1, scan)
    if Role.FINISH in launches:  # not made where it leaves nothing anyone reads
        run.launch(k, Role.FINISH, 1, 1, n, -1, scan)
        run.finished = k
    if keyed and run.error_slot(ErrorSlot.ITERATION, "keys checked to lie within their array") == NO_ERROR:
        for array, keys, totals in keyed:  # each key's count moves on by its total
            array[keys] = (array[keys].astype(np.int64) + totals).astype(array.dtype)


def _steps(state: _Run) -> None:
    """Each step in order. A step folded into the next step's first launch (`Fold.NEXT`) runs
    there, or on its own when that launch is not made; one folded into the previous scan step's
    finish (`Fold.PREVIOUS`) runs on its own unless that finish was launched."""
    lead = None  # a folded step waiting for the next step's first launch
    for k, step in enumerate(state.entry.steps):
        match step.form:
            case Serial(fold=Fold.PREVIOUS):
                if state.finished != k - 1 and (step.guard is None or evaluate(step.guard, state.scalars)):
                    state.serial(k)
            case Serial(fold=Fold.NEXT):
                lead = k
            case _:
                _launch_step(state, k, step, lead)
                lead = None


def _launch_step(state: _Run, k: int, step: Step, lead: int | None) -> None:
    """Run one step; `lead` (a step folded into its first launch) runs on its own first wherever
    that launch is not made."""

    def alone() -> None:
        guard = None if lead is None else state.entry.steps[lead].guard
        if lead is not None and (guard is None or evaluate(guard, state.scalars)):
            state.serial(lead)

    if step.guard is not None and not evaluate(step.guard, state.scalars):
        alone()
        return
    if isinstance(step.form, Sort):  # on the array library's sort: no launch
        alone()
        if step.form.string_starts is not None and state.failed_before():
            return  # string sizes come from the data, which a failed call before this one left unset
        sorting.run(state.target.xp, step.form, dict(zip(state.static.names, state.values)), state.scalars)
        return
    if isinstance(step.form, Serial):
        alone()
        state.serial(k)
        return
    n = evaluate(step.count, state.scalars)
    # rows counted apart from the iterations may need the C order even for no iteration
    if n <= 0 and not any(s.within_rows is not None for s in step.segments):
        alone()
        return
    on_device = step.form_on_device  # never rows within rows: n > 0 here
    if not (_refused_on_device(state, k, step, n) if on_device else _parallel_form_holds(state, step, n)):
        alone()
        state.serial(k)  # the parallel form may not hold: keep the C order
        return
    if n <= 0:
        alone()
        return
    grid = math.ceil(n / state.block)
    match step.form:
        case Compaction():
            compaction.run(state, k, step, n, grid)
        case Scan() | PrivateRows():
            _run_scan(state, k, step, n, grid)
        case _:
            _run_parallel(state, k, step, n, grid)
    if on_device:
        state.serial(k)  # leaves at once unless the device refused the parallel form


def failure_of(messages: tuple[str, ...], record: np.ndarray) -> KernelFailure | None:
    """The C kernel's failure from a call's record (None if it succeeded). The record is complete
    at the end of every call: a failing iteration that knows it is the first writes message,
    identity and attempt itself (fill, a checked step's main, a one-thread serial launch)."""
    if record[ErrorSlot.ITERATION] == NO_ERROR:
        return None
    if record[ErrorSlot.MESSAGE] < 0:
        raise RuntimeError(f"an incomplete error record (no message): {record.tolist()}")
    return KernelFailure(
        messages[int(record[ErrorSlot.MESSAGE])],
        int(record[ErrorSlot.IDENTITY]),
        int(record[ErrorSlot.ATTEMPT]),
        int(record[ErrorSlot.LINE]),
    )


def run(
    plan: Plan,
    special: dict,
    values: list,
    target,
    block: int = 256,
    mode: Mode = Mode.IMMEDIATE,
    context: Any = None,
) -> KernelFailure | None:
    """Run one specialization's plan on device values (arrays already on the target). Immediate:
    the C kernel's failure, or None. Deferred: None; the call's record waits for `synchronize`
    (with `context`, whatever the caller needs to raise the failure)."""
    scope = getattr(target, "call_scope", None)
    with scope() if scope else nullcontext():
        buffers = buffers_of(target)
        locals_ = len(_static(plan, special).entry.locals)
        if mode == Mode.DEFERRED:
            chunk, row, err, spill = buffers.deferred_slot(locals_)
            _steps(_Run(plan, special, values, target, block, err, spill, buffers, mode))
            buffers.pending.append(Pending(plan.messages, chunk, row, context))
            return None
        state = _Run(plan, special, values, target, block, buffers.err, buffers.spill_for(locals_), buffers, mode)
        _steps(state)
        reason("the error record")
        record = target.to_host(state.err)
        untouched = record[ErrorSlot.ITERATION] == NO_ERROR and record[ErrorSlot.FIRST] == NO_ERROR
        if untouched and not record[ErrorSlot.FORM]:
            return None  # nothing wrote the record: it is still the initial one
        failure = failure_of(plan.messages, record)
        buffers.reset(state.err)
        if failure is not None:
            buffers.clear_failure()
        return failure


def pending(target) -> int:
    """Deferred calls on this thread's current stream not yet synchronized."""
    return len(buffers_of(target).pending)


def synchronize(target) -> tuple[KernelFailure, Any] | None:
    """Check every deferred call of this thread's current stream, in call order (one read-back
    per chunk of records): the first failure and its call's context, or None. The records are
    ready for the next calls afterwards."""
    buffers: StreamBuffers = buffers_of(target)
    if not buffers.pending:
        return None
    reason("the deferred error records")
    records = [target.to_host(chunk).reshape(-1, RECORD) for chunk in buffers.chunks]
    found = None
    for call in buffers.pending:
        failure = failure_of(call.messages, records[call.chunk][call.row])
        if failure is not None:
            found = (failure, call.context)
            break
    dirty = any(
        bool((r[:, [ErrorSlot.ITERATION, ErrorSlot.FIRST]] != NO_ERROR).any() or r[:, ErrorSlot.FORM].any())
        for r in records
    )
    buffers.drain()
    if dirty:
        for chunk in buffers.chunks:
            buffers.reset(chunk)
    if found is not None:
        buffers.clear_failure()
    return found
