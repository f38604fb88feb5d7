"""Stage (analysis, a rewrite before the compaction rule): "last kept" state speculated from the
previous item, for an in-place compaction that keeps an item unless it equals the last one kept.

    for (i ...) { len = offsets[i + 1] - offsets[i]; differ = len != lastlen || <A[laststart + k] != A[offsets[i] + k]>;
                  if (differ) { laststart = m; for (j = offsets[i]; j < offsets[i + 1]; j++) A[m++] = A[j];
                                lastlen = len; ... } }

`laststart` and `lastlen` are assigned only in the kept branch: a position (`P = m`, just before
a copy loop `for (j = X; j < Y; j++) A[m++] = A[j]`, the loop's only store into A) and a length
(`L = e` with e = Y - X), read before the branch as `L` and `A[P + k]`. Each iteration's state is
speculated as what the previous iteration would have assigned had it kept its item (`P :=
X(i - 1)` in the unchanged array, `L := e(i - 1)`; the first iteration keeps the values from
before the loop), so no iteration hands state to the next and the compaction rule takes it.

Exact by induction over the C order, with two run-time checks in the compaction's *verify*
launch (`Speculated.checked`): a read `A[P + k]` must have `0 <= k < L` (the C reads the kept item's own
bytes, stored at `[P, P + L)` in the compacted array from verified reads of `A[X + k]`), and an
iteration that keeps nothing must hold an item equal to the speculated one (same length, same
bytes in the unchanged array), so the C's state, which it did not change, is still the item
before. A failed check runs the loop in C order.

Demo: tests/kernels/akc_demo_dedup_words.cpp.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, ids, replaced_ids, same, set_child, text, walk
from akcuda.generator.analysis.loops import counting_var, init_value, inline, over_inputs, private_definitions, uses

READ, SAME = "akc_kept_read", "akc_same_as_kept"  # verify's checks (compaction.cu.j2 defines them)
AT, LEN = "akc_kept_at", "akc_kept_len"
BROKEN = "akc_broken"  # the flag verify's checks raise (compaction.cu.j2 declares it)


def _assigned(node: c_ast.Node) -> list[c_ast.Assignment]:
    return [n for n in walk(node) if isinstance(n, c_ast.Assignment) and isinstance(n.lvalue, c_ast.ID)]


def _copy_loop(stmt: c_ast.Node, array: str, counter: str) -> tuple[c_ast.Node, c_ast.Node] | None:
    """(X, Y) of `for (j = X; j < Y; j++) A[m++] = A[j];`, else None."""
    if not (isinstance(stmt, c_ast.For) and (var := counting_var(stmt)) and stmt.cond.op == "<"):
        return None
    items = block(stmt.stmt)
    wanted = f"{array}[{counter}++] = {array}[{var}]"
    if len(items) != 1 or text(items[0]) != wanted:
        return None
    return init_value(stmt), stmt.cond.right


def _shifted(node: c_ast.Node, var: str) -> c_ast.Node:
    """`node` at the previous iteration: `offsets[i + 1] - offsets[i]` -> `offsets[i - 1 + 1] - offsets[i - 1]`."""
    return replaced_ids(node, {var: c_ast.BinaryOp("-", c_ast.ID(var), c_ast.Constant("int", "1"))})


def _kept_reads(node: c_ast.Node, array: str, position: str) -> list[tuple[c_ast.Node, str, c_ast.Node]] | None:
    """(parent, child name, k) of each `A[P + k]` (or `A[k + P]`, `A[P]` with k = 0); None if P
    is read otherwise."""
    found, allowed = [], set()
    for parent in walk(node):
        for name, child in parent.children():
            if not (isinstance(child, c_ast.ArrayRef) and text(child.name) == array):
                continue
            at = child.subscript
            if isinstance(at, c_ast.ID) and at.name == position:
                found.append((parent, name, c_ast.Constant("int", "0")))
                allowed.add(id(at))
            elif isinstance(at, c_ast.BinaryOp) and at.op == "+":
                for mine, k in ((at.left, at.right), (at.right, at.left)):
                    if isinstance(mine, c_ast.ID) and mine.name == position and position not in ids(k):
                        found.append((parent, name, k))
                        allowed.add(id(mine))
                        break
    mentions = [n for n in walk(node) if isinstance(n, c_ast.ID) and n.name == position]
    return found if all(id(n) in allowed for n in mentions) else None


@dataclass(frozen=True)
class Speculated:
    """A compaction loop with its "last kept" state speculated: as count, compact and fill run
    it, and as verify runs it, checking that the speculation held (raising `akc_broken`)."""

    loop: c_ast.For
    checked: c_ast.For


def speculated(
    loop: c_ast.For, array: str, counter: str, decls: dict[str, c_ast.Decl], scalars, pointers: set[str], live_after
) -> Speculated | None:
    """Copies of the loop with its "last kept" position P and length L speculated from the
    previous item (module docstring); None if it lacks the shape:
    `{ ...reads of L and A[P + k]...; if (c) { P = m; for (j = X; j < Y; j++) A[m++] = A[j]; L = e; ... } }`
    -> `{ const int64_t akc_kept_len = i == first ? L : e(i - 1); const int64_t akc_kept_at = i == first ? P : X(i - 1);
          ...akc_kept_len, A[akc_kept_at + k]...; if (c) { for (...) A[m++] = A[j]; ... } }`,
    and for verify the same with `akc_kept_read(A, akc_kept_at, k, akc_kept_len, &akc_broken)`
    for each read and `else akc_same_as_kept(A, X, e, akc_kept_at, akc_kept_len, &akc_broken);`."""
    var, items = counting_var(loop), block(loop.stmt)
    kept = [n for n in items if isinstance(n, c_ast.If) and n.iffalse is None]
    stores = [n for n in walk(loop.stmt) if isinstance(n, c_ast.Assignment) and text(n.lvalue).startswith(f"{array}[")]
    if var is None or len(kept) != 1 or len(stores) != 1:
        return None  # one store, the copy's: before the first kept item the array is unchanged
    branch = kept[0]
    inside = block(branch.iftrue)
    state = {a.lvalue.name for a in _assigned(branch.iftrue)} - uses(loop.stmt).declared
    if not state or state & set(live_after) or not state <= set(decls):
        return None
    if any(a.lvalue.name in state for a in _assigned(loop.stmt) if a not in inside or a.op != "="):
        return None  # assigned only by top-level `=` statements of the kept branch
    assigns = {k: s for k, s in enumerate(inside) if isinstance(s, c_ast.Assignment) and isinstance(s.lvalue, c_ast.ID)}
    where = next((k for k, s in assigns.items() if s.lvalue.name in state and text(s.rvalue) == counter), None)
    if where is None or where + 1 >= len(inside) or (span := _copy_loop(inside[where + 1], array, counter)) is None:
        return None
    position = inside[where].lvalue.name
    lengths = [s for s in assigns.values() if s.lvalue.name in state - {position}]
    if len(lengths) != 1 or {position, lengths[0].lvalue.name} != state:
        return None
    length, value = lengths[0].lvalue.name, lengths[0].rvalue
    defined = private_definitions(loop.stmt)
    x, extent = inline(span[0], defined), inline(c_ast.BinaryOp("-", span[1], span[0]), defined)
    stable = pointers - {a for a, _, _ in uses(loop.stmt).array_writes}
    if not same(inline(value, defined), extent) or not all(over_inputs(e, var, stable, scalars) for e in (x, extent)):
        return None
    at = items.index(branch)
    taken = [s for s in inside if s is not inside[where] and s is not lengths[0]]
    if ids(c_ast.Compound(taken + items[at + 1 :])) & state or ids(branch.cond) & state:
        return None  # the state is read before the branch only
    if _kept_reads(c_ast.Compound(items[:at]), array, position) is None:
        return None
    first = c_ast.BinaryOp("==", c_ast.ID(var), copy.deepcopy(init_value(loop)))

    def declared(name: str, start: str, previous: c_ast.Node) -> c_ast.Decl:
        kind = c_ast.TypeDecl(name, ["const"], None, c_ast.IdentifierType(["int64_t"]))
        return c_ast.Decl(name, ["const"], [], [], [], kind, c_ast.TernaryOp(first, c_ast.ID(start), previous), None)

    def form(checked: bool) -> c_ast.For:
        before = c_ast.Compound(copy.deepcopy(items[:at]))
        for parent, name, k in _kept_reads(before, array, position):
            set_child(parent, name, _read(array, k, checked))
        before = replaced_ids(before, {length: c_ast.ID(LEN)})
        same_item = [c_ast.ID(array), copy.deepcopy(x), copy.deepcopy(extent), c_ast.ID(AT), c_ast.ID(LEN)]
        kept_nothing = _checking(SAME, same_item) if checked else None
        rewritten = c_ast.If(branch.cond, c_ast.Compound(copy.deepcopy(taken)), kept_nothing, coord=branch.coord)
        body = [
            declared(LEN, length, _shifted(extent, var)),
            declared(AT, position, _shifted(x, var)),
            *block(before),
            rewritten,
            *copy.deepcopy(items[at + 1 :]),
        ]
        return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(body, coord=loop.stmt.coord), coord=loop.coord)

    return Speculated(form(False), form(True))


def _read(array: str, k: c_ast.Node, checked: bool) -> c_ast.Node:
    """The kept item's element k: `A[akc_kept_at + k]`, or (checked) `akc_kept_read(A,
    akc_kept_at, k, akc_kept_len, &akc_broken)`."""
    if checked:
        return _checking(READ, [c_ast.ID(array), c_ast.ID(AT), k, c_ast.ID(LEN)])
    return c_ast.ArrayRef(c_ast.ID(array), c_ast.BinaryOp("+", c_ast.ID(AT), k))


def _checking(name: str, args: list[c_ast.Node]) -> c_ast.FuncCall:
    """`name(args..., &akc_broken)`: a check of verify's that raises the flag."""
    return c_ast.FuncCall(c_ast.ID(name), c_ast.ExprList([*args, c_ast.UnaryOp("&", c_ast.ID(BROKEN))]))
