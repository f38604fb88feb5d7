"""Rule: a loop that sets a memory place only while it still holds a sentinel runs its first
iteration in C order and the others under the general rule, with only the branch that reads
the place, while the first iteration left another value there (checked at run time; else the
rest runs as written).

    for (i = 0; i < n; i++) { if (*size == -1) *size = len(i); else if (*size != len(i)) fail; ... }
->  serial: the iteration i = 0;  then for (i = 1; i < n; i++) { if (*size != len(i)) fail; ... }
    while *size != -1

Demo: tests/kernels/akc_demo_common.cpp.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import substituted, text, walk
from akcuda.generator.analysis.context import Analysis, Planned, Refusal, Site
from akcuda.generator.analysis.iterations import loop_step
from akcuda.generator.analysis.loops import both, counting_var, host_expr, init_value, uses
from akcuda.plan.expr import Binary, Expr, Memory


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    peeled = peel_sentinel(site.written, ctx.scalars)
    if peeled is None:
        return Refusal("sets no memory place only while it holds a sentinel (`if (*p == s) *p = ...`)")
    rest = loop_step(peeled.rest, ctx, site.live_after)
    if isinstance(rest, Refusal):
        return Refusal(f"the iterations after the first: {rest.why}")
    rest.code.serial_form, rest.code.before = peeled.rest_as_is, [peeled.first]
    return Planned(replace(rest.step, requires=both(rest.step.requires, peeled.check)), rest.code)


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
        from_second(substituted(loop.stmt, lambda node: node is setter, setter.iffalse)),
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
