"""The C types of kernel arguments and their NumPy and ctypes counterparts."""

from __future__ import annotations

import ctypes

import numpy as np

DTYPES = {
    "bool": np.bool_,
    "int8_t": np.int8,
    "uint8_t": np.uint8,
    "int16_t": np.int16,
    "uint16_t": np.uint16,
    "int32_t": np.int32,
    "uint32_t": np.uint32,
    "int64_t": np.int64,
    "uint64_t": np.uint64,
    "float": np.float32,
    "double": np.float64,
}
INTEGERS = frozenset(name for name, dtype in DTYPES.items() if np.issubdtype(dtype, np.integer))
CTYPES = {
    "bool": ctypes.c_bool,
    "int8_t": ctypes.c_int8,
    "uint8_t": ctypes.c_uint8,
    "int16_t": ctypes.c_int16,
    "uint16_t": ctypes.c_uint16,
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
}


def base_type(ctype: str) -> tuple[str, int]:
    """'const int32_t*' -> ('int32_t', 1): the element type and the pointer depth."""
    bare = ctype.replace("const ", "").strip()
    return bare.rstrip("*").strip(), bare.count("*")


def c_value(name: str, value):
    """A scalar as the C parameter of type `name` receives it: integers modulo 2^bits (1000 ->
    -24 for int8_t, -1 -> 2^64 - 1 for uint64_t), any nonzero bool true, floats rounded to the
    type (1e40 -> inf for float). ctypes converts exactly as a C call does."""
    return CTYPES[name](value).value
