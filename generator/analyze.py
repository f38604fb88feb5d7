"""Stage: split a kernel body into plan steps and decide how each loop runs.

A top-level `for` loop becomes a *parallel* step when its iterations are provably independent:
its bounds are computable on the host from scalar arguments, it assigns no variable declared
outside it (variables it assigns before use in every iteration are private), every array it
writes is indexed `a*i + r` with `r` provably in `[0, a)` (or `i + r`), or over a row range
`[A[i], B[i])` that the executor checks for overlap at run time, and every read of a written
array uses exactly a written index (rows.py proves the writes, and records what only the data
can tell as run-time checks). A loop whose only carried state is counters becomes a *scan* step
(counters.py). Before the rules, rewrites.py removes state handed through memory or from the
previous iteration, and may peel a first iteration. Branches on scalar arguments pick their
steps on the host.
Everything else runs as a *serial* step (one thread), and the step records why.
Host expressions (counts, guards, requirements) are akcuda.plan.expr expressions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pycparser import c_ast

from akcuda.generator.ast_util import block, ids, same, text, walk
from akcuda.generator.best_index import best_index_pieces
from akcuda.generator.branch_locals import hoisted_branch_locals
from akcuda.generator.columns import histogram_columns
from akcuda.generator.compaction import find_compaction, kept_last
from akcuda.generator.counters import LoopBody, find_counters, rows_used, running_statements
from akcuda.generator.cuda_generator import is_call
from akcuda.generator.last_kept import plain as last_kept_plain
from akcuda.generator.last_kept import speculated
from akcuda.generator.loops import (
    INTEGER_TYPES,
    Uses,
    assignment_counts,
    block_copy,
    counting_var,
    host_expr,
    init_value,
    inline,
    input_sized_loop,
    over_inputs,
    private_definitions,
    type_names,
    uses,
)
from akcuda.generator.pieces import bin_pieces
from akcuda.generator.private_rows import private_rows_loop
from akcuda.generator.progressions import progression_groups
from akcuda.generator.rewrites import collapsed, forwarded_stores, peel_sentinel, previous_values
from akcuda.generator.rows import RowProver, RunTimeChecks, row_prover
from akcuda.generator.run_cursors import inverted_runs
from akcuda.generator.unrolled import rerolled_sums
from akcuda.plan import expr
from akcuda.plan import model as P
from akcuda.plan.expr import Binary, Expr, Int, Unary
from akcuda.plan.model import Counter, RowRef, Segment

CONSTANT_WORK = "constant work outside loops"
Shadow = tuple[str, c_ast.Node, bool]  # (array, index, read first): a place an iteration writes and reads back


@dataclass
class Code:
    """The C a plan step runs: its statements (a serial step's), or its loop."""

    stmts: list[c_ast.Node]
    loop: c_ast.For | None = None
    serial_form: c_ast.Node | None = None  # what runs when a run-time check fails (default: the loop)
    shadows: list[Shadow] = field(default_factory=list)  # check and count: places kept privately


@dataclass(frozen=True)
class Planned:
    """A plan step as the analysis makes it, with the C it runs."""

    step: P.Step
    code: Code


def plain_integer(name: str) -> Expr | None:
    """Where a type name outside any template is an integer: always, or never."""
    return Int(1) if name in INTEGER_TYPES else None


@dataclass(frozen=True)
class Analysis:
    """What the rules share about one function."""

    scalars: dict[str, c_ast.Node | None]  # scalar arguments (None) and locals fixed by them (their definition)
    helpers_writing: set[str]  # helpers that write through pointer parameters
    pointers: set[str]  # pointer parameters
    integral: Callable[[str], bool]  # is an array's element type an integer in every specialization?
    decls: list[c_ast.Decl]  # top-level locals, in order
    slots: dict[str, int]  # top-level local -> its slot in the spill buffer
    integral_locals: set[str]  # top-level locals of an integer type
    boolean_locals: set[str]  # top-level locals of type bool
    element_types: dict[str, list[str]]  # pointer parameter -> its element type's names
    helpers: dict[str, c_ast.FuncDef] = field(default_factory=dict)  # helper definitions, by name
    assignments: dict[str, int] = field(default_factory=dict)  # name -> how often the function assigns it
    integer_where: Callable[[str], Expr | None] = plain_integer  # where a type name is an integer (Int(1): always)

    @classmethod
    def of(
        cls,
        func: c_ast.FuncDef,
        scalars: set[str],
        helpers_writing: set[str],
        pointers: set[str],
        integral: Callable[[str], bool],
        integer_where: Callable[[str], Expr | None],
        helpers: dict[str, c_ast.FuncDef] | None = None,
    ) -> Analysis:
        """The facts about `func`; `integer_where` says where a type name is an integer: Int(1)
        in every specialization, `integral(T)` in some, None in none."""
        decls = [s for s in func.body.block_items or [] if isinstance(s, c_ast.Decl)]
        params = func.decl.type.args.params if func.decl.type.args else []
        return cls(
            scalars=_host_scalars(scalars, decls, uses(func.body).written_ids),
            helpers_writing=helpers_writing,
            pointers=pointers,
            integral=integral,
            decls=decls,
            slots={d.name: k for k, d in enumerate(decls)},
            integral_locals={d.name for d in decls if any(integer_where(n) == Int(1) for n in type_names(d))},
            boolean_locals={d.name for d in decls if type_names(d) == ["bool"]},
            element_types={
                p.name: type_names(p) for p in params if isinstance(p.type, c_ast.PtrDecl) and type_names(p)
            },
            helpers=helpers or {},
            assignments=assignment_counts(func.body),
            integer_where=integer_where,
        )


def _host_scalars(
    scalars: set[str], decls: list[c_ast.Decl], assigned: dict[str, c_ast.Node]
) -> dict[str, c_ast.Node | None]:
    """The scalar arguments, and the top-level locals never assigned whose definition the host can
    compute from them (`int64_t n = length * size;`), mapped to that definition."""
    out = dict.fromkeys(scalars)
    for decl in decls:
        if decl.init is not None and decl.name not in assigned and host_expr(decl.init, out) is not None:
            out[decl.name] = decl.init
    return out


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
    start, bound = host_expr(init_value(loop), ctx.scalars), host_expr(loop.cond.right, ctx.scalars)
    if start is None or bound is None:
        return var, None, Uses(), "loop bounds are not computable from scalar arguments"
    count = Binary("-", bound, start) if loop.cond.op == "<" else Binary("+", Binary("-", bound, start), Int(1))
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
            or (name in ctx.helpers_writing and not _private_call(call, body.declared, ctx.pointers))
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
        if counter.kind in ("memory", "running", "keyed") and not (counter.array and ctx.integral(counter.array)):
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


def has_failure(node: c_ast.Node) -> bool:
    return any(isinstance(n, c_ast.Return) and is_call(n.expr, "failure") for n in walk(node))


def _both(outer: Expr | None, inner: Expr) -> Expr:
    """`outer && inner` (`inner` alone when there is no outer condition)."""
    return inner if outer is None else Binary("&&", outer, inner)


def _has_loop(node: c_ast.Node) -> bool:
    return any(isinstance(n, (c_ast.For, c_ast.While, c_ast.DoWhile)) for n in walk(node))


def _loop_step(
    loop: c_ast.For, ctx: Analysis, guard: Expr | None, live_after: set[str]
) -> tuple[Planned | None, str | None]:
    """The parallel or count-scan-fill step of a loop, or None and why no rule applies."""
    checks, counters = RunTimeChecks(), []
    count, reason = parallel_loop(loop, ctx, live_after, checks)
    if count is None:
        checks = RunTimeChecks()  # the parallel rule's checks do not hold for the scan
        count, counters, scan_reason = scan_loop(loop, ctx, live_after, checks)
        reason = scan_reason or reason
    if count is None:
        return None, reason
    shadows: list[Shadow] | None = []
    if counters:
        form = P.Scan(tuple(counters), rows_used(counters))
        shadows = shadows_for_check(loop, counters)
        if shadows is None:
            return None, "a place the loop reads back has an index private to the iteration"
    elif has_failure(loop):
        shadows = shadows_for_check(loop)
        form = P.Parallel(checked=shadows is not None)
    else:
        form = P.Parallel()
    step = P.Step(
        form,
        count=count,
        first=host_expr(init_value(loop), ctx.scalars),
        guard=guard,
        requires=expr.all_of(checks.requires),
        segments=_checked_segments(checks),
    )
    return Planned(step, Code([loop], loop, shadows=shadows or [])), None


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


@dataclass
class _Planner:
    """Appends the steps of a body's statements in order; a statement no rule takes joins the
    serial step before it, and `why_serial` says why."""

    ctx: Analysis
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
        """A top-level loop, after the rewrites (forwarded stores, previous values): its parallel
        or scan step; else its first iteration serially and the rest as a step (`peel_sentinel`);
        else it is serial."""
        ctx = self.ctx
        loop = forwarded_stores(stmt, ctx.element_types) or stmt
        loop = previous_values(loop, {d.name: d for d in ctx.decls}, ctx.scalars, ctx.pointers, live_after) or loop
        pairs = collapsed(loop, ctx.scalars)  # one thread per (b, c) pair where a rule takes it
        step, reason = _loop_step(pairs, ctx, guard, live_after) if pairs is not None else (None, None)
        if step is None:
            step, reason = _loop_step(loop, ctx, guard, live_after)
        step = (
            step
            or self._peeled(stmt, guard, live_after)
            or self._groups(stmt, guard, live_after)
            or self._private_rows(stmt, guard)
            or self._compaction(stmt, guard, live_after)
            or self._columns(stmt, guard)
        )
        if step is None:
            self.add_serial(stmt, guard, reason)
        else:
            self.steps += self._split(step, guard)

    def _split(self, found: Planned, guard: Expr | None) -> list[Planned]:
        """A parallel step over bins that folds each bin's range: where the bins are few, one
        thread per piece of a bin and a combine per bin (pieces.py), the step as it is where they
        are many; else the step alone."""
        step = found.step
        if not isinstance(step.form, P.Parallel) or step.segments or step.requires is not None or step.form.checked:
            return [found]
        loop = found.code.loop
        split = bin_pieces(loop, self.ctx.scalars, self.ctx.integer_where) or best_index_pieces(loop, self.ctx.scalars)
        if split is None:
            return [found]
        where, form = _both(guard, split.split), P.SplitFold(split.words)
        pieces = P.Step(form, count=split.count, first=Int(0), guard=where)
        combine = P.Step(form, count=split.bins, first=Int(0), guard=where)
        return [
            Planned(replace(step, guard=_both(guard, Unary("!", split.split))), found.code),
            Planned(pieces, Code([split.pieces], split.pieces)),
            Planned(combine, Code([split.combine], split.combine)),
        ]

    def _peeled(self, stmt: c_ast.For, guard: Expr | None, live_after: set[str]) -> Planned | None:
        """`for (...) { if (*size == -1) *size = n; else ... }` -> the first iteration joins the
        serial step, and the step of the rest is returned, relying on `*size != -1` (else the
        rest runs as written); None, adding nothing, if the rest fits no rule either."""
        peeled = peel_sentinel(stmt, self.ctx.scalars)
        rest = _loop_step(peeled.rest, self.ctx, guard, live_after)[0] if peeled else None
        if rest is None:
            return None
        self.add_serial(peeled.first, guard, None)
        rest.code.serial_form = peeled.rest_as_is
        return Planned(replace(rest.step, requires=_both(rest.step.requires, peeled.check)), rest.code)

    def _groups(self, stmt: c_ast.For, guard: Expr | None, live_after: set[str]) -> Planned | None:
        """A loop opening a group at each term of an arithmetic progression: the step of its loop
        over groups (progressions.py), one thread per group; None if it fits no rule."""
        ctx = self.ctx
        decls = {d.name: d for d in ctx.decls}
        groups = progression_groups(stmt, ctx.scalars, decls, ctx.assignments, live_after)
        found = _loop_step(groups, ctx, guard, live_after)[0] if groups is not None else None
        if found is not None:
            found.code.serial_form = stmt
        return found

    def _private_rows(self, stmt: c_ast.For, guard: Expr | None) -> Planned | None:
        """A loop whose helper writes through counters, scratch and outputs: count-scan-fill with
        private copies (private_rows.py); None if it does not fit."""
        ctx = self.ctx
        count, form, _ = private_rows_loop(stmt, ctx.scalars, ctx.helpers, ctx.element_types)
        if form is None:
            return None
        first = host_expr(init_value(stmt), ctx.scalars)
        return Planned(P.Step(form, count=count, first=first, guard=guard), Code([stmt], stmt))

    def _columns(self, stmt: c_ast.For, guard: Expr | None) -> Planned | None:
        """A loop over bins updating a reset scratch histogram column by column: one thread per
        bin and column (columns.py), while the rows' ranges are ordered and disjoint (else the loop
        as written); None if it does not fit."""
        ctx = self.ctx
        found = histogram_columns(stmt, ctx.scalars, ctx.element_types)
        if found is None:
            return None
        loop, segment = found
        count, _ = _loop_shape(loop, ctx)[1:3]
        first = host_expr(init_value(loop), ctx.scalars)
        step = P.Step(P.Parallel(), count=count, first=first, guard=guard, segments=(segment,))
        return Planned(step, Code([loop], loop, serial_form=stmt))

    def _compaction(self, stmt: c_ast.For, guard: Expr | None, live_after: set[str]) -> Planned | None:
        """A loop compacting an array in place at a local counter (compaction.py): count-scan-fill
        on the loop with its last store kept privately and its "last kept" state speculated
        (last_kept.py), the reads verified at run time (else C order); None if it does not fit."""
        ctx = self.ctx
        found = find_compaction(stmt)
        if found is None:
            return None
        decls = {d.name: d for d in ctx.decls}
        loop = speculated(stmt, found.array, found.counter, decls, ctx.scalars, ctx.pointers, live_after) or stmt
        found = find_compaction(last_kept_plain(loop))
        if found is None:
            return None
        kept = kept_last(loop, found)
        count, counters, reason = scan_loop(last_kept_plain(kept), ctx, live_after, None, frozenset({found.array}))
        if reason or not any(c.name == found.counter for c in counters):
            return None
        if any(c.kind != "local" or c.op != "sum" for c in counters):
            return None  # compact and verify start local sums only
        row = next(c.row for c in counters if c.name == found.counter)
        rows = rows_used(counters)  # then the check row
        form = P.Compaction(tuple(counters), rows + 1, found.array, row, rows)
        first = host_expr(init_value(stmt), self.ctx.scalars)
        return Planned(P.Step(form, count=count, first=first, guard=guard), Code([stmt], kept, serial_form=stmt))

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
            self.plan_items(block(stmt.iftrue), _both(guard, branch_guard), live_after)
            if stmt.iffalse is not None:
                self.plan_items(block(stmt.iffalse), _both(guard, Unary("!", branch_guard)), live_after)

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


def plan_steps(
    func: c_ast.FuncDef,
    scalars: set[str],
    helpers_writing: set[str],
    pointers: set[str] = frozenset(),
    integral=lambda array: False,
    integer_where=plain_integer,
    helpers: dict[str, c_ast.FuncDef] | None = None,
) -> tuple[list[Planned], list[c_ast.Decl]]:
    """Split the body into steps (parallel loops, count-scan-fill loops, serial runs of the
    rest) and return them with the top-level locals that live in the spill buffer; `helpers`
    are the definitions of the functions the body may call."""
    func = rerolled_sums(func, integer_where) or func
    func = hoisted_branch_locals(func, scalars) or func
    func = inverted_runs(func, scalars) or func
    ctx = Analysis.of(func, scalars, helpers_writing, pointers, integral, integer_where, helpers)
    stmts = func.body.block_items or []
    planner = _Planner(ctx)
    planner.plan_items(stmts, None, set())
    steps, decls = planner.steps, ctx.decls
    if len(steps) == 1 and not isinstance(steps[0].step.form, P.Serial):
        pass  # one loop step: nothing to spill or fold
    elif len(steps) <= 1:
        steps, decls = [_whole(stmts, "; ".join(planner.why_serial))], []
    elif problem := _launch_problem(steps, decls):
        steps, decls = [_whole(stmts, problem)], []
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
