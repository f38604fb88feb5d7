"""After-match rewrite (split folds): a parallel loop over bins that folds each bin's elements
into one accumulator runs, when the bins are few, one thread per piece of a bin, the pieces'
results combined in C order; where the bins are many, the loop as the rule made it.

    for (b = 0; b < B; b++) { D; T acc = I; for (i = S; i < E; i++) { L; U(acc, X) } out[b] = F(acc); }
->  pieces:  for (t = 0; t < B * K; t++) { b = t / K; p = t % K; D; T acc = I; n = max(E - S, 0);
                 for (i = S + n * p / K; i < S + n * (p + 1) / K; i++) { L; U(acc, X) } partial[t] = acc; }
    combine: for (b = 0; b < B; b++) { D; T acc = partial[b * K];
                 for (p = 1; p < K; p++) { T piece = partial[b * K + p]; U(acc, piece) } out[b] = F(acc); }

with K = (B <= 64 ? 1024 : 65536 / B) pieces per bin for 0 < B <= 32768 (more bins keep one
thread per bin). Exact for these updates, whatever the element type, because folding a range
from I and then the next range from the first's result equals combining the two ranges' folds
from I:

- *select* `acc = (X < acc) ? X : acc` (or `X > acc`, `acc > X`, `acc < X`): X replaces acc only
  when strictly better, so the fold keeps the leftmost best (a tie, -0.0 against 0.0, keeps the
  earlier; a NaN X never replaces; a NaN I stays): the combine's select of the next piece's
  result keeps the same one;
- *set and stop* `if (P) { acc = C; break; }` (C and I constants): the fold is C where some
  element has P; the combine is `if (piece == C) { acc = C; break; }`;
- *sums* `acc += X`, `acc++`, each maybe under `if (P)`, and *products* `acc *= X`, of an integer
  accumulator, from I = 0 (sums) or 1 (products): integer arithmetic wraps, so any grouping is
  exact; the combine adds (multiplies) the pieces' results.

A float sum is not split: splitting it would round differently from the C's order. Where the
accumulator's type is a template parameter that is an integer in some specializations only, the
split's guard also requires `integral(T)`: those split, the float ones keep the bin loop.

Demo: tests/kernels/akc_demo_folds.cpp.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

from pycparser import c_ast

from akcuda.generator.analysis.ast_util import block, declared_like, ids, pattern, same, text, walk
from akcuda.generator.analysis.context import Analysis, Code, Planned
from akcuda.generator.analysis.loops import both, counting_var, host_expr, init_value, only_read, type_names, uses
from akcuda.plan.expr import Binary, Expr, Int, Unary
from akcuda.plan.model import Parallel, SplitFold, Step

PARTIAL, PIECE, SPAN = "akc_partial", "akc_piece", "akc_span"
THREAD, PIECE_AT = "akc_piece_t", "akc_piece_p"  # a pieces thread; a piece's place in its bin
MOST_BINS = 32768  # more bins than this: one thread per bin is parallel enough
THREADS = 65536  # pieces over all bins (where each bin gets fewer than MOST_PIECES)
MOST_PIECES = 1024  # per bin: the combine walks them in one thread


@dataclass
class Pieces:
    """The two loops and what the plan needs: the pieces' count, the bins' and their guard."""

    pieces: c_ast.For
    combine: c_ast.For
    count: Expr  # B * K
    bins: Expr  # B
    split: Expr  # 0 < B <= MOST_BINS: where the pieces run instead of the bin loop
    words: Expr  # scan-buffer words the pieces' results take


def split(found: Planned, ctx: Analysis) -> list[Planned] | None:
    """[the bin loop where the bins are many, the pieces and the combine where they are few] of a
    parallel loop over bins folding each bin's range (the module docstring), else None."""
    if not splittable(found):
        return None
    pieces = bin_pieces(found.code.loop, ctx.scalars, ctx.integer_where)
    return None if pieces is None else split_steps(found, pieces)


def splittable(found: Planned) -> bool:
    """A parallel step with nothing its pieces could not keep: no row ranges or bound checked at
    run time, no check launch."""
    step = found.step
    return isinstance(step.form, Parallel) and not step.form.checked and not step.segments and step.requires is None


def split_steps(found: Planned, pieces: Pieces) -> list[Planned]:
    """The step under its guard where the bins are many, then its pieces and their combine where
    they are few."""
    guard = found.step.guard
    where, form = both(guard, pieces.split), SplitFold(pieces.words)
    return [
        Planned(replace(found.step, guard=both(guard, Unary("!", pieces.split))), found.code),
        Planned(Step(form, count=pieces.count, first=Int(0), guard=where), Code([pieces.pieces], pieces.pieces)),
        Planned(Step(form, count=pieces.bins, first=Int(0), guard=where), Code([pieces.combine], pieces.combine)),
    ]


def _strictly_better(cond: c_ast.Node, acc: str) -> c_ast.Node | None:
    """X of `X < acc`, `X > acc`, `acc < X`, `acc > X` (X not reading acc), else None."""
    if not (isinstance(cond, c_ast.BinaryOp) and cond.op in ("<", ">")):
        return None
    left, right = cond.left, cond.right
    if text(right) == acc and acc not in ids(left):
        return left
    if text(left) == acc and acc not in ids(right):
        return right
    return None


def _uncast(node: c_ast.Node) -> c_ast.Node:
    """`(OUT) 0` -> `0`: the value an initializer casts."""
    return _uncast(node.expr) if isinstance(node, c_ast.Cast) else node


def _combine_of(update: c_ast.Node, acc: str, integral: bool, init: c_ast.Node) -> c_ast.Node | None:
    """The combine statement for one update of `acc` (see the module docstring), else None."""
    piece = lambda: c_ast.ID(PIECE)  # noqa: E731 - a fresh node wherever one goes
    if isinstance(update, c_ast.Assignment) and text(update.lvalue) == acc:
        if update.op == "=" and isinstance(update.rvalue, c_ast.TernaryOp):
            choice = update.rvalue
            x = _strictly_better(choice.cond, acc)
            if x is not None and same(choice.iftrue, x) and text(choice.iffalse) == acc:
                better = copy.deepcopy(choice.cond)
                for side in ("left", "right"):
                    if same(getattr(better, side), x):
                        setattr(better, side, piece())
                return c_ast.Assignment("=", c_ast.ID(acc), c_ast.TernaryOp(better, piece(), c_ast.ID(acc)))
        if integral and acc not in ids(update.rvalue):
            identity = {"+=": "0", "*=": "1"}.get(update.op)
            if identity is not None and text(_uncast(init)) == identity:
                return c_ast.Assignment(update.op, c_ast.ID(acc), piece())
        return None
    if isinstance(update, c_ast.UnaryOp) and update.op in ("p++", "++") and text(update.expr) == acc:
        return c_ast.Assignment("+=", c_ast.ID(acc), piece()) if integral and text(_uncast(init)) == "0" else None
    if isinstance(update, c_ast.If) and update.iffalse is None and acc not in ids(update.cond):
        arm = block(update.iftrue)
        if len(arm) == 2 and isinstance(arm[1], c_ast.Break):
            set_to = arm[0]
            if (
                isinstance(set_to, c_ast.Assignment)
                and set_to.op == "="
                and text(set_to.lvalue) == acc
                and isinstance(set_to.rvalue, c_ast.Constant | c_ast.ID)
                and not (ids(set_to.rvalue) - {"true", "false"})
                and not (ids(init) - {"true", "false"})
            ):
                found = c_ast.BinaryOp("==", piece(), copy.deepcopy(set_to.rvalue))
                return c_ast.If(found, c_ast.Compound([copy.deepcopy(set_to), c_ast.Break()]), None)
            return None
        if len(arm) == 1 and not isinstance(arm[0], c_ast.If):
            return _combine_of(arm[0], acc, integral, init)  # a sum's term under a condition
    return None


def bin_pieces(loop: c_ast.For, scalars: dict, integer_where: Callable[[str], Expr | None]) -> Pieces | None:
    """The pieces and combine loops of a loop over bins folding each bin's range, else None;
    `integer_where` says where a type name is an integer (Int(1): always): a sum over a template
    type splits only where it is one."""
    found = over_bins(loop, scalars, 2)
    if found is None:
        return None
    bin_var, bins, decls, (elements, store) = found
    if not isinstance(elements, c_ast.For) or elements.cond.op != "<" or counting_var(elements) is None:
        return None
    body = block(elements.stmt)
    if not body or not all(isinstance(d, c_ast.Decl) for d in body[:-1]):
        return None
    written = uses(elements.stmt)
    accumulators = set(written.written_ids) - written.declared
    named = {d.name: d for d in decls}
    if len(accumulators) != 1 or written.array_writes or written.calls or accumulators - set(named):
        return None
    acc = next(iter(accumulators))
    if not only_read(decls) or {bin_var} & set(uses(elements).written_ids):
        return None
    if not stores_bin(store, bin_var):
        return None
    init = named[acc].init
    if ids(init) - set(scalars) - {"true", "false"} or uses(init).array_reads:
        return None
    where = next(filter(None, map(integer_where, type_names(named[acc]))), None)
    combined, only_where = _combine_of(body[-1], acc, False, init), None
    if combined is None and where is not None:  # a sum or product: exact where the type is an integer
        combined = _combine_of(body[-1], acc, True, init)
        only_where = None if where == Int(1) else where
    if combined is None or any(isinstance(n, c_ast.Break) for s in body[:-1] for n in walk(s)):
        return None
    if acc in ids(c_ast.Compound(body[:-1])):
        return None  # an element's locals read the accumulator: no fold of the elements alone
    found = _loops(loop, decls, named[acc], elements, store, combined, bins, scalars)
    if only_where is not None:
        found.split = Binary("&&", found.split, only_where)
    return found


def over_bins(loop: c_ast.For, scalars: dict, tail: int) -> tuple[str, c_ast.Node, list, list] | None:
    """(b, B, the declarations, the last `tail` items) of `for (b = 0; b < B; b++) { decls; ... }`
    with B known on the host and every leading item an initialized declaration, else None."""
    bin_var, items = counting_var(loop), block(loop.stmt)
    if bin_var is None or loop.cond.op != "<" or text(init_value(loop)) != "0" or len(items) < tail + 1:
        return None
    bins, decls = loop.cond.right, items[:-tail]
    if host_expr(bins, scalars) is None or not all(isinstance(d, c_ast.Decl) and d.init is not None for d in decls):
        return None
    return bin_var, bins, decls, items[-tail:]


def stores_bin(store: c_ast.Node, bin_var: str) -> bool:
    """`out[b] = F(...);` calling nothing."""
    return (
        isinstance(store, c_ast.Assignment)
        and store.op == "="
        and isinstance(store.lvalue, c_ast.ArrayRef)
        and text(store.lvalue.subscript) == bin_var
        and not uses(store.rvalue).calls
    )


def _int(value: int) -> c_ast.Constant:
    return c_ast.Constant("int", str(value))


def per_bin(bins: c_ast.Node) -> c_ast.Node:
    """K, the pieces of each of B bins: `(B <= 64 ? 1024 : 65536 / B)`."""
    return pattern("(B <= L ? M : T / B)", B=bins, L=_int(THREADS // MOST_PIECES), M=_int(MOST_PIECES), T=_int(THREADS))


def piece_range(start: c_ast.Node, stop: c_ast.Node, p: c_ast.Node, k: c_ast.Node):
    """The span's declaration (`akc_span = max(E - S, 0)`, declared by the caller) and the bounds
    of piece p of K over [S, E): `S + span * p / K` and `S + span * (p + 1) / K`."""
    span = pattern("(E - S > 0 ? E - S : 0)", E=stop, S=start)
    lo = pattern("S + N * P / K", S=start, N=c_ast.ID(SPAN), P=p, K=k)
    hi = pattern("S + N * (P + 1) / K", S=start, N=c_ast.ID(SPAN), P=p, K=k)
    return span, lo, hi


def split_guard(bins: c_ast.Node, scalars: dict) -> Expr:
    """Where the pieces run: `0 < B <= MOST_BINS`."""
    return host_expr(pattern("(B > 0 && B <= M)", B=bins, M=_int(MOST_BINS)), scalars)


def _loops(
    loop: c_ast.For,
    decls: list[c_ast.Decl],
    acc_decl: c_ast.Decl,
    elements: c_ast.For,
    store: c_ast.Assignment,
    combined: c_ast.Node,
    bins: c_ast.Node,
    scalars: dict,
) -> Pieces:
    """The pieces and combine loops (see the module docstring)."""
    bin_var, like, k = counting_var(loop), loop.init.decls[0], per_bin(bins)
    t, p = c_ast.ID(THREAD), c_ast.ID(PIECE_AT)
    span, lo, hi = piece_range(init_value(elements), elements.cond.right, p, k)
    partials = partials_of(acc_decl)
    piece_loop = copy.deepcopy(elements)
    piece_loop.init.decls[0].init, piece_loop.cond = lo, c_ast.BinaryOp("<", c_ast.ID(counting_var(elements)), hi)
    pieces_body = [
        *piece_of(like, bin_var, k),
        *copy.deepcopy(decls),
        declared_like(like, SPAN, span),
        piece_loop,
        partials,
        c_ast.Assignment("=", c_ast.ArrayRef(c_ast.ID(PARTIAL), copy.deepcopy(t)), c_ast.ID(acc_decl.name)),
    ]
    count = host_expr(pattern("B * K", B=bins, K=k), scalars)
    pieces = loop_over(like, t.name, pattern("B * K", B=bins, K=k), pieces_body, loop)
    first = declared_like(acc_decl, acc_decl.name, pattern("A[B * K]", A=c_ast.ID(PARTIAL), B=c_ast.ID(bin_var), K=k))
    piece = declared_like(acc_decl, PIECE, pattern("A[B * K + P]", A=c_ast.ID(PARTIAL), B=c_ast.ID(bin_var), K=k, P=p))
    walk_pieces = pieces_after(like, _int(1), k, [piece, combined])
    others = [copy.deepcopy(d) for d in decls if d is not acc_decl]
    combine_body = [*others, partials_of(acc_decl), first, walk_pieces, copy.deepcopy(store)]
    combine = loop_over(like, bin_var, bins, combine_body, loop)
    return Pieces(pieces, combine, count, host_expr(bins, scalars), split_guard(bins, scalars), count)


def piece_of(like: c_ast.Decl, bin_var: str, k: c_ast.Node) -> list[c_ast.Decl]:
    """`b = t / K; p = t % K;`: a pieces thread's bin and piece."""
    t = c_ast.ID(THREAD)
    return [
        declared_like(like, bin_var, pattern("T / K", T=t, K=k)),
        declared_like(like, PIECE_AT, pattern("T % K", T=t, K=k)),
    ]


def pieces_after(like: c_ast.Decl, first: c_ast.Node, k: c_ast.Node, items: list[c_ast.Node]) -> c_ast.For:
    """`for (p = first; p < K; p++) { items }`: a combine's walk over one bin's pieces."""
    p = c_ast.ID(PIECE_AT)
    return c_ast.For(
        c_ast.DeclList([declared_like(like, p.name, first)]),
        c_ast.BinaryOp("<", copy.deepcopy(p), copy.deepcopy(k)),
        c_ast.UnaryOp("p++", copy.deepcopy(p)),
        c_ast.Compound(items),
    )


def partials_of(acc_decl: c_ast.Decl) -> c_ast.Decl:
    """`T* akc_partial = (T*)akc_scan;`: the pieces' results, in the scan buffer's words."""
    element = copy.deepcopy(acc_decl.type)
    element.quals = []
    element.declname = None
    pointer = c_ast.PtrDecl([], copy.deepcopy(element))
    pointer.type.declname = PARTIAL
    cast = c_ast.Cast(c_ast.Typename(None, [], None, c_ast.PtrDecl([], element)), c_ast.ID("akc_scan"))
    return c_ast.Decl(PARTIAL, [], [], [], [], pointer, cast, None)


def loop_over(like: c_ast.Decl, var: str, count: c_ast.Node, items: list[c_ast.Node], where: c_ast.For) -> c_ast.For:
    at = c_ast.ID(var)
    return c_ast.For(
        c_ast.DeclList([declared_like(like, var, c_ast.Constant("int", "0"))]),
        c_ast.BinaryOp("<", copy.deepcopy(at), copy.deepcopy(count)),
        c_ast.UnaryOp("p++", copy.deepcopy(at)),
        c_ast.Compound(items, coord=where.stmt.coord),
        coord=where.coord,
    )
