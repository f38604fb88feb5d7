"""Facts about a loop and its body that the plan stages share: what the body reads and writes
(`uses`), its counting variable and bounds, the locals it defines, and integer expressions the
host can evaluate from scalar arguments (`host_expr`, as akcuda.plan.expr expressions)."""

from __future__ import annotations

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import ids, is_call, text, walk
from akcuda.plan.ctype import INTEGERS
from akcuda.plan.expr import BINARY, Arg, Binary, Cond, Expr, Int, Unary


def host_expr(node: c_ast.Node, scalars: set[str] | dict[str, c_ast.Node | None]) -> Expr | None:
    """Translate an integer expression over scalar arguments to a plan expression (None if the
    host cannot compute it). `scalars` may map a top-level local to its definition over
    arguments (then inlined)."""
    match node:
        case c_ast.ID(name=name) if name in scalars:
            definition = scalars.get(name) if isinstance(scalars, dict) else None
            return Arg(name) if definition is None else host_expr(definition, scalars)
        case c_ast.TernaryOp(cond=cond, iftrue=a, iffalse=b):
            parts = [host_expr(x, scalars) for x in (cond, a, b)]
            return None if None in parts else Cond(*parts)
        case c_ast.Constant(type=t, value=v) if "int" in t or t == "long":
            return Int(int(v.rstrip("uUlL"), 0))
        case c_ast.Cast(expr=inner):
            return host_expr(inner, scalars)
        case c_ast.ID(name="true" | "false" as name):
            return Int(int(name == "true"))
        case c_ast.UnaryOp(op="-" | "!" as op, expr=inner):
            sub = host_expr(inner, scalars)
            return None if sub is None else Unary("neg" if op == "-" else "!", sub)
        case c_ast.BinaryOp(op=op, left=left, right=right) if op in BINARY:
            a, b = host_expr(left, scalars), host_expr(right, scalars)
            return None if a is None or b is None else Binary(op, a, b)
    return None


def iteration_count(loop: c_ast.For, scalars: set[str] | dict[str, c_ast.Node | None]) -> Expr | None:
    """How many iterations a counting loop `for (v = a; v < b; v++)` (or `<=`) runs, over scalar
    arguments: `b - a` (`b - a + 1`); None where a bound is not computable on the host."""
    start, bound = host_expr(init_value(loop), scalars), host_expr(loop.cond.right, scalars)
    if start is None or bound is None:
        return None
    return Binary("-", bound, start) if loop.cond.op == "<" else Binary("+", Binary("-", bound, start), Int(1))


def both(outer: Expr | None, inner: Expr) -> Expr:
    """`outer && inner` (`inner` alone when there is no outer condition)."""
    return inner if outer is None else Binary("&&", outer, inner)


class Uses(c_ast.NodeVisitor):
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
        span = block_copy(node)
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


def block_copy(call: c_ast.FuncCall) -> tuple[c_ast.ArrayRef, c_ast.Node | None, c_ast.Node] | None:
    """`memcpy(&X[d], &Y[e], n * sizeof(T))` -> (X[d], Y[e], n); memset -> (X[d], None, n)."""
    if not (
        isinstance(call.name, c_ast.ID) and call.name.name in BLOCK_COPIES and call.args and len(call.args.exprs) == 3
    ):
        return None
    destination, middle, size = call.args.exprs
    if not (
        isinstance(destination, c_ast.UnaryOp)
        and destination.op == "&"
        and isinstance(destination.expr, c_ast.ArrayRef)
    ):
        return None
    if not (
        isinstance(size, c_ast.BinaryOp)
        and size.op == "*"
        and isinstance(size.right, c_ast.UnaryOp)
        and size.right.op == "sizeof"
    ):
        return None
    if call.name.name == "std_memset":
        return destination.expr, None, size.left
    if not (isinstance(middle, c_ast.UnaryOp) and middle.op == "&" and isinstance(middle.expr, c_ast.ArrayRef)):
        return None
    return destination.expr, middle.expr, size.left


def has_failure(node: c_ast.Node) -> bool:
    """Does the tree `return failure(...)` anywhere?"""
    return any(isinstance(n, c_ast.Return) and is_call(n.expr, "failure") for n in walk(node))


def uses(node: c_ast.Node) -> Uses:
    collector = Uses()
    collector.visit(node)
    return collector


INTEGER_TYPES = INTEGERS | {"size_t", "int", "long", "unsigned"}  # the argument types and C's own


def type_names(decl: c_ast.Decl) -> list[str]:
    node = decl.type
    while not isinstance(node, c_ast.TypeDecl):
        if not isinstance(node, c_ast.PtrDecl):
            return []
        node = node.type
    return node.type.names if isinstance(node.type, c_ast.IdentifierType) else []


def is_zero(node: c_ast.Node | None) -> bool:
    return isinstance(node, c_ast.Constant) and node.value.rstrip("uUlL") in ("0",)


def init_value(loop: c_ast.For) -> c_ast.Node | None:
    if isinstance(loop.init, c_ast.DeclList) and len(loop.init.decls) == 1:
        return loop.init.decls[0].init
    return None


def counting_var(loop: c_ast.For, clipped: bool = False) -> str | None:
    """The variable of `for (T v = init; v < bound; v++)` (or `<=`), else None. `clipped`
    also accepts `v < bound && ...` (a loop that may end sooner)."""
    if not (isinstance(loop.init, c_ast.DeclList) and len(loop.init.decls) == 1):
        return None
    var = loop.init.decls[0].name
    cond, step = loop.cond, loop.next
    while clipped and isinstance(cond, c_ast.BinaryOp) and cond.op == "&&":
        cond = cond.left
    if not (
        isinstance(cond, c_ast.BinaryOp)
        and cond.op in ("<", "<=")
        and isinstance(cond.left, c_ast.ID)
        and cond.left.name == var
    ):
        return None
    increments = (
        isinstance(step, c_ast.UnaryOp)
        and step.op in ("p++", "++")
        and isinstance(step.expr, c_ast.ID)
        and step.expr.name == var
    ) or (
        isinstance(step, c_ast.Assignment)
        and step.op == "+="
        and isinstance(step.lvalue, c_ast.ID)
        and step.lvalue.name == var
        and isinstance(step.rvalue, c_ast.Constant)
        and step.rvalue.value == "1"
    )
    if not increments or var in uses(loop.stmt).written_ids:
        return None
    return var


def loop_bound(loop: c_ast.For) -> tuple[str, c_ast.Node]:
    """(operator, bound) of `v < bound` or of the first condition of `v < bound && ...`."""
    cond = loop.cond
    while isinstance(cond, c_ast.BinaryOp) and cond.op == "&&":
        cond = cond.left
    return cond.op, cond.right


def loop_ranges(body: c_ast.Node) -> dict[str, tuple[c_ast.Node, c_ast.Node]]:
    """Inner loop variables `for (j = lo; j < hi; j++)` that the body never reassigns -> (lo, hi)."""
    return {
        var: (init_value(node), node.cond.right)
        for node in walk(body)
        if isinstance(node, c_ast.For) and (var := counting_var(node)) and node.cond.op == "<"
    }


def row_element(node: c_ast.Node, var: str, pointers: set[str]) -> tuple[str, int] | None:
    """`P[i]` or `P[i + 1]` of an input array P -> (P, 0 or 1)."""
    if not (isinstance(node, c_ast.ArrayRef) and isinstance(node.name, c_ast.ID) and node.name.name in pointers):
        return None
    index = text(node.subscript).replace(" ", "")
    return (node.name.name, 0) if index == var else (node.name.name, 1) if index == f"{var}+1" else None


def mentions(node: c_ast.Node, names: set[str]) -> bool:
    return bool(ids(node) & names)


def written_anywhere(body: Uses) -> set[str]:
    return {array for array, _, _ in body.array_writes}


def private_definitions(body: c_ast.Node) -> dict[str, c_ast.Node]:
    """Locals declared in a loop body (at any depth) with an initializer, declared once, never
    reassigned, and defined over names the body does not assign (loop variables aside), so the
    definition means the same wherever the local is used."""
    found = uses(body)
    loop_vars = {counting_var(n) for n in walk(body) if isinstance(n, c_ast.For)}
    assigned = set(found.written_ids) - loop_vars
    decls = [n for n in walk(body) if isinstance(n, c_ast.Decl)]
    names = [d.name for d in decls]
    return {
        d.name: d.init
        for d in decls
        if d.init is not None
        and names.count(d.name) == 1
        and d.name not in found.written_ids
        and not ids(d.init) & assigned
    }


def inline(node: c_ast.Node, definitions: dict[str, c_ast.Node]) -> c_ast.Node:
    """`node` with each defined local replaced by its definition (so `out[base + j]` with
    `base = i * size` reads as `out[i * size + j]`)."""
    if isinstance(node, c_ast.ID) and node.name in definitions:
        return inline(definitions[node.name], definitions)
    if isinstance(node, c_ast.BinaryOp):
        return c_ast.BinaryOp(node.op, inline(node.left, definitions), inline(node.right, definitions))
    if isinstance(node, c_ast.TernaryOp):
        return c_ast.TernaryOp(*(inline(x, definitions) for x in (node.cond, node.iftrue, node.iffalse)))
    if isinstance(node, c_ast.Cast):
        return inline(node.expr, definitions)
    return node


def over_inputs(node: c_ast.Node, var: str, stable: set[str], scalars) -> bool:
    """Is `node` computed from `var`, scalar arguments and `stable` arrays read at places over
    those alone (so any launch of the loop can compute it again for iteration `var`)?"""
    arrays = [n for n in walk(node) if isinstance(n, c_ast.ArrayRef)]
    allowed = {var} | set(scalars)
    return (
        all(isinstance(a.name, c_ast.ID) and a.name.name in stable and ids(a.subscript) <= allowed for a in arrays)
        and ids(node) - {a.name.name for a in arrays} <= allowed
    )


def increment_of(stmt: c_ast.Node) -> str | None:
    """`k++`, `++k` or `k += 1` -> 'k'."""
    match stmt:
        case c_ast.UnaryOp(op="p++" | "++", expr=c_ast.ID(name=name)):
            return name
        case c_ast.Assignment(op="+=", lvalue=c_ast.ID(name=name), rvalue=c_ast.Constant(value="1")):
            return name
    return None


def assignment_counts(node: c_ast.Node) -> dict[str, int]:
    """How many assignments and increments of each plain name a tree holds."""
    out: dict[str, int] = {}
    for n in walk(node):
        steps = isinstance(n, c_ast.UnaryOp) and n.op in ("++", "--", "p++", "p--")
        target = n.lvalue if isinstance(n, c_ast.Assignment) else n.expr if steps else None
        if isinstance(target, c_ast.ID):
            out[target.name] = out.get(target.name, 0) + 1
    return out


def only_read(decls: list[c_ast.Decl]) -> bool:
    """Do the declarations' initializers only read (no assignment, increment or call)?
    `int64_t start = offsets[b];` -> True; `int64_t first = k++;` -> False."""
    found = [uses(d.init) for d in decls if d.init is not None]
    return not any(u.written_ids or u.calls for u in found)


def input_sized_loop(body: c_ast.Node) -> c_ast.Node | None:
    """The first loop inside `body` whose trip count is not a compile-time constant (its bound
    comes from the input: a row's or a bin's length, a scalar argument), else None:

        { for (j = starts[i]; j < stops[i]; j++) out[j] = i; }  ->  the `for`
        { for (k = 0; k < 4; k++) out[4 * i + k] = 0; }         ->  None
    """
    for node in walk(body):
        if isinstance(node, (c_ast.While, c_ast.DoWhile)):
            return node
        if isinstance(node, c_ast.For):
            bound = node.cond.right if isinstance(node.cond, c_ast.BinaryOp) else None
            constant = (
                counting_var(node) is not None
                and isinstance(init_value(node), c_ast.Constant)
                and isinstance(bound, c_ast.Constant)
            )
            if not constant:
                return node
    return None
