"""Stage (emit): a count-scan-fill loop's body as its *count* and *fill* launches run it
(analysis/counters.py found its counters).

*count* runs the iteration with stores suppressed and records how far each counter advanced;
*fill* runs it again from the scanned starting values, storing. Memory counters and running
sums become private variables (`akc_ctr<row>`), a last-value local marks its flag
(`akc_seen<flag row>`, as steps.cu.j2 declares it), and places an iteration reads back after
writing them go to private shadows in count.
"""

from __future__ import annotations

import copy
import enum

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import is_memory as _is_memory
from akcuda.generator.analysis.ast_util import set_child, text
from akcuda.generator.analysis.context import Shadow
from akcuda.generator.analysis.counters import advance, extremum, running_parts
from akcuda.plan.model import Counter, CounterKind, CounterOp


class Mode(str, enum.Enum):
    """The launch a rewritten loop body is for."""

    COUNT = "count"  # stores suppressed: how far each counter advances
    FILL = "fill"  # from the scanned starting values, storing


def rewrite(
    body: c_ast.Node,
    var: str,
    counters: list[Counter],
    mode: Mode | str,
    shadows: list[Shadow] = (),
) -> c_ast.Node:
    """A copy of the loop body for `count` or `fill` (`mode`, a Mode or its value): memory
    counters and running sums become private variables; in `count` every other store is
    dropped, except to places the iteration reads back, which go to private shadows declared up
    front."""
    mode = Mode(mode)
    body = copy.deepcopy(body)
    shadow_names: dict[str, str] = {}
    if mode is Mode.COUNT and shadows:
        body, shadow_names = _with_shadows(body, shadows)
    _Rewrite(var, counters, mode, shadow_names).visit(body)
    return body


def _with_shadows(body: c_ast.Node, shadows: list[Shadow]) -> tuple[c_ast.Compound, dict[str, str]]:
    """`{ ... }` -> `{ auto akc_shadow0 = X[i]; ... }` and {'X[i]': 'akc_shadow0'}: a private
    shadow per (array, index, read_first) place, initialized from memory only when the C
    iteration reads it first, else `akc_zero_of(X)` (no access the C does not make)."""
    declared, names = [], {}
    for k, (array, index, read_first) in enumerate(shadows):
        name = f"akc_shadow{k}"
        place = c_ast.ArrayRef(c_ast.ID(array), copy.deepcopy(index))
        names[text(place)] = name
        initial = place if read_first else c_ast.FuncCall(c_ast.ID("akc_zero_of"), c_ast.ExprList([c_ast.ID(array)]))
        declared.append(
            c_ast.Decl(
                name, [], [], [], [], c_ast.TypeDecl(name, [], None, c_ast.IdentifierType(["auto"])), initial, None
            )
        )
    items = (body.block_items or []) if isinstance(body, c_ast.Compound) else [body]
    return c_ast.Compound(declared + items), names


class _Rewrite(c_ast.NodeVisitor):
    """Rewrites a loop body in place for one mode. Each node is offered to the patterns in
    order; the first that applies gives the node's replacement, which is not visited again
    (a pattern that returns the node itself keeps it and rewrites inside it). A node no
    pattern takes is visited for its children."""

    def __init__(self, var: str, counters: list[Counter], mode: Mode, shadow_names: dict[str, str]):
        self.var, self.mode, self.shadow_names = var, mode, shadow_names
        self.places = {c.place: c.name for c in counters if c.kind in (CounterKind.MEMORY, CounterKind.KEYED)}
        self.running = {c.place: c.name for c in counters if c.kind == CounterKind.RUNNING}
        self.running_at = {c.base for c in counters if c.kind == CounterKind.RUNNING and c.base}
        self.extrema = {c.target: c for c in counters if c.op in (CounterOp.MAX, CounterOp.MIN)}
        self.advanced = {c.target for c in counters if c.kind != CounterKind.RUNNING and c.op == CounterOp.SUM}
        # a last-value local's flag: `akc_seen<its row>`, as steps.cu.j2 declares and records it
        self.seen = {c.name: f"akc_seen{c.flag_row}" for c in counters if c.flag_row is not None}
        self.patterns = (
            self.mark_last_value,
            self.read_shadow,
            self.reduce_extremum,
            self.keep_memory_advance,
            self.rename_memory_counter,
            self.sum_running,
            self.keep_shadow_store,
            self.drop_store,
        )

    def generic_visit(self, node: c_ast.Node) -> None:
        for name, child in node.children():
            if isinstance(child, c_ast.Decl) and child.name in self.shadow_names.values():
                continue  # the shadow's own declaration reads memory once
            replacement = self.replace(child)
            if replacement is not child:
                set_child(node, name, replacement)
            else:
                self.visit(child)

    def replace(self, node: c_ast.Node) -> c_ast.Node:
        """What the first pattern that applies makes of `node`, else `node`."""
        for pattern in self.patterns:
            replacement = pattern(node)
            if replacement is not None:
                return replacement
        return node

    def mark_last_value(self, node: c_ast.Node) -> c_ast.Node | None:
        """count, x a last-value local: `x = e;` -> `{ x = e; akc_seen1 = akc_tid; }`."""
        if not (
            self.mode is Mode.COUNT
            and isinstance(node, c_ast.Assignment)
            and node.op == "="
            and isinstance(node.lvalue, c_ast.ID)
            and node.lvalue.name in self.seen
        ):
            return None
        mark = c_ast.Assignment("=", c_ast.ID(self.seen[node.lvalue.name]), c_ast.ID("akc_tid"))
        return c_ast.Compound([node, mark], coord=node.coord)

    def read_shadow(self, node: c_ast.Node) -> c_ast.Node | None:
        """A shadowed place (count only has shadows): `X[i]` -> `akc_shadow0`."""
        if isinstance(node, c_ast.ArrayRef) and text(node) in self.shadow_names:
            return c_ast.ID(self.shadow_names[text(node)], coord=node.coord)
        return None

    def reduce_extremum(self, node: c_ast.Node) -> c_ast.Node | None:
        """A running maximum m: `if (m < v) m = v;` -> count: `akc_ctr0 = akc_max(akc_ctr0,
        (int64_t) v);`; fill: `;` (the finish launch writes the reduced value)."""
        found = extremum(node)
        if not (found and text(found[1]) in self.extrema):
            return None
        if self.mode is not Mode.COUNT:
            return c_ast.EmptyStatement(coord=node.coord)
        counter, value = self.extrema[text(found[1])], found[2]
        ctr = c_ast.ID(counter.name, coord=node.coord)
        call = c_ast.FuncCall(
            c_ast.ID(f"akc_{counter.op.value}"),
            c_ast.ExprList(
                [
                    ctr,
                    c_ast.Cast(
                        c_ast.Typename(
                            None, [], None, c_ast.TypeDecl(None, [], None, c_ast.IdentifierType(["int64_t"]))
                        ),
                        value,
                    ),
                ]
            ),
        )
        return c_ast.Assignment("=", ctr, call, coord=node.coord)

    def keep_memory_advance(self, node: c_ast.Node) -> c_ast.Node | None:
        """A memory counter's advance stays, its place renamed inside: `*total += m` ->
        `akc_ctr0 += m`."""
        step = advance(node)
        return node if step and text(step[0]) in self.places else None

    def rename_memory_counter(self, node: c_ast.Node) -> c_ast.Node | None:
        """A memory or keyed counter's place: `*total`, `current[tag]` -> `akc_ctr0`."""
        if _is_memory(node) and text(node) in self.places:
            return c_ast.ID(self.places[text(node)], coord=node.coord)
        return None

    def sum_running(self, node: c_ast.Node) -> c_ast.Node | None:
        """A running sum: `X[i + 1] = X[i] + m;` -> count: `{ akc_ctr0 += m; }`; fill:
        `{ akc_ctr0 += m; X[i + 1] = akc_ctr0; }`."""
        parts = running_parts(node, self.var, self.running_at)
        if not (parts and parts[0] in self.running):
            return None
        array, amount, _ = parts
        ctr = c_ast.ID(self.running[array], coord=node.coord)
        items = [c_ast.Assignment("+=", ctr, amount, coord=node.coord)]
        if self.mode is Mode.FILL:
            items.append(c_ast.Assignment("=", node.lvalue, ctr, coord=node.coord))
        return c_ast.Compound(items, coord=node.coord)

    def keep_shadow_store(self, node: c_ast.Node) -> c_ast.Node | None:
        """A store the iteration reads back stays, going to the shadow inside: `X[i] = x;` ->
        `akc_shadow0 = x;`."""
        target = node.lvalue if isinstance(node, c_ast.Assignment) else getattr(node, "expr", None)
        return node if target is not None and text(target) in self.shadow_names else None

    def drop_store(self, node: c_ast.Node) -> c_ast.Node | None:
        """count: a store goes, the advances of counters inside it stay: `out[k++] = x;` ->
        `{ k++; }`, `out[i] = x;` -> `;`."""
        if self.mode is not Mode.COUNT:
            return None
        if isinstance(node, c_ast.Assignment):
            target = node.lvalue
        elif isinstance(node, c_ast.UnaryOp) and node.op in ("p++", "++", "p--", "--"):
            target = node.expr
        else:
            return None
        if not _is_memory(target):
            return None
        kept = [n for n in _advances(node, self.advanced) if n is not node]
        return c_ast.Compound(kept, coord=node.coord) if kept else c_ast.EmptyStatement(coord=node.coord)


def _advances(node: c_ast.Node, counters: set[str]) -> list[c_ast.Node]:
    """The outermost counter advances (`k++`, `k += m`) in a tree, in order."""
    step = advance(node)
    if step and text(step[0]) in counters:
        return [node]
    return [found for _, child in node.children() for found in _advances(child, counters)]
