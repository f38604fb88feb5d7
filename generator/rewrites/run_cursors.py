"""Function rewrite: a loop whose cursor skips a run of positions each iteration becomes a loop
over the positions, where the iteration owning a position is a counter (count, scan, fill).

Demo: tests/kernels/akc_demo_runs.cpp.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, declared_like, ids, pattern, replaced_ids, text
from akcuda.generator.analysis.context import Signature
from akcuda.generator.analysis.loops import assignment_counts, counting_var, host_expr, increment_of, init_value, uses


def inverted_runs(func: c_ast.FuncDef, signature: Signature) -> c_ast.FuncDef | None:
    """A copy of `func` where a top-level loop of the form

        for (i = lo; i < hi; i++) {
          S(j);                                            // at the run's first position
          for (k = j; k < B; k++) if (P(j)) { S(j + 1); j++; }
          j++;
        }

    becomes a loop over positions `p`, counting the iteration that owns each:

        int64_t akc_run_i = lo;
        for (p = j0; p < max(B, j0) + 1 + (hi - lo); p++) {
          if (akc_run_i < hi) S(p)[i := akc_run_i];
          if (!(p < B && P(p))) akc_run_i++;
        }

    The inner loop's trip count is fixed when it starts but its test reads j, and a false test
    stays false, so iteration i covers the positions from its first to the first run end at or
    after it (a position p with p >= B or !P(p)), and the next iteration starts right after: the
    positions in order are the iterations in order, each position doing what its iteration does
    there. `P` only reads what the loop does not write; `j` is a top-level local defined from
    scalar arguments (`j0`), assigned only by this loop and read nowhere after it. Iteration i
    covers at least one position and the runs end by B, so the bound covers every iteration.
    None if the body has no such loop."""
    items = list(func.body.block_items or [])
    decls = {d.name: d for d in items if isinstance(d, c_ast.Decl)}
    for position, item in enumerate(items):
        if not isinstance(item, c_ast.For):
            continue
        later = c_ast.Compound(items[position + 1 :])
        found = _inverted(
            item, decls, signature.scalars, uses(func.body).written_ids, later, assignment_counts(func.body)
        )
        if found is not None:
            body = c_ast.Compound(items[:position] + found + items[position + 1 :], coord=func.body.coord)
            return c_ast.FuncDef(func.decl, func.param_decls, body, coord=func.coord)
    return None


def _inverted(
    loop: c_ast.For,
    decls: dict[str, c_ast.Decl],
    scalars: set[str],
    assigned: dict,
    later: c_ast.Node,
    assignments: dict[str, int],
) -> list[c_ast.Node] | None:
    """The declaration of the owner counter and the loop over positions, else None."""
    found = _runs(loop, decls, {name for name in scalars if name not in assigned}, later, assignments)
    return None if found is None else _over_positions(loop, found, decls[found.cursor])


@dataclass(frozen=True)
class _Runs:
    """A loop `for (i = lo; i < hi; i++) { S(j); for (k = j; k < B; k++) if (P(j)) { S(j + 1); j++; } j++; }`
    in parts."""

    var: str  # i
    cursor: str  # j
    start: c_ast.Node  # j0, the cursor's definition
    first: list[c_ast.Node]  # S(j): what each position does
    run: c_ast.If  # `if (P(j)) ...`, the inner loop's one statement
    bound: c_ast.Node  # B


def _runs(
    loop: c_ast.For, decls: dict[str, c_ast.Decl], host: set[str], later: c_ast.Node, assignments: dict[str, int]
) -> _Runs | None:
    """The parts of a loop whose cursor skips runs (`inverted_runs` says what each must be), else
    None; `host` are the scalar arguments no statement assigns, `later` what follows the loop."""
    var = counting_var(loop)
    items = block(loop.stmt)
    if var is None or loop.cond.op != "<" or len(items) < 2:
        return None
    lo, hi = init_value(loop), loop.cond.right
    cursor = increment_of(items[-1])
    inner = items[-2]
    first = items[:-2]
    if cursor is None or cursor == var or cursor not in decls or not isinstance(inner, c_ast.For):
        return None
    j0 = decls[cursor].init
    if j0 is None or None in (host_expr(j0, host), host_expr(lo, host), host_expr(hi, host)):
        return None
    if assignments.get(cursor, 0) != assignment_counts(loop).get(cursor, 0) or cursor in ids(later):
        return None
    kvar, run = counting_var(inner), block(inner.stmt)
    if not (
        kvar is not None
        and inner.cond.op == "<"
        and isinstance(init_value(inner), c_ast.ID)
        and init_value(inner).name == cursor
        and host_expr(inner.cond.right, host) is not None
        and kvar not in ids(inner.stmt)
        and len(run) == 1
        and isinstance(run[0], c_ast.If)
        and run[0].iffalse is None
    ):
        return None
    test, advance = run[0].cond, block(run[0].iftrue)
    if not advance or increment_of(advance[-1]) != cursor:
        return None
    ahead = {cursor: c_ast.BinaryOp("+", c_ast.ID(cursor), c_ast.Constant("int", "1"))}
    if [text(s) for s in advance[:-1]] != [text(replaced_ids(s, ahead)) for s in first]:
        return None
    pure = uses(test)
    written = {a for a, _, _ in uses(c_ast.Compound(first)).array_writes}
    if pure.written_ids or pure.array_writes or pure.calls or {a for a, _ in pure.array_reads} & written:
        return None
    if any(cursor in uses(s).written_ids or var in uses(s).written_ids for s in first):
        return None
    return _Runs(var, cursor, j0, first, run[0], inner.cond.right)


def _over_positions(loop: c_ast.For, found: _Runs, cursor_decl: c_ast.Decl) -> list[c_ast.Node] | None:
    """The owner counter's declaration and the loop over positions of `found` (`inverted_runs`
    has its form); None where the names it declares are the loop's own."""
    var, cursor, lo, hi = found.var, found.cursor, init_value(loop), loop.cond.right
    owner, at = f"akc_run_{var}", f"akc_at_{cursor}"
    if {owner, at} & ids(loop):
        return None
    bound = found.bound
    p = c_ast.ID(at)
    here = {cursor: p, var: c_ast.ID(owner)}
    stores = c_ast.If(
        pattern("R < HI", R=c_ast.ID(owner), HI=hi),
        c_ast.Compound([replaced_ids(s, here) for s in found.first], coord=loop.stmt.coord),
        None,
        coord=loop.stmt.coord,
    )
    ends = c_ast.If(
        pattern("!(P < B && TEST)", P=p, B=bound, TEST=replaced_ids(found.run.cond, here)),
        c_ast.Compound([c_ast.UnaryOp("p++", c_ast.ID(owner))]),
        None,
        coord=found.run.coord,
    )
    last = pattern("(B > J ? B : J) + 1 + (HI - LO)", B=bound, J=found.start, HI=hi, LO=lo)
    positions = c_ast.For(
        c_ast.DeclList([declared_like(cursor_decl, at, copy.deepcopy(found.start))]),
        c_ast.BinaryOp("<", c_ast.ID(at), last),
        c_ast.UnaryOp("p++", c_ast.ID(at)),
        c_ast.Compound([stores, ends], coord=loop.stmt.coord),
        coord=loop.coord,
    )
    return [declared_like(loop.init.decls[0], owner, copy.deepcopy(lo)), positions]
