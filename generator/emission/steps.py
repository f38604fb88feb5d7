"""Stage (emit): the body of each plan step's kernel(s), by the step's form.

Every step kernel shares one parameter list (the C kernel's, then the error record, the spilled
locals, the scan buffer, the iteration count and the report index) so the executor launches
them all the same way. A `Serial` step runs the statements in one thread; a `Parallel` or
`SplitFold` step runs one loop iteration per thread (a checked one a check launch first); a
`Scan` step has count, fill and finish (and nominal); `PrivateRows` and `Compaction` steps
have their own launches (private_rows.py, compaction.py).

The C statements are printed by `CudaGenerator`; the scaffolding around them (locals, loop head,
counter starts and records) is one macro per launch role in `templates/steps.cu.j2`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.context import Code, Planned
from akcuda.generator.analysis.loops import has_failure, uses
from akcuda.generator.emission import compaction, private_rows
from akcuda.generator.emission.counting import rewrite
from akcuda.generator.emission.cuda_generator import CudaGenerator
from akcuda.generator.emission.folds import StepFold
from akcuda.generator.emission.render import macros
from akcuda.plan.errors import ErrorSlot
from akcuda.plan.expr import reads_memory
from akcuda.plan.model import (
    Compaction,
    Counter,
    CounterKind,
    CounterOp,
    Parallel,
    PrivateRows,
    Scans,
    Serial,
    SplitFold,
    Step,
)


@dataclass
class StepKernel:
    role: str  # "main" | "serial" | "check" | "count" | "fill" | "finish" | "nominal" | "compact" | "verify" | "copy"
    body: str


@dataclass(frozen=True)
class Local:
    """A top-level local in the spill buffer: its `T name`, its name, its slot, and whether the
    launch loads it (a counter count resets is only declared)."""

    type: str
    name: str
    slot: int
    loaded: bool = True


@dataclass(frozen=True)
class Head:
    """The per-thread loop variable: its `T name` and the loop's first value."""

    declaration: str
    start: str


def _local(gen: CudaGenerator, decl: c_ast.Decl, slot: int, loaded: bool = True) -> Local:
    """Without qualifiers or initializer: the local is assigned when it is loaded."""
    bare = copy.deepcopy(decl.type)
    node = bare
    while not isinstance(node, c_ast.TypeDecl):
        node = node.type
    node.quals = []
    return Local(gen.type_text(bare), decl.name, slot, loaded)


def _locals(gen: CudaGenerator, decls: list[c_ast.Decl], fold: StepFold | None = None) -> list[Local]:
    """The spilled locals a launch declares; with `fold` (a first launch after a prologue), less
    those it leaves out, and those count resets declared without loading."""
    fold = fold or StepFold()
    return [
        _local(gen, d, slot, d.name not in fold.declared_only)
        for slot, d in enumerate(decls)
        if d.name not in fold.left_out
    ]


def _head(gen: CudaGenerator, loop: c_ast.For) -> Head:
    decl = loop.init.decls[0]
    return Head(gen.type_text(decl.type), gen.expression(decl.init))


def _items(node: c_ast.Node) -> list[c_ast.Node]:
    return (node.block_items or []) if isinstance(node, c_ast.Compound) else [node]


def _statements(gen: CudaGenerator, node: c_ast.Node) -> list[str]:
    """A loop body's statements, each printed at the kernel body's indent."""
    return [gen.statement(s) for s in _items(node)]


def step_kernels(make_gen, found: Planned, decls: list[c_ast.Decl], fold: StepFold | None = None) -> list[StepKernel]:
    """The kernel bodies of one step; `make_gen(mode)` returns a fresh CudaGenerator; `fold`
    (folds.plan_folds) adds a folded step's work to its first launch or its finish, or drops
    a finish nobody needs."""
    fold = fold or StepFold()
    kernels = _form_kernels(make_gen, found, decls, fold)
    on_device = form_on_device(found.step, fold)
    if on_device:  # after the prologue below, which the step before needs whichever form runs
        guard = macros().form_guard(step=make_gen("plain").step, serial=False)
        kernels = [StepKernel(k.role, guard + k.body) for k in kernels]
    if fold.prologue is not None:  # thread 0 of the first launch does the step before it first
        gen = make_gen("plain")
        lead = macros().lead(
            locals=_locals(gen, decls),
            statements=[_serial_statement(gen, s) for s in fold.prologue.code.stmts],
            saved=sorted(fold.declared_only | fold.left_out),
        )
        kernels[0] = StepKernel(kernels[0].role, lead + kernels[0].body)
    if _checked_at_run_time(found.step):  # the executor runs this instead when the data do not allow the parallel form
        gen = make_gen("plain")
        code = found.code
        body = macros().serial(locals=_locals(gen, decls), statements=[gen.statement(code.serial_form or code.loop)])
        guard = macros().form_guard(step=gen.step, serial=True) if on_device else ""
        kernels.append(StepKernel("serial", guard + body))
    return kernels


def form_on_device(step: Step, fold: StepFold) -> bool:
    """Can the device pick between the step's parallel form and its C order, so that the host
    reads nothing back? It can where the form rests only on row ranges over rows the host counts
    (no segment within other rows) and a `requires` of scalars: the executor writes the range
    check's verdict into the record on the device, both forms are launched, and each form's
    kernels leave at once unless the verdict is theirs. Not where helper state (keys, cursors,
    private copies, a compaction) is checked after count, nor where a split fold's combine or a
    folded epilogue in finish relies on the parallel form having run."""
    return (
        bool(step.segments)
        and all(segment.within is None for segment in step.segments)
        and not reads_memory(step.requires)
        and not _helper_state(step.form)
        and not isinstance(step.form, PrivateRows | Compaction | SplitFold)
        and fold.epilogue is None
    )


def _helper_state(form) -> bool:
    """Does a scan keep state the executor checks after count: keys, or speculated cursors?"""
    counters = form.counters if isinstance(form, Scans) else ()
    return any(c.kind == CounterKind.KEYED or c.op == CounterOp.SPECULATED for c in counters)


def _checked_at_run_time(step: Step) -> bool:
    """Does the step's parallel form rest on something only the data tell (row ranges, bounds,
    keys inside their array, cursors consuming their shares, private copies, a compaction)?"""
    return (
        bool(step.segments)
        or step.requires is not None
        or _helper_state(step.form)
        or isinstance(step.form, PrivateRows | Compaction)
    )


def _form_kernels(make_gen, found: Planned, decls: list[c_ast.Decl], fold: StepFold) -> list[StepKernel]:
    """The launches of the step's form, each with its role."""
    step, code = found.step, found.code
    match step.form:
        case Serial():
            return [StepKernel("main", _serial(make_gen("plain"), code, decls))]
        case Parallel(checked=True):
            # a check launch finds the first failing iteration; the main launch (fill's form) stops there
            return [
                StepKernel("check", _count(make_gen("count"), code, (), decls, "check", fold)),
                StepKernel("main", _fill(make_gen("fill"), code, (), decls)),
            ]
        case Parallel() | SplitFold():
            return [StepKernel("main", _parallel(make_gen("plain"), code, decls, fold))]
        case PrivateRows() as form:
            gen = make_gen("plain")
            bodies = private_rows.step_bodies(make_gen, code.loop, form, _locals(gen, decls), _head(gen, code.loop))
            return [StepKernel(role, body) for role, body in bodies]
        case Compaction() as form:
            gen = make_gen("plain")
            bodies = compaction.step_bodies(make_gen, code, form, _locals(gen, decls), _head(gen, code.loop))
            return [StepKernel(role, body) for role, body in bodies]
    counters = step.form.counters
    kernels = [
        StepKernel("count", _count(make_gen("count"), code, counters, decls, "count", fold)),
        StepKernel("fill", _fill(make_gen("fill"), code, counters, decls)),
        StepKernel("finish", _finish(make_gen("plain"), counters, decls, fold.epilogue)),
    ]
    if not fold.finish:
        del kernels[2]
    if not _fill_needed(code, counters):
        del kernels[1]
    if any(c.op == CounterOp.SPECULATED for c in counters):
        kernels.insert(0, StepKernel("nominal", _nominal(make_gen("plain"), code, counters, decls)))
    return kernels


def _fill_needed(code: Code, counters: tuple[Counter, ...]) -> bool:
    """Does the fill launch do anything: store, report a failure, or advance a scanned counter?
    (A loop that only reduces or picks a last value is done after count and finish.)"""
    return (
        any(c.op == CounterOp.SUM for c in counters)
        or bool(uses(code.loop.stmt).array_writes)
        or has_failure(code.loop.stmt)
    )


def _serial(gen: CudaGenerator, code: Code, decls: list[c_ast.Decl]) -> str:
    statements = [_serial_statement(gen, s) for s in code.stmts]
    return macros().serial(locals=_locals(gen, decls), statements=statements)


def _serial_statement(gen: CudaGenerator, stmt: c_ast.Node) -> str:
    """A top-level local's declaration becomes an assignment: the local was loaded already."""
    if isinstance(stmt, c_ast.Decl) and gen.spilled:
        if stmt.init is None:
            return ""
        return gen.statement(c_ast.Assignment("=", c_ast.ID(stmt.name), stmt.init, coord=stmt.coord))
    return gen.statement(stmt)


def _parallel(gen: CudaGenerator, code: Code, decls: list[c_ast.Decl], fold: StepFold) -> str:
    gen.continue_returns = True  # a `continue` ends this thread's iteration
    return macros().parallel(
        locals=_locals(gen, decls, fold), head=_head(gen, code.loop), statements=_statements(gen, code.loop.stmt)
    )


def _nominal(gen: CudaGenerator, code: Code, counters: tuple[Counter, ...], decls: list[c_ast.Decl]) -> str:
    return macros().nominal(locals=_locals(gen, decls), head=_head(gen, code.loop), counters=counters)


def _count(
    gen: CudaGenerator, code: Code, counters: tuple[Counter, ...], decls: list[c_ast.Decl], role: str, fold: StepFold
) -> str:
    """Count's form (also check's): stores suppressed, `continue` skips to the records."""
    gen.continue_returns = False
    gen.continue_text = macros().next_iteration()
    body = rewrite(code.loop.stmt, _variable(code), counters, "count", code.shadows)
    return getattr(macros(), role)(
        locals=_locals(gen, decls, fold),
        head=_head(gen, code.loop),
        counters=counters,
        statements=_statements(gen, body),
    )


def _fill(gen: CudaGenerator, code: Code, counters: tuple[Counter, ...], decls: list[c_ast.Decl]) -> str:
    gen.continue_returns = True
    body = rewrite(code.loop.stmt, _variable(code), counters, "fill")
    # running sums first: one at a local counter k starts from X[k - 1] before k moves on
    order = sorted(counters, key=lambda c: c.kind != CounterKind.RUNNING)
    return macros().fill(
        locals=_locals(gen, decls),
        head=_head(gen, code.loop),
        counters=counters,
        order=order,
        statements=_statements(gen, body),
        first=ErrorSlot.FIRST.macro,
    )


def _finish(
    gen: CudaGenerator, counters: tuple[Counter, ...], decls: list[c_ast.Decl], epilogue: Planned | None
) -> str:
    """The counters' final values, then (folded in) the one-thread step after the scan."""
    after = [_serial_statement(gen, s) for s in epilogue.code.stmts] if epilogue is not None else []
    return macros().finish(
        locals=_locals(gen, decls), counters=counters, iteration=ErrorSlot.ITERATION.macro, after=after
    )


def _variable(code: Code) -> str:
    """The name of the step loop's variable."""
    return code.loop.init.decls[0].name
