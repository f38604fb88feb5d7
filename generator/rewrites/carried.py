"""Loop rewrites: state handed through memory within an iteration, or from one iteration to the
next through a local, becomes a value each iteration computes itself, before the rules look at
the loop. Each returns a new loop (the original stays what a serial step runs) or None when it
does not apply.

Demo: tests/kernels/akc_demo_padrows.cpp (a forwarded store), akc_demo_keyed.cpp (a previous value).
"""

from __future__ import annotations

import copy

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, substituted, text, walk
from akcuda.generator.analysis.context import Analysis
from akcuda.generator.analysis.loops import counting_var, init_value, inline, over_inputs, uses, written_anywhere


def previous_values(loop: c_ast.For, ctx: Analysis, live_after: frozenset[str]) -> c_ast.For | None:
    """A copy of the loop where a top-level local `x` that the body reads and, as its last
    statement, sets from this iteration's inputs (`x = e`, as in `previous = offsets[i]`) is
    read instead as the previous iteration's `e` (its value before the loop in the first), so
    iterations no longer hand it on; None if the loop has no such local."""
    var, items = counting_var(loop), block(loop.stmt)
    if var is None or not items:
        return None
    last = items[-1]
    if not (isinstance(last, c_ast.Assignment) and last.op == "=" and isinstance(last.lvalue, c_ast.ID)):
        return None
    name = last.lvalue.name
    rest = uses(c_ast.Compound(items[:-1]))
    decls = ctx.local_decls
    if name in live_after or name not in decls or name in rest.written_ids or name not in rest.ids:
        return None
    assigned = uses(loop.stmt).written_ids
    once = {}
    for item in items[:-1]:  # this iteration's values, each set once at the top level
        if isinstance(item, c_ast.Decl) and item.init is not None and item.name not in assigned:
            once[item.name] = item.init
        elif (
            isinstance(item, c_ast.Assignment)
            and item.op == "="
            and isinstance(item.lvalue, c_ast.ID)
            and sum(isinstance(n, c_ast.Assignment) and text(n.lvalue) == item.lvalue.name for n in walk(loop.stmt))
            == 1
        ):
            once[item.lvalue.name] = item.rvalue
    value = inline(last.rvalue, once)
    stable = ctx.pointers - written_anywhere(uses(loop.stmt))
    if not over_inputs(value, var, stable, ctx.scalars):
        return None
    before = substituted(value, _named(var), c_ast.BinaryOp("-", c_ast.ID(var), c_ast.Constant("int", "1")))
    private = f"akc_previous_{name}"
    decl = copy.deepcopy(decls[name])
    decl.name = _declared(decl).declname = private
    decl.init = c_ast.TernaryOp(
        c_ast.BinaryOp("==", c_ast.ID(var), copy.deepcopy(init_value(loop))), c_ast.ID(name), before
    )
    body = [decl] + [substituted(item, _named(name), c_ast.ID(private)) for item in items[:-1]]
    return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(body, coord=loop.stmt.coord), coord=loop.coord)


def _declared(decl: c_ast.Decl) -> c_ast.TypeDecl:
    node = decl.type
    while not isinstance(node, c_ast.TypeDecl):
        node = node.type
    return node


def _named(name: str):
    return lambda node: isinstance(node, c_ast.ID) and node.name == name


def forwarded_stores(loop: c_ast.For, ctx: Analysis, live_after: frozenset[str]) -> c_ast.For | None:
    """A copy of the loop where the iteration's reads of `X[i]` after its own store `X[i] = x`
    (x a local, neither assigned again before) read `(T) x` instead: a value handed on through
    memory becomes a value again. None if there is no such read."""
    var, items = counting_var(loop), list(block(loop.stmt))
    changed = False
    for k, item in enumerate(items):
        if not (
            isinstance(item, c_ast.Assignment)
            and item.op == "="
            and isinstance(item.lvalue, c_ast.ArrayRef)
            and text(item.lvalue.subscript) == var
            and isinstance(item.rvalue, c_ast.ID)
            and text(item.lvalue.name) in ctx.element_types
        ):
            continue
        place, local = text(item.lvalue), item.rvalue.name
        value = c_ast.Cast(
            c_ast.Typename(
                None,
                [],
                None,
                c_ast.TypeDecl(None, [], None, c_ast.IdentifierType(ctx.element_types[text(item.lvalue.name)])),
            ),
            c_ast.ID(local),
        )
        for j in range(k + 1, len(items)):
            later = uses(items[j])
            sets_local = local in later.written_ids
            if any(f"{a}[{text(i)}]" == place for a, i, _ in later.array_writes) or (
                sets_local and not (isinstance(items[j], c_ast.Assignment) and text(items[j].lvalue) == local)
            ):
                break  # only an assignment to the local itself reads before it writes
            if any(f"{a}[{text(i)}]" == place for a, i in later.array_reads):
                at_place = lambda node, place=place: isinstance(node, c_ast.ArrayRef) and text(node) == place  # noqa: E731
                items[j], changed = substituted(items[j], at_place, value), True
            if sets_local:
                break
    if not changed:
        return None
    return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(items, coord=loop.stmt.coord), coord=loop.coord)
