"""Generated cases: each kernel spec's `generate` recipe, evaluated at several sizes.

A recipe is data in the spec (the kernel's preconditions, written as expressions):

    generate:
      sizes: [0, 1, 255, 256, 257, 100000]   # optional; these are the defaults
      let:                                   # names evaluated in order; `n` is the size
        counts: randint(0, 5, n)
        offsets: concat([0], cumsum(counts))
      args:                                  # one expression per argument
        tooffsets: out(n + 1)                # an output buffer of that length
        fromstarts: offsets[:-1]
        length: n
      variants:                              # optional: more valid cases, each at every size
        - name: descending                   # (its own `sizes`, `let` and `args` override the recipe's)
          args: {ascending: false}
    invalid:                                 # inputs that must make the C kernel fail
      - name: stops before starts
        sizes: [1, 300]
        let: {...}                           # added to (and overriding) the recipe's `let`
        args: {...}                          # overriding the recipe's `args`

Expressions are a small, checked subset of Python (names, numbers, arithmetic, comparisons,
subscripts, lists and calls of the functions in FUNCTIONS); nothing else is evaluated.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Any

import numpy as np

from akcuda.validation.cases import Case

DEFAULT_SIZES = (0, 1, 255, 256, 257, 100_000)


class RecipeError(ValueError):
    """A recipe that cannot be evaluated: names kernel, field and expression."""


class Out:
    """An output buffer request: `out(length)`."""

    def __init__(self, length: int):
        self.length = int(length)


def _functions(rng: np.random.Generator) -> dict[str, Any]:
    def randint(lo, hi, size=None):
        """Uniform integers in [lo, hi); empty ranges give lo."""
        hi = np.maximum(np.asarray(hi), np.asarray(lo) + 1)
        return rng.integers(lo, hi, size=size, dtype=np.int64)

    def parents(bins, size):
        """Sorted bin numbers in [0, bins) (each bin may be empty)."""
        return np.sort(rng.integers(0, max(int(bins), 1), size=int(size), dtype=np.int64))

    return {
        "len": len,
        "sum": lambda a: int(np.sum(a)),
        "max": lambda *a: int(np.max(a[0] if len(a) == 1 else a, initial=0)),
        "min": lambda *a: int(np.min(a[0] if len(a) == 1 else a)),
        "abs": abs,
        "int": int,
        "arange": lambda *a: np.arange(*a, dtype=np.int64),
        "cumsum": lambda a: np.cumsum(a, dtype=np.int64),
        "concat": lambda parts: np.concatenate(
            [np.atleast_1d(np.asarray(p, dtype=np.int64)) if not isinstance(p, np.ndarray) else p for p in parts]
        ),
        "zeros": lambda k: np.zeros(int(k), dtype=np.int64),
        "ones": lambda k: np.ones(int(k), dtype=np.int64),
        "full": lambda k, v: np.full(int(k), v),
        "repeat": np.repeat,
        "where": np.where,
        "diff": np.diff,
        "minimum": np.minimum,
        "maximum": np.maximum,
        "clip": np.clip,
        "sort": np.sort,
        "randint": randint,
        "parents": parents,
        "bools": lambda k, p=0.5: rng.random(int(k)) < p,
        "floats": lambda k, lo=-10.0, hi=10.0: rng.uniform(lo, hi, int(k)),
        "permutation": lambda k: rng.permutation(int(k)).astype(np.int64),
        "choice": lambda values, k: rng.choice(np.asarray(values), int(k)),
        "nan": float("nan"),
        "inf": float("inf"),
        "out": Out,
        "outs": lambda count, length: [Out(length) for _ in range(int(count))],
    }


_ALLOWED = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.BoolOp,
    ast.IfExp,
    ast.Call,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.keyword,
)


def safe_eval(expr: Any, env: dict[str, Any], where: str) -> Any:
    """Evaluate one recipe expression; anything outside the subset raises RecipeError."""
    if not isinstance(expr, str):
        return expr
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise RecipeError(f"{where}: cannot parse {expr!r}: {exc.msg}") from exc
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise RecipeError(f"{where}: {type(node).__name__} is not allowed in {expr!r}")
        if isinstance(node, ast.Name) and node.id not in env:
            raise RecipeError(f"{where}: unknown name {node.id!r} in {expr!r}")
    try:
        return eval(compile(tree, where, "eval"), {"__builtins__": {}}, env)  # checked subset only
    except Exception as exc:
        raise RecipeError(f"{where}: {expr!r} failed: {type(exc).__name__}: {exc}") from exc


def _seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def build_case(
    spec: dict, special: dict, recipe: dict, size: int, label: str, source: str, where: str, lists: bool = True
) -> Case:
    """Evaluate one recipe at one size for one specialization (arrays as lists, as JSON keeps
    them; with `lists` False as NumPy arrays, for the bench's large sizes)."""
    rng = np.random.default_rng(_seed(special["symbol"], label, size))
    env: dict[str, Any] = dict(_functions(rng))
    env["n"] = size
    env["unsigned"] = {a["name"]: a["ctype"].replace("const ", "").startswith("uint") for a in special["args"]}
    env["floating"] = {
        a["name"]: a["ctype"].replace("const ", "").startswith(("float", "double")) for a in special["args"]
    }
    for name, expr in (recipe.get("let") or {}).items():
        env[name] = safe_eval(expr, env, f"{where}.let.{name}")
    args = {}
    for arg in special["args"]:
        exprs = recipe.get("args") or {}
        if arg["name"] not in exprs:
            raise RecipeError(f"{where}.args: no expression for argument {arg['name']!r}")
        value = safe_eval(exprs[arg["name"]], env, f"{where}.args.{arg['name']}")
        env[arg["name"]] = value
        if isinstance(value, Out):
            value = {"out": value.length}
        elif isinstance(value, list) and value and isinstance(value[0], Out):
            value = [{"out": v.length} for v in value]
        elif isinstance(value, np.ndarray) and lists:
            value = value.tolist()
        elif isinstance(value, (np.integer, np.bool_, np.floating)):
            value = value.item()
        args[arg["name"]] = value
    return Case(special["symbol"], f"{source}:{label}:n={size}", source, args, expect_failure=source == "invalid")


def _merged(recipe: dict, variant: dict) -> dict:
    """A variant's `let` and `args` over the recipe's."""
    return {
        "let": {**(recipe.get("let") or {}), **(variant.get("let") or {})},
        "args": {**(recipe.get("args") or {}), **(variant.get("args") or {})},
    }


def generated_cases(spec: dict, special: dict, sizes: tuple[int, ...] | None = None) -> list[Case]:
    """All generated (valid) and invalid cases of one specialization, per its kernel's recipe."""
    recipe = spec.get("generate")
    if not recipe:
        return []
    where = f"kernel-specs/{spec['name']}.yml: generate"
    cases = [
        build_case(spec, special, recipe, size, "generate", "generated", where)
        for size in sizes or recipe.get("sizes") or DEFAULT_SIZES
    ]
    for k, variant in enumerate(recipe.get("variants") or []):
        label = variant.get("name", f"variant{k}")
        for size in sizes or variant.get("sizes") or recipe.get("sizes") or DEFAULT_SIZES:
            cases.append(
                build_case(spec, special, _merged(recipe, variant), size, label, "generated", f"{where}.variants[{k}]")
            )
    for k, variant in enumerate(spec.get("invalid") or []):
        merged = _merged(recipe, variant)
        label = variant.get("name", f"invalid{k}")
        for size in variant.get("sizes") or (1, 300):
            cases.append(
                build_case(
                    spec, special, merged, size, label, "invalid", f"kernel-specs/{spec['name']}.yml: invalid[{k}]"
                )
            )
    return cases
