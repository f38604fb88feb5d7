"""Stage: split a kernel body into plan steps and decide how each loop runs.

A top-level `for` loop becomes a *parallel* step when its iterations are provably independent:
its bounds are computable on the host from scalar arguments, it assigns no variable declared
outside it (variables it assigns before use in every iteration are private), every array it
writes is indexed `a*i + r` with `r` provably in `[0, a)` (or `i + r`), or over a row range
`[A[i], B[i])` that the executor checks for overlap at run time, and every read of a written
array uses exactly a written index. A loop whose only carried state is counters becomes a
*scan* step (counters.py). Branches on scalar arguments pick their steps on the host.
Everything else runs as a *serial* step (one thread), and the step records why.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

from pycparser import c_ast

from generator.ast_util import block, ids, rebuild, signed_terms, text, walk
from generator.counters import Counter, find_counters, running_statements
from generator.cuda_generator import is_call

Expr = list  # JSON expression tree evaluated by the plan executor: ["arg", n] | ["int", v] | [op, a, b]


@dataclass
class Step:
    kind: str                     # "serial" | "parallel" | "scan" (count-scan-fill)
    stmts: list[c_ast.Node]
    count: Expr | None = None     # parallel: number of iterations, over scalar arguments
    reason: str | None = None     # serial: why no rule applied
    loop: c_ast.For | None = None
    counters: list[Counter] = field(default_factory=list)
    guard: Expr | None = None     # run the step only when this holds (a branch on scalar arguments)
    checked: bool = False         # parallel with failures: a check launch finds the first one
    segments: list[dict] = field(default_factory=list)  # row ranges that must be disjoint, else serial
    requires: Expr | None = None  # a host condition the parallel form relies on, else serial
    serial_form: c_ast.Node | None = None  # what runs when a run-time check fails (default: loop)
    first: Expr | None = None     # the loop's first iteration (where that check starts)
    shadows: list = field(default_factory=list)  # check launch: places kept privately


HOST_OPERATORS = {"+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||"}


def host_expr(node: c_ast.Node, scalars: set[str] | dict[str, c_ast.Node | None]) -> Expr | None:
    """Translate an integer expression over scalar arguments to the executor's JSON form.
    `scalars` may map a top-level local to its definition over arguments (then inlined)."""
    match node:
        case c_ast.ID(name=name) if name in scalars:
            definition = scalars.get(name) if isinstance(scalars, dict) else None
            return ["arg", name] if definition is None else host_expr(definition, scalars)
        case c_ast.TernaryOp(cond=cond, iftrue=a, iffalse=b):
            parts = [host_expr(x, scalars) for x in (cond, a, b)]
            return None if None in parts else ["?:", *parts]
        case c_ast.Constant(type=t, value=v) if "int" in t or t == "long":
            return ["int", int(v.rstrip("uUlL"), 0)]
        case c_ast.Cast(expr=inner):
            return host_expr(inner, scalars)
        case c_ast.ID(name="true" | "false" as name):
            return ["int", int(name == "true")]
        case c_ast.UnaryOp(op="-" | "!" as op, expr=inner):
            sub = host_expr(inner, scalars)
            return None if sub is None else ["neg" if op == "-" else "!", sub]
        case c_ast.BinaryOp(op=op, left=left, right=right) if op in HOST_OPERATORS:
            a, b = host_expr(left, scalars), host_expr(right, scalars)
            return None if a is None or b is None else [op, a, b]
    return None


class _Uses(c_ast.NodeVisitor):
    """Reads and writes of one statement tree."""

    def __init__(self):
        self.written_ids: dict[str, c_ast.Node] = {}
        self.array_writes: list[tuple[str, c_ast.Node, c_ast.Node]] = []  # (array, index, node)
        self.array_reads: list[tuple[str, c_ast.Node]] = []
        self.ids: set[str] = set()
        self.declared: set[str] = set()
        self.calls: list[c_ast.FuncCall] = []
        self.ranges: dict[int, c_ast.Node] = {}  # id of a block copy's destination -> its length
        self.breaks: list[c_ast.Node] = []
        self.success_returns: list[c_ast.Node] = []
        self._loop = 0

    def _target(self, node: c_ast.Node) -> None:
        match node:
            case c_ast.ID(name=name):
                self.written_ids[name] = node
            case c_ast.ArrayRef(name=c_ast.ID(name=name), subscript=index):
                self.array_writes.append((name, index, node))
                self.visit(index)
            case c_ast.UnaryOp(op="*", expr=c_ast.ID(name=name)):
                self.array_writes.append((name, c_ast.Constant("int", "0"), node))
            case _:
                self.array_writes.append(("?", node, node))
                self.visit(node)

    def visit_Assignment(self, node: c_ast.Assignment) -> None:
        self._target(node.lvalue)
        if node.op != "=":
            self._read(node.lvalue)
        self.visit(node.rvalue)

    def visit_UnaryOp(self, node: c_ast.UnaryOp) -> None:
        if node.op in ("++", "--", "p++", "p--"):
            self._target(node.expr)
            self._read(node.expr)
        elif node.op == "&":
            self._target(node.expr)  # an address taken may be written through
        else:
            self.generic_visit(node)

    def _read(self, node: c_ast.Node) -> None:
        if isinstance(node, c_ast.ArrayRef) and isinstance(node.name, c_ast.ID):
            self.array_reads.append((node.name.name, node.subscript))
        elif isinstance(node, c_ast.ID):
            self.ids.add(node.name)

    def visit_ArrayRef(self, node: c_ast.ArrayRef) -> None:
        self._read(node)
        self.generic_visit(node)

    def visit_ID(self, node: c_ast.ID) -> None:
        self.ids.add(node.name)

    def visit_Decl(self, node: c_ast.Decl) -> None:
        self.declared.add(node.name)
        if node.init is not None:
            self.visit(node.init)

    def visit_FuncCall(self, node: c_ast.FuncCall) -> None:
        self.calls.append(node)
        span = _block_copy(node)
        if span is not None:  # memcpy/memset into `&X[d]`: a write of X[d .. d + n)
            destination, source, length = span
            self._target(destination)
            self.ranges[id(self.array_writes[-1][2])] = length
            for part in [source, length] if source is not None else [length]:
                self._read(part) if isinstance(part, c_ast.ArrayRef) else self.visit(part)
            return
        if node.args is not None:
            self.visit(node.args)

    def visit_Return(self, node: c_ast.Return) -> None:
        if not is_call(node.expr, "failure"):
            self.success_returns.append(node)
            if node.expr is not None and not is_call(node.expr, "success"):
                self.visit(node.expr)
        elif node.expr.args is not None:
            self.visit(node.expr.args)

    def visit_Break(self, node: c_ast.Break) -> None:
        if self._loop == 0:
            self.breaks.append(node)

    def _nested(self, node: c_ast.Node) -> None:
        self._loop += 1
        self.generic_visit(node)
        self._loop -= 1

    visit_For = visit_While = visit_DoWhile = visit_Switch = _nested


BLOCK_COPIES = ("std_memcpy", "std_memset")


def _block_copy(call: c_ast.FuncCall) -> tuple[c_ast.ArrayRef, c_ast.Node | None, c_ast.Node] | None:
    """`memcpy(&X[d], &Y[e], n * sizeof(T))` -> (X[d], Y[e], n); memset -> (X[d], None, n)."""
    if not (isinstance(call.name, c_ast.ID) and call.name.name in BLOCK_COPIES and call.args
            and len(call.args.exprs) == 3):
        return None
    destination, middle, size = call.args.exprs
    if not (isinstance(destination, c_ast.UnaryOp) and destination.op == "&"
            and isinstance(destination.expr, c_ast.ArrayRef)):
        return None
    if not (isinstance(size, c_ast.BinaryOp) and size.op == "*" and isinstance(size.right, c_ast.UnaryOp)
            and size.right.op == "sizeof"):
        return None
    if call.name.name == "std_memset":
        return destination.expr, None, size.left
    if not (isinstance(middle, c_ast.UnaryOp) and middle.op == "&" and isinstance(middle.expr, c_ast.ArrayRef)):
        return None
    return destination.expr, middle.expr, size.left


def uses(node: c_ast.Node) -> _Uses:
    collector = _Uses()
    collector.visit(node)
    return collector


def _same(a: c_ast.Node, b: c_ast.Node) -> bool:
    return text(a) == text(b)


def _loop_ranges(body: c_ast.Node) -> dict[str, tuple[c_ast.Node, c_ast.Node]]:
    """Inner loop variables `for (j = lo; j < hi; j++)` that the body never reassigns -> (lo, hi)."""
    return {var: (_init_value(node), node.cond.right) for node in walk(body)
            if isinstance(node, c_ast.For) and (var := _counting_var(node)) and node.cond.op == "<"}


def _element(node: c_ast.Node, var: str, pointers: set[str]) -> tuple[str, int] | None:
    """`P[i]` or `P[i + 1]` of an input array P -> (P, 0 or 1)."""
    if not (isinstance(node, c_ast.ArrayRef) and isinstance(node.name, c_ast.ID) and node.name.name in pointers):
        return None
    index = text(node.subscript).replace(" ", "")
    return (node.name.name, 0) if index == var else (node.name.name, 1) if index == f"{var}+1" else None


def _segments(body: c_ast.Node, var: str, pointers: set[str], definitions: dict[str, c_ast.Node],
              varying: set[str]) -> dict[str, tuple[tuple, str | None]]:
    """Inner loops whose variable runs over row i's own range of positions -> {j: (range, base)}:
    `for (j = A[i]; j < B[i]; ...)` (offsets: B is A shifted by one), the same shifted by an
    invariant `- c`, `for (j = A[i]; j < A[i] + C[i]; ...)` (counts), or
    `for (j = 0; j < B[i] - A[i]; ...)` where writes index `A[i] + j` (base `A[i]`). Extra `&&`
    conditions only end a loop sooner. The rows' ranges are disjoint when each is ordered and
    ends before the next begins, which the executor checks at run time."""
    out = {}
    for node in walk(body):
        inner = _counting_var(node, clipped=True) if isinstance(node, c_ast.For) else None
        if inner is None or _bound(node)[0] != "<":
            continue
        first = signed_terms(_inline(_init_value(node), definitions))
        last = signed_terms(_inline(_bound(node)[1], definitions))
        invariant = varying | {var, inner}
        shift = [(sg, text(t)) for sg, t in first if not ids(t) & invariant]
        if shift and [(sg, text(t)) for sg, t in last if not ids(t) & invariant] == shift:
            first = [(sg, t) for sg, t in first if ids(t) & invariant]
            last = [(sg, t) for sg, t in last if ids(t) & invariant]
        elements = [(sg, _element(t, var, pointers)) for sg, t in last]
        if len(first) == 1 and first[0][0] == 1 and (start := _element(first[0][1], var, pointers)):
            others = [e for e in elements if e != (1, start)]
            if len(elements) == 2 and len(others) == 1 and others[0][0] == 1 and others[0][1]:
                out[inner] = ((start, "counts", others[0][1]), None)
            elif len(elements) == 1 and elements[0][0] == 1 and elements[0][1]:
                out[inner] = ((start, "stops", elements[0][1]), None)
        elif _is_zero(_init_value(node)) and len(elements) == 2 and [sg for sg, _ in elements] == [1, -1] \
                and all(e for _, e in elements):
            out[inner] = ((elements[1][1], "stops", elements[0][1]), text(last[1][1]))
    return out


def _read_then_written(body: c_ast.Node, var: str) -> set[str]:
    """Arrays that the body accesses only at `[var]` and writes only after its last read (or in
    the one assignment that reads it last)."""
    out = set()
    items, found = block(body), uses(body)
    for array in written_anywhere(found):
        accesses = [i for a, i, _ in found.array_writes if a == array] + [i for a, i in found.array_reads if a == array]
        if any(text(i) != var for i in accesses):
            continue
        writers = [k for k, item in enumerate(items) if array in written_anywhere(uses(item))]
        readers = [k for k, item in enumerate(items) if any(a == array for a, _ in uses(item).array_reads)]
        last_read = max(readers, default=-1)
        if last_read < min(writers) or (last_read == min(writers) == max(writers)
                                        and isinstance(items[last_read], c_ast.Assignment)):
            out.add(array)
    return out


def _bound(loop: c_ast.For) -> tuple[str, c_ast.Node]:
    """(operator, bound) of `v < bound` or of the first condition of `v < bound && ...`."""
    cond = loop.cond
    while isinstance(cond, c_ast.BinaryOp) and cond.op == "&&":
        cond = cond.left
    return cond.op, cond.right


def _is_zero(node: c_ast.Node | None) -> bool:
    return isinstance(node, c_ast.Constant) and node.value.rstrip("uUlL") in ("0",)


def _init_value(loop: c_ast.For) -> c_ast.Node | None:
    if isinstance(loop.init, c_ast.DeclList) and len(loop.init.decls) == 1:
        return loop.init.decls[0].init
    return None


def _counting_var(loop: c_ast.For, clipped: bool = False) -> str | None:
    """The variable of `for (T v = init; v < bound; v++)` (or `<=`), else None. `clipped`
    also accepts `v < bound && ...` (a loop that may end sooner)."""
    if not (isinstance(loop.init, c_ast.DeclList) and len(loop.init.decls) == 1):
        return None
    var = loop.init.decls[0].name
    cond, step = loop.cond, loop.next
    while clipped and isinstance(cond, c_ast.BinaryOp) and cond.op == "&&":
        cond = cond.left
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op in ("<", "<=")
            and isinstance(cond.left, c_ast.ID) and cond.left.name == var):
        return None
    increments = (
        isinstance(step, c_ast.UnaryOp) and step.op in ("p++", "++")
        and isinstance(step.expr, c_ast.ID) and step.expr.name == var
    ) or (
        isinstance(step, c_ast.Assignment) and step.op == "+=" and isinstance(step.lvalue, c_ast.ID)
        and step.lvalue.name == var and isinstance(step.rvalue, c_ast.Constant)
        and step.rvalue.value == "1"
    )
    if not increments or var in uses(loop.stmt).written_ids:
        return None
    return var


def _mentions(node: c_ast.Node, names: set[str]) -> bool:
    return bool(ids(node) & names)


def written_anywhere(body: _Uses) -> set[str]:
    return {array for array, _, _ in body.array_writes}


def private_definitions(body: c_ast.Node) -> dict[str, c_ast.Node]:
    """Locals declared in a loop body (at any depth) with an initializer, declared once, never
    reassigned, and defined over names the body does not assign (loop variables aside), so the
    definition means the same wherever the local is used."""
    found = uses(body)
    loop_vars = {_counting_var(n) for n in walk(body) if isinstance(n, c_ast.For)}
    assigned = set(found.written_ids) - loop_vars
    decls = [n for n in walk(body) if isinstance(n, c_ast.Decl)]
    names = [d.name for d in decls]
    return {d.name: d.init for d in decls
            if d.init is not None and names.count(d.name) == 1 and d.name not in found.written_ids
            and not ids(d.init) & assigned}


def _inline(node: c_ast.Node, definitions: dict[str, c_ast.Node]) -> c_ast.Node:
    """`node` with each defined local replaced by its definition (so `out[base + j]` with
    `base = i * size` reads as `out[i * size + j]`)."""
    if isinstance(node, c_ast.ID) and node.name in definitions:
        return _inline(definitions[node.name], definitions)
    if isinstance(node, c_ast.BinaryOp):
        return c_ast.BinaryOp(node.op, _inline(node.left, definitions), _inline(node.right, definitions))
    if isinstance(node, c_ast.TernaryOp):
        return c_ast.TernaryOp(*(_inline(x, definitions) for x in (node.cond, node.iftrue, node.iffalse)))
    if isinstance(node, c_ast.Cast):
        return _inline(node.expr, definitions)
    return node


@dataclass
class RunTimeChecks:
    """What a parallel form relies on that only the data can tell. The executor checks it before
    the step and runs the step's serial form (the C order) when it does not hold."""
    segments: set = field(default_factory=set)    # row ranges that must be ordered and disjoint
    ordered: set = field(default_factory=set)     # row ranges that must be ordered (B[i] >= A[i])
    longest: set = field(default_factory=set)     # (row range, bound): no row longer than bound
    requires: list = field(default_factory=list)  # host expressions that must be true


@dataclass
class _Rows:
    """Proves that a loop's writes go to places distinct per iteration."""
    var: str
    varying: set[str]                 # names that change within an iteration
    ranges: dict[str, tuple]          # inner loop variable -> (lo, hi)
    segments: dict                    # inner loop variable -> (row range, base), see _segments
    definitions: dict[str, c_ast.Node]
    scalars: dict
    stable: set[str]                  # arrays whose elements hold for the whole loop
    checks: RunTimeChecks | None

    def distinct(self, index: c_ast.Node) -> bool:
        """Is `index` i + r (r invariant), a*i + r with r provably in [0, a), or an inner
        variable over the row's own range [A[i], B[i]) (rows disjoint: checked at run time)?"""
        index = _inline(index, self.definitions)
        terms = signed_terms(index)
        for sign, term in terms if self.checks is not None else []:
            if sign == 1 and isinstance(term, c_ast.ID) and term.name in self.segments:
                span, base = self.segments[term.name]
                rest = [(s, text(t)) for s, t in terms if t is not term]
                if rest == ([] if base is None else [(1, base)]):
                    self.checks.segments.add(span)
                    return True
        var, varying = self.var, self.varying
        with_var = [(s, t) for s, t in terms if _mentions(t, {var})]
        rest = [(s, t) for s, t in terms if not _mentions(t, {var})]
        if len(with_var) != 1 or with_var[0][0] != 1:
            return False
        term = with_var[0][1]
        if isinstance(term, c_ast.ID):
            return not any(_mentions(t, varying) for _, t in rest)
        factor = _factor(term, var)
        if factor is None or _mentions(factor, varying):
            return False
        if not rest:
            return True
        if len(rest) == 1 and isinstance(rest[0][1], c_ast.Constant) and isinstance(factor, c_ast.Constant):
            return rest[0][0] == 1 and 0 <= _int(rest[0][1]) < _int(factor)
        # a*i + r + c with r an inner loop variable in [0, a) and c invariant: a shift of the
        # whole array does not make two iterations meet
        inner = [(s, t) for s, t in rest if _mentions(t, set(self.ranges))]
        if len(inner) != 1 or inner[0][0] != 1 or not isinstance(inner[0][1], c_ast.ID) \
                or any(_mentions(t, varying) for s, t in rest if t is not inner[0][1]):
            return False
        lo, hi = (_inline(x, self.definitions) for x in self.ranges[inner[0][1].name])
        return self._at_least_zero(lo) and self._at_most(hi, factor)

    def distinct_range(self, index: c_ast.Node, length: c_ast.Node) -> bool:
        """Does the block `[a*i + r, a*i + r + length)` stay inside row i's `[a*i, a*i + a)`?"""
        terms = signed_terms(_inline(index, self.definitions))
        with_var = [t for s, t in terms if _factor(t, self.var) is not None]  # the row's a*i
        factor = _factor(with_var[0], self.var) if len(with_var) == 1 else None
        if factor is None or _mentions(factor, self.varying) or not any(
                s == 1 and t is with_var[0] for s, t in terms):
            return False
        rest = [(s, t) for s, t in terms if t is not with_var[0]]
        start = rebuild(rest) if rest else c_ast.Constant("int", "0")
        end = _cancelled(rest + signed_terms(_inline(length, self.definitions)))
        return self._at_least_zero(start) and self._at_most(end, factor)

    def within(self, offset: c_ast.Node, amount: c_ast.Node) -> bool:
        """Is `offset` an inner loop variable whose range lies in [0, amount)?"""
        offset = _inline(offset, self.definitions)
        if not (isinstance(offset, c_ast.ID) and offset.name in self.ranges):
            return False
        lo, hi = (_inline(x, self.definitions) for x in self.ranges[offset.name])
        return self._at_least_zero(lo) and self._at_most(hi, _inline(amount, self.definitions))

    def _require(self, expr: Expr) -> bool:
        if self.checks is None:
            return False
        self.checks.requires.append(expr)
        return True

    def _at_least_zero(self, node: c_ast.Node) -> bool:
        if isinstance(node, c_ast.Constant):
            return _int(node) >= 0
        if isinstance(node, c_ast.TernaryOp):
            return self._at_least_zero(node.iftrue) and self._at_least_zero(node.iffalse)
        if (host := host_expr(node, self.scalars)) is not None:
            return self._require([">=", host, ["int", 0]])
        terms = signed_terms(node)
        elements = [(s, _element(t, self.var, self.stable)) for s, t in terms]
        if [s for s, _ in elements] == [1, -1] and all(e for _, e in elements) and self.checks is not None:
            self.checks.ordered.add((elements[1][1], "stops", elements[0][1]))  # B[i] - A[i] >= 0
            return True
        return False

    def _at_most(self, node: c_ast.Node, bound: c_ast.Node) -> bool:
        if _same(node, bound):
            return True
        if isinstance(node, c_ast.TernaryOp):
            arms = (node.iftrue, node.iffalse)
            if _is_minimum(node):
                return any(_same(arm, bound) for arm in arms) or all(self._at_most(a, bound) for a in arms)
            return all(self._at_most(a, bound) for a in arms)
        if isinstance(bound, c_ast.TernaryOp) and _is_minimum(bound, larger=True):
            return any(self._at_most(node, arm) for arm in (bound.iftrue, bound.iffalse))
        high, limit = host_expr(node, self.scalars), host_expr(bound, self.scalars)
        if high is not None and limit is not None:
            return self._require(["<=", high, limit])
        elements = [(s, _element(t, self.var, self.stable)) for s, t in signed_terms(node)]
        if limit is not None and [s for s, _ in elements] == [1, -1] and all(e for _, e in elements) \
                and self.checks is not None:  # B[i] - A[i] <= bound: the longest row, at run time
            self.checks.longest.add((elements[1][1], "stops", elements[0][1], json.dumps(limit)))
            return True
        return False


def _factor(term: c_ast.Node, var: str) -> c_ast.Node | None:
    """`a` of `a * i` or `i * a` (a not mentioning i), else None."""
    if not (isinstance(term, c_ast.BinaryOp) and term.op == "*"):
        return None
    factor = term.right if isinstance(term.left, c_ast.ID) and term.left.name == var else (
        term.left if isinstance(term.right, c_ast.ID) and term.right.name == var else None)
    return None if factor is None or _mentions(factor, {var}) else factor


def _cancelled(terms: list[tuple[int, c_ast.Node]]) -> c_ast.Node:
    """The sum of signed terms with each `+x ... -x` pair removed."""
    left = list(terms)
    for sign, term in terms:
        opposite = next((u for u in left if u[0] == -sign and _same(u[1], term)), None)
        if opposite is not None and (sign, term) in left:
            left.remove(opposite)
            left.remove((sign, term))
    return rebuild(left) if left else c_ast.Constant("int", "0")


def _int(node: c_ast.Constant) -> int:
    return int(node.value.rstrip("uUlL"), 0)


def _is_minimum(node: c_ast.TernaryOp, larger: bool = False) -> bool:
    """`(a < b) ? a : b` or `(a > b) ? b : a` (also with <=, >=); with `larger`, a maximum."""
    cond = node.cond
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op in ("<", "<=", ">", ">=")):
        return False
    picked = (text(node.iftrue), text(node.iffalse))
    sides = (text(cond.left), text(cond.right))
    return picked == (sides if (cond.op in ("<", "<=")) != larger else sides[::-1])


def _rows(loop: c_ast.For, var: str, body: "_Uses", pointers: set[str], scalars: dict,
          checks: RunTimeChecks | None, private: set[str] = frozenset()) -> _Rows:
    definitions = private_definitions(loop.stmt)
    stable = pointers - (written_anywhere(body) - _read_then_written(loop.stmt, var))
    return _Rows(var, body.declared | {var} | set(private), _loop_ranges(loop.stmt),
                 _segments(loop.stmt, var, stable, definitions, body.declared | set(body.written_ids)),
                 definitions, scalars, stable, checks)


def _private_call(call: c_ast.FuncCall, private: set[str], pointers: set[str]) -> bool:
    """Does a call to a helper that writes through pointers only touch thread-private locals?"""
    for arg in call.args.exprs if call.args else []:
        if isinstance(arg, c_ast.UnaryOp) and arg.op == "&" and isinstance(arg.expr, c_ast.ID):
            if arg.expr.name not in private:
                return False
        elif uses(arg).ids & pointers or isinstance(arg, c_ast.UnaryOp) and arg.op == "&":
            return False
    return True


def _assigned_before_use(items: list[c_ast.Node], name: str) -> bool:
    """Does the first statement of `items` that mentions `name` assign it plainly (without
    reading it), or is it an inner loop or branch, mentioned nowhere after, inside which the
    same holds? Then every use sees a value from the same pass through `items`."""
    for position, item in enumerate(items):
        mentioned = uses(item)
        if name not in mentioned.ids and name not in mentioned.written_ids:
            continue
        if isinstance(item, c_ast.Assignment) and item.op == "=" and isinstance(item.lvalue, c_ast.ID):
            return item.lvalue.name == name and name not in uses(item.rvalue).ids
        if any(name in ids(later) for later in items[position + 1:]):
            return False
        if isinstance(item, c_ast.For):
            return not ids(c_ast.ExprList([n for n in (item.init, item.cond, item.next) if n])) & {name} \
                and _assigned_before_use(block(item.stmt), name)
        if isinstance(item, c_ast.If) and name not in ids(item.cond):
            return all(_assigned_before_use(block(branch), name)
                       for branch in (item.iftrue, item.iffalse) if branch is not None
                       and name in ids(branch))
        return False
    return False


def privatized(loop: c_ast.For, carried: set[str], live_after: set[str]) -> set[str]:
    """Carried names that are really per-iteration: each iteration assigns them before any
    use and nothing reads them later."""
    return {name for name in carried - live_after if _assigned_before_use(block(loop.stmt), name)}


def _loop_shape(loop: c_ast.For, scalars: set[str], helpers_writing: set[str],
                pointers: set[str]) -> tuple[str, Expr, _Uses, str | None]:
    """What both loop rules need first: the counting variable, the iteration count, the body's
    uses, and why the loop fits neither rule (None if it may fit)."""
    var = _counting_var(loop)
    if var is None:
        return "", [], _Uses(), "loop is not a simple counting loop"
    start, bound = host_expr(_init_value(loop), scalars), host_expr(loop.cond.right, scalars)
    if start is None or bound is None:
        return var, [], _Uses(), "loop bounds are not computable from scalar arguments"
    count = ["-", bound, start] if loop.cond.op == "<" else ["+", ["-", bound, start], ["int", 1]]
    body = uses(loop.stmt)
    if body.breaks:
        return var, count, body, f"'break' at line {body.breaks[0].coord.line} ends the loop early"
    if body.success_returns:
        return var, count, body, "the loop returns early"
    for call in body.calls:
        name = call.name.name if isinstance(call.name, c_ast.ID) else "?"
        if _block_copy(call) is not None:
            continue  # its destination range is checked like any other write
        if name.startswith("std_") or name == "?" or (
                name in helpers_writing and not _private_call(call, body.declared, pointers)):
            return var, count, body, f"calls '{name}', which writes memory"
    return var, count, body, None


def parallel_loop(loop: c_ast.For, scalars: dict, helpers_writing: set[str],
                  pointers: set[str] = frozenset(), live_after: set[str] = frozenset(),
                  checks: RunTimeChecks | None = None) -> tuple[Expr | None, str | None]:
    """(iteration count, None) if the loop can run one thread per iteration, else (None, why)."""
    var, count, body, reason = _loop_shape(loop, scalars, helpers_writing, pointers)
    if reason:
        return None, reason
    carried = set(body.written_ids) - body.declared
    carried = sorted(carried - privatized(loop, carried, live_after))
    if carried:
        return None, f"carries '{carried[0]}' from one iteration to the next"
    rows = _rows(loop, var, body, pointers, scalars, checks)
    written = {}
    for array, index, node in body.array_writes:
        if array in body.declared and array not in pointers:
            continue  # `&local` handed to a helper
        length = body.ranges.get(id(node))
        if array == "?" or not (rows.distinct_range(index, length) if length is not None else rows.distinct(index)):
            return None, f"write '{text(node)}' is not provably distinct per iteration"
        written.setdefault(array, []).append(index)
    for array, index in body.array_reads:
        if array in written and not any(_same(index, w) for w in written[array]):
            return None, f"reads '{array}[{text(index)}]', written by another iteration"
    return count, None


def previous_values(loop: c_ast.For, decls: dict[str, c_ast.Decl], scalars: dict, pointers: set[str],
                    live_after: set[str]) -> c_ast.For | None:
    """A copy of the loop where a top-level local `x` that the body reads and, as its last
    statement, sets from this iteration's inputs (`x = e`, as in `previous = offsets[i]`) is
    read instead as the previous iteration's `e` (its value before the loop in the first), so
    iterations no longer hand it on; None if the loop has no such local."""
    var, items = _counting_var(loop), block(loop.stmt)
    if var is None or not items:
        return None
    last = items[-1]
    if not (isinstance(last, c_ast.Assignment) and last.op == "=" and isinstance(last.lvalue, c_ast.ID)):
        return None
    name = last.lvalue.name
    rest = uses(c_ast.Compound(items[:-1]))
    if name in live_after or name not in decls or name in rest.written_ids or name not in rest.ids:
        return None
    assigned = uses(loop.stmt).written_ids
    once = {}
    for item in items[:-1]:  # this iteration's values, each set once at the top level
        if isinstance(item, c_ast.Decl) and item.init is not None and item.name not in assigned:
            once[item.name] = item.init
        elif isinstance(item, c_ast.Assignment) and item.op == "=" and isinstance(item.lvalue, c_ast.ID) \
                and sum(isinstance(n, c_ast.Assignment) and text(n.lvalue) == item.lvalue.name
                        for n in walk(loop.stmt)) == 1:
            once[item.lvalue.name] = item.rvalue
    value = _inline(last.rvalue, once)
    stable = pointers - written_anywhere(uses(loop.stmt))
    arrays = [n for n in walk(value) if isinstance(n, c_ast.ArrayRef)]
    if any(not (isinstance(a.name, c_ast.ID) and a.name.name in stable) for a in arrays) or \
            ids(value) - {a.name.name for a in arrays} - {var} - set(scalars):
        return None
    before = _substitute(value, _named(var), c_ast.BinaryOp("-", c_ast.ID(var), c_ast.Constant("int", "1")))
    private = f"akc_previous_{name}"
    decl = copy.deepcopy(decls[name])
    decl.name = _declared(decl).declname = private
    decl.init = c_ast.TernaryOp(c_ast.BinaryOp("==", c_ast.ID(var), copy.deepcopy(_init_value(loop))),
                                c_ast.ID(name), before)
    body = [decl] + [_substitute(item, _named(name), c_ast.ID(private)) for item in items[:-1]]
    return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(body, coord=loop.stmt.coord), coord=loop.coord)


def _declared(decl: c_ast.Decl) -> c_ast.TypeDecl:
    node = decl.type
    while not isinstance(node, c_ast.TypeDecl):
        node = node.type
    return node


def _substitute(node: c_ast.Node, match, value: c_ast.Node | None) -> c_ast.Node:
    """A copy of `node` with every node for which `match(node)` holds replaced by `value`
    (None: an empty statement)."""
    if match(node):
        return c_ast.EmptyStatement() if value is None else copy.deepcopy(value)
    out = copy.copy(node)
    for child_name, child in node.children():
        replaced = _substitute(child, match, value)
        if "[" in child_name:
            attr, index = child_name[:-1].split("[")
            items = list(getattr(out, attr)) if getattr(out, attr) is getattr(node, attr) else getattr(out, attr)
            items[int(index)] = replaced
            setattr(out, attr, items)
        else:
            setattr(out, child_name, replaced)
    return out


def _named(name: str):
    return lambda node: isinstance(node, c_ast.ID) and node.name == name


def forwarded_stores(loop: c_ast.For, element_types: dict[str, list[str]]) -> c_ast.For | None:
    """A copy of the loop where the iteration's reads of `X[i]` after its own store `X[i] = x`
    (x a local, neither assigned again before) read `(T) x` instead: a value handed on through
    memory becomes a value again. None if there is no such read."""
    var, items = _counting_var(loop), list(block(loop.stmt))
    changed = False
    for k, item in enumerate(items):
        if not (isinstance(item, c_ast.Assignment) and item.op == "=" and isinstance(item.lvalue, c_ast.ArrayRef)
                and text(item.lvalue.subscript) == var and isinstance(item.rvalue, c_ast.ID)
                and text(item.lvalue.name) in element_types):
            continue
        place, local = text(item.lvalue), item.rvalue.name
        value = c_ast.Cast(c_ast.Typename(None, [], None, c_ast.TypeDecl(
            None, [], None, c_ast.IdentifierType(element_types[text(item.lvalue.name)]))), c_ast.ID(local))
        for j in range(k + 1, len(items)):
            later = uses(items[j])
            sets_local = local in later.written_ids
            if any(f"{a}[{text(i)}]" == place for a, i, _ in later.array_writes) or (
                    sets_local and not (isinstance(items[j], c_ast.Assignment) and text(items[j].lvalue) == local)):
                break  # only an assignment to the local itself reads before it writes
            if any(f"{a}[{text(i)}]" == place for a, i in later.array_reads):
                at_place = lambda node: isinstance(node, c_ast.ArrayRef) and text(node) == place  # noqa: E731
                items[j], changed = _substitute(items[j], at_place, value), True
            if sets_local:
                break
    if not changed:
        return None
    return c_ast.For(loop.init, loop.cond, loop.next, c_ast.Compound(items, coord=loop.stmt.coord), coord=loop.coord)


@dataclass
class Peeled:
    first: c_ast.For      # the first iteration, as a loop of one
    rest: c_ast.For       # the others, with the setting branch taken out
    rest_as_is: c_ast.For  # the others as written (when the check fails)
    check: Expr           # what must hold after the first iteration


def peel_sentinel(loop: c_ast.For, scalars: dict) -> Peeled | None:
    """For a loop that sets a memory place only while it still holds a sentinel
    (`if (*size == -1) *size = count; else if (*size != count) ...`): once the first iteration
    has left another value there, no later iteration sets it, so the rest of the loop runs with
    only the else-branch, which merely reads it. Whether the first iteration did is checked at
    run time. None if the loop has no such place."""
    var, start = _counting_var(loop), _init_value(loop)
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
    array = place.lstrip("*").split("[")[0].strip()
    return Peeled(c_ast.For(loop.init, only_first, loop.next, loop.stmt, coord=loop.coord),
                  from_second(_substitute(loop.stmt, lambda node: node is setter, setter.iffalse)),
                  from_second(loop.stmt), ["!=", ["memory", array], host_expr(sentinel, {})])


def _sentinel_test(cond: c_ast.Node) -> tuple[str, c_ast.Node] | None:
    """`*p == s` or `p[0] == s` with a constant s -> ('*p' or 'p[0]', s)."""
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op == "==" and host_expr(cond.right, {}) is not None):
        return None
    left = cond.left
    scalar_place = (isinstance(left, c_ast.UnaryOp) and left.op == "*" and isinstance(left.expr, c_ast.ID)) or (
        isinstance(left, c_ast.ArrayRef) and isinstance(left.name, c_ast.ID) and text(left.subscript) == "0")
    return (text(left), cond.right) if scalar_place else None


def shadows_for_check(loop: c_ast.For, counters: list[Counter] = ()) -> list[tuple[str, c_ast.Node]] | None:
    """For a parallel loop with failure checks: the (array, index) places an iteration both
    writes and reads, which its check launch keeps in private shadows instead of memory. None
    when a shadow's index depends on the iteration's own locals (it could not be declared up
    front), so no check launch is possible."""
    body = uses(loop.stmt)
    written = {(a, text(i)): i for a, i, _ in body.array_writes}
    read = {(a, text(i)) for a, i in body.array_reads}
    shadows = []
    counted = {c.place for c in counters}  # counters live in private variables already
    for key in sorted(read & set(written)):
        if f"{key[0]}[{key[1]}]" in counted:
            continue
        if uses(written[key]).ids & body.declared:
            return None
        shadows.append((key[0], written[key], not _written_first(loop.stmt, f"{key[0]}[{key[1]}]")))
    return shadows


def _written_first(body: c_ast.Node, place: str) -> bool:
    """Is the body's first statement that mentions `place` a plain store to it (so the
    iteration never reads the memory's old value)?"""
    for item in block(body):
        if place in text(item):
            return (isinstance(item, c_ast.Assignment) and item.op == "=" and text(item.lvalue) == place
                    and place not in text(item.rvalue))
    return False


INTEGER_TYPES = {"int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t",
                 "uint64_t", "size_t", "int", "long", "unsigned"}


def _type_names(decl: c_ast.Decl) -> list[str]:
    node = decl.type
    while not isinstance(node, c_ast.TypeDecl):
        if not isinstance(node, c_ast.PtrDecl):
            return []
        node = node.type
    return node.type.names if isinstance(node.type, c_ast.IdentifierType) else []


def scan_loop(loop: c_ast.For, scalars: set[str], helpers_writing: set[str], pointers: set[str],
              top_locals: dict[str, int], integral_locals: set[str], boolean_locals: set[str], integral,
              live_after: set[str] = frozenset(),
              checks: RunTimeChecks | None = None) -> tuple[Expr | None, list[Counter], str | None]:
    """(count, counters, None) if the loop fits count-scan-fill, else (None, [], why)."""
    var, count, body, reason = _loop_shape(loop, scalars, helpers_writing, pointers)
    if reason:
        return None, [], reason
    carried = set(body.written_ids) - body.declared
    private = privatized(loop, carried, live_after)
    carried -= private
    rows = _rows(loop, var, body, pointers, scalars, checks, private)
    counters, reason = find_counters(
        loop.stmt, var, carried, top_locals, body.array_writes, rows.distinct,
        body.declared | private, _keys(loop, var, rows.stable, scalars), rows.within)
    if reason:
        return None, [], reason
    for counter in counters:
        array = counter.place.lstrip("*").split("[")[0].strip() \
            if counter.kind in ("memory", "running", "keyed") else None
        if counter.kind == "local" and counter.name not in integral_locals | (
                boolean_locals if counter.op == "last" else set()):
            return None, [], f"counter '{counter.name}' is not of an integer type"
        if array is not None and not integral(array):
            return None, [], f"running value in '{array}' is not of an integer type in every specialization"
    counter_arrays = {c.place for c in counters if c.kind == "running"}
    written = {}
    for array, index, node in body.array_writes:
        if text(node) not in {c.place for c in counters} and array not in counter_arrays:
            written.setdefault(array, set()).add(text(index))
    names = {c.name for c in counters}
    updates = _self_updates(loop.stmt)
    for array, index in body.array_reads:
        place = f"{array}[{text(index)}]"
        if array not in written or (ids(index) & names and updates.get(place, 0) == _reads_of(body, place)):
            continue  # `X[k] = f(X[k])` at a counter: the iteration's own place, dropped in count
        # a place the iteration itself writes is read back through a shadow in `count`
        if text(index) not in written[array] or ids(index) & names:
            return None, [], f"reads '{array}[{text(index)}]', which the loop writes"
    for counter in counters:
        reads = sum(a == counter.place for a, _ in body.array_reads)
        if counter.kind == "running" and reads != running_statements(loop.stmt, var, counter):
            return None, [], f"reads '{counter.place}' besides its running sum"
    return count, counters, None


def _self_updates(body: c_ast.Node) -> dict[str, int]:
    """Reads of a place inside stores to that same place (`X[k] = X[k] + d`, `X[k] += d`)."""
    out: dict[str, int] = {}
    for node in walk(body):
        if isinstance(node, c_ast.Assignment) and isinstance(node.lvalue, c_ast.ArrayRef):
            place = text(node.lvalue)
            out[place] = out.get(place, 0) + (node.op != "=") + sum(
                isinstance(n, c_ast.ArrayRef) and text(n) == place for n in walk(node.rvalue))
    return out


def _reads_of(body: "_Uses", place: str) -> int:
    return sum(f"{a}[{text(i)}]" == place for a, i in body.array_reads)


def _keys(loop: c_ast.For, var: str, stable: set[str], scalars: dict):
    """key_of(index) for find_counters: the index as C text over `i`, scalars and inputs read
    at places fixed by `i`, through the locals the iteration defines first (so every iteration
    computes its key before anything else, and other launches can compute it again), else None."""
    leading = []
    for item in block(loop.stmt):
        if not isinstance(item, c_ast.Decl):
            break
        leading.append(item.name)
    definitions = {n: d for n, d in private_definitions(loop.stmt).items() if n in leading}

    def key_of(index: c_ast.Node) -> str | None:
        key = _inline(index, definitions)
        arrays = [n for n in walk(key) if isinstance(n, c_ast.ArrayRef)]
        if any(not (isinstance(a.name, c_ast.ID) and a.name.name in stable and ids(a.subscript) <= {var})
               for a in arrays):
            return None
        if ids(key) - {a.name.name for a in arrays} - {var} - set(scalars):
            return None
        return text(key)

    return key_of


CONSTANT_WORK = "constant work outside loops"


def has_failure(node: c_ast.Node) -> bool:
    return any(isinstance(n, c_ast.Return) and is_call(n.expr, "failure") for n in walk(node))


def _both(outer: Expr | None, inner: Expr) -> Expr:
    return inner if outer is None else ["&&", outer, inner]


def _all(conditions: list[Expr]) -> Expr | None:
    """One host expression requiring every condition (None when there are none)."""
    unique = [c for k, c in enumerate(conditions) if c not in conditions[:k]]
    out = None
    for condition in unique:
        out = _both(out, condition)
    return out


def _has_loop(node: c_ast.Node) -> bool:
    return any(isinstance(n, (c_ast.For, c_ast.While, c_ast.DoWhile)) for n in walk(node))


def plan_steps(func: c_ast.FuncDef, scalars: set[str], helpers_writing: set[str],
               pointers: set[str] = frozenset(), integral=lambda array: False,
               integral_type=INTEGER_TYPES.__contains__) -> tuple[list[Step], list[c_ast.Decl]]:
    """Split the body into steps (parallel loops, count-scan-fill loops, serial runs of the
    rest) and return them with the top-level locals that live in the spill buffer."""
    stmts = func.body.block_items or []
    decls = [s for s in stmts if isinstance(s, c_ast.Decl)]
    slots = {d.name: k for k, d in enumerate(decls)}
    integral_locals = {d.name for d in decls if any(map(integral_type, _type_names(d)))}
    boolean_locals = {d.name for d in decls if _type_names(d) == ["bool"]}
    assigned = uses(func.body).written_ids
    params = func.decl.type.args.params if func.decl.type.args else []
    element_types = {p.name: _type_names(p) for p in params if isinstance(p.type, c_ast.PtrDecl) and _type_names(p)}
    scalars = dict.fromkeys(scalars)
    for decl in decls:  # locals fixed by their definition over arguments count as arguments
        if decl.init is not None and decl.name not in assigned and host_expr(decl.init, scalars) is not None:
            scalars[decl.name] = decl.init
    steps: list[Step] = []
    why_serial: list[str] = []

    def plan_items(items: list[c_ast.Node], guard: Expr | None, after: set[str]) -> None:
        for position, stmt in enumerate(items):
            live_after = after | {n for later in items[position + 1:] for n in uses(later).ids}
            if isinstance(stmt, c_ast.Return) and is_call(stmt.expr, "success") and guard is None:
                continue
            reason = None
            if isinstance(stmt, c_ast.For):
                loop = forwarded_stores(stmt, element_types) or stmt
                loop = previous_values(loop, {d.name: d for d in decls}, scalars, pointers, live_after) or loop
                step, reason = loop_step(loop, guard, live_after)
                peeled = peel_sentinel(stmt, scalars) if step is None else None
                rest = loop_step(peeled.rest, guard, live_after)[0] if peeled else None
                if rest is not None:  # the first iteration alone, then the rest in parallel
                    add_serial(peeled.first, guard, None)
                    rest.requires, rest.serial_form = _both(rest.requires, peeled.check), peeled.rest_as_is
                    step = rest
                if step is not None:
                    steps.append(step)
                    continue
            elif isinstance(stmt, c_ast.If) and _has_loop(stmt):
                branch_guard = host_expr(stmt.cond, scalars)
                branches = [stmt.iftrue] + ([stmt.iffalse] if stmt.iffalse is not None else [])
                if branch_guard is not None and not any(
                        isinstance(item, c_ast.Decl) for b in branches for item in block(b)):
                    # a condition on scalar arguments: the executor picks the branch's steps
                    plan_items(block(stmt.iftrue), _both(guard, branch_guard), live_after)
                    if stmt.iffalse is not None:
                        plan_items(block(stmt.iffalse), _both(guard, ["!", branch_guard]), live_after)
                    continue
                reason = ("a loop inside an 'if' whose branches declare locals" if branch_guard is not None
                          else "a loop inside an 'if' whose condition is not on scalar arguments alone")
            elif _has_loop(stmt):
                reason = "a loop nested in a top-level statement other than a loop"
            add_serial(stmt, guard, reason)

    def add_serial(stmt: c_ast.Node, guard: Expr | None, reason: str | None) -> None:
        """Append a statement to the serial step before it (or a new one), noting why."""
        if reason:
            why_serial.append(f"line {stmt.coord.line}: {reason}")
        if not (steps and steps[-1].kind == "serial" and steps[-1].guard == guard):
            steps.append(Step("serial", [], guard=guard))
        steps[-1].stmts.append(stmt)
        if reason:
            steps[-1].reason = "; ".join(filter(None, [steps[-1].reason, f"line {stmt.coord.line}: {reason}"]))

    def loop_step(loop: c_ast.For, guard: Expr | None, live_after: set[str]) -> tuple[Step | None, str | None]:
        """The parallel or count-scan-fill step of a loop, or None and why no rule applies."""
        checks, counters = RunTimeChecks(), []
        count, reason = parallel_loop(loop, scalars, helpers_writing, pointers, live_after, checks)
        if count is None:
            checks = RunTimeChecks()
            count, counters, scan_reason = scan_loop(loop, scalars, helpers_writing, pointers, slots,
                                                      integral_locals, boolean_locals, integral, live_after, checks)
            reason = scan_reason or reason
        if count is None:
            return None, reason
        kind = "scan" if counters else "parallel"
        step = Step(kind, [loop], count=count, loop=loop, counters=counters, guard=guard,
                    segments=[{"starts": list(a), end: list(b), "disjoint": span in checks.segments}
                              for span in sorted(checks.segments | checks.ordered) for a, end, b in [span]]
                    + [{"starts": list(a), end: list(b), "disjoint": False, "longest": json.loads(bound)}
                       for a, end, b, bound in sorted(checks.longest)],
                    requires=_all(checks.requires), first=host_expr(_init_value(loop), scalars))
        if kind == "parallel" and has_failure(loop):
            shadows = shadows_for_check(loop)
            step.checked, step.shadows = shadows is not None, shadows or []
        if kind == "scan":
            step.shadows = shadows_for_check(loop, counters)
        if step.shadows is None:
            return None, "a place the loop reads back has an index private to the iteration"
        return step, None

    plan_items(stmts, None, set())
    whole = Step("serial", list(stmts), reason="; ".join(why_serial) or CONSTANT_WORK)
    if len(steps) <= 1:
        return ([whole], []) if not steps or steps[0].kind == "serial" else (steps, decls)
    # Steps are separate launches: top-level locals live in a spill buffer between them, and no
    # step but the last may return early (a later launch would not know).
    for decl in decls:
        if "auto" in _type_names(decl) or not _type_names(decl):
            whole.reason = f"local '{decl.name}' cannot be kept between launches"
            return [whole], []
    for k, step in enumerate(steps[:-1]):
        for stmt in step.stmts:
            if uses(stmt).success_returns:
                whole.reason = f"line {stmt.coord.line}: early return before a later loop"
                return [whole], []
    for step in steps:
        if step.kind == "serial" and not step.reason:
            step.reason = CONSTANT_WORK
    return steps, decls
