"""Rule: a loop compacting an array in place at a counter runs count-scan-fill, one thread per
iteration, out of place and verified (emission/compaction.py writes its launches).

A loop that writes an array only at a counter (`A[m++] = v`) and also reads that array in place
(`A[k]` at its own elements, `A[m - 1]` for the value it kept last) compacts the array toward
its front:

    for (i ...) { out[i] = m; A[m++] = A[starts[i]]; for (k ...) if (A[m - 1] != A[k]) A[m++] = A[k]; }

Two facts make it count, scan, fill with one thread per iteration (a whole row, with its inner
loop):

- `A[m - 1]` after the iteration's own `A[m++] = v` is the value it stored last: a private local
  (`akc_last`) holds it, so no iteration reads another's store through the counter;
- every other read `A[p]` sees what the C saw if, whenever an earlier store of the C order had
  reached position p (p in `[m0, M)`, the counter's start and its value at the read), that store
  left the same bits as the unchanged array holds there. Count, *compact* and *verify* read the
  array unchanged: compact writes the compacted values into scratch after the scan rows, verify
  runs each iteration again from its scanned start and flags a read where the bits differ. By
  induction over the C order an unflagged run is the C's (each position is written once, by the
  iteration whose counter range holds it); a flagged one (a NaN kept twice overtakes the reads)
  runs in C order. Fill then makes the other stores and *copy* puts the scratch back at
  `A[m0 ...]`, before *finish* moves the counter on.

Demo: tests/kernels/akc_demo_compact.cpp (and akc_demo_dedup_words.cpp, with "last kept" state).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, ids, is_call, set_child, text, walk
from akcuda.generator.analysis.context import Analysis, Code, Planned, Refusal, Site
from akcuda.generator.analysis.counters import rows_used
from akcuda.generator.analysis.iterations import scan_loop
from akcuda.generator.analysis.loops import host_expr, init_value
from akcuda.generator.rewrites.last_kept import speculated
from akcuda.plan import model as P

LAST = "akc_last"  # the value the iteration stored last at the counter


class Store(NamedTuple):
    """The array a loop compacts in place and the counter it stores at (`A[m++] = v`)."""

    array: str
    counter: str


def store_at(node: c_ast.Node) -> Store | None:
    """(array, counter) of `A[m++] = v`, else None."""
    if not (isinstance(node, c_ast.Assignment) and node.op == "=" and isinstance(node.lvalue, c_ast.ArrayRef)):
        return None
    position = node.lvalue.subscript
    if not (
        isinstance(node.lvalue.name, c_ast.ID)
        and isinstance(position, c_ast.UnaryOp)
        and position.op == "p++"
        and isinstance(position.expr, c_ast.ID)
    ):
        return None
    return Store(node.lvalue.name.name, position.expr.name)


def _is_last(node: c_ast.Node, found: Store) -> bool:
    """`A[m - 1]`."""
    return (
        isinstance(node, c_ast.ArrayRef)
        and text(node.name) == found.array
        and text(node.subscript).replace(" ", "") == f"{found.counter}-1"
    )


def _advances_of(body: c_ast.Node, name: str) -> int:
    """How many statements or expressions change local `name`."""
    return sum(
        (isinstance(n, c_ast.UnaryOp) and n.op in ("p++", "++", "p--", "--") and text(n.expr) == name)
        or (isinstance(n, c_ast.Assignment) and text(n.lvalue) == name)
        for n in walk(body)
    )


def _stores_before_last(items: list[c_ast.Node], found: Store) -> bool:
    """Is there no `A[m - 1]` read, or is one of the top-level statements a store `A[m++] = v`,
    with no `A[m - 1]` read before it or inside it (so every such read follows a store of the
    same iteration)?"""
    if not any(_is_last(n, found) for item in items for n in walk(item)):
        return True
    for item in items:
        if any(_is_last(n, found) for n in walk(item)):
            return False
        if store_at(item) == (found.array, found.counter):
            return True
    return False


def _read_in(nodes: list[c_ast.Node], array: str) -> bool:
    """Do the nodes read `array` (an `array[p]` other than a store's target)?"""
    targets = {id(n.lvalue) for n in nodes if isinstance(n, c_ast.Assignment)}
    return any(isinstance(n, c_ast.ArrayRef) and text(n.name) == array and id(n) not in targets for n in nodes)


def _leaves(node: c_ast.Node) -> bool:
    """Does a `continue` or `break` outside the tree's inner loops leave the iteration?"""
    if isinstance(node, (c_ast.Continue, c_ast.Break)):
        return True
    inner = (c_ast.For, c_ast.While, c_ast.DoWhile)
    return any(not isinstance(child, inner) and _leaves(child) for _, child in node.children())


def find_compaction(loop: c_ast.For) -> Store | None:
    """The loop's in-place compaction, if it has exactly this shape: one array A, stored at a
    counter and read (other arrays stored at counters are plain counter stores), written only by
    `A[m++] = v` statements, m advanced nowhere else, `A[m - 1]` read only after a top-level
    statement that is such a store, other reads of A not at m, A read at least once
    besides `A[m - 1]`, and no failure, `continue` or `break` leaving the iteration (their
    launches stop differently; a `break` of an inner loop is the iteration's own)."""
    body = loop.stmt
    nodes = list(walk(body))
    # an array stored at a counter and never read is a plain counter store (out[k++] = v)
    stores = {s for n in nodes if (s := store_at(n)) and _read_in(nodes, s[0])}
    if len(stores) != 1:
        return None
    found = stores.pop()
    array, counter = found.array, found.counter
    if _leaves(body) or any(isinstance(n, c_ast.Return) and is_call(n.expr, "failure") for n in nodes):
        return None
    written = [n for n in nodes if isinstance(n, c_ast.Assignment) and text(n.lvalue).startswith(f"{array}[")]
    increments = [n for n in nodes if isinstance(n, c_ast.UnaryOp) and text(n.expr).startswith(f"{array}[")]
    if increments or any(store_at(n) != (array, counter) for n in written):
        return None
    if _advances_of(body, counter) != len(written):
        return None
    if not _stores_before_last(block(body), found):
        return None
    reads = [n for n in nodes if isinstance(n, c_ast.ArrayRef) and text(n.name) == array]
    targets = {id(n.lvalue) for n in written}
    others = [n for n in reads if id(n) not in targets and not _is_last(n, found)]
    if not others or any(counter in ids(n.subscript) for n in others):
        return None
    return found


def kept_last(loop: c_ast.For, found: Store) -> c_ast.For:
    """A copy of the loop where the value stored last at the counter is a private local:
    `{ A[m++] = A[s]; if (A[m - 1] != A[k]) A[m++] = A[k]; }` ->
    `{ auto akc_last = akc_zero_of(A); akc_last = A[s]; A[m++] = akc_last;
       if (akc_last != A[k]) { akc_last = A[k]; A[m++] = akc_last; } }`
    (`A[m - 1]` is the iteration's own last store: m moves only there, A changes only there);
    the loop itself if it never reads `A[m - 1]`."""
    if not any(_is_last(n, found) for n in walk(loop.stmt)):
        return loop
    loop = copy.deepcopy(loop)

    class Kept(c_ast.NodeVisitor):
        def generic_visit(self, node: c_ast.Node) -> None:
            for name, child in node.children():
                if _is_last(child, found):
                    set_child(node, name, c_ast.ID(LAST, coord=child.coord))
                elif store_at(child) == (found.array, found.counter):
                    self.visit(child.rvalue)
                    keep = c_ast.Assignment("=", c_ast.ID(LAST), child.rvalue, coord=child.coord)
                    store = c_ast.Assignment("=", child.lvalue, c_ast.ID(LAST), coord=child.coord)
                    set_child(node, name, c_ast.Compound([keep, store], coord=child.coord))
                else:
                    self.visit(child)

    Kept().visit(loop.stmt)
    zero = c_ast.FuncCall(c_ast.ID("akc_zero_of"), c_ast.ExprList([c_ast.ID(found.array)]))
    auto = c_ast.TypeDecl(LAST, [], None, c_ast.IdentifierType(["auto"]))
    declared = c_ast.Decl(LAST, [], [], [], [], auto, zero, None)
    loop.stmt = c_ast.Compound([declared, *block(loop.stmt)], coord=loop.stmt.coord)
    return loop


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    """The step of a loop compacting an array in place at a local counter: count-scan-fill on
    the loop with its last store kept privately and its "last kept" state speculated
    (rewrites/last_kept.py), the reads verified at run time (else C order)."""
    stmt = site.written
    found = find_compaction(stmt)
    if found is None:
        return Refusal("it compacts no array in place at a counter (`A[m++] = v` with A read in place)")
    spec = speculated(stmt, found.array, found.counter, ctx.local_decls, ctx.scalars, ctx.pointers, site.live_after)
    loop, checked = (spec.loop, spec.checked) if spec is not None else (stmt, stmt)
    found = find_compaction(loop)
    if found is None:
        return Refusal("its 'last kept' state, speculated, leaves no compaction")
    kept = kept_last(loop, found)
    count, counters, reason = scan_loop(kept, ctx, site.live_after, None, frozenset({found.array}))
    if reason or not any(c.name == found.counter for c in counters):
        return Refusal(f"count-scan-fill on the compacted loop: {reason or 'its counter is not a counter'}")
    if any(c.kind != P.CounterKind.LOCAL or c.op != P.CounterOp.SUM for c in counters):
        return Refusal("compact and verify start local sums only")
    row = next(c.row for c in counters if c.name == found.counter)
    rows = rows_used(counters)  # then the check row
    form = P.Compaction(tuple(counters), rows + 1, found.array, row, rows)
    step = P.Step(form, count=count, first=host_expr(init_value(stmt), ctx.scalars))
    return Planned(step, Code([stmt], kept, serial_form=stmt, checked=kept_last(checked, found)))
