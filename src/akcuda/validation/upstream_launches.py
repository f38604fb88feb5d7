"""How many launches Awkward's own GPU path makes per kernel, read as data from its sources.

Awkward's `_connect/cuda/_kernel_signatures.py` (in the pinned awkward sdist, under build/) maps
each kernel key to a Python wrapper; the wrapper launches hand-written `.cu` kernels through
`get_function(...)(grid, block, args)` and calls CuPy between them (`cupy.zeros`, `cupy.cumsum`,
...). The file is read with `ast`, never imported or executed. A wrapper's count is every launch
site in its body (each branch taken), each CuPy call counted as one launch; a key mapped to
None is served by CCCL's `cuda.compute` (or is a sub-kernel), which is not counted here.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from akcuda.toolchain import upstream

SIGNATURES = Path("src/awkward/_connect/cuda/_kernel_signatures.py")
CUPY_WORK = {"zeros", "ones", "empty", "full", "arange", "cumsum", "searchsorted", "array", "asarray", "sum"}


def _launches(function: ast.FunctionDef) -> int:
    """Launch sites in a wrapper: `X.get_function(...)(...)` and calls of `cupy.<work>`."""
    count = 0
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Call) and isinstance(func.func, ast.Attribute) and func.func.attr == "get_function":
            count += 1
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "cupy"
            and func.attr in CUPY_WORK
        ):
            count += 1
    return count


def _key(node: ast.Subscript) -> tuple[str, ...] | None:
    """out['name', int64, int32] -> ('name', 'int64', 'int32')."""
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    key = []
    for part in parts:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            key.append(part.value)
        elif isinstance(part, ast.Name):
            key.append(part.id)
        else:
            return None
    return tuple(key)


def parse(text: str) -> dict[tuple[str, ...], int | None]:
    """Kernel key (name, dtype names...) -> launches of its wrapper, None for cuda.compute."""
    out: dict[tuple[str, ...], int | None] = {}
    wrapper = None
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name == "f":
            wrapper = _launches(node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            key = _key(node.targets[0])
            if key is None:
                continue
            if isinstance(node.value, ast.Name) and node.value.id == "f":
                out[key] = wrapper
            else:
                out.setdefault(key, None)
    return out


@functools.cache
def by_symbol() -> dict[str, int | None]:
    """Exported awkward_cpp symbol -> launches on Awkward's own GPU path (None: not countable)."""
    import awkward_cpp.cpu_kernels
    import numpy as np

    path = upstream.awkward_dir() / SIGNATURES
    out: dict[str, int | None] = {}
    for key, launches in parse(path.read_text()).items():
        index = (key[0], *(getattr(np, name, None) for name in key[1:]))
        func = awkward_cpp.cpu_kernels.kernel.get(index)
        if func is not None:
            out[func.__name__] = launches
    return out
