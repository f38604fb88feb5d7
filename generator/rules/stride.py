"""Rule: a loop stepping by a constant `s > 1` (`for (i = a; i < b; i += s)`) runs one thread per
step where the general rule takes the loop over its steps (it takes only loops stepping by one).

    for (i = 0; i < 2 * n; i += 2) { out[i] = in[i]; out[i + 1] = -in[i + 1]; }
->  for (t = 0; t < (2 * n - 0 + 2 - 1) / 2; t++) { i = 2 * t; out[i] = in[i]; out[i + 1] = -in[i + 1]; }

The steps are the iterations, in the same order (`i = a + s * t`, the last one below b), so what
the general rule makes of the loop over steps (a parallel step, count-scan-fill) does what the C
loop does; where b <= a the count is 0 or below, and no thread runs as no iteration does.

Demo: tests/kernels/akc_demo_stride.cpp.
"""

from __future__ import annotations

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, declared_like, ids, pattern, text
from akcuda.generator.analysis.context import Analysis, Planned, Refusal, Site
from akcuda.generator.analysis.iterations import loop_step
from akcuda.generator.analysis.loops import host_expr, uses


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    steps = over_steps(site.loop, ctx.scalars)
    if steps is None:
        return Refusal("not a loop `for (i = a; i < b; i += s)` with s a constant above 1 and a, b on the host")
    found = loop_step(steps, ctx, site.live_after)
    return Refusal(f"the loop over steps: {found.why}") if isinstance(found, Refusal) else found


def over_steps(loop: c_ast.For, scalars: dict[str, c_ast.Node | None]) -> c_ast.For | None:
    """The loop over the steps of `for (T i = a; i < b; i += s)` (the module docstring), else None."""
    init = loop.init.decls if isinstance(loop.init, c_ast.DeclList) else []
    cond, advance = loop.cond, loop.next
    if len(init) != 1 or init[0].init is None:
        return None
    var, start = init[0].name, init[0].init
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op == "<" and text(cond.left) == var):
        return None
    if not (isinstance(advance, c_ast.Assignment) and advance.op == "+=" and text(advance.lvalue) == var):
        return None
    stride = advance.rvalue
    if not (isinstance(stride, c_ast.Constant) and stride.type == "int" and int(stride.value.rstrip("uUlL"), 0) > 1):
        return None
    step = f"akc_step_{var}"
    if None in (host_expr(start, scalars), host_expr(cond.right, scalars)) or var in uses(loop.stmt).written_ids:
        return None
    if step in ids(loop):
        return None
    at = c_ast.ID(step)
    # `S * T` from 0 (the row prover sees `out[i + 1]` as the step's own place), `A + S * T` else
    place = pattern("S * T", S=stride, T=at) if text(start) == "0" else pattern("A + S * T", A=start, S=stride, T=at)
    return c_ast.For(
        c_ast.DeclList([declared_like(init[0], step, c_ast.Constant("int", "0"))]),
        c_ast.BinaryOp("<", c_ast.ID(step), pattern("(B - A + S - 1) / S", A=start, B=cond.right, S=stride)),
        c_ast.UnaryOp("p++", c_ast.ID(step)),
        c_ast.Compound([declared_like(init[0], var, place), *block(loop.stmt)], coord=loop.stmt.coord),
        coord=loop.coord,
    )
