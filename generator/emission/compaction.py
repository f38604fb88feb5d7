"""Stage (emit): the launches of an in-place compaction (rules/compaction.py): count, compact
(the compacted values into scratch after the scan rows), verify (every read of the array saw
what the C saw), fill, copy (the scratch back into the array) and finish."""

from __future__ import annotations

import copy

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, set_child, text, walk
from akcuda.generator.analysis.context import Code
from akcuda.generator.emission.counting import rewrite
from akcuda.generator.emission.render import macros
from akcuda.generator.rewrites.last_kept import BROKEN
from akcuda.generator.rules.compaction import store_at
from akcuda.plan.errors import ErrorSlot
from akcuda.plan.model import Compaction

REGION, FROM = "akc_region", "akc_m0"  # the scratch the compacted values go to; the counter's start


def _replace_stores(body: c_ast.Node, found: Compaction, make) -> c_ast.Node:
    """A copy of `body` with each store `A[m++] = akc_last` replaced by `make(store)`."""
    body = copy.deepcopy(body)
    for node in list(walk(body)):
        for name, child in node.children():
            if store_at(child) == (found.array, found.counter):
                set_child(node, name, make(child))
    return body


def _advance(store: c_ast.Assignment) -> c_ast.Node:
    """`A[m++] = v` -> `m++` (fill and verify: the array stays as it is)."""
    return store.lvalue.subscript


def _put(store: c_ast.Assignment) -> c_ast.Node:
    """`A[m++] = v` -> `akc_put(akc_region, m++ - akc_m0, v)` (compact: into the scratch)."""
    at = c_ast.BinaryOp("-", store.lvalue.subscript, c_ast.ID(FROM))
    return c_ast.FuncCall(c_ast.ID("akc_put"), c_ast.ExprList([c_ast.ID(REGION), at, store.rvalue]))


def _checked_reads(body: c_ast.Node, found: Compaction) -> c_ast.Node:
    """verify, stores gone: `A[p]` -> `akc_read_compacted(A, p, m, akc_m0, akc_region, &akc_broken)`."""
    body = copy.deepcopy(body)
    for node in list(walk(body)):
        for name, child in node.children():
            if isinstance(child, c_ast.ArrayRef) and text(child.name) == found.array:
                args = [
                    child.name,
                    child.subscript,
                    c_ast.ID(found.counter),
                    c_ast.ID(FROM),
                    c_ast.ID(REGION),
                    c_ast.UnaryOp("&", c_ast.ID(BROKEN)),
                ]
                set_child(node, name, c_ast.FuncCall(c_ast.ID("akc_read_compacted"), c_ast.ExprList(args)))
    return body


def step_bodies(make_gen, code: Code, found: Compaction, locals_, head) -> list:
    """(role, body) of the step's launches: count, compact, verify, fill, copy, finish. The
    scan buffer has a row per counter, then the check row; the scratch follows it."""
    loop = code.loop
    var = loop.init.decls[0].name
    counters, rows, row = found.counters, found.scan_rows, found.counter_row

    def printed(mode: str, body: c_ast.Node, fill: bool = False) -> list[str]:
        gen = make_gen(mode)
        gen.continue_returns = fill
        return [gen.statement(s) for s in block(rewrite(body, var, counters, "fill" if fill else "count"))]

    kept, forms = loop.stmt, macros("compaction.cu.j2")
    where = {"locals": locals_, "head": head, "counter": found.counter, "row": row, "rows": rows, "array": found.array}
    compact = _replace_stores(kept, found, _put)
    verify = _checked_reads(_replace_stores((code.checked or loop).stmt, found, _advance), found)
    fill = _replace_stores(kept, found, _advance)
    return [
        ("count", macros().count(locals=locals_, head=head, counters=counters, statements=printed("count", kept))),
        ("compact", forms.compact(statements=printed("count", compact), **where)),
        ("verify", forms.verify(statements=printed("count", verify), **where)),
        (
            "fill",
            macros().fill(
                locals=locals_,
                head=head,
                counters=counters,
                order=counters,
                statements=printed("fill", fill, fill=True),
                first=ErrorSlot.FIRST.macro,
            ),
        ),
        ("copy", forms.copy(locals=locals_, counter=found.counter, array=found.array)),
        ("finish", macros().finish(locals=locals_, counters=counters, iteration=ErrorSlot.ITERATION.macro, after=[])),
    ]


def helper_source() -> str:
    """The device helpers the compact, verify and copy bodies call (once per kernel file)."""
    return macros("compaction.cu.j2").helpers()
