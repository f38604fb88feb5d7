"""Function rewrite: the locals that the arms of a branch on scalar arguments declare, lifted to
the top level, so that the branch can pick its steps on the host and the locals live in the
spill buffer like any other top-level local.

Demo: tests/kernels/akc_demo_groups.cpp.
"""

from __future__ import annotations

import copy

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, ids, replaced_ids, walk
from akcuda.generator.analysis.context import Signature
from akcuda.generator.analysis.loops import INTEGER_TYPES, host_expr, type_names, uses


def hoisted_branch_locals(func: c_ast.FuncDef, signature: Signature) -> c_ast.FuncDef | None:
    """A copy of `func` where each top-level `if (c) {...} else {...}` on scalar arguments whose
    arms declare locals has those declarations lifted in front of it:

        if (n > 0) { int64_t m = total / n; int64_t k = 0; ...loop... }
    ->  int64_t m = (n > 0) ? total / n : 0;  int64_t k = 0;  if (n > 0) { ...loop... }

    An integer local whose initializer the host can compute is defined there, under the arm's
    condition when the initializer is more than a constant (it may divide by zero otherwise), so
    it stays computable on the host; any other keeps its initializer as an assignment in its arm.
    A local whose name is declared elsewhere too (the other arm's loop variable) is renamed in
    its arm, so the lift changes nothing the C does. None when no branch has such locals."""
    items = list(func.body.block_items or [])
    assigned = uses(func.body).written_ids
    known = {name: None for name in sorted(signature.scalars) if name not in assigned}
    declared = {d.name for d in items if isinstance(d, c_ast.Decl)}
    out, changed = [], False
    for item in items:
        if (
            isinstance(item, c_ast.Decl)
            and item.init is not None
            and item.name not in assigned
            and host_expr(item.init, known) is not None
        ):
            known[item.name] = item.init
        lifted = _lifted(item, known, declared, assigned) if isinstance(item, c_ast.If) else None
        if lifted is None:
            out.append(item)
            continue
        decls, branch = lifted
        out += decls + [branch]
        declared |= {d.name for d in decls}
        changed = True
    if not changed:
        return None
    body = c_ast.Compound(out, coord=func.body.coord)
    return c_ast.FuncDef(func.decl, func.param_decls, body, coord=func.coord)


def _lifted(
    branch: c_ast.If, known: dict[str, c_ast.Node | None], declared: set[str], assigned: dict
) -> tuple[list[c_ast.Decl], c_ast.If] | None:
    """(the lifted declarations, the branch without them) for one branch, else None."""
    if host_expr(branch.cond, known) is None:
        return None
    arms = [(branch.iftrue, branch.cond)]
    if branch.iffalse is not None:
        arms.append((branch.iffalse, c_ast.UnaryOp("!", branch.cond)))
    decls, new_arms, names = [], [], set()
    for arm, condition in arms:
        others = [a for a, _ in arms if a is not arm]
        arm = _renamed(arm, declared | names | {n for a in others for n in ids(a)})
        if arm is None:
            return None
        kept = []
        for item in block(arm):
            if not isinstance(item, c_ast.Decl):
                kept.append(item)
                continue
            if not isinstance(item.type, c_ast.TypeDecl):
                return None
            names.add(item.name)
            decl, assignment = _split(item, condition, known, item.name not in assigned)
            decls.append(decl)
            kept += [assignment] if assignment is not None else []
        new_arms.append(c_ast.Compound(kept, coord=arm.coord))
    if not decls:
        return None
    return decls, c_ast.If(branch.cond, new_arms[0], new_arms[1] if len(new_arms) > 1 else None, coord=branch.coord)


def _renamed(arm: c_ast.Node, taken: set[str]) -> c_ast.Node | None:
    """The arm with each local it declares at its top level under a name in `taken` (the other
    arm's, the top level's) renamed `akc_arm_<name>`; None if the arm declares that name again
    inside, or the new name is taken too."""
    renames = {}
    for item in block(arm):
        if isinstance(item, c_ast.Decl) and item.name in taken:
            new = f"akc_arm_{item.name}"
            if new in taken | ids(arm) or sum(isinstance(n, c_ast.Decl) and n.name == item.name for n in walk(arm)) > 1:
                return None
            renames[item.name] = new
    if not renames:
        return arm
    out = replaced_ids(arm, {old: c_ast.ID(new) for old, new in renames.items()})
    for node in walk(out):
        if isinstance(node, c_ast.Decl) and node.name in renames:
            node.name = node.type.declname = renames[node.name]
    return out


def _split(
    decl: c_ast.Decl, condition: c_ast.Node, known: dict[str, c_ast.Node | None], fixed: bool
) -> tuple[c_ast.Decl, c_ast.Assignment | None]:
    """A declaration for the top level and the assignment left in its arm (None if none is);
    `fixed`: nothing assigns the local after its declaration."""
    top = copy.deepcopy(decl)
    integer = any(t in INTEGER_TYPES or t == "bool" for t in type_names(decl))
    if decl.init is not None and integer and host_expr(decl.init, known) is not None:
        if not isinstance(decl.init, c_ast.Constant):
            top.init = c_ast.TernaryOp(copy.deepcopy(condition), top.init, c_ast.Constant("int", "0"))
        if fixed:
            known[decl.name] = top.init
        return top, None
    top.init = None
    if decl.init is None:
        return top, None
    return top, c_ast.Assignment("=", c_ast.ID(decl.name, coord=decl.coord), decl.init, coord=decl.coord)
