"""The CPU reference: the real awkward_cpp shared library, called through ctypes."""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from akcuda.plan.ctype import base_type
from akcuda.plan.errors import KernelFailure


@functools.cache
def cpu_functions() -> dict[str, object]:
    """Exported symbol -> ctypes function with awkward_cpp's own argtypes and restype."""
    from awkward_cpp._kernel_signatures import by_signature
    from awkward_cpp.cpu_kernels import lib

    return {func.__name__: func for func in by_signature(lib).values()}


def call(special: dict, values: list) -> KernelFailure | None:
    """Call the CPU kernel on NumPy values; pointer-of-pointer arguments are lists of arrays."""
    func = cpu_functions()[special["symbol"]]
    args, keep = [], []
    for value, argtype, arg in zip(values, func.argtypes, special["args"]):
        stars = base_type(arg["ctype"])[1]
        if stars == 2:
            table = np.array([a.ctypes.data for a in value], dtype=np.uint64)
            keep.append(table)
            args.append(ctypes.cast(table.ctypes.data, argtype))
        elif stars == 1:
            args.append(value.ctypes.data_as(argtype))
        else:
            args.append(value)
    result = func(*args)
    if not result.str:
        return None
    return KernelFailure(result.str.decode(), int(result.id), int(result.attempt))
