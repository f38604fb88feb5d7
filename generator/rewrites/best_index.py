"""After-match rewrite (split folds): a parallel loop over bins that finds, per bin, the index of
the best element, seeded with the bin's first, runs when the bins are few one thread per piece of
a bin, the pieces' candidates combined in C order (the split of pieces.py for `argmax`/`argmin`).

    for (b = 0; b < B; b++) { D; T idx = C0;
      if (S < E) { idx = S; V val = X0;
        for (i = S + 1; i < E; i++) { L; if (X better than val) { val = X; idx = i; } } }
      out[b] = F(idx); }
->  pieces:  for (t = 0; t < B * K; t++) { b = t / K; p = t % K; D; found = 0; T idx = C0;
               if (S < E) { V val = X0; n = max(E - (S + 1), 0);
                 for (i = S + 1 + n * p / K; i < S + 1 + n * (p + 1) / K; i++) {
                   L; if (found ? X better than val : X == X) { val = X; idx = i; found = 1; } } }
               partial[2 t] = found; partial[2 t + 1] = idx; }
    combine: for (b = 0; b < B; b++) { D; T idx = C0;
               if (S < E) { idx = S; V val = X0;
                 for (p = 0; p < K; p++) if (partial[2 (b K + p)]) {
                   i = partial[2 (b K + p) + 1]; L; if (X better than val) { val = X; idx = i; } } }
               out[b] = F(idx); }

with K and the guard `0 < B <= 32768` as in pieces.py. "Better" is strict (`X > val`, `X < val`,
`val < X`, `val > X`), so C's fold keeps, from the seed X0, the leftmost strictly best element,
the seed winning ties; a NaN element never replaces (every comparison with NaN is false), and a
NaN seed is never replaced. So C's result is the seed, or, if the seed is not NaN, the first of
the pieces' own leftmost best elements *among those that can replace anything* (X == X: all but
NaN) that beats everything before it. Each piece finds its own (none: `found` stays 0) from no
seed; the combine runs C's comparison over them in order from C's seed: the same index. The
combine reads each candidate's element again (`i` takes the candidate's index, L its locals).
L and X only read, and read neither `val` nor `idx`.

Demo: tests/kernels/akc_demo_best.cpp.
"""

from __future__ import annotations

import copy

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, declared_like, ids, pattern, same, text
from akcuda.generator.analysis.context import Analysis, Planned
from akcuda.generator.analysis.loops import counting_var, host_expr, increment_of, init_value, only_read, uses
from akcuda.generator.rewrites.pieces import (
    PARTIAL,
    PIECE_AT,
    SPAN,
    THREAD,
    Pieces,
    loop_over,
    over_bins,
    partials_of,
    per_bin,
    piece_of,
    piece_range,
    pieces_after,
    split_guard,
    split_steps,
    splittable,
    stores_bin,
)

FOUND = "akc_found"


def split(found: Planned, ctx: Analysis) -> list[Planned] | None:
    """[the bin loop where the bins are many, the pieces and the combine where they are few] of a
    parallel loop over bins finding each bin's best index (the module docstring), else None."""
    if not splittable(found):
        return None
    pieces = best_index_pieces(found.code.loop, ctx.scalars)
    return None if pieces is None else split_steps(found, pieces)


def best_index_pieces(loop: c_ast.For, scalars: dict) -> Pieces | None:
    """The pieces and combine loops of a loop over bins finding each bin's best index (the form
    above), else None."""
    header = over_bins(loop, scalars, 2)
    if header is None:
        return None
    bin_var, bins, (*decls, idx_decl), (seeded, store) = header
    if not only_read(decls) or ids(idx_decl.init) or uses(idx_decl.init).array_reads:
        return None  # C0 is a constant
    idx = idx_decl.name
    found = _seeded(seeded, idx)
    if found is None or not stores_bin(store, bin_var) or idx not in ids(store.rvalue):
        return None
    if uses(store.rvalue).written_ids:
        return None
    start, stop, val_decl, elements, update, better = found
    if bin_var in uses(seeded).written_ids:
        return None
    return _loops(loop, decls, idx_decl, seeded, val_decl, elements, update, better, store, bins, scalars)


def _seeded(node: c_ast.Node, idx: str):
    """(S, E, `V val = X0`, the element loop, its update, X) of `if (S < E) { idx = S; V val = X0;
    for (i = S + 1; i < E; i++) { L; if (X better than val) { val = X; idx = i; } } }`, else None."""
    if not (isinstance(node, c_ast.If) and node.iffalse is None and isinstance(node.cond, c_ast.BinaryOp)):
        return None
    if node.cond.op != "<":
        return None
    start, stop = node.cond.left, node.cond.right
    arm = block(node.iftrue)
    if len(arm) != 3:
        return None
    first, val_decl, elements = arm
    if not (
        isinstance(first, c_ast.Assignment)
        and first.op == "="
        and text(first.lvalue) == idx
        and same(first.rvalue, start)
        and isinstance(val_decl, c_ast.Decl)
        and val_decl.init is not None
        and only_read([val_decl])
        and isinstance(elements, c_ast.For)
    ):
        return None
    var = counting_var(elements)
    if var is None or not same(init_value(elements), pattern("S + 1", S=start)):
        return None
    if not (elements.cond.op == "<" and same(elements.cond.right, stop) and increment_of(elements.next) == var):
        return None
    body = block(elements.stmt)
    if not body or not all(isinstance(d, c_ast.Decl) for d in body[:-1]) or not only_read(body[:-1]):
        return None
    better = _update(body[-1], val_decl.name, idx, var)
    if better is None or {val_decl.name, idx} & ids(c_ast.Compound(body[:-1])):
        return None
    if {var, idx, val_decl.name} & (ids(start) | ids(stop)):
        return None
    return start, stop, val_decl, elements, body[-1], better


def _update(stmt: c_ast.Node, val: str, idx: str, var: str) -> c_ast.Node | None:
    """X of `if (X better than val) { val = X; idx = i; }` (the two in either order), else None."""
    if not (isinstance(stmt, c_ast.If) and stmt.iffalse is None and isinstance(stmt.cond, c_ast.BinaryOp)):
        return None
    cond = stmt.cond
    if cond.op not in ("<", ">"):
        return None
    x = cond.left if text(cond.right) == val else cond.right if text(cond.left) == val else None
    if x is None or {val, idx} & ids(x) or uses(x).written_ids or uses(x).calls:
        return None
    arm = block(stmt.iftrue)
    if not all(isinstance(a, c_ast.Assignment) and a.op == "=" and isinstance(a.lvalue, c_ast.ID) for a in arm):
        return None
    sets = {a.lvalue.name: a.rvalue for a in arm}
    if len(arm) != 2 or sets.keys() != {val, idx} or not same(sets[val], x) or not same(sets[idx], c_ast.ID(var)):
        return None
    return x


def _loops(
    loop: c_ast.For,
    decls: list[c_ast.Decl],
    idx_decl: c_ast.Decl,
    seeded: c_ast.If,
    val_decl: c_ast.Decl,
    elements: c_ast.For,
    update: c_ast.If,
    better: c_ast.Node,
    store: c_ast.Assignment,
    bins: c_ast.Node,
    scalars: dict,
) -> Pieces:
    """The pieces and combine loops (see the module docstring)."""
    bin_var, like, k = counting_var(loop), loop.init.decls[0], per_bin(bins)
    var, start, stop = counting_var(elements), seeded.cond.left, seeded.cond.right
    found = c_ast.ID(FOUND)
    span, lo, hi = piece_range(pattern("S + 1", S=start), stop, c_ast.ID(PIECE_AT), k)
    piece_loop = copy.deepcopy(elements)
    piece_loop.init.decls[0].init, piece_loop.cond = lo, c_ast.BinaryOp("<", c_ast.ID(var), hi)
    piece_update = piece_loop.stmt.block_items[-1]
    piece_update.cond = pattern("(F ? C : X == X)", F=found, C=update.cond, X=better)
    piece_update.iftrue.block_items.append(c_ast.Assignment("=", copy.deepcopy(found), c_ast.Constant("int", "1")))
    at = pattern("2 * T", T=c_ast.ID(THREAD))
    pieces_body = [
        *piece_of(like, bin_var, k),
        *copy.deepcopy(decls),
        declared_like(like, FOUND, c_ast.Constant("int", "0")),
        copy.deepcopy(idx_decl),
        c_ast.If(
            copy.deepcopy(seeded.cond),
            c_ast.Compound([copy.deepcopy(val_decl), declared_like(like, SPAN, span), piece_loop]),
            None,
        ),
        partials_of(like),
        c_ast.Assignment("=", c_ast.ArrayRef(c_ast.ID(PARTIAL), at), copy.deepcopy(found)),
        c_ast.Assignment("=", c_ast.ArrayRef(c_ast.ID(PARTIAL), pattern("A + 1", A=at)), c_ast.ID(idx_decl.name)),
    ]
    count = pattern("B * K", B=bins, K=k)
    pieces = loop_over(like, THREAD, count, pieces_body, loop)
    word = pattern("2 * (B * K + P)", B=c_ast.ID(bin_var), K=k, P=c_ast.ID(PIECE_AT))
    candidate = c_ast.If(
        c_ast.ArrayRef(c_ast.ID(PARTIAL), word),
        c_ast.Compound(
            [
                declared_like(elements.init.decls[0], var, c_ast.ArrayRef(c_ast.ID(PARTIAL), pattern("W + 1", W=word))),
                *copy.deepcopy(block(elements.stmt)),
            ]
        ),
        None,
    )
    combined = copy.deepcopy(seeded)
    combined.iftrue = c_ast.Compound(
        [*copy.deepcopy(block(seeded.iftrue)[:2]), pieces_after(like, c_ast.Constant("int", "0"), k, [candidate])]
    )
    combine_body = [*copy.deepcopy(decls), partials_of(like), copy.deepcopy(idx_decl), combined, copy.deepcopy(store)]
    combine = loop_over(like, bin_var, bins, combine_body, loop)
    threads = host_expr(count, scalars)
    words = host_expr(pattern("2 * B * K", B=bins, K=k), scalars)
    return Pieces(pieces, combine, threads, host_expr(bins, scalars), split_guard(bins, scalars), words)
