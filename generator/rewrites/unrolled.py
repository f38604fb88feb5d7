"""Function rewrite: a hand-unrolled integer sum rolled back into one loop, so that the rules
and the split folds (pieces.py) see one accumulator.

    T c0 = 0; ...; T c{U-1} = 0;              // U >= 2 integer accumulators
    T i = S;
    for (; i + U <= E; i += U) { c0 += X(i + 0); c1 += X(i + 1); ...; c{U-1} += X(i + U - 1); }
    T c = (c0 + c1) + ... ;                   // each accumulator once, any grouping
    for (; i < E; i++) { c += X(i); }
->  T c = 0;
    for (T i = S; i < E; i++) { c += X(i); }

Both add X(S), ..., X(E - 1), each once (none where E <= S): the unrolled loop the first
U * floor((E - S) / U) of them into U partial sums, the tail the rest. Integer addition wraps,
so it is associative and commutative and the one loop gives the same bits, whatever the
grouping. X only reads (no assignment, no call) and reads no accumulator; `i` and the partial
sums are read nowhere after.

Demo: tests/kernels/akc_demo_unrolled.cpp.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import ids, pattern, replaced_ids, same, signed_terms, text, walk
from akcuda.generator.analysis.context import Signature
from akcuda.generator.analysis.loops import increment_of, type_names, uses
from akcuda.plan.expr import Expr, Int


def rerolled_sums(func: c_ast.FuncDef, signature: Signature) -> c_ast.FuncDef | None:
    """A copy of `func` with every unrolled integer sum of the form above rolled into one loop
    (`signature.integer_where` says where a type name is an integer), or None if it has none."""
    integer_where = signature.integer_where
    out = copy.deepcopy(func)
    changed = False
    for node in list(walk(out.body)):
        if not isinstance(node, c_ast.Compound) or not node.block_items:
            continue
        items = node.block_items
        k = 0
        while k < len(items):
            found = _rolled(items, k, integer_where)
            if found is not None:
                replaced, by = found
                items[k : k + replaced] = by
                changed = True
            k += 1
    return out if changed else None


def _rolled(
    items: list[c_ast.Node], k: int, integer_where: Callable[[str], Expr | None]
) -> tuple[int, list[c_ast.Node]] | None:
    """(how many statements from `items[k]`, the two that replace them), else None."""
    partial = []
    while k + len(partial) < len(items) and _zero_integer(items[k + len(partial)], integer_where):
        partial.append(items[k + len(partial)])
    count = len(partial)
    if count < 2 or k + count + 4 > len(items):
        return None
    start, unrolled, total, tail = items[k + count : k + count + 4]
    names = [d.name for d in partial]
    types = {" ".join(type_names(d)) for d in partial}
    if not (isinstance(start, c_ast.Decl) and start.init is not None and _integer(start, integer_where)):
        return None
    cursor = start.name
    term = _tail_term(tail, cursor)
    if term is None or len(types) != 1 or not _sum_of(total, names, types):
        return None
    acc, x = term
    if acc != total.name or {acc, *names} & ids(x) or uses(x).written_ids or uses(x).calls:
        return None
    stop = tail.cond.right
    if not _unrolled(unrolled, cursor, stop, names, x):
        return None
    later = c_ast.Compound(items[k + count + 4 :])
    if {cursor, *names} & ids(later) or {cursor} & ids(stop) or cursor in ids(start.init):
        return None
    begin = copy.deepcopy(start)
    loop = c_ast.For(
        c_ast.DeclList([begin]),
        copy.deepcopy(tail.cond),
        copy.deepcopy(tail.next),
        copy.deepcopy(tail.stmt),
        coord=tail.coord,
    )
    first = copy.deepcopy(total)
    first.init = c_ast.Constant("int", "0")
    return count + 4, [first, loop]


def _integer(decl: c_ast.Decl, integer_where: Callable[[str], Expr | None]) -> bool:
    """A scalar of a type that is an integer in every specialization."""
    return isinstance(decl.type, c_ast.TypeDecl) and any(integer_where(n) == Int(1) for n in type_names(decl))


def _zero_integer(item: c_ast.Node, integer_where: Callable[[str], Expr | None]) -> bool:
    """`T c = 0;` of an integer type."""
    return (
        isinstance(item, c_ast.Decl)
        and isinstance(item.init, c_ast.Constant)
        and item.init.value == "0"
        and _integer(item, integer_where)
    )


def _sum_of(total: c_ast.Node, names: list[str], types: set[str]) -> bool:
    """`T c = c0 + c1 + ...;`: each partial sum once, all added, of the partials' type."""
    if not (isinstance(total, c_ast.Decl) and total.init is not None and {" ".join(type_names(total))} == types):
        return False
    terms = signed_terms(total.init)
    return all(sign > 0 and isinstance(t, c_ast.ID) for sign, t in terms) and sorted(
        t.name for _, t in terms
    ) == sorted(names)


def _tail_term(tail: c_ast.Node, cursor: str) -> tuple[str, c_ast.Node] | None:
    """(c, X(i)) of `for (; i < E; i++) { c += X(i); }`, else None."""
    if not (isinstance(tail, c_ast.For) and tail.init is None and isinstance(tail.cond, c_ast.BinaryOp)):
        return None
    if tail.cond.op != "<" or text(tail.cond.left) != cursor or increment_of(tail.next) != cursor:
        return None
    body = tail.stmt.block_items if isinstance(tail.stmt, c_ast.Compound) else [tail.stmt]
    if len(body or []) != 1 or not _adds(body[0]):
        return None
    return body[0].lvalue.name, body[0].rvalue


def _adds(stmt: c_ast.Node) -> bool:
    return isinstance(stmt, c_ast.Assignment) and stmt.op == "+=" and isinstance(stmt.lvalue, c_ast.ID)


def _unrolled(loop: c_ast.Node, cursor: str, stop: c_ast.Node, names: list[str], x: c_ast.Node) -> bool:
    """`for (; i + U <= E; i += U) { c0 += X(i + 0); ...; c{U-1} += X(i + U - 1); }`."""
    count = len(names)
    step = pattern("I += U", I=c_ast.ID(cursor), U=c_ast.Constant("int", str(count)))
    if not (isinstance(loop, c_ast.For) and loop.init is None and loop.next is not None):
        return False
    if not same(loop.next, step):
        return False
    bound = pattern("I + U <= E", I=c_ast.ID(cursor), U=c_ast.Constant("int", str(count)), E=stop)
    body = loop.stmt.block_items if isinstance(loop.stmt, c_ast.Compound) else [loop.stmt]
    if not same(loop.cond, bound) or len(body or []) != count:
        return False
    for j, (name, stmt) in enumerate(zip(names, body)):
        at = pattern("I + J", I=c_ast.ID(cursor), J=c_ast.Constant("int", str(j)))
        if not (_adds(stmt) and stmt.lvalue.name == name and same(stmt.rvalue, replaced_ids(x, {cursor: at}))):
            return False
    return True
