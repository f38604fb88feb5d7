"""Stage (analysis): rewrites of a loop that remove state handed from one iteration to the next
before the plan rules look at it, and the peeling of a loop's first iteration. Each returns a new
loop (the original stays what a serial step runs) or None when it does not apply.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.ast_util import block, declared_like, pattern, text, walk
from akcuda.generator.loops import (
    counting_var,
    host_expr,
    init_value,
    inline,
    only_read,
    over_inputs,
    uses,
    written_anywhere,
)
from akcuda.plan.expr import Binary, Expr, Memory


def previous_values(
    loop: c_ast.For, decls: dict[str, c_ast.Decl], scalars: dict, pointers: set[str], live_after: set[str]
) -> c_ast.For | None:
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
    stable = pointers - written_anywhere(uses(loop.stmt))
    if not over_inputs(value, var, stable, scalars):
        return None
    before = _substitute(value, _named(var), c_ast.BinaryOp("-", c_ast.ID(var), c_ast.Constant("int", "1")))
    private = f"akc_previous_{name}"
    decl = copy.deepcopy(decls[name])
    decl.name = _declared(decl).declname = private
    decl.init = c_ast.TernaryOp(
        c_ast.BinaryOp("==", c_ast.ID(var), copy.deepcopy(init_value(loop))), c_ast.ID(name), before
    )
    body = [decl] + [_substitute(item, _named(name), c_ast.ID(private)) for item in items[:-1]]
    return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(body, coord=loop.stmt.coord), coord=loop.coord)


def _declared(decl: c_ast.Decl) -> c_ast.TypeDecl:
    node = decl.type
    while not isinstance(node, c_ast.TypeDecl):
        node = node.type
    return node


def _substitute(node: c_ast.Node, match, value: c_ast.Node | None) -> c_ast.Node:
    """A copy of `node` with every node for which `match(node)` holds replaced by `value`
    (None: an empty statement)."""
    if match(node):
        return c_ast.EmptyStatement() if value is None else copy.deepcopy(value)
    out = copy.copy(node)
    for child_name, child in node.children():
        replaced = _substitute(child, match, value)
        if "[" in child_name:
            attr, index = child_name[:-1].split("[")
            items = list(getattr(out, attr)) if getattr(out, attr) is getattr(node, attr) else getattr(out, attr)
            items[int(index)] = replaced
            setattr(out, attr, items)
        else:
            setattr(out, child_name, replaced)
    return out


def _named(name: str):
    return lambda node: isinstance(node, c_ast.ID) and node.name == name


def forwarded_stores(loop: c_ast.For, element_types: dict[str, list[str]]) -> c_ast.For | None:
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
            and text(item.lvalue.name) in element_types
        ):
            continue
        place, local = text(item.lvalue), item.rvalue.name
        value = c_ast.Cast(
            c_ast.Typename(
                None,
                [],
                None,
                c_ast.TypeDecl(None, [], None, c_ast.IdentifierType(element_types[text(item.lvalue.name)])),
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
                items[j], changed = _substitute(items[j], at_place, value), True
            if sets_local:
                break
    if not changed:
        return None
    return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(items, coord=loop.stmt.coord), coord=loop.coord)


@dataclass
class Peeled:
    first: c_ast.For  # the first iteration, as a loop of one
    rest: c_ast.For  # the others, with the setting branch taken out
    rest_as_is: c_ast.For  # the others as written (when the check fails)
    check: Expr  # what must hold after the first iteration


def peel_sentinel(loop: c_ast.For, scalars: dict) -> Peeled | None:
    """For a loop that sets a memory place only while it still holds a sentinel
    (`if (*size == -1) *size = count; else if (*size != count) ...`): once the first iteration
    has left another value there, no later iteration sets it, so the rest of the loop runs with
    only the else-branch, which merely reads it. Whether the first iteration did is checked at
    run time. None if the loop has no such place."""
    var, start = counting_var(loop), init_value(loop)
    if var is None or loop.cond.op != "<" or host_expr(start, scalars) is None:
        return None
    setters = [n for n in walk(loop.stmt) if isinstance(n, c_ast.If) and _sentinel_test(n.cond)]
    if len(setters) != 1:
        return None
    setter = setters[0]
    place, sentinel = _sentinel_test(setter.cond)
    writes = [node for a, _, node in uses(loop.stmt).array_writes if text(node) == place]
    inside = [node for a, _, node in uses(setter.iftrue).array_writes if text(node) == place]
    if not inside or len(writes) != len(inside):
        return None
    one = c_ast.Constant("int", "1")

    def from_second(body: c_ast.Node) -> c_ast.For:
        init = copy.deepcopy(loop.init)
        init.decls[0].init = c_ast.BinaryOp("+", copy.deepcopy(start), one)
        return c_ast.For(init, loop.cond, loop.next, body, coord=loop.coord)

    only_first = c_ast.BinaryOp("&&", loop.cond, c_ast.BinaryOp("<", c_ast.ID(var), c_ast.BinaryOp("+", start, one)))
    array = next(a for a, _, node in uses(setter.iftrue).array_writes if text(node) == place)
    return Peeled(
        c_ast.For(loop.init, only_first, loop.next, loop.stmt, coord=loop.coord),
        from_second(_substitute(loop.stmt, lambda node: node is setter, setter.iffalse)),
        from_second(loop.stmt),
        Binary("!=", Memory(array), host_expr(sentinel, {})),
    )


def _sentinel_test(cond: c_ast.Node) -> tuple[str, c_ast.Node] | None:
    """`*p == s` or `p[0] == s` with a constant s -> ('*p' or 'p[0]', s)."""
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op == "==" and host_expr(cond.right, {}) is not None):
        return None
    left = cond.left
    scalar_place = (isinstance(left, c_ast.UnaryOp) and left.op == "*" and isinstance(left.expr, c_ast.ID)) or (
        isinstance(left, c_ast.ArrayRef) and isinstance(left.name, c_ast.ID) and text(left.subscript) == "0"
    )
    return (text(left), cond.right) if scalar_place else None


def collapsed(loop: c_ast.For, scalars: dict) -> c_ast.For | None:
    """A loop over pairs for a loop over `b` whose body is declarations over `b` and one loop
    over `c` from 0 to a bound the host knows: iterations in the same (b, c) order, one per
    pair, so a rule that gives each iteration a thread gives each pair one:

        for (b = 0; b < B; b++) { T r = R(b); for (c = 0; c < C; c++) S(b, c, r); }
    ->  for (t = 0; t < (B > 0 && C > 0 ? B * C : 0); t++) { b = t / C; c = t % C; T r = R(b); S(b, c, r); }

    The declarations only read (they set nothing the pairs see otherwise), so skipping them
    where C is 0 changes nothing; `b * C + c` in the body (also as `base + c` with `base = b * C`
    declared before) is the pair's own index t, which lets a rule see a write there as the
    iteration's own place. None if the loop has no such form."""
    outer, items = counting_var(loop), block(loop.stmt)
    if outer is None or loop.cond.op != "<" or text(init_value(loop)) != "0" or not items:
        return None
    inner, decls = items[-1], items[:-1]
    if not isinstance(inner, c_ast.For) or not all(isinstance(d, c_ast.Decl) for d in decls):
        return None
    column = counting_var(inner)
    if column is None or inner.cond.op != "<" or text(init_value(inner)) != "0":
        return None
    bins, width = loop.cond.right, inner.cond.right
    if host_expr(bins, scalars) is None or host_expr(width, scalars) is None:
        return None
    if not only_read(decls):
        return None
    body = uses(inner.stmt)
    if any(isinstance(n, (c_ast.Break, c_ast.Goto)) for n in walk(inner.stmt)):
        return None  # a break would leave the pairs, not the row's columns
    assigned = set(body.written_ids)
    if {outer, column} & assigned or {d.name for d in decls} & assigned:
        return None
    pair = "akc_pair_" + outer
    holes = {"B": c_ast.ID(outer), "W": width, "C": c_ast.ID(column)}
    flat = {text(pattern(form, **holes)) for form in ("B * W + C", "C + B * W")}
    defined = {d.name: d.init for d in decls if d.init is not None}
    own_index = lambda node: isinstance(node, c_ast.BinaryOp) and text(inline(node, defined)) in flat  # noqa: E731
    like = loop.init.decls[0]
    at = c_ast.ID(pair)
    place = [
        declared_like(like, outer, pattern("T / W", T=at, W=width)),
        declared_like(like, column, pattern("T % W", T=at, W=width)),
    ]
    pairs = pattern("(B > 0 && W > 0 ? B * W : 0)", B=bins, W=width)
    return c_ast.For(
        c_ast.DeclList([declared_like(like, pair, c_ast.Constant("int", "0"))]),
        c_ast.BinaryOp("<", copy.deepcopy(at), pairs),
        c_ast.UnaryOp("p++", copy.deepcopy(at)),
        c_ast.Compound(
            place + [copy.deepcopy(d) for d in decls] + block(_substitute(inner.stmt, own_index, at)),
            coord=loop.stmt.coord,
        ),
        coord=loop.coord,
    )
