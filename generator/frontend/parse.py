"""Stage: one C++ source -> pycparser's syntax tree, every function definition by name.

The pre-pass (preprocess.py) spells what C cannot say in C (`restrict`, `akc_auto`); the
`Normalizer` undoes those spellings in the tree, so later stages see the C++ again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pycparser import c_ast, c_parser

from akcuda.generator.frontend.errors import TranslationError
from akcuda.generator.frontend.preprocess import Preprocessed, preprocess


@dataclass
class Parsed:
    pp: Preprocessed
    functions: dict[str, c_ast.FuncDef]


def parse(path: Path, include_dirs: list[Path]) -> Parsed:
    """Pre-pass and pycparser; every function definition by name."""
    pp = preprocess(path, include_dirs)
    try:
        ast = c_parser.CParser().parse(pp.text, filename=str(path))
    except Exception as exc:  # pycparser's ParseError carries file:line:col
        raise TranslationError(path.stem, None, f"C syntax ({exc})") from exc
    Normalizer().visit(ast)
    functions = {node.decl.name: node for node in ast.ext if isinstance(node, c_ast.FuncDef)}
    return Parsed(pp, functions)


class Normalizer(c_ast.NodeVisitor):
    """Undo the pre-pass spellings in place: `restrict` and `akc_auto` return to C++."""

    def visit_PtrDecl(self, node: c_ast.PtrDecl) -> None:
        node.quals = ["__restrict__" if q == "restrict" else q for q in node.quals]
        self.generic_visit(node)

    def visit_IdentifierType(self, node: c_ast.IdentifierType) -> None:
        node.names = ["auto" if n == "akc_auto" else n for n in node.names]

    def visit_FuncDecl(self, node: c_ast.FuncDecl) -> None:
        """Name unnamed parameters: a kernel launch passes every argument."""
        params = node.args.params if node.args else []
        for k, param in enumerate(params):
            if not isinstance(param, c_ast.Typename):
                continue
            inner = param.type
            while not isinstance(inner, c_ast.TypeDecl):
                inner = inner.type
            if getattr(inner.type, "names", None) == ["void"] and inner is param.type:
                continue  # `f(void)`
            inner.declname = f"akc_unnamed{k}"
            params[k] = c_ast.Decl(inner.declname, param.quals, [], [], [], param.type, None, None, coord=param.coord)
        self.generic_visit(node)
