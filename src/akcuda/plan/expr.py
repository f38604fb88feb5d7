"""The plan's integer expression language: what the host evaluates before a launch.

Grammar (the JSON form is a list whose head names the node)::

    expr := ["int", value]            an integer literal
          | ["arg", name]             a scalar argument of the kernel
          | ["memory", name]          the first element of an array argument (one read-back)
          | ["integral", name]        1 where template parameter `name` is an integer type in the
                                      specialization (bound per specialization: `bind_types`)
          | ["neg", expr] | ["!", expr]
          | [op, expr, expr]          op in + - * / % < <= > >= == != && ||
          | ["?:", expr, expr, expr]

Evaluation follows C on 64-bit integers: `/` truncates toward zero and `%` takes the sign of the
dividend; `&&`, `||` and `?:` evaluate only what C evaluates.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

TRUTHS = ("<", "<=", ">", ">=", "==", "!=", "&&", "||")  # their value is 0 or 1
BINARY = ("+", "-", "*", "/", "%", *TRUTHS)
UNARY = ("neg", "!")


@dataclass(frozen=True)
class Int:
    value: int


@dataclass(frozen=True)
class Arg:
    name: str


@dataclass(frozen=True)
class Memory:
    name: str


@dataclass(frozen=True)
class Integral:
    param: str  # a template parameter


@dataclass(frozen=True)
class Unary:
    op: str  # "neg" | "!"
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Cond:
    test: Expr
    then: Expr
    otherwise: Expr


Expr = Int | Arg | Memory | Integral | Unary | Binary | Cond


def all_of(conditions: list[Expr]) -> Expr | None:
    """One expression requiring every condition, each once, in order (None when there are none)."""
    out = None
    for k, condition in enumerate(conditions):
        if condition not in conditions[:k]:
            out = condition if out is None else Binary("&&", out, condition)
    return out


def reads_memory(expr: Expr | None) -> bool:
    """Does evaluating the expression read an array (a `Memory` node, one read-back each)?"""
    if isinstance(expr, Memory):
        return True
    children = [getattr(expr, f.name) for f in fields(expr)] if is_dataclass(expr) else []
    return any(reads_memory(child) for child in children if is_dataclass(child))


def bind_types(expr: Expr | None, integral: Mapping[str, bool]) -> Expr | None:
    """`expr` for one specialization: each `Integral` replaced by what `integral` says of its
    template parameter, and `&&`, `||`, `!` of a known value folded; None for a condition that
    always holds.

        (n <= 64 && integral(OUT)), OUT = double  ->  0
        !(n <= 64 && integral(OUT)), OUT = double ->  None
        (n <= 64 && integral(OUT)), OUT = int64_t ->  n <= 64
    """
    bound = _bound(expr, integral) if expr is not None else None
    return None if isinstance(bound, Int) and bound.value != 0 else bound


def _bound(expr: Expr, integral: Mapping[str, bool]) -> Expr:
    match expr:
        case Integral(param):
            return Int(int(integral[param]))
        case Unary(op, operand):
            inner = _bound(operand, integral)
            return Int(int(not inner.value)) if op == "!" and isinstance(inner, Int) else Unary(op, inner)
        case Cond(test, then, otherwise):
            return Cond(_bound(test, integral), _bound(then, integral), _bound(otherwise, integral))
        case Binary(op, left, right):
            a, b = _bound(left, integral), _bound(right, integral)
            for known, other in ((a, b), (b, a)):
                if op in ("&&", "||") and isinstance(known, Int):
                    if (known.value == 0) == (op == "&&"):  # 0 && x, x && 0, 1 || x, x || 1
                        return Int(int(op == "||"))
                    return other if _is_truth(other) else Binary("!=", other, Int(0))
            return Binary(op, a, b)
    return expr


def _is_truth(expr: Expr) -> bool:
    """Is the value of `expr` 0 or 1, as C's `&&` would make it?"""
    return isinstance(expr, Unary) and expr.op == "!" or isinstance(expr, Binary) and expr.op in TRUTHS


def _c_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


_ARITHMETIC = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _c_div,
    "%": lambda a, b: a - b * _c_div(a, b),
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def evaluate(expr: Expr, scalars: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> int:
    """The value of `expr` with C semantics; `arrays` is needed only for `Memory` reads."""
    match expr:
        case Int(value):
            return value
        case Arg(name):
            return int(scalars[name])
        case Memory(name):
            return int(arrays[name][0])
        case Integral(param):
            raise ValueError(f"integral({param}) is known only per specialization: bind_types first")
        case Unary("neg", operand):
            return -evaluate(operand, scalars, arrays)
        case Unary("!", operand):
            return int(not evaluate(operand, scalars, arrays))
        case Cond(test, then, otherwise):
            return evaluate(then if evaluate(test, scalars, arrays) else otherwise, scalars, arrays)
        case Binary("&&", left, right):
            return int(bool(evaluate(left, scalars, arrays)) and bool(evaluate(right, scalars, arrays)))
        case Binary("||", left, right):
            return int(bool(evaluate(left, scalars, arrays)) or bool(evaluate(right, scalars, arrays)))
        case Binary(op, left, right):
            return int(_ARITHMETIC[op](evaluate(left, scalars, arrays), evaluate(right, scalars, arrays)))
    raise TypeError(f"not a plan expression: {expr!r}")


def to_text(expr: Expr | None) -> str:
    """C-like text for reports: Binary('-', Arg('length'), Int(0)) -> 'length'."""
    match expr:
        case None:
            return "1"
        case Int(value):
            return str(value)
        case Arg(name):
            return name
        case Memory(name):
            return f"{name}[0]"
        case Integral(param):
            return f"integral({param})"
        case Unary(op, operand):
            inner = to_text(operand)
            return f"{'-' if op == 'neg' else '!'}" + (f"({inner})" if isinstance(operand, Binary) else inner)
        case Cond(test, then, otherwise):
            return f"({to_text(test)} ? {to_text(then)} : {to_text(otherwise)})"
        case Binary(op, left, right):
            a, b = to_text(left), to_text(right)
            if op in "+-" and b == "0":
                return a
            return f"({a} {op} {b})" if op in "+-" else f"{a} {op} {b}"
    raise TypeError(f"not a plan expression: {expr!r}")


def to_json(expr: Expr | None) -> list | None:
    """The JSON form of the grammar above."""
    match expr:
        case None:
            return None
        case Int(value):
            return ["int", value]
        case Arg(name):
            return ["arg", name]
        case Memory(name):
            return ["memory", name]
        case Integral(param):
            return ["integral", param]
        case Unary(op, operand):
            return [op, to_json(operand)]
        case Binary(op, left, right):
            return [op, to_json(left), to_json(right)]
        case Cond(test, then, otherwise):
            return ["?:", to_json(test), to_json(then), to_json(otherwise)]
    raise TypeError(f"not a plan expression: {expr!r}")


def from_json(data: list | None) -> Expr | None:
    """Read the JSON form; a malformed tree raises ValueError naming the node."""
    if data is None:
        return None
    if not isinstance(data, list) or not data:
        raise ValueError(f"malformed plan expression: {data!r}")
    head, *rest = data
    if head == "int" and len(rest) == 1 and isinstance(rest[0], int):
        return Int(rest[0])
    if head in ("arg", "memory", "integral") and len(rest) == 1 and isinstance(rest[0], str):
        return {"arg": Arg, "memory": Memory, "integral": Integral}[head](rest[0])
    if head in UNARY and len(rest) == 1:
        return Unary(head, from_json(rest[0]))
    if head in BINARY and len(rest) == 2:
        return Binary(head, from_json(rest[0]), from_json(rest[1]))
    if head == "?:" and len(rest) == 3:
        return Cond(*(from_json(part) for part in rest))
    raise ValueError(f"malformed plan expression: {data!r}")
