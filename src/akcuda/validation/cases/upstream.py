"""Upstream awkward-cpp kernel test vectors, read as data (``ast`` only) and turned into cases.

The sdist's ``tests-cpu-kernels/`` and ``tests-cpu-kernels-explicit/`` hold one pytest function
per call. Nothing there is executed or imported: each function body is parsed, the first literal
assigned to every name is kept, and the ``funcC(...)`` call tells the argument order.
"""

from __future__ import annotations

import ast
import gc
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from akcuda.validation.cases import Case

FOLDERS = ("tests-cpu-kernels", "tests-cpu-kernels-explicit")
_NP_BOOLS = {"True_": True, "False_": False}
# Which child leads towards the call at the head of a statement or expression.
_HEAD = {
    ast.Assign: "value",
    ast.Expr: "value",
    ast.Assert: "test",
    ast.Compare: "left",
    ast.UnaryOp: "operand",
    ast.Attribute: "value",
    ast.Call: "func",
}


class Unparsable(ValueError):
    """A test function (or file) whose shape this reader does not understand."""


@dataclass
class _Parsed:
    cases: dict[str, list[Case]] = field(default_factory=dict)
    files: int = 0
    functions: int = 0
    not_implemented: int = 0
    unparsable: list[dict[str, str]] = field(default_factory=list)


class _NumpyBools(ast.NodeTransformer):
    """Rewrite ``np.True_`` / ``np.False_`` (seen in expected outputs) into constants."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy") and node.attr in _NP_BOOLS:
            return ast.Constant(_NP_BOOLS[node.attr])
        return node


def _literal(node: ast.AST) -> Any:
    """The Python value of a literal node; raises ValueError when it is not one."""
    if not isinstance(node, (ast.Constant, ast.List, ast.Tuple, ast.UnaryOp)):
        raise ValueError(f"not a literal: {type(node).__name__}")
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.literal_eval(_NumpyBools().visit(node))


def _call_of(node: ast.AST) -> ast.Call | None:
    """The ``funcC(...)`` call heading ``x = funcC(..)``, ``assert [not] funcC(..).str[...] ..``."""
    while not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        attr = _HEAD.get(type(node))
        if attr is None:
            return None
        node = getattr(node, attr)
    return node if node.func.id == "funcC" else None


def _is_str_of(node: ast.AST) -> bool:
    """True for ``X.str`` (X being ``ret_pass`` or the funcC call itself)."""
    return isinstance(node, ast.Attribute) and node.attr == "str"


def _failure_assert(test: ast.expr) -> tuple[bool | None, str | None]:
    """(expect_failure, message) from one ``assert`` test; (None, None) if it is about outputs."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _is_str_of(test.operand):
        return False, None
    if _is_str_of(test):
        return True, None
    if (
        isinstance(test, ast.Compare)
        and len(test.comparators) == 1
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.left, ast.Call)
        and isinstance(test.left.func, ast.Attribute)
        and test.left.func.attr == "decode"
        and _is_str_of(test.left.func.value)
    ):
        return True, _literal(test.comparators[0])
    return None, None


def _parse_function(fn: ast.FunctionDef, label: str) -> Case | None:
    """One test function -> one Case; None for a NotImplementedError body."""
    values: dict[str, Any] = {}
    symbol = call = None
    expect: bool | None = None
    notes: dict[str, Any] = {}
    for stmt in fn.body:
        if isinstance(stmt, ast.Raise):
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return None
            raise Unparsable(f"raises {ast.unparse(stmt)[:60]}")
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, stmt.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "getattr":
                symbol = _literal(value.args[1])
            elif call is None or name not in values:  # the last literal before the call counts
                try:
                    values[name] = _literal(value)
                except ValueError:
                    pass  # ctypes wrappers, pointer casts and the like: not data
        found = _call_of(stmt)
        if found is not None:
            if call is not None:
                raise Unparsable("more than one funcC call")
            call = found
        if isinstance(stmt, ast.Assert):
            failing, message = _failure_assert(stmt.test)
            if failing is not None:
                expect = failing
            if message is not None:
                notes["message"] = message
    if symbol is None or call is None:
        raise Unparsable("no getattr(lib, ...) symbol" if symbol is None else "no funcC call")
    return _make_case(symbol, label, call, values, expect, notes)


def _make_case(
    symbol: str, label: str, call: ast.Call, values: dict[str, Any], expect: bool | None, notes: dict[str, Any]
) -> Case:
    """Build the Case: arguments in call order, expected outputs (``pytest_<arg>``) in notes."""
    if call.keywords or not all(isinstance(a, ast.Name) for a in call.args):
        raise Unparsable(f"funcC argument is not a plain name: {ast.unparse(call)[:80]}")
    names = [a.id for a in call.args]
    missing = [n for n in names if n not in values]
    if missing:
        raise Unparsable(f"no literal value for argument(s) {', '.join(missing)}")
    expected = {n: values[f"pytest_{n}"] for n in names if f"pytest_{n}" in values}
    if expected:
        notes["expected"] = expected
    return Case(
        symbol=symbol,
        name=label,
        source="upstream",
        args={n: values[n] for n in names},
        expect_failure=expect,
        notes=notes,
    )


def _parse_file(path: Path, folder: str, out: _Parsed) -> None:
    """Add one file's cases (and its failures) to ``out``."""
    out.files += 1
    where = f"{folder}/{path.name}"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError) as err:
        out.unparsable.append({"where": where, "reason": f"cannot parse file: {err}"})
        return
    for fn in tree.body:
        if not (isinstance(fn, ast.FunctionDef) and fn.name.startswith("test")):
            continue
        out.functions += 1
        label = f"{where}::{fn.name}"
        try:
            case = _parse_function(fn, label)
        except (Unparsable, ValueError, IndexError, TypeError, SyntaxError) as err:
            reason = str(err) if isinstance(err, Unparsable) else f"{type(err).__name__}: {err}"
            out.unparsable.append({"where": label, "reason": reason})
            continue
        if case is None:
            out.not_implemented += 1
        else:
            out.cases.setdefault(case.symbol, []).append(case)


FILE_PREFIXES = {"tests-cpu-kernels": "test_cpu", "tests-cpu-kernels-explicit": "test_unit_cpu"}


@cache
def _parse_one(path: str, folder: str) -> _Parsed:
    """One test file, parsed once per process."""
    out = _Parsed()
    paused = gc.isenabled()
    gc.disable()  # millions of short-lived, acyclic AST nodes: collection passes only cost time
    try:
        _parse_file(Path(path), folder, out)
    finally:
        if paused:
            gc.enable()
    return out


@lru_cache(maxsize=4)
def _parse_all(cpp_dir: str) -> _Parsed:
    """Parse both folders once per resolved path (a few seconds for the whole sdist)."""
    out = _Parsed()
    for folder in FOLDERS:
        if not (Path(cpp_dir) / folder).is_dir():
            out.unparsable.append({"where": folder, "reason": f"folder missing in {cpp_dir}"})
        for path in sorted((Path(cpp_dir) / folder).glob("test_*.py")):
            part = _parse_one(str(path), folder)
            out.files += part.files
            out.functions += part.functions
            out.not_implemented += part.not_implemented
            out.unparsable += part.unparsable
            for symbol, cases in part.cases.items():
                out.cases.setdefault(symbol, []).extend(cases)
    return out


def cases_for(cpp_dir: Path, symbol: str) -> list[Case]:
    """The upstream cases of one symbol, reading only its own test files."""
    out = []
    for folder, prefix in FILE_PREFIXES.items():
        path = Path(cpp_dir) / folder / f"{prefix}{symbol}.py"
        if path.exists():
            out += _parse_one(str(path), folder).cases.get(symbol, [])
    return out


def load_upstream_cases(cpp_dir: Path) -> dict[str, list[Case]]:
    """symbol -> cases from both folders, in file order (cached per folder; do not mutate).

    ``Case.args`` maps each funcC argument name, in call order, to the first literal assigned
    to it (lists for arrays, nested lists for ``T**``, int/float/bool for scalars);
    ``expect_failure`` is True/False when the test asserts ``.str`` truthy/falsy, else None;
    ``notes['message']`` holds an expected error message and ``notes['expected']`` the
    ``pytest_<arg>`` output values, when given.
    """
    return dict(_parse_all(str(Path(cpp_dir).resolve())).cases)


def upstream_stats(cpp_dir: Path) -> dict[str, Any]:
    """Counts: files, functions, cases, symbols, not_implemented, and unparsable with reasons."""
    parsed = _parse_all(str(Path(cpp_dir).resolve()))
    return {
        "files": parsed.files,
        "functions": parsed.functions,
        "cases": sum(map(len, parsed.cases.values())),
        "symbols": len(parsed.cases),
        "not_implemented": parsed.not_implemented,
        "unparsable": len(parsed.unparsable),
        "unparsable_reasons": list(parsed.unparsable),
    }
