"""The one error every stage of the translator raises for what it cannot translate."""

from __future__ import annotations

from pycparser import c_ast


class TranslationError(Exception):
    """An untranslatable construct: kernel, file:line and construct."""

    def __init__(self, kernel: str, node: c_ast.Node | None, construct: str):
        where = f"{node.coord.file}:{node.coord.line}" if node is not None and node.coord else "?"
        super().__init__(f"{kernel}: {where}: cannot translate {construct}")
        self.kernel, self.where, self.construct = kernel, where, construct
