"""Stage (emit): the launches of rows on private copies (rules/private_rows.py) and the count
and fill forms of their helper, its counter and scratch parameters turned into pointers to the
private copies (`fromindex[j]` -> `fromindex->r(j)`, `->w(j)` for a store, `->rw(j)` for `++`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, set_child, walk
from akcuda.generator.analysis.context import parameters
from akcuda.generator.analysis.loops import type_names
from akcuda.generator.emission.render import macros
from akcuda.generator.rules.private_rows import COLUMNS, OUTPUT, SCRATCH
from akcuda.plan.errors import ErrorSlot
from akcuda.plan.model import PrivateRows

CAPACITY = 16  # elements of one private copy (private_rows.cu.j2's structs); more -> C order
SUFFIX = {"count": "__akc_count", "fill": "__akc_fill"}  # the helper's name in each form


class _Private(c_ast.NodeVisitor):
    """Rewrites accesses in place: a private array `S[x]` -> `P->w(x)` (the target of `=`),
    `P->rw(x)` (of `++`, `+=`), `P->r(x)` (a read), with P the pointer to the private copy
    (`names`); in count, a store to an output becomes its reads and side effects alone, and
    calls of the chain are renamed to their form for `mode`."""

    def __init__(self, names: dict[str, str], outputs: set[str], chain: tuple[str, ...], mode: str):
        self.names, self.outputs, self.chain, self.mode = names, outputs, chain, mode

    def generic_visit(self, node: c_ast.Node) -> None:
        for name, child in node.children():
            replacement = self.replace(child, node)
            if replacement is not child:
                set_child(node, name, replacement)
            self.visit(replacement)

    def replace(self, node: c_ast.Node, parent: c_ast.Node) -> c_ast.Node:
        if isinstance(node, c_ast.ArrayRef) and isinstance(node.name, c_ast.ID) and node.name.name in self.names:
            if isinstance(parent, c_ast.Assignment) and parent.lvalue is node:
                method = "w" if parent.op == "=" else "rw"
            elif isinstance(parent, c_ast.UnaryOp) and parent.op in ("++", "p++", "--", "p--"):
                method = "rw"
            else:
                method = "r"
            target = c_ast.StructRef(c_ast.ID(self.names[node.name.name]), "->", c_ast.ID(method))
            return c_ast.FuncCall(target, c_ast.ExprList([node.subscript]), coord=node.coord)
        if isinstance(node, c_ast.ID) and node.name in self.names and not isinstance(parent, c_ast.StructRef):
            return c_ast.ID(self.names[node.name], coord=node.coord)
        if isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID) and node.name.name in self.chain:
            renamed = c_ast.ID(node.name.name + SUFFIX[self.mode], coord=node.name.coord)
            return c_ast.FuncCall(renamed, node.args, coord=node.coord)
        if self.mode == "count" and self._output_store(node):
            return _effects(node)
        return node

    def _output_store(self, node: c_ast.Node) -> bool:
        if not (isinstance(node, c_ast.Assignment) and isinstance(node.lvalue, c_ast.ArrayRef)):
            return False
        base = node.lvalue
        while isinstance(base, c_ast.ArrayRef):
            base = base.name
        return isinstance(base, c_ast.ID) and base.name in self.outputs


def _effects(store: c_ast.Assignment) -> c_ast.Node:
    """`out[k][P[k]] = (T) S[k];` -> `(void) (P[k], (T) S[k]);`: what a dropped store still
    evaluates (reads of private copies check what they read; advances run); `;` if nothing."""
    parts, node = [store.rvalue], store.lvalue
    while isinstance(node, c_ast.ArrayRef):
        parts.insert(0, node.subscript)
        node = node.name
    effects = (c_ast.ArrayRef, c_ast.FuncCall, c_ast.Assignment, c_ast.UnaryOp)
    kept = [p for p in parts if any(isinstance(n, effects) for n in walk(p))]
    if not kept:
        return c_ast.EmptyStatement(coord=store.coord)
    void = c_ast.Typename(None, [], None, c_ast.TypeDecl(None, [], None, c_ast.IdentifierType(["void"])))
    return c_ast.Cast(void, c_ast.ExprList(kept) if len(kept) > 1 else kept[0], coord=store.coord)


def loop_body(facts: PrivateRows, body: c_ast.Node, mode: str) -> c_ast.Node:
    """A copy of the loop body for `mode` ("count" | "fill"): private arrays through their
    copies (`akc_p_S`), the helper call renamed to its form for the mode."""
    body = copy.deepcopy(body)
    names = {a: f"akc_p_{a}" for a in facts.elements}
    _Private(names, set(), facts.chain, mode).visit(c_ast.Compound([body]))
    return body


def helper_variant(facts: PrivateRows, func: c_ast.FuncDef, mode: str, element_of: dict[str, str]) -> c_ast.FuncDef:
    """A copy of one helper of the chain for `mode`: renamed, its counter and scratch parameters
    pointers to private copies (`akc_private_columns<int64_t>* toindex`), accesses through them.
    `element_of` maps each such parameter to its element type (as the helper spells it)."""
    func = copy.deepcopy(func)
    func.decl.name += SUFFIX[mode]
    func.decl.type.type.declname = func.decl.name
    names, outputs = {}, set()
    for param, role in zip(parameters(func), facts.roles, strict=True):
        if role in (COLUMNS, SCRATCH):
            kind = f"akc_private_{role}<{element_of[param.name]}>"
            param.type = c_ast.PtrDecl([], c_ast.TypeDecl(param.name, [], None, c_ast.IdentifierType([kind])))
            names[param.name] = param.name
        elif role == OUTPUT:
            outputs.add(param.name)
    _Private(names, outputs, facts.chain, mode).visit(func.body)
    return func


def parameter_elements(func: c_ast.FuncDef, facts: PrivateRows) -> dict[str, str]:
    """Each counter or scratch parameter of a helper -> its element type name."""
    return {
        p.name: type_names(p)[-1]
        for p, role in zip(parameters(func), facts.roles, strict=True)
        if role in (COLUMNS, SCRATCH)
    }


@dataclass(frozen=True)
class Private:
    """One private copy as the templates see it."""

    kind: str  # COLUMNS | SCRATCH
    array: str
    element: str
    row: int
    name: str


def privates(facts: PrivateRows) -> list[Private]:
    """The step's private copies, each with its first row in the scan buffer."""
    return [Private(c.kind.value, c.array, facts.elements[c.array], c.row, c.name) for c in facts.counters]


def step_bodies(make_gen, loop: c_ast.For, facts: PrivateRows, locals_, head) -> list:
    """(role, body) of the count, fill and finish kernels; `make_gen(mode)` gives a fresh
    CudaGenerator, `locals_` and `head` the spilled locals and loop head as steps.py makes them."""
    from_template = macros("private_rows.cu.j2")
    found = privates(facts)
    out = []
    for mode in ("count", "fill"):
        gen = make_gen(mode)
        gen.continue_returns = True
        statements = [gen.statement(s) for s in block(loop_body(facts, loop.stmt, mode))]
        out.append(
            (mode, getattr(from_template, mode)(locals=locals_, head=head, privates=found, statements=statements))
        )
    out.append(("finish", from_template.finish(locals=locals_, privates=found, iteration=ErrorSlot.ITERATION.macro)))
    return out


def helper_sources(facts: PrivateRows, helpers: dict[str, c_ast.FuncDef], emit) -> list[str]:
    """The private copies' types and the count and fill forms of every helper of the chain,
    callees first; `emit(original_name, func)` prints one helper as the family prints its own."""
    out = [macros("private_rows.cu.j2").types(capacity=CAPACITY)]
    for mode in ("count", "fill"):
        for name in reversed(facts.chain):
            func = helpers[name]
            out.append(emit(name, helper_variant(facts, func, mode, parameter_elements(func, facts))))
    return out
