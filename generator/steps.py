"""Stage (emit): the body of each plan step's kernel(s).

Every step kernel shares one parameter list (the C kernel's, then the error record, the spilled
locals, the scan buffer, the iteration count and the report index) so the executor launches
them all the same way. A serial step runs the statements in one thread; a parallel step runs one
loop iteration per thread; a scan step has three kernels: count, fill and finish.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analyze import Step, has_failure
from akcuda.generator.loops import uses
from akcuda.generator.counters import rewrite
from akcuda.generator.cuda_generator import CudaGenerator


@dataclass
class StepKernel:
    role: str      # "main" | "count" | "fill" | "finish"
    body: str


def _declaration(gen: CudaGenerator, decl: c_ast.Decl) -> str:
    """`T name` of a top-level local, without qualifiers or initializer."""
    bare = copy.deepcopy(decl.type)
    node = bare
    while not isinstance(node, c_ast.TypeDecl):
        node = node.type
    node.quals = []
    return gen._generate_type(bare)


def _load_locals(gen: CudaGenerator, decls: list[c_ast.Decl]) -> str:
    return "".join(f"  {_declaration(gen, d)}; akc_load(&{d.name}, &akc_locals[{k}]);\n"
                   for k, d in enumerate(decls))


def _save_locals(decls: list[c_ast.Decl]) -> str:
    return "".join(f"  akc_save(&akc_locals[{k}], &{d.name});\n" for k, d in enumerate(decls))


def _loop_head(gen: CudaGenerator, loop: c_ast.For) -> str:
    decl = loop.init.decls[0]
    return f"  {gen._generate_type(decl.type)} = ({gen._visit_expr(decl.init)}) + akc_tid;\n"


def _items(node: c_ast.Node) -> list[c_ast.Node]:
    return (node.block_items or []) if isinstance(node, c_ast.Compound) else [node]


def step_kernels(make_gen, step: Step, decls: list[c_ast.Decl]) -> list[StepKernel]:
    """The kernel bodies of one step; `make_gen(mode)` returns a fresh CudaGenerator."""
    kernels = _parallel_kernels(make_gen, step, decls)
    if _checked_at_run_time(step):  # the executor runs this instead when the data do not allow the parallel form
        gen = make_gen("plain")
        kernels.append(StepKernel("serial", _load_locals(gen, decls) + gen._generate_stmt(step.serial_form or step.loop)
                                  + _save_locals(decls)))
    return kernels


def _checked_at_run_time(step: Step) -> bool:
    """Does the step's parallel form rest on something only the data tell (row ranges, bounds,
    keys inside their array, cursors consuming their shares)?"""
    return bool(step.segments) or step.requires is not None or any(
        c.kind == "keyed" or c.op == "speculated" for c in step.counters)


def _parallel_kernels(make_gen, step: Step, decls: list[c_ast.Decl]) -> list[StepKernel]:
    if step.kind == "serial":
        gen = make_gen("plain")
        body = "".join(_serial_statement(gen, s) for s in step.stmts)
        return [StepKernel("main", _load_locals(gen, decls) + body + _save_locals(decls))]
    if step.kind == "parallel" and step.checked:
        # a check launch finds the first failing iteration; the main launch stops there
        check, main = _count(make_gen("count"), step, decls), _fill(make_gen("fill"), step, decls)
        return [StepKernel("check", check.body), StepKernel("main", main.body)]
    if step.kind == "parallel":
        gen = make_gen("plain")
        gen.continue_returns = True
        body = "".join(gen._generate_stmt(s) for s in _items(step.loop.stmt))
        return [StepKernel("main", _load_locals(gen, decls) + _loop_head(gen, step.loop) + body)]
    kernels = [_count(make_gen("count"), step, decls), _fill(make_gen("fill"), step, decls),
               _finish(make_gen("plain"), step, decls)]
    if not _fill_needed(step):
        del kernels[1]
    if any(c.op == "speculated" for c in step.counters):
        kernels.insert(0, _nominal(make_gen("plain"), step, decls))
    return kernels


def _nominal(gen: CudaGenerator, step: Step, decls: list[c_ast.Decl]) -> StepKernel:
    """Each iteration's nominal share of every speculated counter, computed up front."""
    shares = "".join(f"  {_slot(k)} = (int64_t)({c.base});\n" for k, c in enumerate(step.counters)
                     if c.op == "speculated")
    return StepKernel("nominal", _load_locals(gen, decls) + _loop_head(gen, step.loop) + shares)


def _fill_needed(step: Step) -> bool:
    """Does the fill launch do anything: store, report a failure, or advance a scanned counter?
    (A loop that only reduces or picks a last value is done after count and finish.)"""
    return (any(c.op == "sum" for c in step.counters) or bool(uses(step.loop.stmt).array_writes)
            or has_failure(step.loop.stmt))


def _serial_statement(gen: CudaGenerator, stmt: c_ast.Node) -> str:
    """A top-level local's declaration becomes an assignment: the local was loaded already."""
    if isinstance(stmt, c_ast.Decl) and gen.spilled:
        if stmt.init is None:
            return ""
        return f"  {stmt.name} = {gen._visit_expr(stmt.init)};\n"
    return gen._generate_stmt(stmt)


def _slot(counter_index: int) -> str:
    return f"akc_scan[{counter_index} * (akc_n + 1) + akc_tid]"


def _count(gen: CudaGenerator, step: Step, decls: list[c_ast.Decl]) -> StepKernel:
    """Run the iteration with stores suppressed; record how far each counter advanced."""
    var = step.loop.init.decls[0].name
    initial = {"sum": "0", "max": "AKC_INT64_MIN", "min": "AKC_INT64_MAX", "seen": "-1"}
    start = "".join(f"  {c.name} = {initial[c.op]};\n" if c.kind == "local" else
                    f"  int64_t {c.name} = {initial[c.op]};\n" for c in step.counters if c.op in initial)
    # a speculated counter starts where the scanned nominal shares put it
    start += "".join(f"  {c.name} = {c.name} + {_slot(k)};\n  const int64_t akc_from{k} = {c.name};\n"
                     for k, c in enumerate(step.counters) if c.op == "speculated")
    gen.continue_returns = False
    gen.continue_text = "goto akc_next;"
    body = rewrite(step.loop.stmt, var, step.counters, "count", step.shadows)
    text = "".join(gen._generate_stmt(s) for s in _items(body))
    record = "".join(f"  {_slot(k)} = (int64_t)({_recorded(step, k)});\n"
                     for k, c in enumerate(step.counters) if c.op != "speculated")
    return StepKernel("count", _load_locals(gen, decls) + start + _loop_head(gen, step.loop)
                      + "  {\n" + text + "  }\n  akc_next:;\n" + record)


def _recorded(step: Step, k: int) -> str:
    """What count leaves in counter k's row: its advance (or value); for a keyed counter's key
    row the key; for a speculated counter's row of actual advances, how far it really went."""
    counter = step.counters[k]
    if counter.op == "key":
        return counter.base
    if counter.op == "actual":
        return f"{step.counters[k - 1].name} - akc_from{k - 1}"
    return counter.name


def _fill(gen: CudaGenerator, step: Step, decls: list[c_ast.Decl]) -> StepKernel:
    """Run the iteration again from the scanned starting values, now storing."""
    loop = step.loop
    var = loop.init.decls[0].name
    start = []
    # running sums first: one at a local counter k starts from X[k - 1] before k moves on
    for k, c in sorted(enumerate(step.counters), key=lambda kc: kc[1].kind != "running"):
        if c.op not in ("sum", "speculated"):
            continue  # a running extremum is written once, by the finish launch
        if c.kind == "local":
            start.append(f"  {c.name} = {c.name} + {_slot(k)};\n")
        elif c.kind == "memory":
            start.append(f"  auto {c.name} = ({c.place}) + {_slot(k)};\n")
        elif c.kind == "keyed":  # the executor scanned within each key
            start.append(f"  auto {c.name} = {c.place.split('[')[0]}[{c.base}] + {_slot(k)};\n")
        elif c.kind == "running":
            previous = f"{c.base} - 1" if c.base else gen._visit_expr(loop.init.decls[0].init)
            start.append(f"  auto {c.name} = {c.place}[{previous}] + {_slot(k)};\n")
    gen.continue_returns = True
    body = rewrite(loop.stmt, var, step.counters, "fill")
    text = "".join(gen._generate_stmt(s) for s in _items(body))
    # as in the C loop, nothing after the first failing iteration runs
    skip = "  if (akc_tid > akc_err[6]) return;\n"
    return StepKernel("fill", skip + _load_locals(gen, decls) + _loop_head(gen, loop) + "".join(start) + text)


def _finish(gen: CudaGenerator, step: Step, decls: list[c_ast.Decl]) -> StepKernel:
    """One thread: each counter's final value is its start plus the total advance."""
    total = "akc_scan[{k} * (akc_n + 1) + akc_n]"
    lines = []
    for k, c in enumerate(step.counters):
        value = total.format(k=k)
        place = c.name if c.kind == "local" else f"AKC_STORE({c.place})"
        if c.op in ("sum", "speculated") and c.kind in ("local", "memory"):  # keyed: the executor adds them
            lines.append(f"  {place} = ({c.target}) + {value};\n")
        elif c.op == "last":  # the executor put the last assigning iteration (or -1) after it
            lines.append(f"  if ({total.format(k=k + 1)} >= 0) {c.name} = {value};\n")
        elif c.op in ("max", "min"):
            better = "<" if c.op == "max" else ">"
            lines.append(f"  if (({c.target}) {better} {value}) {place} = {value};\n")
    # After a failure the counters keep their starting values: the report re-runs the failing
    # iteration of `fill`, which starts from them.
    guard = "  if (akc_err[0] != AKC_NO_ERROR) return;\n"
    return StepKernel("finish", guard + _load_locals(gen, decls) + "".join(lines) + _save_locals(decls))
