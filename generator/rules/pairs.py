"""Rule: a loop over bins whose body is declarations over the bin and one loop over columns
`[0, C)` runs one thread per (bin, column) pair, in the same order, where the general rule takes
the loop over pairs (one thread per pair instead of per bin).

    for (b = 0; b < B; b++) { T r = R(b); for (c = 0; c < C; c++) S(b, c, r); }
->  for (t = 0; t < (B > 0 && C > 0 ? B * C : 0); t++) { b = t / C; c = t % C; T r = R(b); S(b, c, r); }

Demo: tests/kernels/akc_demo_pairs.cpp.
"""

from __future__ import annotations

import copy

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, declared_like, pattern, substituted, text, walk
from akcuda.generator.analysis.context import Analysis, Planned, Refusal, Site
from akcuda.generator.analysis.iterations import loop_step
from akcuda.generator.analysis.loops import counting_var, host_expr, init_value, inline, only_read, uses


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    pairs = collapsed(site.loop, ctx.scalars)
    if pairs is None:
        return Refusal("not a loop over bins whose body is declarations and one loop over columns [0, C)")
    found = loop_step(pairs, ctx, site.live_after)
    return Refusal(f"the loop over pairs: {found.why}") if isinstance(found, Refusal) else found


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
            place + [copy.deepcopy(d) for d in decls] + block(substituted(inner.stmt, own_index, at)),
            coord=loop.stmt.coord,
        ),
        coord=loop.coord,
    )
