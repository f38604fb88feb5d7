"""Small AST helpers shared by the analysis and emission stages."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from pycparser import c_ast, c_generator, c_parser

_printer = c_generator.CGenerator()
_parser = c_parser.CParser()


def text(node: c_ast.Node) -> str:
    """C text of a node (for messages, comments and comparing with a literal spelling)."""
    return _printer.visit(node)


def same(a: c_ast.Node | None, b: c_ast.Node | None) -> bool:
    """Do two trees have one structure: node types, names, operators and values alike, their
    coordinates aside?

        same(parse("i + 1"), parse("i+1")) -> True;  same(parse("i + 1"), parse("1 + i")) -> False
    """
    if type(a) is not type(b):
        return False
    if not isinstance(a, c_ast.Node):
        return a == b
    if any(getattr(a, name) != getattr(b, name) for name in a.attr_names):
        return False
    left, right = a.children(), b.children()
    return len(left) == len(right) and all(n == m and same(x, y) for (n, x), (m, y) in zip(left, right, strict=True))


def walk(node: c_ast.Node) -> Iterator[c_ast.Node]:
    """Every node of a tree, pre-order."""
    yield node
    for _, child in node.children():
        yield from walk(child)


def ids(node: c_ast.Node | None) -> set[str]:
    """Names mentioned anywhere in a tree."""
    return set() if node is None else {n.name for n in walk(node) if isinstance(n, c_ast.ID)}


def is_call(node: c_ast.Node | None, name: str) -> bool:
    """Is `node` a call of the function `name`?"""
    return isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID) and node.name.name == name


def is_memory(node: c_ast.Node) -> bool:
    """An lvalue in memory: `a[i]` or `*p`."""
    return isinstance(node, c_ast.ArrayRef) or (isinstance(node, c_ast.UnaryOp) and node.op == "*")


def memory_array(node: c_ast.Node) -> str | None:
    """The array argument an lvalue in memory names: `a[i]` -> 'a', `*p` -> 'p' (else None)."""
    match node:
        case c_ast.ArrayRef(name=c_ast.ID(name=name)) | c_ast.UnaryOp(op="*", expr=c_ast.ID(name=name)):
            return name
    return None


def signed_terms(node: c_ast.Node, sign: int = 1) -> list[tuple[int, c_ast.Node]]:
    """Flatten + and - into (sign, term) pairs: a - (b + c) -> [(1, a), (-1, b), (-1, c)]."""
    if isinstance(node, c_ast.BinaryOp) and node.op in "+-":
        return signed_terms(node.left, sign) + signed_terms(node.right, sign if node.op == "+" else -sign)
    return [(sign, node)]


def rebuild(terms: list[tuple[int, c_ast.Node]]) -> c_ast.Node:
    """The sum of signed terms (the inverse of signed_terms)."""
    (sign, first), rest = terms[0], terms[1:]
    out = first if sign > 0 else c_ast.UnaryOp("-", first)
    for sign, term in rest:
        out = c_ast.BinaryOp("+" if sign > 0 else "-", out, term)
    return out


def block(node: c_ast.Node) -> list[c_ast.Node]:
    """The statements of a compound, or the single statement."""
    return (node.block_items or []) if isinstance(node, c_ast.Compound) else [node]


def read_names(node: c_ast.Node) -> set[str]:
    """Names whose value a tree may read: every mention but the target of a plain `=`."""
    targets = {
        id(n.lvalue)
        for n in walk(node)
        if isinstance(n, c_ast.Assignment) and n.op == "=" and isinstance(n.lvalue, c_ast.ID)
    }
    return {n.name for n in walk(node) if isinstance(n, c_ast.ID) and id(n) not in targets}


def set_child(parent: c_ast.Node, name: str, value: c_ast.Node) -> None:
    """Replace a child given pycparser's children() name, e.g. 'block_items[2]' or 'stmt'."""
    if "[" in name:
        attr, index = name[:-1].split("[")
        getattr(parent, attr)[int(index)] = value
    else:
        setattr(parent, name, value)


def replaced_ids(node: c_ast.Node, names: dict[str, c_ast.Node]) -> c_ast.Node:
    """A copy of `node` with every ID in `names` replaced by a copy of its node."""
    if isinstance(node, c_ast.ID) and node.name in names:
        return copy.deepcopy(names[node.name])
    out = copy.deepcopy(node)
    for parent in list(walk(out)):
        for child_name, child in parent.children():
            if isinstance(child, c_ast.ID) and child.name in names:
                set_child(parent, child_name, copy.deepcopy(names[child.name]))
    return out


def substituted(node: c_ast.Node, match, value: c_ast.Node | None) -> c_ast.Node:
    """A copy of `node` with every node for which `match(node)` holds replaced by `value`
    (None: an empty statement)."""
    if match(node):
        return c_ast.EmptyStatement() if value is None else copy.deepcopy(value)
    out = copy.copy(node)
    for child_name, child in node.children():
        replaced = substituted(child, match, value)
        if "[" in child_name:
            attr, index = child_name[:-1].split("[")
            items = list(getattr(out, attr)) if getattr(out, attr) is getattr(node, attr) else getattr(out, attr)
            items[int(index)] = replaced
            setattr(out, attr, items)
        else:
            setattr(out, child_name, replaced)
    return out


def pattern(source: str, **holes: c_ast.Node) -> c_ast.Node:
    """The C expression `source` with each hole (an upper-case name) replaced by a copy of its
    node: `pattern("K + Q", K=k, Q=q)`."""
    tree = _parser.parse(f"void f(void) {{ x = {source}; }}").ext[0].body.block_items[0].rvalue
    return replaced_ids(tree, holes)


def declared_like(like: c_ast.Decl, name: str, value: c_ast.Node | None) -> c_ast.Decl:
    """`T name = value;` with the type of the declaration `like`."""
    decl = copy.deepcopy(like)
    decl.name = decl.type.declname = name
    decl.init = value
    return decl
