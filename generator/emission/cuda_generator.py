"""Stage: print a (normalised) pycparser AST as CUDA C++.

`CudaGenerator` is pycparser's `CGenerator` with the few visitors that differ: explicit template
arguments come back at call sites, library calls map to CUDA equivalents by rule, and a kernel's
`return failure(...)` / `return success()` become writes to the error record (the `fail` and
`note_failure` macros of templates/steps.cu.j2). A construct with no rule raises
`TranslationError` naming kernel, file:line and construct.

The rest of the emit stage prints C through `statement`, `expression`, `declaration` and
`type_text`, never through CGenerator's private helpers.
"""

from __future__ import annotations

from pycparser import c_ast, c_generator

from akcuda.generator.analysis.ast_util import is_call
from akcuda.generator.analysis.ast_util import is_memory as _is_memory
from akcuda.generator.emission.render import macros
from akcuda.generator.frontend.errors import TranslationError

# std:: calls (rewritten to std_* by the pre-pass) and the CUDA spelling each one gets.
LIBRARY_CALLS = {
    "std_memset": "akc_memset",
    "std_memcpy": "akc_memcpy",
    "std_iota": "akc_iota",
    "std_pow": "pow",
    "std_isnan": "isnan",
    "std_min": "akc_min",
    "std_max": "akc_max",
}


def _stored(lvalue: c_ast.Node) -> c_ast.FuncCall:
    """`AKC_STORE(lvalue)`: a store to memory, the identity on a GPU and a write recorder in the
    host race-check build."""
    return c_ast.FuncCall(c_ast.ID("AKC_STORE"), c_ast.ExprList([lvalue]))


class CudaGenerator(c_generator.CGenerator):
    """CGenerator that writes CUDA C++ for one kernel family."""

    def __init__(
        self,
        kernel: str,
        call_template_args: dict[tuple[str, int, str], list[str]],
        messages: list[str],
        step: int = 0,
        mode: str = "plain",
    ):
        super().__init__()
        self.kernel = kernel
        self.call_template_args = call_template_args
        self.messages = messages
        self.step = step
        self.mode = mode  # "plain" | "count" (stores and failures suppressed) | "fill"
        self.spilled = False  # top-level locals live in the spill buffer
        self.continue_text = "continue;"  # what a `continue` of the per-thread loop becomes
        self.in_kernel = False
        self.continue_returns = False  # `continue` of a loop that became one thread per iteration
        self.loop_depth = 0

    def statement(self, node: c_ast.Node) -> str:
        """A statement as whole lines at the current indent (`indent_level`), newline-terminated."""
        return self._generate_stmt(node)

    def expression(self, node: c_ast.Node) -> str:
        """An expression or initializer, bracketed where it needs to be (`{...}`, `(a, b)`)."""
        return self._visit_expr(node)

    def declaration(self, node: c_ast.Decl) -> str:
        """A declaration without its initializer, e.g. a parameter: `const int64_t * __restrict__ x`."""
        return self._generate_decl(node)

    def type_text(self, node: c_ast.Node) -> str:
        """A type node with the name it declares: `int64_t i`, `T * p`."""
        return self._generate_type(node)

    def visit_FuncCall(self, n: c_ast.FuncCall) -> str:
        if isinstance(n.name, c_ast.ID):
            name = n.name.name
            if name in ("failure", "success"):
                raise TranslationError(self.kernel, n, f"'{name}(...)' outside a return")
            if name.startswith("std_") and name not in LIBRARY_CALLS:
                raise TranslationError(self.kernel, n, f"library call std::{name[4:]}")
            name = LIBRARY_CALLS.get(name, name)
            key = (n.coord.file, n.coord.line, n.name.name) if n.coord else None
            targs = self.call_template_args.get(key)
            if targs:
                name += "<" + ", ".join(targs) + ">"
            n = c_ast.FuncCall(c_ast.ID(name, coord=n.name.coord), n.args, coord=n.coord)
        return super().visit_FuncCall(n)

    def visit_Return(self, n: c_ast.Return) -> str:
        if not self.in_kernel:
            return super().visit_Return(n)
        if is_call(n.expr, "success"):
            return "return;"
        if is_call(n.expr, "failure"):
            if self.mode == "count":  # count and check go on to record the advance so far
                return macros().note_failure()
            return self._failure(n.expr)
        raise TranslationError(self.kernel, n, "a kernel return that is neither success() nor failure(...)")

    def _failure(self, call: c_ast.FuncCall) -> str:
        args = call.args.exprs if call.args else []
        if len(args) != 4 or not (isinstance(args[0], c_ast.Constant) and args[0].type == "string"):
            raise TranslationError(self.kernel, call, "failure(...) without a literal message")
        message = args[0].value[1:-1].encode().decode("unicode_escape")
        if message not in self.messages:
            self.messages.append(message)
        identity, attempt = (self.expression(a) for a in args[1:3])
        line = call.coord.line if call.coord else 0
        # fill knows it is the first failing iteration (later ones do not run): it reports directly
        return macros().fail(
            step=self.step,
            direct=self.mode == "fill",
            message=self.messages.index(message),
            identity=identity,
            attempt=attempt,
            line=line,
        )

    # Stores to memory go through AKC_STORE (`_stored`).
    def visit_Assignment(self, n: c_ast.Assignment) -> str:
        if _is_memory(n.lvalue):
            n = c_ast.Assignment(n.op, _stored(n.lvalue), n.rvalue, coord=n.coord)
        return super().visit_Assignment(n)

    def visit_UnaryOp(self, n: c_ast.UnaryOp) -> str:
        if n.op in ("p++", "p--", "++", "--") and _is_memory(n.expr):
            n = c_ast.UnaryOp(n.op, _stored(n.expr), coord=n.coord)
        return super().visit_UnaryOp(n)

    def visit_Continue(self, n: c_ast.Continue) -> str:
        if self.loop_depth:
            return "continue;"
        return "return;" if self.continue_returns else self.continue_text

    def _loop(self, n: c_ast.Node, visit) -> str:
        self.loop_depth += 1
        try:
            return visit(n)
        finally:
            self.loop_depth -= 1

    def visit_For(self, n: c_ast.For) -> str:
        return self._loop(n, super().visit_For)

    def visit_While(self, n: c_ast.While) -> str:
        return self._loop(n, super().visit_While)

    def visit_DoWhile(self, n: c_ast.DoWhile) -> str:
        return self._loop(n, super().visit_DoWhile)

    def visit_Goto(self, n: c_ast.Goto) -> str:
        raise TranslationError(self.kernel, n, "goto")
