"""The sort rule: a kernel that fills indices with `std::iota` and sorts them with `std::sort` /
`std::stable_sort` (a `less`/`greater` comparator over a key array, maybe NaN-guarded, through a
lambda and helpers) becomes one library sort step (`akcuda.plan.Sort`), read from its AST after
the C++ pre-pass (cxx.py):

    std::vector<int64_t> index(length);                      # scratch (or iota into the output)
    std::iota(index.begin(), index.end(), 0);                 # count: length
    for (int64_t i = 0; i < offsetslength - 1; i++) {         # ranges: offsets, clamped to length
      ... start = offsets[i]; stop = offsets[i + 1]; if (start > length) start = length; ...
      if (stable) std::stable_sort(index.begin() + start, ..., cmp) else std::sort(...)
      std::transform(s, e, s, [start](int64_t j) { return j - start; });   # local permutation
    }
    for (int64_t i = 0; i < copy; i++) toptr[i] = fromptr[index[i]];  # values (or the indices)

-> Sort(count=Arg('length'), keys='fromptr', ranges=OFFSETS, bounds='offsets', ..., rule='rule').
A sort of the whole iota range is `whole`. What the rule cannot read is a `Refused` naming
kernel, file:line and construct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pycparser import c_ast, c_generator, c_parser
from pycparser.c_parser import Coord

from akcuda.generator.analysis.ast_util import is_call
from akcuda.generator.analysis.loops import host_expr
from akcuda.generator.frontend.cxx import unlowerable
from akcuda.generator.frontend.errors import TranslationError
from akcuda.generator.frontend.preprocess import Preprocessed, PreprocessError, preprocess, run_cpp
from akcuda.plan import expr as E
from akcuda.plan import model as P

SORTS = {"std_sort": False, "std_stable_sort": True}  # the call -> stable


class Refused(TranslationError):
    """A sort the rule cannot read."""


def has_sort(path: Path) -> bool:
    """Does the C++ source call std::sort or std::stable_sort (so the sort rule reads it)?"""
    text = path.read_text(errors="replace")
    return "std::sort" in text or "std::stable_sort" in text


def _text(node: c_ast.Node) -> str:
    """C text of a node, in the C++ spelling for the pre-pass's `std_` names."""
    return re.sub(r"\bstd_", "std::", " ".join(c_generator.CGenerator().visit(node).split()))


@dataclass
class _Kernel:
    """What the rule knows of one entry function while it reads its statements."""

    name: str
    pp: Preprocessed
    ast: c_ast.FileAST
    scalars: set[str]
    arrays: set[str]
    scratch: set[str] = field(default_factory=set)
    scratch_sizes: dict[str, c_ast.Node | None] = field(default_factory=dict)
    locals: dict[str, c_ast.Node] = field(default_factory=dict)  # top-level local -> its definition
    iota: tuple[str, c_ast.Node] | None = None  # (buffer, count)
    sort: dict = field(default_factory=dict)

    def refuse(self, node: c_ast.Node | None, construct: str) -> Refused:
        return Refused(self.name, node, f"{construct} (the sort rule)")

    def expr(self, node: c_ast.Node) -> E.Expr:
        found = host_expr(node, self.scalars)
        if found is None:
            raise self.refuse(node, f"{_text(node)!r}, not an expression over scalar arguments")
        return found

    def functions(self, name: str) -> list[c_ast.FuncDef]:
        """Every definition of `name` (a template and its explicit specializations)."""
        return [n for n in self.ast.ext if isinstance(n, c_ast.FuncDef) and n.decl.name == name]


def _method(node: c_ast.Node, name: str) -> str | None:
    """`v.begin()` -> 'v' where name is 'begin'."""
    if isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.StructRef) and node.name.field.name == name:
        if isinstance(node.name.name, c_ast.ID) and node.name.type == ".":
            return node.name.name.name
    return None


def _position(k: _Kernel, node: c_ast.Node, aliases: dict) -> tuple[str, c_ast.Node | str | None]:
    """An iterator as (buffer, offset): `v.begin() + x` -> ('v', x); `p + x` -> ('p', x); `v.end()`
    -> ('v', 'end'); a local alias of one -> what it names; offset None is 0."""
    match node:
        case c_ast.ID(name=name) if name in aliases:
            return aliases[name]
        case c_ast.ID(name=name) if name in k.arrays or name in k.scratch:
            return name, None
        case c_ast.BinaryOp(op="+", left=base, right=shift):
            buffer, offset = _position(k, base, aliases)
            if offset is None:
                return buffer, shift
        case c_ast.FuncCall() if _method(node, "begin"):
            return _method(node, "begin"), None
        case c_ast.FuncCall() if _method(node, "end"):
            return _method(node, "end"), "end"
    raise k.refuse(node, f"iterator {_text(node)!r}")


def _same(a: c_ast.Node | str | None, b: c_ast.Node | str | None) -> bool:
    if isinstance(a, c_ast.Node) and isinstance(b, c_ast.Node):
        return _text(a) == _text(b)
    return a == b


# ---------------------------------------------------------------- comparators


def _direction(k: _Kernel, node: c_ast.Node, left: str, right: str) -> tuple[bool, bool]:
    """(ascending, NaN first) of a comparison of `left` and `right`: `l < r`, `l > r`, or the
    NaN guard `!isnan(r) && (isnan(l) || l < r)`."""

    def operands(op_node: c_ast.Node) -> bool | None:
        if isinstance(op_node, c_ast.BinaryOp) and op_node.op in ("<", ">"):
            pair = (_text(op_node.left), _text(op_node.right))
            if pair in ((left, right), (right, left)):
                return (op_node.op == "<") == (pair == (left, right))
        return None

    if (ascending := operands(node)) is not None:
        return ascending, False
    match node:
        case c_ast.BinaryOp(
            op="&&",
            left=c_ast.UnaryOp(op="!", expr=guard_r),
            right=c_ast.BinaryOp(op="||", left=guard_l, right=compare),
        ) if is_call(guard_r, "std_isnan") and is_call(guard_l, "std_isnan"):
            if _text(guard_r.args.exprs[0]) == right and _text(guard_l.args.exprs[0]) == left:
                if (ascending := operands(compare)) is not None:
                    return ascending, True
    raise k.refuse(node, f"comparator {_text(node)!r}")


def _returns(k: _Kernel, body: c_ast.Node) -> list[c_ast.Node]:
    """The returned expressions of a function body made of returns and ifs."""
    match body:
        case c_ast.Compound(block_items=[*items]):
            return [r for item in items for r in _returns(k, item)]
        case c_ast.Return(expr=value):
            return [value]
        case c_ast.If(iftrue=yes, iffalse=no):
            return _returns(k, yes) + (_returns(k, no) if no is not None else [])
    raise k.refuse(body, f"comparator statement {_text(body)!r}")


def _agree(k: _Kernel, node: c_ast.Node, found: list[tuple[bool, bool]]) -> tuple[bool, bool]:
    """One direction for every return (of every specialization); NaN first if any guards."""
    if len({a for a, _ in found}) != 1:
        raise k.refuse(node, "comparator whose returns order differently")
    return found[0][0], any(n for _, n in found)


def _helper(k: _Kernel, call: c_ast.FuncCall) -> tuple[bool, bool]:
    """A comparator helper called on two keys: every definition's returns, over its parameters."""
    found = []
    for func in k.functions(call.name.name):
        names = [p.name for p in func.decl.type.args.params]
        found += [_direction(k, r, names[0], names[1]) for r in _returns(k, func.body)]
    if not found:
        raise k.refuse(call, f"comparator helper {call.name.name} (no definition)")
    return _agree(k, call, found)


def comparator(k: _Kernel, node: c_ast.Node) -> tuple[str, bool, bool]:
    """(keys, ascending, NaN first) of a lifted lambda comparing `keys[a]` with `keys[b]`,
    directly or through a helper: `[fromptr](a, b) { return less<T>(fromptr[a], fromptr[b]); }`
    -> ('fromptr', True, True) where less is NaN-guarded; `[&x](a, b) { return x[a] > x[b]; }`
    -> ('x', False, False)."""
    name = node.name if isinstance(node, c_ast.ID) else None
    if name not in k.pp.lambdas:
        raise k.refuse(node, f"comparator {_text(node)!r} (not a lambda)")
    (func,) = k.functions(name)
    captured = [c for c in k.pp.lambdas[name] if c in k.arrays]
    params = [p.name for p in func.decl.type.args.params][len(k.pp.lambdas[name]) :]
    returned = _returns(k, func.body)
    if len(params) != 2 or len(returned) != 1 or len(captured) != 1:
        raise k.refuse(func, f"comparator {name} (two parameters, one return, one captured array)")
    (value,), (keys,) = returned, captured
    left, right = f"{keys}[{params[0]}]", f"{keys}[{params[1]}]"
    if isinstance(value, c_ast.FuncCall) and isinstance(value.name, c_ast.ID) and value.args is not None:
        if [_text(a) for a in value.args.exprs] != [left, right]:
            raise k.refuse(value, f"comparator call {_text(value)!r} (not on {left} and {right})")
        return (keys, *_helper(k, value))
    return (keys, *_direction(k, value, left, right))


# ---------------------------------------------------------------- dispatch over flags


def _dispatch(k: _Kernel, node: c_ast.Node, path: dict[str, bool]) -> list[tuple[dict[str, bool], c_ast.FuncCall]]:
    """The sort calls of a tree of ifs on scalar flags, each with the flag values leading to it:
    `if (stable) std::stable_sort(...); else std::sort(...);` -> [({stable: 1}, ...), ({stable: 0}, ...)]."""
    match node:
        case c_ast.FuncCall(name=c_ast.ID(name=name)) if name in SORTS:
            return [(path, node)]
        case c_ast.Compound(block_items=[only]):
            return _dispatch(k, only, path)
        case c_ast.If(cond=cond, iftrue=yes, iffalse=no) if no is not None:
            flag, value = cond, True
            if isinstance(cond, c_ast.UnaryOp) and cond.op == "!":
                flag, value = cond.expr, False
            if isinstance(flag, c_ast.ID) and flag.name in k.scalars:
                return _dispatch(k, yes, {**path, flag.name: value}) + _dispatch(k, no, {**path, flag.name: not value})
    raise k.refuse(node, f"sort dispatch {_text(node)!r} (ifs on scalar flags around std::sort / std::stable_sort)")


def _flag(k: _Kernel, node: c_ast.Node, leaves: list[tuple[dict[str, bool], bool]], what: str) -> E.Expr:
    """The flag expression a property of the leaves follows: a constant, `flag` or `!flag`."""
    values = {v for _, v in leaves}
    if len(values) == 1:
        return E.Int(int(values.pop()))
    for name in sorted(set().union(*(path for path, _ in leaves))):
        if all(name in path and path[name] == v for path, v in leaves):
            return E.Arg(name)
        if all(name in path and path[name] != v for path, v in leaves):
            return E.Unary("!", E.Arg(name))
    raise k.refuse(node, f"sort dispatch whose {what} follows no one flag")


def _sorts(k: _Kernel, node: c_ast.Node, aliases: dict) -> dict:
    """Read one sort dispatch: its range, keys, NaN placement, direction and stability."""
    leaves = _dispatch(k, node, {})
    found = []
    for path, call in leaves:
        if len(call.args.exprs) != 3:
            raise k.refuse(call, f"{call.name.name} without a comparator")
        first, last, compare = call.args.exprs
        extent = (_position(k, first, aliases), _position(k, last, aliases))
        found.append((path, SORTS[call.name.name], extent, *comparator(k, compare)))
    if len({(repr(r), keys, nan) for _, _, r, keys, _, nan in found}) != 1:
        raise k.refuse(node, "sort dispatch whose branches sort different ranges or keys")
    _, _, (first, last), keys, _, nan_first = found[0]
    return {
        "first": first,
        "last": last,
        "keys": keys,
        "nan_first": nan_first,
        "stable": _flag(k, node, [(p, s) for p, s, *_ in found], "stability"),
        "ascending": _flag(k, node, [(p, a) for p, _, _, _, a, _ in found], "direction"),
        "line": leaves[0][1].coord.line if leaves[0][1].coord else None,
    }


def _has_sort(node: c_ast.Node) -> bool:
    return any(is_call(n, name) for name in SORTS for n in _walk(node))


def _walk(node: c_ast.Node):
    yield node
    for _, child in node.children():
        yield from _walk(child)


# ---------------------------------------------------------------- loops and the kernel


def _counted(k: _Kernel, loop: c_ast.For) -> tuple[str, c_ast.Node]:
    """`for (int64_t i = 0; i < n; i++)` -> ('i', n)."""
    match loop:
        case c_ast.For(
            init=c_ast.DeclList(decls=[c_ast.Decl(name=index, init=c_ast.Constant(value="0"))]),
            cond=c_ast.BinaryOp(op="<", left=c_ast.ID(name=cond_index), right=bound),
            next=c_ast.UnaryOp(op="p++" | "++", expr=c_ast.ID(name=next_index)),
        ) if index == cond_index == next_index:
            return index, bound
    raise k.refuse(loop, "loop around a sort (not `for (i = 0; i < n; i++)`)")


def _ranges(k: _Kernel, loop: c_ast.For) -> None:
    """A loop over offset ranges, each clamped to the count and sorted on its own (and made
    local to its range by a std::transform subtracting its start)."""
    index, bound = _counted(k, loop)
    count = k.iota[1]
    ends: dict[str, tuple[str, int]] = {}  # local -> (offsets array, 0 for offsets[i], 1 for offsets[i + 1])
    clamped, aliases, sort, local = set(), {}, None, False
    for stmt in loop.stmt.block_items if isinstance(loop.stmt, c_ast.Compound) else [loop.stmt]:
        match stmt:
            case c_ast.Decl(name=name, init=init) if _bound_of(init, index) is not None:
                ends[name] = _bound_of(init, index)
            case c_ast.If(cond=c_ast.BinaryOp(op=">", left=c_ast.ID(name=x), right=limit), iftrue=clamp) if (
                _text(limit) == _text(count) and _text(clamp) == f"{x} = {_text(count)}"
            ):
                clamped.add(x)
            case c_ast.If(cond=c_ast.BinaryOp(op=">=", left=c_ast.ID(), right=c_ast.ID()), iftrue=c_ast.Continue()):
                pass  # an empty range: nothing to sort
            case c_ast.Decl(name=name, init=init) if init is not None:
                aliases[name] = _position(k, init, aliases)
            case c_ast.FuncCall(name=c_ast.ID(name="std_transform")):
                local = _transform(k, stmt, sort, aliases)
            case _ if _has_sort(stmt) and sort is None:
                sort = _sorts(k, stmt, aliases)
            case _:
                raise k.refuse(stmt, f"statement {_text(stmt)!r} in a loop of sorts")
    if sort is None:
        raise k.refuse(loop, "loop of sorts without a sort")
    (buffer, start), (stop_buffer, stop) = sort["first"], sort["last"]
    names = (getattr(start, "name", None), getattr(stop, "name", None))
    if buffer != k.iota[0] or stop_buffer != buffer or names[0] not in ends or names[1] not in ends:
        raise k.refuse(loop, "sort of a range not [offsets[i], offsets[i + 1]) of the iota indices")
    (offsets, first), (other, second) = ends[names[0]], ends[names[1]]
    if offsets != other or (first, second) != (0, 1) or not set(names) <= clamped:
        raise k.refuse(loop, "sort of a range not [offsets[i], offsets[i + 1]) clamped to the count")
    k.sort = {**sort, "ranges": P.SortRanges.OFFSETS, "bounds": offsets, "range_count": k.expr(bound), "local": local}


def _bound_of(init: c_ast.Node | None, index: str) -> tuple[str, int] | None:
    """`offsets[i]` -> ('offsets', 0); `(int64_t) offsets[i + 1]` -> ('offsets', 1)."""
    while isinstance(init, c_ast.Cast):
        init = init.expr
    if isinstance(init, c_ast.ArrayRef) and isinstance(init.name, c_ast.ID):
        shift = {index: 0, f"{index} + 1": 1}.get(_text(init.subscript))
        return None if shift is None else (init.name.name, shift)
    return None


def _transform(k: _Kernel, call: c_ast.FuncCall, sort: dict | None, aliases: dict) -> bool:
    """`std::transform(s, e, s, [start](int64_t j) { return j - start; })` after the sort of
    [s, e) from `start`: the permutation is local to its range."""
    first, last, into, lam = call.args.exprs
    if sort is not None and isinstance(lam, c_ast.ID) and lam.name in k.pp.lambdas:
        (func,) = k.functions(lam.name)
        captures = k.pp.lambdas[lam.name]
        params = [p.name for p in func.decl.type.args.params][len(captures) :]
        start = sort["first"][1]
        positions = [_position(k, n, aliases) for n in (first, last, into)]
        if (
            len(params) == 1
            and positions == [sort["first"], sort["last"], sort["first"]]
            and [_text(r) for r in _returns(k, func.body)] == [f"{params[0]} - {_text(start)}"]
        ):
            return True
    raise k.refuse(call, "std::transform other than subtracting the range's start after its sort")


def _copy(k: _Kernel, loop: c_ast.For) -> None:
    """The loop copying the sorted indices out: `out[i] = index[i]` (a permutation) or
    `out[i] = keys[index[i]]` (the values), over the count or up to the last offset."""
    index, bound = _counted(k, loop)
    body = loop.stmt.block_items if isinstance(loop.stmt, c_ast.Compound) else [loop.stmt]
    buffer = k.iota[0]
    match body:
        case [c_ast.Assignment(op="=", lvalue=c_ast.ArrayRef(name=c_ast.ID(name=out), subscript=c_ast.ID()), rvalue=v)]:
            if _text(v) == f"{buffer}[{index}]":
                writes = P.SortWrites.PERMUTATION
            elif k.sort and _text(v) == f"{k.sort['keys']}[{buffer}[{index}]]":
                writes = P.SortWrites.VALUES
            else:
                raise k.refuse(loop, f"copy {_text(body[0])!r} of the sorted indices")
        case _:
            raise k.refuse(loop, "loop after a sort other than copying its result out")
    k.sort.update(out=out, writes=writes, extent=_extent(k, loop, bound))


def _extent(k: _Kernel, loop: c_ast.Node, bound: c_ast.Node) -> P.SortExtent:
    """The copy's bound: the count, or the last offset clamped to the count
    (`copy = total < length ? total : length` where `total = n > 0 ? offsets[n - 1] : 0`)."""
    count = _text(k.iota[1])
    if _text(bound) == count:
        return P.SortExtent.COUNT
    copy = k.locals.get(getattr(bound, "name", ""))
    if isinstance(copy, c_ast.TernaryOp) and _text(copy.iftrue) == _text(copy.cond.left):
        total = k.locals.get(getattr(copy.iftrue, "name", ""))
        if (
            _text(copy.cond) == f"{_text(copy.iftrue)} < {count}"
            and _text(copy.iffalse) == count
            and isinstance(total, c_ast.TernaryOp)
            and k.sort.get("ranges") == P.SortRanges.OFFSETS
            and _text(total.iftrue) == f"{k.sort['bounds']}[{_text(total.cond.left)} - 1]"
            and _text(total.cond) == f"{_text(total.cond.left)} > 0"
            and _text(total.iffalse) == "0"
            and k.expr(c_ast.BinaryOp("-", total.cond.left, c_ast.Constant("int", "1"))) == k.sort["range_count"]
        ):
            return P.SortExtent.LAST_BOUND
    raise k.refuse(loop, f"copy bound {_text(bound)!r} (the count, or the last offset clamped to it)")


def _iota(k: _Kernel, call: c_ast.FuncCall) -> None:
    """`std::iota(v.begin(), v.end(), 0)` over a scratch vector or `std::iota(p, p + n, 0)`."""
    first, last, value = call.args.exprs
    (buffer, start), (other, stop) = _position(k, first, {}), _position(k, last, {})
    count = k.scratch_sizes.get(buffer) if stop == "end" else stop
    if other != buffer or start is not None or count is None or host_expr(value, set()) != E.Int(0):
        raise k.refuse(call, f"std::iota {_text(call)!r} (0, 1, ... over a whole buffer)")
    k.iota = (buffer, count)


def _statements(k: _Kernel, items: list[c_ast.Node]) -> None:
    for stmt in items:
        match stmt:
            case c_ast.Decl(name=name, init=init) if is_call(init, "std_vector"):
                k.scratch.add(name)
                k.scratch_sizes[name] = init.args.exprs[0] if init.args else None
            case c_ast.FuncCall() if is_call(stmt, "std_iota") and k.iota is None:
                _iota(k, stmt)
            case _ if _has_sort(stmt) and k.iota is not None and not k.sort:
                if isinstance(stmt, c_ast.For):
                    _ranges(k, stmt)
                else:
                    k.sort = {**_sorts(k, stmt, {}), "ranges": P.SortRanges.WHOLE}
                    (buffer, start), (other, stop) = k.sort["first"], k.sort["last"]
                    whole = _same(stop, "end") or _same(stop, k.iota[1])
                    if buffer != k.iota[0] or other != buffer or start is not None or not whole:
                        raise k.refuse(stmt, "sort of part of the iota indices outside a loop of ranges")
            case c_ast.Decl(name=name, init=init) if init is not None and k.sort:
                k.locals[name] = init
            case c_ast.For() if k.sort and k.iota[0] in k.scratch and "out" not in k.sort:
                _copy(k, stmt)
            case c_ast.Return(expr=value) if is_call(value, "success"):
                pass
            case _:
                raise k.refuse(stmt, f"statement {_text(stmt)!r} around a sort")


def _at(kernel: str, message: str, prefix: str) -> Refused:
    """A pre-pass or parser message 'file:line[:col]: what' as a refusal at that place."""
    found = re.match(r"(.+?):(\d+)(?::\d+)?: (.*)", message)
    if found is None:
        return Refused(kernel, None, f"{prefix}{message} (the sort rule)")
    where = c_ast.ID("", coord=Coord(found.group(1), int(found.group(2))))
    return Refused(kernel, where, f"{prefix}{found.group(3)} (the sort rule)")


def recognise(spec: dict, path: Path, include_dirs: list[Path]) -> tuple[P.Sort, int | None]:
    """The library sort step of a kernel whose C++ is one iota-and-sort, and the line of its sort;
    `Refused` (kernel, file:line, construct) where its shape defeats the rule."""
    kernel = spec["name"]
    try:
        unlowerable(run_cpp(path, include_dirs))
        pp = preprocess(path, include_dirs)
        ast = c_parser.CParser().parse(pp.text, filename=str(path))
    except PreprocessError as exc:
        raise _at(kernel, str(exc), "") from exc
    except Exception as exc:  # pycparser's ParseError carries file:line:col
        raise _at(kernel, str(exc), "C++ the pre-pass does not lower: ") from exc
    entries = {pp.wrappers[s].target if s in pp.wrappers else s for s in (x["symbol"] for x in spec["specializations"])}
    funcs = [n for n in ast.ext if isinstance(n, c_ast.FuncDef) and n.decl.name in entries]
    if len(entries) != 1 or len(funcs) != 1:
        where = funcs[0] if funcs else None
        raise Refused(kernel, where, f"sort kernel with entries {sorted(entries)} (the sort rule)")
    (func,) = funcs
    params = func.decl.type.args.params
    arrays = {p.name for p in params if isinstance(p.type, c_ast.PtrDecl)}
    k = _Kernel(kernel, pp, ast, {p.name for p in params} - arrays, arrays)
    _statements(k, func.body.block_items or [])
    if not k.sort:
        raise k.refuse(func, "a kernel without std::sort / std::stable_sort over std::iota indices")
    if k.iota[0] in k.arrays:
        k.sort.update(out=k.iota[0], writes=P.SortWrites.PERMUTATION)
    elif "out" not in k.sort:
        raise k.refuse(func, "sorted scratch indices that are never copied out")
    found = k.sort
    sort = P.Sort(
        count=k.expr(k.iota[1]),
        keys=found["keys"],
        ranges=found["ranges"],
        out=found["out"],
        writes=found["writes"],
        ascending=found["ascending"],
        stable=found["stable"],
        bounds=found.get("bounds"),
        range_count=found.get("range_count"),
        local=E.Int(int(found.get("local", False))),
        extent=found.get("extent", P.SortExtent.COUNT),
        nan_first=found["nan_first"],
        rule="rule",
    )
    return sort, found["line"]
