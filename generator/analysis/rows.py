"""Stage (analysis): proving that a loop's writes land on places distinct per iteration.

`RowProver` decides whether each write index is the iteration's own (`i + r`, `a*i + r` with
`r` in `[0, a)`, a row range `[A[i], B[i])`, a block copied inside the row); what only the data
can tell (ranges ordered and disjoint, bounds over scalars, the longest row) it records in
`RunTimeChecks`, which the executor checks before the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, ids, rebuild, same, signed_terms, text, walk
from akcuda.generator.analysis.loops import (
    Uses,
    counting_var,
    host_expr,
    init_value,
    inline,
    is_zero,
    loop_bound,
    loop_ranges,
    mentions,
    private_definitions,
    row_element,
    uses,
    written_anywhere,
)
from akcuda.plan.expr import Binary, Expr, Int


def _segments(
    body: c_ast.Node, var: str, pointers: set[str], definitions: dict[str, c_ast.Node], varying: set[str]
) -> dict[str, tuple[tuple, str | None]]:
    """Inner loops whose variable runs over row i's own range of positions -> {j: (range, base)}:
    `for (j = A[i]; j < B[i]; ...)` (offsets: B is A shifted by one), the same shifted by an
    invariant `- c`, `for (j = A[i]; j < A[i] + C[i]; ...)` (counts), or
    `for (j = 0; j < B[i] - A[i]; ...)` where writes index `A[i] + j` (base `A[i]`). Extra `&&`
    conditions only end a loop sooner. The rows' ranges are disjoint when each is ordered and
    ends before the next begins, which the executor checks at run time."""
    out = {}
    for node in walk(body):
        inner = counting_var(node, clipped=True) if isinstance(node, c_ast.For) else None
        if inner is None or loop_bound(node)[0] != "<":
            continue
        first = signed_terms(inline(init_value(node), definitions))
        last = signed_terms(inline(loop_bound(node)[1], definitions))
        invariant = varying | {var, inner}
        shift = [(sg, text(t)) for sg, t in first if not ids(t) & invariant]
        if shift and [(sg, text(t)) for sg, t in last if not ids(t) & invariant] == shift:
            first = [(sg, t) for sg, t in first if ids(t) & invariant]
            last = [(sg, t) for sg, t in last if ids(t) & invariant]
        elements = [(sg, row_element(t, var, pointers)) for sg, t in last]
        if len(first) == 1 and first[0][0] == 1 and (start := row_element(first[0][1], var, pointers)):
            others = [e for e in elements if e != (1, start)]
            if len(elements) == 2 and len(others) == 1 and others[0][0] == 1 and others[0][1]:
                out[inner] = ((start, "counts", others[0][1]), None)
            elif len(elements) == 1 and elements[0][0] == 1 and elements[0][1]:
                out[inner] = ((start, "stops", elements[0][1]), None)
        elif is_zero(init_value(node)) and (length := _row_length(last, var, pointers)):
            out[inner] = ((length[0], "stops", length[1]), text(last[1][1]))
    return out


def _row_length(terms: list[tuple[int, c_ast.Node]], var: str, stable: set[str]) -> tuple | None:
    """Terms of `B[i] - A[i]` over stable arrays (a row's length) -> (A element, B element)."""
    elements = [(sign, row_element(t, var, stable)) for sign, t in terms]
    if [sign for sign, _ in elements] == [1, -1] and all(e for _, e in elements):
        return elements[1][1], elements[0][1]
    return None


def _read_then_written(body: c_ast.Node, var: str) -> set[str]:
    """Arrays that the body accesses only at `[var]` and writes only after its last read (or in
    the one assignment that reads it last)."""
    out = set()
    items, found = block(body), uses(body)
    each = [uses(item) for item in items]
    for array in written_anywhere(found):
        accesses = [i for a, i, _ in found.array_writes if a == array] + [i for a, i in found.array_reads if a == array]
        if any(text(i) != var for i in accesses):
            continue
        writers = [k for k, item in enumerate(each) if array in written_anywhere(item)]
        readers = [k for k, item in enumerate(each) if any(a == array for a, _ in item.array_reads)]
        last_read = max(readers, default=-1)
        if last_read < min(writers) or (
            last_read == min(writers) == max(writers) and isinstance(items[last_read], c_ast.Assignment)
        ):
            out.add(array)
    return out


@dataclass
class RunTimeChecks:
    """What a parallel form relies on that only the data can tell. The executor checks it before
    the step and runs the step's serial form (the C order) when it does not hold."""

    segments: set = field(default_factory=set)  # row ranges that must be ordered and disjoint
    ordered: set = field(default_factory=set)  # row ranges that must be ordered (B[i] >= A[i])
    longest: set = field(default_factory=set)  # (*row range, bound Expr): no row longer than bound
    requires: list[Expr] = field(default_factory=list)  # host expressions that must be true


@dataclass
class RowProver:
    """Proves that a loop's writes go to places distinct per iteration."""

    var: str
    varying: set[str]  # names that change within an iteration
    ranges: dict[str, tuple]  # inner loop variable -> (lo, hi)
    segments: dict  # inner loop variable -> (row range, base), see _segments
    definitions: dict[str, c_ast.Node]
    scalars: dict
    stable: set[str]  # arrays whose elements hold for the whole loop
    checks: RunTimeChecks | None

    def distinct(self, index: c_ast.Node) -> bool:
        """Is `index` i + r (r invariant), a*i + r with r provably in [0, a), or an inner
        variable over the row's own range [A[i], B[i]) (rows disjoint: checked at run time)?"""
        index = inline(index, self.definitions)
        terms = signed_terms(index)
        for sign, term in terms if self.checks is not None else []:
            if sign == 1 and isinstance(term, c_ast.ID) and term.name in self.segments:
                span, base = self.segments[term.name]
                rest = [(s, text(t)) for s, t in terms if t is not term]
                if rest == ([] if base is None else [(1, base)]):
                    self.checks.segments.add(span)
                    return True
        var, varying = self.var, self.varying
        with_var = [(s, t) for s, t in terms if mentions(t, {var})]
        rest = [(s, t) for s, t in terms if not mentions(t, {var})]
        if len(with_var) != 1 or with_var[0][0] != 1:
            return False
        term = with_var[0][1]
        if isinstance(term, c_ast.ID):
            return not any(mentions(t, varying) for _, t in rest)
        factor = _factor(term, var)
        if factor is None or mentions(factor, varying):
            return False
        if not rest:
            return True
        if len(rest) == 1 and isinstance(rest[0][1], c_ast.Constant) and isinstance(factor, c_ast.Constant):
            return rest[0][0] == 1 and 0 <= _int(rest[0][1]) < _int(factor)
        # a*i + r + c with r an inner loop variable in [0, a) and c invariant: a shift of the
        # whole array does not make two iterations meet
        inner = [(s, t) for s, t in rest if mentions(t, set(self.ranges))]
        if (
            len(inner) != 1
            or inner[0][0] != 1
            or not isinstance(inner[0][1], c_ast.ID)
            or any(mentions(t, varying) for s, t in rest if t is not inner[0][1])
        ):
            return False
        lo, hi = (inline(x, self.definitions) for x in self.ranges[inner[0][1].name])
        return self._at_least_zero(lo) and self._at_most(hi, factor)

    def distinct_range(self, index: c_ast.Node, length: c_ast.Node) -> bool:
        """Does the block `[a*i + r, a*i + r + length)` stay inside row i's `[a*i, a*i + a)`?"""
        terms = signed_terms(inline(index, self.definitions))
        with_var = [t for s, t in terms if _factor(t, self.var) is not None]  # the row's a*i
        factor = _factor(with_var[0], self.var) if len(with_var) == 1 else None
        if factor is None or mentions(factor, self.varying) or not any(s == 1 and t is with_var[0] for s, t in terms):
            return False
        rest = [(s, t) for s, t in terms if t is not with_var[0]]
        start = rebuild(rest) if rest else c_ast.Constant("int", "0")
        end = _cancelled(rest + signed_terms(inline(length, self.definitions)))
        return self._at_least_zero(start) and self._at_most(end, factor)

    def within(self, offset: c_ast.Node, amount: c_ast.Node) -> bool:
        """Is `offset` an inner loop variable whose range lies in [0, amount)?"""
        offset = inline(offset, self.definitions)
        if not (isinstance(offset, c_ast.ID) and offset.name in self.ranges):
            return False
        lo, hi = (inline(x, self.definitions) for x in self.ranges[offset.name])
        return self._at_least_zero(lo) and self._at_most(hi, inline(amount, self.definitions))

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
            return self._require(Binary(">=", host, Int(0)))
        length = _row_length(signed_terms(node), self.var, self.stable)
        if length and self.checks is not None:
            self.checks.ordered.add((length[0], "stops", length[1]))  # B[i] - A[i] >= 0
            return True
        return False

    def _at_most(self, node: c_ast.Node, bound: c_ast.Node) -> bool:
        if same(node, bound):
            return True
        if isinstance(node, c_ast.TernaryOp):
            arms = (node.iftrue, node.iffalse)
            if _is_minimum(node):
                return any(same(arm, bound) for arm in arms) or all(self._at_most(a, bound) for a in arms)
            return all(self._at_most(a, bound) for a in arms)
        if isinstance(bound, c_ast.TernaryOp) and _is_minimum(bound, larger=True):
            return any(self._at_most(node, arm) for arm in (bound.iftrue, bound.iffalse))
        high, limit = host_expr(node, self.scalars), host_expr(bound, self.scalars)
        if high is not None and limit is not None:
            return self._require(Binary("<=", high, limit))
        length = _row_length(signed_terms(node), self.var, self.stable)
        if limit is not None and length and self.checks is not None:  # the longest row, at run time
            self.checks.longest.add((length[0], "stops", length[1], limit))
            return True
        return False


def _factor(term: c_ast.Node, var: str) -> c_ast.Node | None:
    """`a` of `a * i` or `i * a` (a not mentioning i), else None."""
    if not (isinstance(term, c_ast.BinaryOp) and term.op == "*"):
        return None
    factor = (
        term.right
        if isinstance(term.left, c_ast.ID) and term.left.name == var
        else (term.left if isinstance(term.right, c_ast.ID) and term.right.name == var else None)
    )
    return None if factor is None or mentions(factor, {var}) else factor


def _cancelled(terms: list[tuple[int, c_ast.Node]]) -> c_ast.Node:
    """The sum of signed terms with each `+x ... -x` pair removed."""
    left = list(terms)
    for sign, term in terms:
        opposite = next((u for u in left if u[0] == -sign and same(u[1], term)), None)
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


def row_prover(
    loop: c_ast.For,
    var: str,
    body: Uses,
    pointers: set[str],
    scalars: dict,
    checks: RunTimeChecks | None,
    private: set[str] = frozenset(),
) -> RowProver:
    definitions = private_definitions(loop.stmt)
    stable = pointers - (written_anywhere(body) - _read_then_written(loop.stmt, var))
    return RowProver(
        var,
        body.declared | {var} | set(private),
        loop_ranges(loop.stmt),
        _segments(loop.stmt, var, stable, definitions, body.declared | set(body.written_ids)),
        definitions,
        scalars,
        stable,
        checks,
    )
