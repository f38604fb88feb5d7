"""Rule: a loop over bins that resets a scratch histogram and walks the bin's rows, updating
each of the histogram's columns on its own, runs one thread per bin and column with the column's
state in a local (`histogram_columns` has the before and after).

Every read and write of the histogram `S` inside a column loop `for (k = A; k < B; k++)` is at
`S[k]`, so column c only ever meets its own state: the iterations of all column loops at k == c,
in C order, see exactly what the C's `S[c]` holds. The outputs such a loop writes at `M[start + k]`
(k below the row's length) lie in the row's own range, so bins meet in memory only where rows
overlap: the executor checks that the bins' row ranges, and the rows' element ranges within them,
are ordered and disjoint, and no row longer than the histogram (else the C runs as written).

Demo: tests/kernels/akc_demo_columns.cpp.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import (
    block,
    declared_like,
    ids,
    pattern,
    replaced_ids,
    same,
    set_child,
    text,
    walk,
)
from akcuda.generator.analysis.context import Analysis, Code, Planned, Refusal, Site
from akcuda.generator.analysis.loops import (
    counting_var,
    host_expr,
    init_value,
    inline,
    iteration_count,
    private_definitions,
    uses,
)
from akcuda.plan.model import Parallel, RowRef, Segment, Step


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    """One thread per bin and column, while the rows' ranges are ordered and disjoint (else the
    loop as written)."""
    found = histogram_columns(site.written, ctx.scalars, ctx.element_types)
    if found is None:
        return Refusal("resets no scratch histogram per bin that its rows update column by column")
    loop, segment = found
    step = Step(
        Parallel(),
        count=iteration_count(loop, ctx.scalars),
        first=host_expr(init_value(loop), ctx.scalars),
        segments=(segment,),
    )
    return Planned(step, Code([loop], loop, serial_form=site.written))


def histogram_columns(
    loop: c_ast.For, scalars: dict[str, c_ast.Node | None], element_types: dict[str, list[str]]
) -> tuple[c_ast.For, Segment] | None:
    """The loop over bins with one column's state at a time in a local (of the histogram's element
    type; `element_types` maps each array argument to its type's names), and the row ranges it
    relies on; None if the loop has no such form:

        for (b = lo; b < hi; b++) {
          for (k = 0; k < W; k++) S[k] = V;
          D (locals: r0 = Q[b], r1 = Q[b + 1])
          for (i = r0; i < r1; i++) { E (start = P[i], stop = P[i + 1], n = stop - start)
            for (k = n; k < W; k++) F(S[k]); for (j = 0; j < n; j++) G(S[j], M[start + j]); } }
    ->  for (t = 0; t < (hi > 0 && W > 0 ? hi * W : 0); t++) { b = t / W; c = t % W; D s = V;
          for (i = r0; i < r1; i++) { E if (n <= c && c < W) F(s); if (0 <= c && c < n) G(s, M[start + c]); }
          if (b == hi - 1) S[c] = s; }

    one thread per bin and column (the bins start at 0), with the segment: rows [P[i], P[i + 1])
    ordered, disjoint and at most W long, over the rows of the bins' ranges [Q[b], Q[b + 1])
    (ordered and disjoint), all hi bins of them (even where W is 0: a row longer than W reads
    the histogram beyond it, which only the C's order does as the C does)."""
    found = _histogram(loop, scalars, set(element_types))
    if found is None or {found.column, found.state, found.cell} & ids(loop):
        return None
    rewritten = _per_column(loop, found, element_types[found.array])
    within = Segment(RowRef(found.bins), RowRef(found.bins, 1))
    bound, bins = host_expr(found.width, scalars), host_expr(loop.cond.right, scalars)
    return rewritten, Segment(RowRef(found.rows), RowRef(found.rows, 1), longest=bound, within=within, within_rows=bins)


@dataclass(frozen=True)
class _Histogram:
    """A loop over bins resetting a scratch histogram and walking the bin's rows, in parts."""

    array: str  # S
    width: c_ast.Node  # W
    value: c_ast.Node  # V, each column's value after the reset
    middle: list[c_ast.Node]  # D: the locals between the reset and the loop over rows
    rows_loop: c_ast.For  # the loop over the bin's rows
    bins: str  # Q: the array of the bins' row ranges
    rows: str  # P: the array of the rows' element ranges

    @property
    def column(self) -> str:
        return f"akc_column_{self.array}"

    @property
    def state(self) -> str:
        return f"akc_state_{self.array}"

    @property
    def cell(self) -> str:
        return f"akc_cell_{self.array}"


def _histogram(loop: c_ast.For, scalars: dict[str, c_ast.Node | None], pointers: set[str]) -> _Histogram | None:
    """The parts of a loop over bins of the form `histogram_columns` takes, else None."""
    var, items = counting_var(loop), block(loop.stmt)
    if var is None or loop.cond.op != "<" or text(init_value(loop)) != "0" or len(items) < 2:
        return None
    reset, rows = items[0], items[-1]
    histogram = _reset(reset, scalars, pointers)
    if host_expr(loop.cond.right, scalars) is None or histogram is None or not isinstance(rows, c_ast.For):
        return None
    array, width, value = histogram
    middle = items[1:-1]
    if any(not isinstance(item, c_ast.Decl) or array in ids(item) or uses(item).array_writes for item in middle):
        return None
    definitions = private_definitions(loop.stmt)
    row, outer = counting_var(rows), _range_of(init_value(rows), rows.cond.right, var, definitions)
    if row is None or rows.cond.op != "<" or outer is None or array in ids(rows.cond):
        return None
    written = _row_writes(block(rows.stmt), array, width, row, definitions, pointers)
    whole = uses(loop.stmt)
    loop_vars = {counting_var(n) for n in walk(loop) if isinstance(n, c_ast.For)}
    if (
        written is None
        or written[1] & ({outer[0], array, written[0]} | {a for a, _ in whole.array_reads})
        or set(whole.written_ids) - whole.declared - loop_vars
        or whole.calls
        or any(isinstance(n, (c_ast.Return, c_ast.Break, c_ast.Goto)) for n in walk(loop))
    ):
        return None
    return _Histogram(array, width, value, middle, rows, outer[0], written[0])


def _per_column(loop: c_ast.For, found: _Histogram, element: list[str]) -> c_ast.For:
    """The loop over (bin, column) cells of `found`, each column's state in a local of the
    histogram's `element` type (`histogram_columns` has its form)."""
    var, hi, width, rows = counting_var(loop), loop.cond.right, found.width, found.rows_loop
    column, state = c_ast.ID(found.column), c_ast.ID(found.state)
    body = [_column_form(item, found.array, column, state) for item in block(rows.stmt)]
    per_rows = c_ast.For(
        copy.deepcopy(rows.init), copy.deepcopy(rows.cond), copy.deepcopy(rows.next), c_ast.Compound(body)
    )
    last = c_ast.If(
        pattern("B == HI - 1", B=c_ast.ID(var), HI=hi),
        c_ast.Assignment("=", c_ast.ArrayRef(c_ast.ID(found.array), c_ast.ID(found.column)), c_ast.ID(found.state)),
        None,
    )
    like, at = loop.init.decls[0], c_ast.ID(found.cell)
    place = [
        declared_like(like, var, pattern("T / W", T=at, W=width)),
        declared_like(like, found.column, pattern("T % W", T=at, W=width)),
    ]
    cells = pattern("(HI > 0 && W > 0 ? HI * W : 0)", HI=hi, W=width)
    return c_ast.For(
        c_ast.DeclList([declared_like(like, found.cell, c_ast.Constant("int", "0"))]),
        c_ast.BinaryOp("<", copy.deepcopy(at), cells),
        c_ast.UnaryOp("p++", copy.deepcopy(at)),
        c_ast.Compound(
            place
            + [copy.deepcopy(item) for item in found.middle]
            + [_local(like, found.state, element, found.value), per_rows, last],
            coord=loop.stmt.coord,
        ),
        coord=loop.coord,
    )


def _local(like: c_ast.Decl, name: str, type_names: list[str], value: c_ast.Node) -> c_ast.Decl:
    """`T name = value;` with T the type `type_names` (the declaration `like` gives the form)."""
    decl = declared_like(like, name, copy.deepcopy(value))
    decl.type.type = c_ast.IdentifierType(list(type_names))
    return decl


def _reset(stmt: c_ast.Node, scalars: dict, pointers: set[str]) -> tuple[str, c_ast.Node, c_ast.Node] | None:
    """`for (k = 0; k < W; k++) S[k] = V;` (W, V over scalars, S an array argument) -> (S, W, V)."""
    if not isinstance(stmt, c_ast.For) or counting_var(stmt) is None or stmt.cond.op != "<":
        return None
    var, items = counting_var(stmt), block(stmt.stmt)
    if text(init_value(stmt)) != "0" or len(items) != 1 or host_expr(stmt.cond.right, scalars) is None:
        return None
    store = items[0]
    if not (
        isinstance(store, c_ast.Assignment)
        and store.op == "="
        and isinstance(store.lvalue, c_ast.ArrayRef)
        and isinstance(store.lvalue.name, c_ast.ID)
        and store.lvalue.name.name in pointers
        and text(store.lvalue.subscript) == var
        and host_expr(store.rvalue, scalars) is not None
    ):
        return None
    return store.lvalue.name.name, stmt.cond.right, store.rvalue


def _range_of(start: c_ast.Node, stop: c_ast.Node, var: str, definitions: dict) -> tuple[str] | None:
    """`Q[b]`, `Q[b + 1]` (through the locals defining them) -> ('Q',)."""
    first = inline(start, definitions)
    if not (isinstance(first, c_ast.ArrayRef) and isinstance(first.name, c_ast.ID) and text(first.subscript) == var):
        return None
    following = pattern("Q[B + 1]", Q=first.name, B=c_ast.ID(var))
    return (first.name.name,) if same(inline(stop, definitions), following) else None


def _row_length(node: c_ast.Node, row: str, definitions: dict) -> str | None:
    """`P[i + 1] - P[i]` (through the locals defining it) -> 'P'."""
    length = inline(node, definitions)
    if not (isinstance(length, c_ast.BinaryOp) and length.op == "-" and isinstance(length.right, c_ast.ArrayRef)):
        return None
    elements = length.right.name
    if not isinstance(elements, c_ast.ID):
        return None
    expected = pattern("P[I + 1] - P[I]", P=elements, I=c_ast.ID(row))
    return elements.name if same(length, expected) else None


def _row_writes(
    items: list[c_ast.Node], array: str, width: c_ast.Node, row: str, definitions: dict, pointers: set[str]
) -> tuple[str, set[str]] | None:
    """For a row's statements (locals not touching the histogram, then column loops over
    [n, W) or [0, n) with n the row's length `P[i + 1] - P[i]`): (P, the outputs written); None
    if a statement has another form, a column loop touches the histogram other
    than at its own column, assigns a local from outside it, or writes an output other than at
    `M[P[i] + k]` below the row's length."""
    elements, written = None, set()
    for item in items:
        if isinstance(item, c_ast.Decl):
            if array in ids(item) or uses(item).array_writes:
                return None
            continue
        var = counting_var(item) if isinstance(item, c_ast.For) else None
        if (
            var is None
            or item.cond.op != "<"
            or any(isinstance(n, (c_ast.For, c_ast.While, c_ast.DoWhile)) for n in walk(item.stmt))
        ):
            return None
        lower, upper = init_value(item), item.cond.right
        head = text(lower) == "0"
        length = upper if head else lower
        found = _row_length(length, row, definitions)
        if found is None or found != (elements or found) or not (head or same(upper, width)):
            return None
        elements = found
        body = uses(item.stmt)
        if set(body.written_ids) - body.declared:
            return None
        histogram = [n for n in walk(item.stmt) if isinstance(n, c_ast.ArrayRef) and text(n.name) == array]
        if any(text(n.subscript) != var for n in histogram):
            return None
        if sum(isinstance(n, c_ast.ID) and n.name == array for n in walk(item.stmt)) != len(histogram):
            return None
        own = text(pattern("P[I] + K", P=c_ast.ID(elements), I=c_ast.ID(row), K=c_ast.ID(var)))
        for target, index, _ in body.array_writes:
            if target == array:
                continue
            if not head or target not in pointers or text(inline(index, definitions)) != own:
                return None
            written.add(target)
    return (elements, written) if elements is not None else None


def _column_form(item: c_ast.Node, array: str, column: c_ast.ID, state: c_ast.ID) -> c_ast.Node:
    """A row's statement for one column: a local as it is; a column loop
    `for (k = A; k < B; k++) F(S[k], k)` -> `if (A <= c && c < B) F(s, c)`."""
    if not isinstance(item, c_ast.For):
        return copy.deepcopy(item)
    var = counting_var(item)
    body = copy.deepcopy(item.stmt)
    for parent in list(walk(body)):
        for name, child in parent.children():
            if isinstance(child, c_ast.ArrayRef) and text(child.name) == array:
                set_child(parent, name, copy.deepcopy(state))
    if isinstance(body, c_ast.ArrayRef) and text(body.name) == array:
        body = copy.deepcopy(state)
    body = replaced_ids(body, {var: column})
    when = pattern("A <= C && C < B", A=init_value(item), B=item.cond.right, C=column)
    return c_ast.If(when, c_ast.Compound(block(body)), None, coord=item.coord)
