"""Rule: a loop that starts a new group whenever its variable reaches the next term of an
arithmetic progression (`if (i == next) { next += width; ...; k++; }`) is a loop over groups,
each running its own iterations in C order with the group's counter in closed form, one thread
per group where the general rule takes the loop over groups (`progression_groups` has the
before and after).

Demo: tests/kernels/akc_demo_groups.cpp.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, declared_like, ids, pattern, replaced_ids, walk
from akcuda.generator.analysis.context import Analysis, Planned, Refusal, Site
from akcuda.generator.analysis.iterations import loop_step
from akcuda.generator.analysis.loops import counting_var, host_expr, increment_of, init_value, uses

# The group bounds over the loop's [LO, HI), the progression's first term S and width C: the
# first term inside the loop (none when S < LO: the variable never meets it), how many terms
# the loop meets (one when C <= 0: the progression never comes back), and where group Q
# starts (group 0 holds the iterations before the first term, group q >= 1 starts at term q-1).
_FIRST = "(S >= LO ? S : HI)"
_TERMS = f"({_FIRST} < HI ? (C > 0 ? (HI - {_FIRST} + C - 1) / C : 1) : 0)"
_START = f"(Q == 0 ? LO : (Q - 1 < {_TERMS} ? {_FIRST} + (Q - 1) * C : HI))"


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    groups = progression_groups(site.written, ctx.scalars, ctx.local_decls, ctx.assignments, site.live_after)
    if groups is None:
        return Refusal("opens no group at the terms of an arithmetic progression (`if (i == next) { next += w; ...}`)")
    found = loop_step(groups, ctx, site.live_after)
    if isinstance(found, Refusal):
        return Refusal(f"the loop over groups: {found.why}")
    found.code.serial_form = site.written
    return found


def progression_groups(
    loop: c_ast.For,
    scalars: dict[str, c_ast.Node | None],
    decls: dict[str, c_ast.Decl],
    assignments: dict[str, int],
    live_after: set[str],
) -> c_ast.For | None:
    """The loop over groups of a loop whose first statement opens a group at the terms of an
    arithmetic progression; `assignments` counts the function's assignments to each name (the
    progression's first term is its local's definition, so only this loop may assign it):

        for (i = lo; i < hi; i++) { if (i == next) { next += w; H; k++; } R }
    ->  for (q = 0; q < TERMS + 1; q++)
          for (i = START(q); i < START(q + 1); i++) { if (q > 0 && i == START(q)) H[k + q - 1]; R[k + q] }

    `w` is over scalar arguments, `next` and the optional counter `k` (advanced only by the
    group's last statement) are top-level locals read nowhere after the loop. Group q writes
    what iterations START(q) .. START(q + 1) - 1 write in C order, with the counter the C has
    there, so a write at the counter (`out[k - 1] = i`, last writer wins) belongs to one group.
    None if the loop has no such form."""
    found = _progression(loop, scalars, decls, assignments, live_after)
    return None if found is None else _over_groups(loop, found)


@dataclass(frozen=True)
class _Progression:
    """A loop `for (i = lo; i < hi; i++) { if (i == next) { next += w; H; k++; } R }` in parts."""

    var: str  # i
    opening: c_ast.If  # the `if (i == next)` that opens a group
    first: c_ast.Node  # the progression's first term: next's definition
    width: c_ast.Node  # w
    head: list[c_ast.Node]  # H: what the opening does besides `next += w` and `k++`
    counter: str | None  # k, if the opening ends by advancing it
    rest: list[c_ast.Node]  # R: the statements after the opening


def _progression(
    loop: c_ast.For,
    scalars: dict[str, c_ast.Node | None],
    decls: dict[str, c_ast.Decl],
    assignments: dict[str, int],
    live_after: set[str],
) -> _Progression | None:
    """The parts of a loop opening groups at a progression's terms (`progression_groups` says
    what each must be), else None."""
    var = counting_var(loop)
    items = block(loop.stmt)
    if var is None or loop.cond.op != "<" or not items or not isinstance(items[0], c_ast.If):
        return None
    lo, hi = init_value(loop), loop.cond.right
    opening = items[0]
    nxt = _term(opening.cond, var)
    if nxt is None or opening.iffalse is not None or nxt not in decls or nxt in live_after:
        return None
    first = decls[nxt].init
    head = block(opening.iftrue)
    steps = [s for s in head if _advance(s, nxt) is not None]
    if (
        first is None
        or None in (host_expr(first, scalars), host_expr(lo, scalars), host_expr(hi, scalars))
        or len(steps) != 1
        or host_expr(_advance(steps[0], nxt), scalars) is None
        or assignments.get(nxt, 0) != 1
        or sum(isinstance(n, c_ast.ID) and n.name == nxt for n in walk(loop.stmt)) != 2
    ):
        return None
    width = _advance(steps[0], nxt)
    head = [s for s in head if s is not steps[0]]
    counter = increment_of(head[-1]) if head else None
    if counter is not None:
        head = head[:-1]
        written = uses(loop.stmt).written_ids
        if counter not in decls or counter in live_after or counter == var or counter not in written:
            return None
        if _assigned(c_ast.Compound(head + items[1:]), counter):
            return None
    return _Progression(var, opening, first, width, head, counter, items[1:])


def _over_groups(loop: c_ast.For, found: _Progression) -> c_ast.For | None:
    """The loop over the groups of `found` (`progression_groups` has its form); None where the
    names it declares are the loop's own."""
    var, counter = found.var, found.counter
    group = f"akc_group_{var}"
    if group in ids(loop):
        return None
    q = c_ast.ID(group)
    holes = {"S": found.first, "C": found.width, "LO": init_value(loop), "HI": loop.cond.right}
    bounds = [f"akc_start_{var}", f"akc_stop_{var}"]
    if set(bounds) & ids(loop):
        return None
    start, stop = c_ast.ID(bounds[0]), c_ast.ID(bounds[1])
    rest = [_with_counter(s, counter, pattern("K + Q", K=c_ast.ID(counter), Q=q)) for s in found.rest]
    opened = [_with_counter(s, counter, pattern("K + Q - 1", K=c_ast.ID(counter), Q=q)) for s in found.head]
    when = pattern("Q > 0 && V == START", Q=q, V=c_ast.ID(var), START=start)
    opening = found.opening
    body = [c_ast.If(when, c_ast.Compound(opened, coord=opening.coord), None, coord=opening.coord)] if opened else []
    inner_init = copy.deepcopy(loop.init)
    inner_init.decls[0].init = copy.deepcopy(start)
    inner = c_ast.For(
        inner_init,
        c_ast.BinaryOp("<", c_ast.ID(var), stop),
        copy.deepcopy(loop.next),
        c_ast.Compound(body + rest, coord=loop.stmt.coord),
        coord=loop.coord,
    )
    ends = [
        declared_like(loop.init.decls[0], name, pattern(_START, Q=at, **holes))
        for name, at in zip(bounds, [q, pattern("Q + 1", Q=q)])
    ]
    outer_init = c_ast.DeclList([declared_like(loop.init.decls[0], group, c_ast.Constant("int", "0"))])
    count = pattern(f"{_TERMS} + 1", **holes)
    return c_ast.For(
        outer_init,
        c_ast.BinaryOp("<", c_ast.ID(group), count),
        c_ast.UnaryOp("p++", c_ast.ID(group)),
        c_ast.Compound(ends + [inner], coord=loop.stmt.coord),
        coord=loop.coord,
    )


def _term(cond: c_ast.Node, var: str) -> str | None:
    """`i == next` or `next == i` -> 'next'."""
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op == "=="):
        return None
    sides = [cond.left, cond.right]
    if not all(isinstance(s, c_ast.ID) for s in sides) or var not in {s.name for s in sides}:
        return None
    (other,) = [s.name for s in sides if s.name != var] or [None]
    return other


def _advance(stmt: c_ast.Node, name: str) -> c_ast.Node | None:
    """`name += w` -> w."""
    match stmt:
        case c_ast.Assignment(op="+=", lvalue=c_ast.ID(name=target), rvalue=width) if target == name:
            return width
    return None


def _assigned(node: c_ast.Node, name: str) -> bool:
    return name in uses(node).written_ids


def _with_counter(stmt: c_ast.Node, counter: str | None, value: c_ast.Node) -> c_ast.Node:
    """A copy of `stmt` reading the counter as `value`."""
    return copy.deepcopy(stmt) if counter is None else replaced_ids(stmt, {counter: value})
