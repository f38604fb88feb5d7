"""The typed values the analysis hands between its stages.

- `Signature`: what an entry's parameters and specializations say, before its body is read;
- `Analysis`: what the rules share about one function body (after the function rewrites);
- `Site`: one top-level loop as the rules see it (as written, and after the loop rewrites);
- `Planned`: a plan step (`akcuda.plan.model.Step`, its form and all) with the C it runs
  (`Code`); `Refusal`: why a rule does not take a loop, in words a person reads.

A rule is `match(site: Site, ctx: Analysis) -> Planned | Refusal` (rules/__init__.py lists them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from pycparser import c_ast

from akcuda.generator.analysis.loops import INTEGER_TYPES, assignment_counts, host_expr, type_names, uses
from akcuda.plan import model as P
from akcuda.plan.expr import Expr, Int, Integral

Shadow = tuple[str, c_ast.Node, bool]  # (array, index, read first): a place an iteration writes and reads back


def plain_integer(name: str) -> Expr | None:
    """Where a type name outside any template is an integer: always, or never."""
    return Int(1) if name in INTEGER_TYPES else None


def parameters(func: c_ast.FuncDef) -> list[c_ast.Node]:
    return func.decl.type.args.params if func.decl.type.args else []


@dataclass(frozen=True)
class Signature:
    """What an entry's parameters and its specializations' template arguments say."""

    scalars: frozenset[str]  # scalar parameters
    pointers: frozenset[str]  # pointer parameters
    helpers: dict[str, c_ast.FuncDef] = field(default_factory=dict)  # the functions the body may call
    integral: Callable[[str], bool] = lambda array: False  # is an array's element type always an integer?
    integer_where: Callable[[str], Expr | None] = plain_integer  # where a type name is an integer (Int(1): always)

    @classmethod
    def of(
        cls,
        func: c_ast.FuncDef,
        helpers: dict[str, c_ast.FuncDef],
        template_params: list[str] = (),
        template_args: list[list[str]] = (),
    ) -> Signature:
        """The signature of `func`, instantiated with each of `template_args` for its
        `template_params`; `helpers` are the functions it may call."""
        params = parameters(func)
        scalars = frozenset(p.name for p in params if isinstance(p.type, c_ast.TypeDecl))
        where = functools.partial(_integer_where, list(template_params), list(template_args))
        return cls(
            scalars,
            frozenset(p.name for p in params) - scalars,
            helpers,
            functools.partial(_integral, params, where),
            where,
        )

    @functools.cached_property
    def helpers_writing(self) -> set[str]:
        """The helpers that may write through a pointer parameter."""
        return {
            name for name, f in self.helpers.items() if any(isinstance(p.type, c_ast.PtrDecl) for p in parameters(f))
        }


def _integral(params: list, integer_where: Callable[[str], Expr | None], array: str) -> bool:
    """Is the element type of pointer parameter `array` an integer in every specialization?"""
    param = next((p for p in params if p.name == array), None)
    names = type_names(param) if param is not None else []
    return bool(names) and integer_where(names[-1]) == Int(1)


def _integer_where(tparams: list[str], targets_args: list[list[str]], name: str) -> Expr | None:
    """Where type `name` (maybe a template parameter) is an integer: Int(1) in every
    specialization, `integral(name)` in some, None in none."""
    if name in tparams:
        position = tparams.index(name)
        integers = [a[position] in INTEGER_TYPES for a in targets_args]
        return Int(1) if integers and all(integers) else Integral(name) if any(integers) else None
    return plain_integer(name)


@dataclass(frozen=True)
class Analysis:
    """What the rules share about one function."""

    signature: Signature
    scalars: dict[str, c_ast.Node | None]  # scalar arguments (None) and locals fixed by them (their definition)
    decls: list[c_ast.Decl]  # top-level locals, in order
    integral_locals: set[str]  # top-level locals of an integer type
    boolean_locals: set[str]  # top-level locals of type bool
    element_types: dict[str, list[str]]  # pointer parameter -> its element type's names
    assignments: dict[str, int]  # name -> how often the function assigns it

    @classmethod
    def of(cls, func: c_ast.FuncDef, signature: Signature) -> Analysis:
        """The facts about `func` (after the function rewrites)."""
        decls = [s for s in func.body.block_items or [] if isinstance(s, c_ast.Decl)]
        integer = signature.integer_where
        return cls(
            signature=signature,
            scalars=_host_scalars(signature.scalars, decls, uses(func.body).written_ids),
            decls=decls,
            integral_locals={d.name for d in decls if any(integer(n) == Int(1) for n in type_names(d))},
            boolean_locals={d.name for d in decls if type_names(d) == ["bool"]},
            element_types={
                p.name: type_names(p) for p in parameters(func) if isinstance(p.type, c_ast.PtrDecl) and type_names(p)
            },
            assignments=assignment_counts(func.body),
        )

    @property
    def pointers(self) -> frozenset[str]:
        return self.signature.pointers

    @property
    def helpers(self) -> dict[str, c_ast.FuncDef]:
        return self.signature.helpers

    @property
    def integer_where(self) -> Callable[[str], Expr | None]:
        return self.signature.integer_where

    @functools.cached_property
    def local_decls(self) -> dict[str, c_ast.Decl]:
        """The top-level locals' declarations, by name."""
        return {d.name: d for d in self.decls}

    @functools.cached_property
    def slots(self) -> dict[str, int]:
        """Each top-level local's slot in the spill buffer."""
        return {d.name: k for k, d in enumerate(self.decls)}


def _host_scalars(
    scalars: frozenset[str], decls: list[c_ast.Decl], assigned: dict[str, c_ast.Node]
) -> dict[str, c_ast.Node | None]:
    """The scalar arguments, and the top-level locals never assigned whose definition the host can
    compute from them (`int64_t n = length * size;`), mapped to that definition."""
    out = dict.fromkeys(sorted(scalars))
    for decl in decls:
        if decl.init is not None and decl.name not in assigned and host_expr(decl.init, out) is not None:
            out[decl.name] = decl.init
    return out


@dataclass(frozen=True)
class Site:
    """One top-level loop as the rules see it."""

    written: c_ast.For  # as the C has it: what the loop's serial form runs
    loop: c_ast.For  # after the loop rewrites (rewrites/__init__.py: LOOP)
    live_after: frozenset[str]  # names that statements after the loop read


@dataclass
class Code:
    """The C a plan step runs: its statements (a serial step's), or its loop."""

    stmts: list[c_ast.Node]
    loop: c_ast.For | None = None
    serial_form: c_ast.Node | None = None  # what runs when a run-time check fails (default: the loop)
    shadows: list[Shadow] = field(default_factory=list)  # check and count: places kept privately
    before: list[c_ast.Node] = field(default_factory=list)  # run in C order first, in the serial step before
    checked: c_ast.For | None = None  # the loop as a launch checking the C's state runs it (a compaction's verify)


@dataclass(frozen=True)
class Planned:
    """A plan step as the analysis makes it, with the C it runs."""

    step: P.Step
    code: Code


@dataclass(frozen=True)
class Refusal:
    """Why a rule does not take a loop."""

    why: str
