"""The general rule's machinery: one thread per iteration of a loop, as a *parallel* step or a
*count-scan-fill* step.

A loop is *parallel* when its iterations are provably independent: its bounds are computable
on the host from scalar arguments, it assigns no variable declared outside it (variables it
assigns before use in every iteration are private), every array it writes is indexed `a*i + r`
with `r` provably in `[0, a)` (or `i + r`), or over a row range `[A[i], B[i])` that the executor
checks for overlap at run time, and every read of a written array uses exactly a written index
(rows.py proves the writes, and records what only the data can tell as run-time checks). A loop
whose only carried state is counters is a *count-scan-fill* step (counters.py). `loop_step`
decides, or says why neither holds; rules/per_iteration.py applies it to a loop as it stands,
other rules to the loops they make.
"""

from __future__ import annotations

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, ids, same, text, walk
from akcuda.generator.analysis.context import Analysis, Code, Planned, Refusal, Shadow
from akcuda.generator.analysis.counters import LoopBody, find_counters, rows_used, running_statements
from akcuda.generator.analysis.loops import (
    Uses,
    block_copy,
    counting_var,
    has_failure,
    host_expr,
    init_value,
    inline,
    iteration_count,
    over_inputs,
    private_definitions,
    uses,
)
from akcuda.generator.analysis.rows import RowProver, RunTimeChecks, row_prover
from akcuda.plan import expr
from akcuda.plan import model as P
from akcuda.plan.expr import Expr
from akcuda.plan.model import Counter, CounterKind, RowRef, Segment


def _private_call(call: c_ast.FuncCall, private: set[str], pointers: set[str]) -> bool:
    """Does a call to a helper that writes through pointers only touch thread-private locals?"""
    for arg in call.args.exprs if call.args else []:
        if isinstance(arg, c_ast.UnaryOp) and arg.op == "&" and isinstance(arg.expr, c_ast.ID):
            if arg.expr.name not in private:
                return False
        elif uses(arg).ids & pointers or isinstance(arg, c_ast.UnaryOp) and arg.op == "&":
            return False
    return True


def _assigned_before_use(items: list[c_ast.Node], name: str) -> bool:
    """Does the first statement of `items` that mentions `name` assign it plainly (without
    reading it), or is it an inner loop or branch, mentioned nowhere after, inside which the
    same holds? Then every use sees a value from the same pass through `items`."""
    for position, item in enumerate(items):
        mentioned = uses(item)
        if name not in mentioned.ids and name not in mentioned.written_ids:
            continue
        if isinstance(item, c_ast.Assignment) and item.op == "=" and isinstance(item.lvalue, c_ast.ID):
            return item.lvalue.name == name and name not in uses(item.rvalue).ids
        if any(name in ids(later) for later in items[position + 1 :]):
            return False
        if isinstance(item, c_ast.For):
            return not ids(c_ast.ExprList([n for n in (item.init, item.cond, item.next) if n])) & {
                name
            } and _assigned_before_use(block(item.stmt), name)
        if isinstance(item, c_ast.If) and name not in ids(item.cond):
            return all(
                _assigned_before_use(block(branch), name)
                for branch in (item.iftrue, item.iffalse)
                if branch is not None and name in ids(branch)
            )
        return False
    return False


def privatized(loop: c_ast.For, carried: set[str], live_after: set[str]) -> set[str]:
    """Carried names that are really per-iteration: each iteration assigns them before any
    use and nothing reads them later."""
    return {name for name in carried - live_after if _assigned_before_use(block(loop.stmt), name)}


def _loop_shape(loop: c_ast.For, ctx: Analysis) -> tuple[str, Expr | None, Uses, str | None]:
    """What both loop rules need first: the counting variable, the iteration count, the body's
    uses, and why the loop fits neither rule (None if it may fit)."""
    var = counting_var(loop)
    if var is None:
        return "", None, Uses(), "loop is not a simple counting loop"
    count = iteration_count(loop, ctx.scalars)
    if count is None:
        return var, None, Uses(), "loop bounds are not computable from scalar arguments"
    body = uses(loop.stmt)
    if body.breaks:
        return var, count, body, f"'break' at line {body.breaks[0].coord.line} ends the loop early"
    if body.success_returns:
        return var, count, body, "the loop returns early"
    for call in body.calls:
        name = call.name.name if isinstance(call.name, c_ast.ID) else "?"
        if block_copy(call) is not None:
            continue  # its destination range is checked like any other write
        if (
            name.startswith("std_")
            or name == "?"
            or (name in ctx.signature.helpers_writing and not _private_call(call, body.declared, ctx.pointers))
        ):
            return var, count, body, f"calls '{name}', which writes memory"
    return var, count, body, None


def parallel_loop(
    loop: c_ast.For, ctx: Analysis, live_after: set[str] = frozenset(), checks: RunTimeChecks | None = None
) -> tuple[Expr | None, str | None]:
    """(iteration count, None) if the loop can run one thread per iteration, else (None, why)."""
    var, count, body, reason = _loop_shape(loop, ctx)
    if reason:
        return None, reason
    carried = set(body.written_ids) - body.declared
    carried = sorted(carried - privatized(loop, carried, live_after))
    if carried:
        return None, f"carries '{carried[0]}' from one iteration to the next"
    reason = _shared_places(body, row_prover(loop, var, body, ctx.pointers, ctx.scalars, checks), ctx.pointers)
    return (None, reason) if reason else (count, None)


def _shared_places(body: Uses, rows: RowProver, pointers: set[str]) -> str | None:
    """Why two iterations may meet in memory: a write not provably distinct per iteration
    (`out[index[i]] = x`), or a read of a written array at another index (`out[i - 1]` with
    `out[i]` written); None if they cannot."""
    written = {}
    for array, index, node in body.array_writes:
        if array in body.declared and array not in pointers:
            continue  # `&local` handed to a helper
        length = body.ranges.get(id(node))
        if array == "?" or not (rows.distinct_range(index, length) if length is not None else rows.distinct(index)):
            return f"write '{text(node)}' is not provably distinct per iteration"
        written.setdefault(array, []).append(index)
    for array, index in body.array_reads:
        if array in written and not any(same(index, w) for w in written[array]):
            return f"reads '{array}[{text(index)}]', written by another iteration"
    return None


def shadows_for_check(loop: c_ast.For, counters: list[Counter] = ()) -> list[tuple[str, c_ast.Node, bool]] | None:
    """For a parallel loop with failure checks: the (array, index, read first) places an iteration
    both writes and reads, which its check launch keeps in private shadows instead of memory. None
    when a shadow's index depends on the iteration's own locals (it could not be declared up
    front), so no check launch is possible."""
    body = uses(loop.stmt)
    written = {(a, text(i)): i for a, i, _ in body.array_writes}
    read = {(a, text(i)) for a, i in body.array_reads}
    shadows = []
    counted = {c.place for c in counters}  # counters live in private variables already
    for key in sorted(read & set(written)):
        if f"{key[0]}[{key[1]}]" in counted:
            continue
        if uses(written[key]).ids & body.declared:
            return None
        shadows.append((key[0], written[key], not _written_first(loop.stmt, f"{key[0]}[{key[1]}]")))
    return shadows


def _written_first(body: c_ast.Node, place: str) -> bool:
    """Is the body's first statement that mentions `place` a plain store to it (so the
    iteration never reads the memory's old value)?"""
    for item in block(body):
        if place in text(item):
            return (
                isinstance(item, c_ast.Assignment)
                and item.op == "="
                and text(item.lvalue) == place
                and place not in text(item.rvalue)
            )
    return False


def scan_loop(
    loop: c_ast.For,
    ctx: Analysis,
    live_after: set[str] = frozenset(),
    checks: RunTimeChecks | None = None,
    in_place: frozenset[str] = frozenset(),
) -> tuple[Expr | None, list[Counter], str | None]:
    """(count, counters, None) if the loop fits count-scan-fill, else (None, [], why); reads of
    the `in_place` arrays (compacted at a counter, verified at run time) are allowed."""
    var, count, body, reason = _loop_shape(loop, ctx)
    if reason:
        return None, [], reason
    carried = set(body.written_ids) - body.declared
    private = privatized(loop, carried, live_after)
    carried -= private
    rows = row_prover(loop, var, body, ctx.pointers, ctx.scalars, checks, private)
    facts = LoopBody(
        loop.stmt,
        var,
        carried,
        body.array_writes,
        rows.distinct,
        body.declared | private,
        _keys(loop, var, rows.stable, ctx.scalars),
        rows.within,
    )
    counters, reason = find_counters(facts, ctx.slots)
    reason = reason or _untyped_counter(counters, ctx) or _read_back(loop, var, body, counters, in_place)
    return (None, [], reason) if reason else (count, counters, None)


def _untyped_counter(counters: list[Counter], ctx: Analysis) -> str | None:
    """Why a counter cannot be scanned exactly: a local not of an integer type (bool too for a
    last-value local), or a value in memory not of an integer type in every specialization (a
    floating-point sum would be reordered); None if every counter is integral."""
    for counter in counters:
        if counter.kind == "local" and counter.name not in ctx.integral_locals | (
            ctx.boolean_locals if counter.op == "last" else set()
        ):
            return f"counter '{counter.name}' is not of an integer type"
        in_memory = counter.kind in (CounterKind.MEMORY, CounterKind.RUNNING, CounterKind.KEYED)
        if in_memory and not (counter.array and ctx.signature.integral(counter.array)):
            return (
                f"running value in '{counter.array or counter.place}' is not of an integer type in every specialization"
            )
    return None


def _read_back(
    loop: c_ast.For, var: str, body: Uses, counters: list[Counter], in_place: frozenset[str] = frozenset()
) -> str | None:
    """Why count and fill could read different values: a read of a place the loop writes other
    than the iteration's own (`out[k - 1]` at a counter k), or a read of a running sum's array
    besides its running sum; None if there is none."""
    counter_arrays = {c.place for c in counters if c.kind == "running"}
    written = {}
    for array, index, node in body.array_writes:
        if text(node) not in {c.place for c in counters} and array not in counter_arrays:
            written.setdefault(array, set()).add(text(index))
    names = {c.name for c in counters}
    updates = _self_updates(loop.stmt)
    for array, index in body.array_reads:
        place = f"{array}[{text(index)}]"
        if (
            array not in written
            or array in in_place
            or (ids(index) & names and updates.get(place, 0) == _reads_of(body, place))
        ):
            continue  # `X[k] = f(X[k])` at a counter: the iteration's own place, dropped in count
        # a place the iteration itself writes is read back through a shadow in `count`
        if text(index) not in written[array] or ids(index) & names:
            return f"reads '{array}[{text(index)}]', which the loop writes"
    for counter in counters:
        reads = sum(a == counter.place for a, _ in body.array_reads)
        if counter.kind == "running" and reads != running_statements(loop.stmt, var, counter):
            return f"reads '{counter.place}' besides its running sum"
    return None


def _self_updates(body: c_ast.Node) -> dict[str, int]:
    """Reads of a place inside stores to that same place (`X[k] = X[k] + d`, `X[k] += d`)."""
    out: dict[str, int] = {}
    for node in walk(body):
        if isinstance(node, c_ast.Assignment) and isinstance(node.lvalue, c_ast.ArrayRef):
            place = text(node.lvalue)
            out[place] = (
                out.get(place, 0)
                + (node.op != "=")
                + sum(isinstance(n, c_ast.ArrayRef) and text(n) == place for n in walk(node.rvalue))
            )
    return out


def _reads_of(body: Uses, place: str) -> int:
    return sum(f"{a}[{text(i)}]" == place for a, i in body.array_reads)


def _keys(loop: c_ast.For, var: str, stable: set[str], scalars: dict):
    """key_of(index) for find_counters: the index as C text over `i`, scalars and inputs read
    at places fixed by `i`, through the locals the iteration defines first (so every iteration
    computes its key before anything else, and other launches can compute it again), else None."""
    leading = []
    for item in block(loop.stmt):
        if not isinstance(item, c_ast.Decl):
            break
        leading.append(item.name)
    definitions = {n: d for n, d in private_definitions(loop.stmt).items() if n in leading}

    def key_of(index: c_ast.Node) -> str | None:
        key = inline(index, definitions)
        return text(key) if over_inputs(key, var, stable, scalars) else None

    return key_of


def loop_step(loop: c_ast.For, ctx: Analysis, live_after: frozenset[str]) -> Planned | Refusal:
    """The parallel or count-scan-fill step of a loop, else why neither holds."""
    checks, counters = RunTimeChecks(), []
    count, reason = parallel_loop(loop, ctx, live_after, checks)
    if count is None:
        checks = RunTimeChecks()  # the parallel rule's checks do not hold for the scan
        count, counters, scan_reason = scan_loop(loop, ctx, live_after, checks)
        reason = scan_reason or reason
    if count is None:
        return Refusal(reason)
    shadows: list[Shadow] | None = []
    if counters:
        form = P.Scan(tuple(counters), rows_used(counters))
        shadows = shadows_for_check(loop, counters)
        if shadows is None:
            return Refusal("a place the loop reads back has an index private to the iteration")
    elif has_failure(loop):
        shadows = shadows_for_check(loop)
        form = P.Parallel(checked=shadows is not None)
    else:
        form = P.Parallel()
    step = P.Step(
        form,
        count=count,
        first=host_expr(init_value(loop), ctx.scalars),
        requires=expr.all_of(checks.requires),
        segments=_checked_segments(checks),
    )
    return Planned(step, Code([loop], loop, shadows=shadows or []))


def _checked_segments(checks: RunTimeChecks) -> tuple[Segment, ...]:
    """The row ranges the run-time checks name, in a fixed order: `[A[i], B[i])` ordered (and
    disjoint, unless it only needs to be ordered), then those no longer than a bound."""

    def segment(start: tuple[str, int], end: str, stop: tuple[str, int], **more) -> Segment:
        return Segment(RowRef(*start), **{end: RowRef(*stop)}, **more)

    out = [segment(*span, disjoint=span in checks.segments) for span in sorted(checks.segments | checks.ordered)]
    # expressions do not order: sort by their (exact) repr
    for *span, bound in sorted(checks.longest, key=lambda check: (check[:3], repr(check[3]))):
        out.append(segment(*span, disjoint=False, longest=bound))
    return tuple(out)
