"""Parity of an unstable sort: equal keys may come in any order, nothing else may differ."""

from __future__ import annotations

import numpy as np

from akcuda.plan import expr as E
from akcuda.plan.model import Sort, SortRanges, SortWrites
from akcuda.validation import ties

SORT = Sort(
    E.Arg("length"), "values", SortRanges.WHOLE, "out", SortWrites.PERMUTATION, E.Int(1), E.Int(0), nan_first=True
)
ARRAYS = {"values": np.array([2.0, 1.0, 2.0, -0.0, 0.0])}
SCALARS = {"length": 5}


def _settled(out: list[int]) -> list[int]:
    return ties.settle(SORT, ARRAYS, SCALARS, np.array(out, dtype=np.int64)).tolist()


def test_equal_keys_in_another_order_compare_equal():
    assert _settled([3, 4, 1, 0, 2]) == _settled([4, 3, 1, 2, 0])


def test_an_unsorted_or_different_permutation_still_differs():
    assert _settled([3, 4, 1, 0, 2]) != _settled([1, 3, 4, 0, 2])  # 1.0 before the zeros
    assert _settled([3, 4, 1, 0, 2]) != _settled([3, 4, 1, 0, 0])  # an element twice
