"""Stage (analysis): the count, scan, fill rule for loops that carry counters.

When the only state a loop carries from one iteration to the next is a set of integer counters
that are only ever advanced (`k++`, `k += m`) and otherwise used as write positions or written
values, the loop runs one thread per iteration in two launches: *count* runs each iteration with
stores suppressed and records how far each counter advanced; an exclusive scan turns the
advances into each iteration's starting values; *fill* runs the body again from those values,
now storing. A *finish* launch (one thread) writes each counter's final value back.

Counters are top-level locals (`k`), loop-invariant memory locations (`*total`, `out[0]`), or a
running sum through memory (`offsets[i + 1] = offsets[i] + m`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast, c_generator

from generator.cuda_generator import is_call

_text = c_generator.CGenerator()


@dataclass
class Counter:
    kind: str            # "local" | "memory" | "running" | "max" | "min"
    name: str            # the variable the emitted body advances
    place: str = ""      # memory, max, min: the C lvalue text; running: the array name
    slot: int = -1       # local: its slot in the spilled-locals buffer

    @property
    def op(self) -> str:
        """How the executor combines the per-iteration values: a scan, or a reduction."""
        return self.kind if self.kind in ("max", "min") else "sum"


def _is_memory(node: c_ast.Node) -> bool:
    return isinstance(node, c_ast.ArrayRef) or (isinstance(node, c_ast.UnaryOp) and node.op == "*")


def _ids(node: c_ast.Node | None) -> set[str]:
    found: set[str] = set()

    class Walk(c_ast.NodeVisitor):
        def visit_ID(self, n: c_ast.ID) -> None:
            found.add(n.name)

    if node is not None:
        Walk().visit(node)
    return found


def _signed_terms(node: c_ast.Node, sign: int = 1) -> list[tuple[int, c_ast.Node]]:
    if isinstance(node, c_ast.BinaryOp) and node.op in "+-":
        return _signed_terms(node.left, sign) + _signed_terms(node.right, sign if node.op == "+" else -sign)
    return [(sign, node)]


def _rebuild(terms: list[tuple[int, c_ast.Node]]) -> c_ast.Node:
    (sign, first), rest = terms[0], terms[1:]
    out = first if sign > 0 else c_ast.UnaryOp("-", first)
    for sign, term in rest:
        out = c_ast.BinaryOp("+" if sign > 0 else "-", out, term)
    return out


def _advance(stmt: c_ast.Node) -> tuple[c_ast.Node, c_ast.Node] | None:
    """(target, amount) of `x++`, `++x`, `x += m`, or `x = x + m - ...`, else None."""
    if isinstance(stmt, c_ast.UnaryOp) and stmt.op in ("p++", "++"):
        return stmt.expr, c_ast.Constant("int", "1")
    if isinstance(stmt, c_ast.Assignment) and stmt.op == "+=":
        return stmt.lvalue, stmt.rvalue
    if isinstance(stmt, c_ast.Assignment) and stmt.op == "=":
        target = _text.visit(stmt.lvalue)
        terms = _signed_terms(stmt.rvalue)
        own = [k for k, (sign, term) in enumerate(terms) if sign > 0 and _text.visit(term) == target]
        if len(own) == 1 and len(terms) > 1:
            rest = terms[:own[0]] + terms[own[0] + 1:]
            if not any(_text.visit(t) == target for _, t in rest):
                return stmt.lvalue, _rebuild(rest)
    return None


class _CounterUses(c_ast.NodeVisitor):
    """Checks every mention of a counter is an advance, a store position, a stored value, or a
    failure argument; anything else (a condition, a private local) would make `count` and
    `fill` disagree."""

    def __init__(self, counters: set[str]):
        self.counters = counters
        self.problem: str | None = None
        self.context: list[str] = []

    def _bad(self, node: c_ast.Node, what: str) -> None:
        if self.problem is None:
            self.problem = f"counter '{what}' is used at line {node.coord.line} other than as a write position or value"

    def visit(self, node: c_ast.Node) -> None:
        if (isinstance(node, c_ast.ID) or _is_memory(node)) and not self.context:
            text = _text.visit(node)
            if text in self.counters:
                self._bad(node, text)
                return
        super().visit(node)

    def visit_Assignment(self, node: c_ast.Assignment) -> None:
        step = _advance(node)
        if step and _text.visit(step[0]) in self.counters:
            if _ids(step[1]) & self.counters:
                self._bad(node, _text.visit(step[0]))
            self.visit(step[1])
            return
        if _is_memory(node.lvalue):
            self.context.append("store")
            self.generic_visit(node)
            self.context.pop()
        else:
            self.generic_visit(node)

    def visit_UnaryOp(self, node: c_ast.UnaryOp) -> None:
        step = _advance(node)
        if step and _text.visit(step[0]) in self.counters:
            return
        self.generic_visit(node)

    def visit_If(self, node: c_ast.If) -> None:
        extremum = _extremum(node)
        if extremum and _text.visit(extremum[1]) in self.counters:
            self.visit(node.cond.right if _text.visit(node.cond.left) == _text.visit(extremum[1])
                       else node.cond.left)
            return
        self.generic_visit(node)

    def visit_Return(self, node: c_ast.Return) -> None:
        if is_call(node.expr, "failure"):
            self.context.append("failure")
            self.generic_visit(node)
            self.context.pop()
        else:
            self.generic_visit(node)


def _statements(node: c_ast.Node):
    """Every statement-level node under `node` (compound items, branches, loop bodies)."""
    if isinstance(node, c_ast.Compound):
        for item in node.block_items or []:
            yield from _statements(item)
    elif isinstance(node, c_ast.If):
        yield node
        yield from _statements(node.iftrue)
        if node.iffalse is not None:
            yield from _statements(node.iffalse)
    elif isinstance(node, (c_ast.For, c_ast.While, c_ast.DoWhile)):
        yield node
        yield from _statements(node.stmt)
    elif isinstance(node, (c_ast.Switch, c_ast.Case, c_ast.Default)):
        yield node
        for child in (node.stmt,) if isinstance(node, c_ast.Switch) else node.stmts or []:
            yield from _statements(child)
    else:
        yield node


def find_counters(body: c_ast.Node, var: str, carried: set[str], top_locals: dict[str, int],
                  writes: list[tuple[str, c_ast.Node, c_ast.Node]], per_iteration,
                  private: set[str] = frozenset()) -> tuple[list[Counter], str | None]:
    """The counters of a loop body, or the reason it has state that is not a counter."""
    counters: list[Counter] = []
    for name in sorted(carried):
        if name not in top_locals:
            return [], f"writes '{name}', which is not a counter"
        counters.append(Counter("local", name, slot=top_locals[name]))

    memory_places: dict[str, str] = {}
    for stmt in _statements(body):
        extremum = _extremum(stmt)
        if extremum and not (_ids(extremum[1]) & ({var} | carried | set(private))):
            memory_places.setdefault(f"{extremum[0]}:{_text.visit(extremum[1])}", f"akc_ctr{len(memory_places)}")
        step = _advance(stmt)
        if step and _is_memory(step[0]) and not (_ids(step[0]) & ({var} | carried | set(private))):
            place = _text.visit(step[0])
            memory_places.setdefault(place, f"akc_ctr{len(memory_places)}")
        running = _running_sum(stmt, var)
        if running:
            memory_places.setdefault(f"running:{running}", f"akc_ctr{len(memory_places)}")
    for place, name in memory_places.items():
        kind, _, array = place.partition(":") if ":" in place else ("memory", "", place)
        counters.append(Counter(kind, name, place=array))
    if len({c.place for c in counters if c.kind != "local"}) < len([c for c in counters if c.kind != "local"]):
        return [], "a memory location is updated in more than one way"

    names = {c.name for c in counters if c.kind == "local"} | {c.place for c in counters if c.kind != "local"}
    checker = _CounterUses(names)
    checker.visit(body)
    if checker.problem:
        return [], checker.problem
    for array, index, node in writes:
        place = _text.visit(node)
        if place in names or any(c.kind == "running" and c.place == array for c in counters):
            continue
        position = node.subscript if isinstance(node, c_ast.ArrayRef) else node
        at_counter = _ids(position) & names or any(p in _text.visit(position) for p in names if p.startswith("*"))
        if not at_counter and not per_iteration(index):
            return [], f"write '{place}' is neither per-iteration nor at a counter"
    return counters, None


_MAX_WHEN = {"<": "max", "<=": "max", ">": "min", ">=": "min"}  # `place OP value` -> place takes value


def _extremum(stmt: c_ast.Node) -> tuple[str, c_ast.Node] | None:
    """`if (P < E) P = E;` -> ('max', P-node); `if (P > E) P = E;` -> ('min', P-node); also with
    the comparison written the other way round."""
    if not (isinstance(stmt, c_ast.If) and stmt.iffalse is None and isinstance(stmt.cond, c_ast.BinaryOp)
            and stmt.cond.op in _MAX_WHEN):
        return None
    inner = stmt.iftrue.block_items if isinstance(stmt.iftrue, c_ast.Compound) else [stmt.iftrue]
    if not (inner and len(inner) == 1 and isinstance(inner[0], c_ast.Assignment) and inner[0].op == "="
            and _is_memory(inner[0].lvalue)):
        return None
    place, value = _text.visit(inner[0].lvalue), _text.visit(inner[0].rvalue)
    left, right = _text.visit(stmt.cond.left), _text.visit(stmt.cond.right)
    if (left, right) == (place, value):
        return _MAX_WHEN[stmt.cond.op], inner[0].lvalue
    if (left, right) == (value, place):
        return {"max": "min", "min": "max"}[_MAX_WHEN[stmt.cond.op]], inner[0].lvalue
    return None


def _running_parts(stmt: c_ast.Node, var: str) -> tuple[str, c_ast.Node] | None:
    """`X[i + 1] = X[i] + m`, `X[i + 1] = m + X[i]` or `X[i + 1] = X[i]` -> ('X', m)."""
    if not (isinstance(stmt, c_ast.Assignment) and stmt.op == "=" and isinstance(stmt.lvalue, c_ast.ArrayRef)):
        return None
    array = _text.visit(stmt.lvalue.name)
    if _text.visit(stmt.lvalue.subscript).replace(" ", "") != f"{var}+1":
        return None
    previous = f"{array}[{var}]"
    rvalue = stmt.rvalue
    if _text.visit(rvalue) == previous:
        return array, c_ast.Constant("int", "0")
    if isinstance(rvalue, c_ast.BinaryOp) and rvalue.op == "+":
        if _text.visit(rvalue.left) == previous:
            return array, rvalue.right
        if _text.visit(rvalue.right) == previous:
            return array, rvalue.left
    return None


def _running_sum(stmt: c_ast.Node, var: str) -> str | None:
    parts = _running_parts(stmt, var)
    return parts[0] if parts else None


def running_statements(body: c_ast.Node, var: str, array: str) -> int:
    """How many running-sum statements of `array` the body has."""
    return sum(_running_sum(stmt, var) == array for stmt in _statements(body))


def rewrite(body: c_ast.Node, var: str, counters: list[Counter], mode: str) -> c_ast.Node:
    """A copy of the loop body for `count` or `fill`: memory counters and running sums become
    private variables; in `count` every other store is dropped."""
    body = copy.deepcopy(body)
    places = {c.place: c.name for c in counters if c.kind == "memory"}
    running = {c.place: c.name for c in counters if c.kind == "running"}
    extrema = {c.place: c for c in counters if c.kind in ("max", "min")}
    advanced = {c.name for c in counters if c.kind == "local"} | set(places)

    class Rewrite(c_ast.NodeVisitor):
        def generic_visit(self, node: c_ast.Node) -> None:
            for name, child in node.children():
                replacement = self.replace(child)
                if replacement is not child:
                    _set_child(node, name, replacement)
                else:
                    self.visit(child)

        def replace(self, node: c_ast.Node) -> c_ast.Node:
            extremum = _extremum(node)
            if extremum and _text.visit(extremum[1]) in extrema:
                if mode != "count":
                    return c_ast.EmptyStatement(coord=node.coord)
                counter = extrema[_text.visit(extremum[1])]
                value = node.iftrue.block_items[0].rvalue if isinstance(node.iftrue, c_ast.Compound) \
                    else node.iftrue.rvalue
                ctr = c_ast.ID(counter.name, coord=node.coord)
                call = c_ast.FuncCall(c_ast.ID(f"akc_{counter.kind}"), c_ast.ExprList(
                    [ctr, c_ast.Cast(c_ast.Typename(None, [], None, c_ast.TypeDecl(
                        None, [], None, c_ast.IdentifierType(["int64_t"]))), value)]))
                return c_ast.Assignment("=", ctr, call, coord=node.coord)
            step = _advance(node)
            if step and _text.visit(step[0]) in places:
                return node  # a memory counter's advance: its place is renamed below
            if _is_memory(node) and _text.visit(node) in places:
                return c_ast.ID(places[_text.visit(node)], coord=node.coord)
            parts = _running_parts(node, var)
            if parts and parts[0] in running:
                array, amount = parts
                ctr = c_ast.ID(running[array], coord=node.coord)
                items = [c_ast.Assignment("+=", ctr, amount, coord=node.coord)]
                if mode == "fill":
                    items.append(c_ast.Assignment("=", node.lvalue, ctr, coord=node.coord))
                return c_ast.Compound(items, coord=node.coord)
            if mode == "count" and isinstance(node, (c_ast.Assignment, c_ast.UnaryOp)) and (
                    _is_memory(node.lvalue if isinstance(node, c_ast.Assignment) else node.expr)
                    and (isinstance(node, c_ast.Assignment) or node.op in ("p++", "++", "p--", "--"))):
                # the store goes; an advance of a counter inside it (`out[k++] = x`) stays
                kept = [n for n in _advances(node, advanced) if n is not node]
                return c_ast.Compound(kept, coord=node.coord) if kept else c_ast.EmptyStatement(coord=node.coord)
            return node

    Rewrite().visit(body)
    return body


def _advances(node: c_ast.Node, counters: set[str]) -> list[c_ast.Node]:
    """The counter advances (`k++`, `k += m`) inside an expression."""
    found = []

    class Walk(c_ast.NodeVisitor):
        def generic_visit(self, n: c_ast.Node) -> None:
            step = _advance(n)
            if step and _text.visit(step[0]) in counters:
                found.append(n)
            else:
                super().generic_visit(n)

    Walk().visit(node)
    return found


def _set_child(parent: c_ast.Node, name: str, value: c_ast.Node) -> None:
    """Replace a child given pycparser's children() name, e.g. 'block_items[2]' or 'stmt'."""
    if "[" in name:
        attr, index = name[:-1].split("[")
        getattr(parent, attr)[int(index)] = value
    else:
        setattr(parent, name, value)
