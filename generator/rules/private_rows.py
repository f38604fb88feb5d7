"""Rule: rows whose helper writes memory, with private scratch (emission/private_rows.py writes
the launches and the helper's count and fill forms).

A loop `for (i ...) { ...; S[0] = x; helper(out, ctr, S, ...); }` whose helper (maybe
recursive, maybe reached through a wrapper that passes its parameters on) writes memory only
through three kinds of pointer parameter runs count, scan, fill:

- *column counters* (`ctr[k]++`, and `ctr[k]` only as a store position): each iteration gets
  private counters; count records how far they advanced, and the executor checks that the
  columns an iteration touched are `[0, width)`, all advanced alike, with one width for all;
  then one scan of the shared advance gives every column its starts;
- *scratch* (`S[x]` read and written): each iteration gets a private copy; count checks that
  the iteration writes every element before it reads it (so no value comes from another
  iteration) and records which elements it wrote; fill writes back each element's value from
  the last iteration that wrote it, as the C loop leaves it;
- *outputs* (`out[k][p] = v`, never read): dropped in count (their reads still run), stored in
  fill.

Private copies hold `AKC_PRIVATE_CAPACITY` elements; an iteration that goes beyond, or breaks
one of the checks above, sends the whole step back to C order. The helper is emitted twice more
(count and fill forms) with its counter and scratch parameters turned into pointers to the
private copies (`fromindex[j]` -> `fromindex->r(j)`, `->w(j)` for a store, `->rw(j)` for `++`).

Demo: tests/kernels/akc_demo_chains.cpp.
"""

from __future__ import annotations

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, ids, is_call, text, walk
from akcuda.generator.analysis.context import Analysis, Code, Planned, Refusal, Site, parameters
from akcuda.generator.analysis.counters import rows_used
from akcuda.generator.analysis.loops import counting_var, host_expr, init_value, iteration_count, uses
from akcuda.plan import model as P
from akcuda.plan.expr import Expr
from akcuda.plan.model import Counter, CounterKind, CounterOp, PrivateRows

COLUMNS, SCRATCH, OUTPUT, INPUT, SCALAR = "columns", "scratch", "output", "input", "scalar"


def _parents(root: c_ast.Node) -> dict[int, c_ast.Node]:
    return {id(child): node for node in walk(root) for _, child in node.children()}


def _pass_through(func: c_ast.FuncDef) -> str | None:
    """`f(a, b) { return g<T>(a, b); }` (or `g(a, b);`) -> 'g', else None."""
    items = block(func.body)
    if len(items) != 1:
        return None
    call = items[0].expr if isinstance(items[0], c_ast.Return) else items[0]
    if not (isinstance(call, c_ast.FuncCall) and isinstance(call.name, c_ast.ID)):
        return None
    names = [p.name for p in parameters(func)]
    args = call.args.exprs if call.args else []
    if [a.name if isinstance(a, c_ast.ID) else None for a in args] != names:
        return None
    return call.name.name


def _use(node: c_ast.ID, parents: dict[int, c_ast.Node], worker: str, position: int) -> str:
    """How the helper uses one mention of a pointer parameter: 'passed' (on to itself, at its own
    position), 'output' (`p[a][b] = v`), 'position' (`q[..][p[x]] = v`), 'advance' (`p[x]++`),
    'write' (`p[x] = v`), 'read' (`p[x]`), or 'other'."""
    up = parents.get(id(node))
    if isinstance(up, c_ast.ExprList):
        call = parents.get(id(up))
        if is_call(call, worker) and up.exprs.index(node) == position:
            return "passed"
        return "other"
    if not (isinstance(up, c_ast.ArrayRef) and up.name is node):
        return "other"
    outer = parents.get(id(up))
    if isinstance(outer, c_ast.ArrayRef) and outer.name is up:
        store = parents.get(id(outer))
        return (
            "output" if isinstance(store, c_ast.Assignment) and store.op == "=" and store.lvalue is outer else "other"
        )
    if isinstance(outer, c_ast.ArrayRef) and outer.subscript is up:
        store = parents.get(id(outer))
        if isinstance(store, c_ast.Assignment) and store.lvalue is outer:
            return "position"
        base = parents.get(id(store)) if isinstance(store, c_ast.ArrayRef) and store.name is outer else None
        return "position" if isinstance(base, c_ast.Assignment) and base.lvalue is store else "read"
    if isinstance(outer, c_ast.UnaryOp) and outer.op in ("++", "p++"):
        return "advance"
    if isinstance(outer, c_ast.Assignment) and outer.lvalue is up:
        return "write" if outer.op == "=" else "advance" if outer.op == "+=" else "other"
    return "read"


def _role(kinds: set[str]) -> str | None:
    kinds = kinds - {"passed"}
    if kinds and kinds <= {"output"}:
        return OUTPUT
    if "advance" in kinds and kinds <= {"advance", "position"}:
        return COLUMNS
    if "write" in kinds and kinds <= {"read", "write", "advance"}:
        return SCRATCH
    if kinds <= {"read"}:
        return INPUT
    return None


def helper_roles(helpers: dict[str, c_ast.FuncDef], name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | str:
    """(chain, role per parameter) of a helper that writes only through column counters, scratch
    and outputs, calling nothing but itself; else why not."""
    chain = [name]
    while name in helpers and (inner := _pass_through(helpers[name])) is not None and inner not in chain:
        chain.append(inner)
        name = inner
    if name not in helpers:
        return f"helper '{name}' has no definition"
    worker = helpers[name]
    for call in uses(worker.body).calls:
        if not is_call(call, name):
            return f"helper '{name}' calls another function"
    if any(isinstance(n, c_ast.Return) and n.expr is not None for n in walk(worker.body)):
        return f"helper '{name}' returns a value"
    parents = _parents(worker.body)
    roles = []
    for position, param in enumerate(parameters(worker)):
        if not isinstance(param.type, c_ast.PtrDecl):
            if param.name in uses(worker.body).written_ids:
                return f"helper '{name}' assigns its parameter '{param.name}'"
            roles.append(SCALAR)
            continue
        mentions = [n for n in walk(worker.body) if isinstance(n, c_ast.ID) and n.name == param.name]
        role = _role({_use(m, parents, name, position) for m in mentions})
        depth = 0 if role is None else _depth(param.type)
        if role is None or depth != (2 if role == OUTPUT else 1) and role != INPUT:
            return f"helper '{name}' uses its parameter '{param.name}' other than as a counter, scratch or output"
        roles.append(role)
    return tuple(chain), tuple(roles)


def _depth(node: c_ast.Node) -> int:
    depth = 0
    while isinstance(node, c_ast.PtrDecl):
        depth, node = depth + 1, node.type
    return depth


def private_rows_loop(
    loop: c_ast.For,
    scalars: dict,
    helpers: dict[str, c_ast.FuncDef],
    element_types: dict[str, list[str]],
) -> tuple[Expr | None, PrivateRows | None, str | None]:
    """(count, form, None) if the loop's rows run count-scan-fill through a helper with private
    scratch; else (None, None, why)."""
    count = iteration_count(loop, scalars) if counting_var(loop) else None
    if count is None:
        return None, None, "loop bounds are not computable from scalar arguments"
    calls = [s for s in block(loop.stmt) if isinstance(s, c_ast.FuncCall)]
    if len(calls) != 1 or not isinstance(calls[0].name, c_ast.ID) or calls[0].name.name not in helpers:
        return None, None, "not one call to a helper"
    found = helper_roles(helpers, calls[0].name.name)
    if isinstance(found, str):
        return None, None, found
    chain, roles = found
    arrays = {}
    args = calls[0].args.exprs if calls[0].args else []
    for arg, role in zip(args, roles, strict=True):
        if role == SCALAR:
            continue
        if not (isinstance(arg, c_ast.ID) and arg.name in element_types) or arg.name in arrays:
            return None, None, f"helper argument '{text(arg)}' is not one array argument of its own"
        arrays[arg.name] = role
    reason = _loop_body_problem(loop, calls[0], arrays)
    if reason:
        return None, None, reason
    counters: list[Counter] = []
    for array, role in arrays.items():
        row = rows_used(counters)
        if role == COLUMNS:  # the advance every column shares, then how many columns, then the check
            counters.append(
                Counter(
                    CounterKind.COLUMNS,
                    CounterOp.SUM,
                    f"akc_p_{array}",
                    row,
                    array=array,
                    width_row=row + 1,
                    check_row=row + 2,
                )
            )
        elif role == SCRATCH:  # the elements the iteration wrote (a mask), then the check
            counters.append(
                Counter(CounterKind.SCRATCH, CounterOp.LAST, f"akc_p_{array}", row, array=array, check_row=row + 1)
            )
    elements = {a: element_types[a][-1] for a, r in arrays.items() if r in (COLUMNS, SCRATCH)}
    return count, PrivateRows(tuple(counters), rows_used(counters), chain, roles, arrays, elements), None


def _loop_body_problem(loop: c_ast.For, call: c_ast.FuncCall, arrays: dict[str, str]) -> str | None:
    """Why the loop body itself is more than locals, scratch stores and the call, or touches
    the helper's counters and outputs itself; None if it is not."""
    body = uses(loop.stmt)
    if any(isinstance(n, (c_ast.Return, c_ast.Continue)) for n in walk(loop.stmt)) or body.breaks:
        return "the loop returns, breaks or continues"
    carried = set(body.written_ids) - body.declared
    if carried:
        return f"carries '{sorted(carried)[0]}' from one iteration to the next"
    for array, _, node in body.array_writes:
        if arrays.get(array) != SCRATCH:
            return f"write '{text(node)}' is not to the helper's scratch"
    for item in block(loop.stmt):
        if item is call:
            continue
        if ids(item) & {a for a, r in arrays.items() if r in (COLUMNS, OUTPUT)} or uses(item).calls:
            return f"line {item.coord.line}: the loop body uses the helper's counters, outputs or calls"
    return None


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    """The count-scan-fill step of rows whose helper writes through column counters, scratch and
    outputs, each thread on private copies."""
    loop = site.written
    count, form, why = private_rows_loop(loop, ctx.scalars, ctx.helpers, ctx.element_types)
    if form is None:
        return Refusal(why)
    return Planned(P.Step(form, count=count, first=host_expr(init_value(loop), ctx.scalars)), Code([loop], loop))
