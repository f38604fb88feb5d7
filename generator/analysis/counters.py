"""Counters: the state a count-scan-fill loop may carry (emission/counting.py writes its count
and fill bodies, the general rule in iterations.py asks `find_counters`).

When the only state a loop carries from one iteration to the next is a set of integer counters
that are only ever advanced (`k++`, `k += m`) and otherwise used as write positions or written
values, the loop runs one thread per iteration in two launches: *count* runs each iteration with
stores suppressed and records how far each counter advanced; an exclusive scan turns the
advances into each iteration's starting values; *fill* runs the body again from those values,
now storing. A *finish* launch (one thread) writes each counter's final value back.

Counters are top-level locals (`k`), loop-invariant memory locations (`*total`, `out[0]`), or a
running sum through memory (`offsets[i + 1] = offsets[i] + m`). Running maxima and minima are
reduced instead of scanned, and a top-level local the loop only ever assigns (never reads) keeps
the value of the last iteration that assigned it: *count* records each iteration's value and
whether it assigned, and the executor picks the last one. A counter the iteration reads as a
position (a parser's cursor) is *speculated*: a *nominal* launch records the share each
iteration should consume, a scan turns those into starting positions for *count*, and the
executor checks that every iteration consumed exactly its share (else the loop runs serially).

Each counter is a plan `Counter` (akcuda.plan.model) with its scan-buffer rows: a last value's
flag row, a keyed counter's key row and a speculated counter's row of actual advances follow
its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import ids as _ids
from akcuda.generator.analysis.ast_util import is_call, memory_array, read_names, rebuild, same, text, walk
from akcuda.generator.analysis.ast_util import is_memory as _is_memory
from akcuda.generator.analysis.ast_util import signed_terms as _signed_terms
from akcuda.plan.model import Counter, CounterKind, CounterOp

LOCAL, MEMORY, RUNNING, KEYED = CounterKind.LOCAL, CounterKind.MEMORY, CounterKind.RUNNING, CounterKind.KEYED


def rows_used(counters: list[Counter]) -> int:
    """The scan-buffer rows the counters take: their own and their helper rows."""
    rows = [r for c in counters for r in (c.row, c.flag_row, c.key_row, c.actual_row, c.width_row, c.check_row)]
    return max((r for r in rows if r is not None), default=-1) + 1


def advance(stmt: c_ast.Node) -> tuple[c_ast.Node, c_ast.Node] | None:
    """(target, amount) of `x++`, `++x`, `x += m`, or `x = x + m - ...`, else None."""
    if isinstance(stmt, c_ast.UnaryOp) and stmt.op in ("p++", "++"):
        return stmt.expr, c_ast.Constant("int", "1")
    if isinstance(stmt, c_ast.Assignment) and stmt.op == "+=":
        return stmt.lvalue, stmt.rvalue
    if isinstance(stmt, c_ast.Assignment) and stmt.op == "=" and isinstance(stmt.rvalue, c_ast.TernaryOp):
        # `x = c ? x + a : x + b` advances x by `c ? a : b`
        arms = [advance(c_ast.Assignment("=", stmt.lvalue, arm)) for arm in (stmt.rvalue.iftrue, stmt.rvalue.iffalse)]
        if all(arms) and not _ids(stmt.lvalue) & _ids(stmt.rvalue.cond):
            return stmt.lvalue, c_ast.TernaryOp(stmt.rvalue.cond, arms[0][1], arms[1][1])
        return None
    if isinstance(stmt, c_ast.Assignment) and stmt.op == "=":
        # `x = (T) x + m` too: the counter's value read back through its own element type
        target = text(stmt.lvalue)
        terms = _signed_terms(stmt.rvalue)
        own = [k for k, (sign, term) in enumerate(terms) if sign > 0 and text(_uncast(term)) == target]
        if len(own) == 1 and len(terms) > 1:
            rest = terms[: own[0]] + terms[own[0] + 1 :]
            if not any(text(t) == target for _, t in rest):
                return stmt.lvalue, rebuild(rest)
    return None


class _CounterUses(c_ast.NodeVisitor):
    """Checks every mention of a counter is an advance, a store position, a stored value, or a
    failure argument; anything else (a condition, a private local) would make `count` and
    `fill` disagree."""

    def __init__(self, counters: set[str], assigned: set[str] = frozenset()):
        self.counters = counters
        self.assigned = assigned  # last-value locals: plainly assigned, never read
        self.problem: str | None = None
        self.context: list[str] = []
        self.where: list[str] = []  # what a mention is part of, for the reason

    def _bad(self, node: c_ast.Node, what: str) -> None:
        if self.problem is None:
            use = self.where[-1] if self.where else "other than as a write position or value"
            self.problem = f"counter '{what}' is used {use} at line {node.coord.line}"

    def _within(self, node: c_ast.Node, where: str) -> None:
        self.where.append(where)
        self.visit(node)
        self.where.pop()

    def visit_ArrayRef(self, node: c_ast.ArrayRef) -> None:
        self.visit(node.name)
        self._within(node.subscript, f"as a read position ('{text(node)}')")

    def visit_For(self, node: c_ast.For) -> None:
        for part, where in ((node.init, "as a loop's start"), (node.cond, "in a loop condition")):
            if part is not None:
                self._within(part, where)
        if node.next is not None:
            self.visit(node.next)
        self.visit(node.stmt)

    def visit(self, node: c_ast.Node) -> None:
        if (isinstance(node, c_ast.ID) or _is_memory(node)) and not self.context:
            place = text(node)
            if place in self.counters:
                self._bad(node, place)
                return
        super().visit(node)

    def visit_Assignment(self, node: c_ast.Assignment) -> None:
        if node.op == "=" and isinstance(node.lvalue, c_ast.ID) and node.lvalue.name in self.assigned:
            self.visit(node.rvalue)
            return
        found = extremum(node)
        if found and text(found[1]) in self.counters:
            self.visit(found[2])
            return
        step = advance(node)
        if step and text(step[0]) in self.counters:
            if _ids(step[1]) & self.counters:
                self._bad(node, text(step[0]))
            self.visit(step[1])
            return
        if _is_memory(node.lvalue):
            self.context.append("store")
            self.generic_visit(node)
            self.context.pop()
        else:
            self.generic_visit(node)

    def visit_UnaryOp(self, node: c_ast.UnaryOp) -> None:
        step = advance(node)
        if step and text(step[0]) in self.counters:
            return
        self.generic_visit(node)

    def visit_If(self, node: c_ast.If) -> None:
        found = extremum(node)
        if found and text(found[1]) in self.counters:
            self.visit(found[2])
            return
        if _stores_only(node):  # count suppresses them whichever way it goes; fill has the right values
            self.context.append("store")
            self.visit(node.cond)
            self.context.pop()
        else:
            self._within(node.cond, "in a branch condition")
        for branch in (node.iftrue, node.iffalse):
            if branch is not None:
                self.visit(branch)

    def visit_Return(self, node: c_ast.Return) -> None:
        if is_call(node.expr, "failure"):
            self.context.append("failure")
            self.generic_visit(node)
            self.context.pop()
        else:
            self.generic_visit(node)


def _stores_only(branch: c_ast.If) -> bool:
    """Does the `if` do nothing but plain stores to memory, advancing nothing
    (`if (k < n) { out[p] = v; }`)?"""
    parts = [branch.iftrue] + ([branch.iffalse] if branch.iffalse is not None else [])
    return all(
        isinstance(s, c_ast.Assignment) and s.op == "=" and _is_memory(s.lvalue) and not _steps_anything(s)
        for part in parts
        for s in _statements(part)
    )


def _steps_anything(node: c_ast.Node) -> bool:
    """Does a tree assign or step anything besides its own store (`out[k++] = v`, `x = v`)?"""
    return any(
        (isinstance(n, c_ast.UnaryOp) and n.op in ("++", "--", "p++", "p--"))
        or (isinstance(n, c_ast.Assignment) and n is not node)
        for n in walk(node)
    )


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


@dataclass(frozen=True)
class LoopBody:
    """What the counter rule asks of one loop: its body and counting variable, the variables
    it carries from one iteration to the next and those private to an iteration, its writes
    (array, index, node), and the row prover's answers.

    `per_iteration(index)`: is a write at `index` distinct per iteration; `key_of(index)`: the C
    text of an index fixed for the whole iteration (over its inputs), or None — a counter at such
    a place is *keyed*, one running count per key; `within(offset, amount)`: does a write at
    `counter + offset` provably stay inside the range `[counter, counter + amount)` that the
    iteration's advance claims."""

    body: c_ast.Node
    var: str
    carried: set[str]
    writes: list[tuple[str, c_ast.Node, c_ast.Node]]
    per_iteration: Callable[[c_ast.Node], bool]
    private: set[str] = frozenset()
    key_of: Callable[[c_ast.Node], str | None] = lambda index: None
    within: Callable[[c_ast.Node, c_ast.Node], bool] = lambda offset, amount: False


def find_counters(loop: LoopBody, top_locals: dict[str, int]) -> tuple[list[Counter], str | None]:
    """The counters of a loop body (top-level locals by their spill slot), or the reason it has
    state that is not a counter."""
    body, var, carried, key_of = loop.body, loop.var, loop.carried, loop.key_of
    extrema = _extrema(body)
    counters, reason = _local_counters(body, carried, top_locals, extrema, key_of)
    if reason:
        return [], reason
    counters += _memory_counters(
        body,
        var,
        {var} | carried | set(loop.private),
        extrema,
        {c.name for c in counters if c.op == "sum"},
        key_of,
        rows_used(counters),
    )
    reason = _misused(body, var, counters) or _stray_write(body, counters, loop.writes, loop.per_iteration, loop.within)
    return ([], reason) if reason else (counters, None)


def _extrema(body: c_ast.Node) -> dict[str, str]:
    """Places the body keeps a running maximum or minimum at -> "max" | "min" (the first found)."""
    out: dict[str, str] = {}
    for stmt in _statements(body):
        found = extremum(stmt)
        if found:
            out.setdefault(text(found[1]), found[0])
    return out


def _local_counters(
    body: c_ast.Node, carried: set[str], top_locals: dict[str, int], extrema: dict[str, str], key_of
) -> tuple[list[Counter], str | None]:
    """The carried top-level locals as counters: only ever assigned (`last`, with a flag row),
    read as a position (`speculated`, with a row of actual advances), else advanced or a running
    extremum; or why a carried name is not a counter."""
    counters: list[Counter] = []
    read = read_names(body)
    for name in sorted(carried):
        row = rows_used(counters)
        if name not in top_locals:
            return [], f"writes '{name}', which is not a counter"
        if name not in read and name not in extrema and _assigned_as_statements(body, name):
            # only ever assigned: its final value is the one the last assigning iteration left
            counters.append(Counter(LOCAL, CounterOp.LAST, name, row, flag_row=row + 1))
            continue
        nominal = _nominal_advance(body, name, key_of)
        if nominal is not None:
            # read as a position: each iteration starts where the nominal advances put it
            counters.append(Counter(LOCAL, CounterOp.SPECULATED, name, row, actual_row=row + 1, base=nominal))
            continue
        counters.append(Counter(LOCAL, CounterOp(extrema.get(name, "sum")), name, row))
    return counters, None


def _memory_counters(
    body: c_ast.Node, var: str, varying: set[str], extrema: dict[str, str], advanced: set[str], key_of, first: int
) -> list[Counter]:
    """Counters in memory, numbered from `first`: `*total += m` or a running extremum at a place
    not indexed by `varying` names (memory), `current[tag]++` at a key the iteration fixes
    (keyed, with its key row), `X[i + 1] = X[i] + m` or `X[k] = X[k - 1] + m` at an `advanced`
    local k (running)."""
    places: dict[str, tuple[str, str, str, str]] = {}
    for stmt in _statements(body):
        found = extremum(stmt)
        step = advance(stmt)
        target = found[1] if found else step[0] if step else None
        if target is not None and _is_memory(target) and not (_ids(target) & varying):
            places.setdefault(
                text(target), ("memory", extrema[text(target)] if found else "sum", "", memory_array(target) or "")
            )
        elif step and isinstance(target, c_ast.ArrayRef) and (key := key_of(target.subscript)) is not None:
            places.setdefault(text(target), ("keyed", "sum", key, memory_array(target) or ""))
        running = running_parts(stmt, var, advanced)
        if running:
            places.setdefault(running[0], ("running", "sum", running[2], running[0]))
    out: list[Counter] = []
    for place, (kind, op, base, array) in places.items():
        row = rows_used(out) if out else first
        key_row = row + 1 if kind == KEYED else None  # each iteration's key
        out.append(
            Counter(
                CounterKind(kind), CounterOp(op), f"akc_ctr{row}", row, place, array or None, key_row=key_row, base=base
            )
        )
    return out


def _counted(counters: list[Counter]) -> set[str]:
    """What the body names the counters by: locals' names and memory places."""
    return {c.target for c in counters if c.kind != RUNNING}


def _misused(body: c_ast.Node, var: str, counters: list[Counter]) -> str | None:
    """Why count and fill would disagree about a counter: a keyed counter's array used at another
    place, a running sum at a counter not stored just before it advances, an extremum also
    advanced, or a counter used other than as an advance, a position or a value; else None."""
    for counter in counters:
        reason = (
            _keyed_alone(body, counter)
            if counter.kind == "keyed"
            else _running_in_step(body, var, counter)
            if counter.kind == "running" and counter.base
            else None
        )
        if reason:
            return reason
    mixed = [
        c.target
        for c in counters
        if c.op in ("max", "min")
        and any(advance(stmt) and text(advance(stmt)[0]) == c.target for stmt in _statements(body))
    ]
    if mixed:
        return f"'{mixed[0]}' is both a running extremum and advanced"
    checker = _CounterUses(
        _counted(counters) - {c.name for c in counters if c.op == "speculated"},
        {c.name for c in counters if c.op == "last"},
    )
    checker.visit(body)
    return checker.problem


def _stray_write(
    body: c_ast.Node, counters: list[Counter], writes: list[tuple[str, c_ast.Node, c_ast.Node]], per_iteration, within
) -> str | None:
    """A write (other than to a counter) neither distinct per iteration nor inside its counter's
    advance, else None."""
    names = _counted(counters)
    for array, index, node in writes:
        place = text(node)
        if place in names or any(c.kind == "running" and c.place == array for c in counters):
            continue
        position = node.subscript if isinstance(node, c_ast.ArrayRef) else node
        at_counter = _ids(position) & names or any(p in text(position) for p in names if p.startswith("*"))
        if not at_counter and not per_iteration(index):
            return f"write '{place}' is neither per-iteration nor at a counter"
        if at_counter and not _inside_advance(body, position, names, within):
            return f"write '{place}' may leave the range its counter's advance claims"
    return None


def _assigned_as_statements(body: c_ast.Node, name: str) -> bool:
    """Is every assignment to `name` a statement of its own (so count can mark it)?"""

    def assigns(node: c_ast.Node) -> bool:
        return isinstance(node, c_ast.Assignment) and text(node.lvalue) == name

    return sum(map(assigns, walk(body))) == sum(map(assigns, _statements(body)))


def _nominal_advance(body: c_ast.Node, name: str, key_of) -> str | None:
    """For a local counter `c` that the body reads (as a position) only inside one inner loop
    `for (T last = c + n; c < last;) { ... c += w; ... }` that consumes the iteration's share:
    `n` as C text, if every iteration can compute it up front (through key_of), else None. When
    each iteration advances `c` by exactly `n` (checked at run time), iteration i starts at
    `c` + the sum of the earlier `n`s, which a scan gives before the loop runs."""
    for loop in (n for n in walk(body) if isinstance(n, c_ast.For)):
        init = loop.init.decls if isinstance(loop.init, c_ast.DeclList) else []
        cond = loop.cond
        if not (
            len(init) == 1
            and loop.next is None
            and isinstance(cond, c_ast.BinaryOp)
            and cond.op == "<"
            and text(cond.left) == name
            and text(cond.right) == init[0].name
            and init[0].init is not None
        ):
            continue
        terms = _signed_terms(init[0].init)
        rest = [(sign, t) for sign, t in terms if text(t) != name]
        if len(terms) - len(rest) != 1 or not rest:
            continue
        mentions = sum(isinstance(n, c_ast.ID) and n.name == name for n in walk(body))
        if mentions != sum(isinstance(n, c_ast.ID) and n.name == name for n in walk(loop)):
            return None
        return key_of(rebuild(rest))
    return None


def _uncast(node: c_ast.Node) -> c_ast.Node:
    return _uncast(node.expr) if isinstance(node, c_ast.Cast) else node


def _inside_advance(body: c_ast.Node, position: c_ast.Node, names: set[str], within) -> bool:
    """A write at a counter is `X[k]`, `X[k++]`, or `X[k + j]` with j provably inside the one
    amount by which the iteration advances k; anything else could reach another iteration's
    range."""
    position = _uncast(position)
    if text(position) in names or (advance(position) and text(advance(position)[0]) in names):
        return True
    terms = _signed_terms(position)
    counter = [t for sign, t in terms if sign == 1 and text(_uncast(t)) in names]
    if len(counter) != 1:
        return False
    offset = [(sign, t) for sign, t in terms if t is not counter[0]]
    steps = [advance(n) for n in walk(body)]
    amounts = [step[1] for step in steps if step and same(step[0], _uncast(counter[0]))]
    return len(offset) == 1 and offset[0][0] == 1 and len(amounts) == 1 and within(offset[0][1], amounts[0])


_PICKS_LARGER = {"<": False, "<=": False, ">": True, ">=": True}  # `(a OP b) ? a : b` keeps the larger?


def extremum(stmt: c_ast.Node) -> tuple[str, c_ast.Node, c_ast.Node] | None:
    """(op, target, value) of a running maximum or minimum:
    `if (P < E) P = E;` (max), `if (P > E) P = E;` (min), either way round, or
    `x = (x < v) ? x : v;` (min) and its mirror images."""
    if (
        isinstance(stmt, c_ast.If)
        and stmt.iffalse is None
        and isinstance(stmt.cond, c_ast.BinaryOp)
        and stmt.cond.op in _PICKS_LARGER
    ):
        inner = stmt.iftrue.block_items if isinstance(stmt.iftrue, c_ast.Compound) else [stmt.iftrue]
        if not (inner and len(inner) == 1 and isinstance(inner[0], c_ast.Assignment) and inner[0].op == "="):
            return None
        target, value = inner[0].lvalue, inner[0].rvalue
        sides = (text(stmt.cond.left), text(stmt.cond.right))
        if sides == (text(target), text(value)):
            larger = not _PICKS_LARGER[stmt.cond.op]  # P < E: E replaces P, so P grows
        elif sides == (text(value), text(target)):
            larger = _PICKS_LARGER[stmt.cond.op]
        else:
            return None
        return ("max" if larger else "min"), target, value
    if isinstance(stmt, c_ast.Assignment) and stmt.op == "=" and isinstance(stmt.rvalue, c_ast.TernaryOp):
        cond, target = stmt.rvalue.cond, text(stmt.lvalue)
        if not (isinstance(cond, c_ast.BinaryOp) and cond.op in _PICKS_LARGER):
            return None
        a, b = text(cond.left), text(cond.right)
        chosen = (text(stmt.rvalue.iftrue), text(stmt.rvalue.iffalse))
        if target not in (a, b) or chosen not in ((a, b), (b, a)):
            return None
        value = cond.right if a == target else cond.left
        larger = _PICKS_LARGER[cond.op] == (chosen == (a, b))
        return ("max" if larger else "min"), stmt.lvalue, value
    return None


def running_parts(stmt: c_ast.Node, var: str, counters: set[str] = frozenset()) -> tuple[str, c_ast.Node, str] | None:
    """`X[i + 1] = X[i] + m`, `X[i + 1] = m + X[i]` or `X[i + 1] = X[i]` -> ('X', m, ''); the
    same at a local counter k, `X[k] = X[k - 1] + m` -> ('X', m, 'k')."""
    if not (isinstance(stmt, c_ast.Assignment) and stmt.op == "=" and isinstance(stmt.lvalue, c_ast.ArrayRef)):
        return None
    array = text(stmt.lvalue.name)
    position = text(stmt.lvalue.subscript).replace(" ", "")
    if position == f"{var}+1":
        previous, base = f"{array}[{var}]", ""
    elif position in counters:
        previous, base = f"{array}[{position} - 1]", position
    else:
        return None
    rvalue = stmt.rvalue
    if text(rvalue) == previous:
        return array, c_ast.Constant("int", "0"), base
    if isinstance(rvalue, c_ast.BinaryOp) and rvalue.op == "+":
        if text(rvalue.left) == previous:
            return array, rvalue.right, base
        if text(rvalue.right) == previous:
            return array, rvalue.left, base
    return None


def _running_sum(stmt: c_ast.Node, var: str, counters: set[str] = frozenset()) -> str | None:
    parts = running_parts(stmt, var, counters)
    return parts[0] if parts else None


def _is_step_of(node: c_ast.Node, name: str) -> bool:
    """`name++`, `++name` or `name += 1`."""
    step = advance(node)
    return bool(step) and text(step[0]) == name and text(step[1]) == "1"


def _running_in_step(body: c_ast.Node, var: str, counter: Counter) -> str | None:
    """A running sum at a local counter k holds `X[k - 1]` only when every store `X[k] = ...`
    is directly followed by `k++` and k never advances otherwise."""
    k, pairs = counter.base, 0
    for node in walk(body):
        items = node.block_items or [] if isinstance(node, c_ast.Compound) else []
        for first, second in zip(items, items[1:], strict=False):
            pairs += _running_sum(first, var, {k}) == counter.place and _is_step_of(second, k)
    stores = sum(_running_sum(stmt, var, {k}) == counter.place for stmt in _statements(body))
    steps = sum(bool(advance(n)) and text(advance(n)[0]) == k for n in walk(body))
    if not pairs == stores == steps:
        return f"'{counter.place}[{k}]' is not always written just before '{k}' advances"
    return None


def _keyed_alone(body: c_ast.Node, counter: Counter) -> str | None:
    """A keyed counter's array is only ever used at that one place in the loop."""
    array = counter.array
    for node in walk(body):
        if isinstance(node, c_ast.ArrayRef) and text(node.name) == array and text(node) != counter.place:
            return f"'{array}' is used at '{text(node)}' besides its counter '{counter.place}'"
    return None


def running_statements(body: c_ast.Node, var: str, counter: Counter) -> int:
    """How many running-sum statements of the counter's array the body has."""
    return sum(_running_sum(stmt, var, {counter.base} - {""}) == counter.place for stmt in _statements(body))
