"""The libm functions the kernels call, and how parity compares what they give on each target.

The host target compiles the generated CUDA with g++ and calls glibc's functions, as the C does:
exact. On a GPU the same names are CUDA's own, whose documented accuracy (CUDA C++ Programming
Guide, "Mathematical Functions": maximum ulp error over the full range) is not glibc's; `pow`
has no device form that matches glibc bit for bit (glibc's is correctly rounded in nearly every
case, a device `x**-k` by repeated multiplication rounds k times). So on the cuda target a
kernel that calls one is compared within that bound: each floating-point output within
`ulps * terms` units in the last place of the CPU's value, `terms` the case's floating-point
input elements (each may feed one call into a sum). Heavy cancellation in a sum could exceed it;
the report names every such kernel, its functions and the bound used.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from akcuda import paths

# Maximum ulp error of CUDA's function over the full range, double and single precision.
CUDA_ULPS = {
    "pow": {"double": 2, "float": 4},
    "exp": {"double": 1, "float": 2},
    "expm1": {"double": 1, "float": 1},
    "log": {"double": 1, "float": 1},
    "log1p": {"double": 1, "float": 1},
    "sqrt": {"double": 0, "float": 0},
    "cbrt": {"double": 1, "float": 1},
    "sin": {"double": 2, "float": 2},
    "cos": {"double": 2, "float": 2},
    "tanh": {"double": 2, "float": 2},
    "atan2": {"double": 2, "float": 3},
    "hypot": {"double": 2, "float": 3},
    "fmod": {"double": 0, "float": 0},
}
_CALL = re.compile(r"(?<![\w.])(" + "|".join(CUDA_ULPS) + r")\s*\(")


def calls(source: str) -> list[str]:
    """The libm functions a generated .cu calls: `return pow(base, (OUT) n);` -> ["pow"]."""
    return sorted(set(_CALL.findall(source)))


@functools.cache
def of_kernel(kernel: str, generated: Path | None = None) -> tuple[str, ...]:
    """The libm functions one generated kernel family calls (empty for most)."""
    path = (generated or paths.GENERATED) / f"{kernel}.cu"
    return tuple(calls(path.read_text())) if path.exists() else ()


def ulps(functions: tuple[str, ...], dtype=np.float64) -> int:
    """The largest bound, in ulps, of CUDA's functions among these, at the precision of `dtype`."""
    precision = "float" if np.dtype(dtype) == np.float32 else "double"
    return max((CUDA_ULPS[f][precision] for f in functions), default=0)


def within(got: np.ndarray, want: np.ndarray, bound: int, terms: int) -> bool:
    """Every element of `got` within `bound * terms` ulps of `want`'s (NaN where NaN, infinities equal)."""
    both_nan = np.isnan(got) & np.isnan(want)
    same = (got == want) | both_nan
    scale = np.spacing(np.maximum(np.abs(want), np.abs(got)).astype(want.dtype))
    with np.errstate(invalid="ignore"):  # inf - inf: the isfinite mask below decides those
        close = np.abs(got.astype(np.float64) - want) <= bound * max(terms, 1) * scale
    return bool(np.all(same | (np.isfinite(got) & np.isfinite(want) & close)))


def table(kernels: list[str], generated: Path | None = None) -> list[dict]:
    """Per kernel that calls a libm function: its functions, and how each target is compared."""
    rows = []
    for kernel in kernels:
        functions = of_kernel(kernel, generated)
        if functions:
            double, single = ulps(functions), ulps(functions, np.float32)
            rows.append(
                {
                    "kernel": kernel,
                    "functions": ", ".join(f"{f} ({CUDA_ULPS[f]['double']} ulp double)" for f in functions),
                    "host": "exact (glibc, as the C)",
                    "cuda": f"within {double} ulp (float: {single}) per term of the CPU's value" if double else "exact",
                }
            )
    return rows
