"""Scalars reach a kernel as a C call converts them."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from akcuda.plan.ctype import CTYPES, DTYPES, INTEGERS, c_value
from akcuda.runtime.cuda import scalar_converter


@pytest.mark.parametrize("name", sorted(INTEGERS))
@given(value=st.integers(-(2**70), 2**70))
def test_integers_wrap_modulo_2_to_the_bits_on_every_target(name, value):
    bits = 8 * np.dtype(DTYPES[name]).itemsize
    wrapped = value % 2**bits
    if name.startswith("int") and wrapped >= 2 ** (bits - 1):
        wrapped -= 2**bits
    assert c_value(name, value) == wrapped
    # the cuda target's launch argument: the same value, in the parameter's own NumPy type
    converted = scalar_converter(name)(value)
    assert converted.dtype == DTYPES[name] and int(converted) == wrapped


def test_bools_and_floats_convert_as_the_c_parameter_does():
    assert c_value("bool", 5) is True and c_value("bool", 0) is False
    assert c_value("float", 1e40) == float("inf") and c_value("float", 0.1) == float(np.float32(0.1))
    assert scalar_converter("double")(np.float32(0.1)) == np.float64(np.float32(0.1))
    assert all(c_value(name, 1) == CTYPES[name](1).value for name in CTYPES)
    assert ctypes.c_int8(1000).value == c_value("int8_t", 1000) == -24
