"""The library sort step against an independent reading of the C comparators (Python's stable
`sorted` with a comparison function written from the C source)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from akcuda.plan import expr as E
from akcuda.plan.model import RowRef, Sort, SortRanges, SortTies, SortWrites
from akcuda.runtime import sorting


def _c_less(ascending: bool):
    """sort_order_ascending / _descending of awkward_sort.cpp: NaN before everything."""

    def less(a, b):
        if isinstance(a, float) and (math.isnan(a) or math.isnan(b)):
            return not math.isnan(b) and math.isnan(a)
        return a < b if ascending else a > b

    return functools.cmp_to_key(lambda a, b: -1 if less(a, b) else 1 if less(b, a) else 0)


def _sort(**fields) -> Sort:
    base = dict(
        count=E.Arg("length"),
        keys="values",
        ranges=SortRanges.OFFSETS,
        out="out",
        writes=SortWrites.PERMUTATION,
        ascending=E.Arg("ascending"),
        stable=E.Int(1),
        bounds="offsets",
        range_count=E.Binary("-", E.Arg("offsetslength"), E.Int(1)),
        nan_first=True,
    )
    return Sort(**{**base, **fields})


VALUES = {
    "float64": [2.0, float("nan"), -0.0, 0.0, -np.inf, 1.5, float("nan"), -0.0, np.inf, 2.0, -7.25, 0.0],
    "int64": [5, -(2**63), 2**63 - 1, -1, 0, 5, -1, 3, 2**62, -(2**62), 0, 7],
    "uint64": [2**64 - 1, 0, 5, 2**63, 1, 5, 0, 2**63 - 1, 9, 2**64 - 1, 3, 4],
    "bool": [True, False, True, True, False, False, True, False, True, False, True, True],
}


@pytest.mark.parametrize("dtype", sorted(VALUES))
@pytest.mark.parametrize("ascending", [True, False])
def test_segmented_argsort_is_the_c_stable_sort_range_by_range(dtype, ascending):
    values = np.array(VALUES[dtype], dtype=dtype)
    offsets = np.array([0, 5, 5, 6, 12], dtype=np.int64)
    out = np.full(12, -99, dtype=np.int64)
    scalars = {"length": 12, "offsetslength": 5, "ascending": ascending}
    sorting.run(np, _sort(local=E.Int(1)), {"values": values, "offsets": offsets, "out": out}, scalars)
    expected = []
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        items = [(values[i].item(), i) for i in range(lo, hi)]
        key = _c_less(ascending)
        expected += [i - lo for _, i in sorted(items, key=lambda p: key(p[0]))]
    assert out.tolist() == expected


def test_elements_outside_every_range_keep_their_index():
    values = np.array([3, 2, 1, 9, 8], dtype=np.int32)
    out = np.zeros(5, dtype=np.int64)
    sorting.run(
        np,
        _sort(),
        {"values": values, "offsets": np.array([0, 3]), "out": out},
        {"length": 5, "offsetslength": 2, "ascending": 1},
    )
    assert out.tolist() == [2, 1, 0, 3, 4]


def _strncmp_less(a: bytes, b: bytes) -> bool:
    """The argsort_strings comparator: strncmp over the shorter length, then the length."""
    n = min(len(a), len(b))
    for x, y in zip(a[:n], b[:n]):
        if x != y:
            return x < y
        if x == 0:
            return len(a) < len(b)
    return len(a) < len(b)


@pytest.mark.parametrize("ascending", [True, False])
def test_strings_by_strncmp_in_runs_of_parents(ascending):
    words = [b"ab", b"a\x00b", b"a\x00c", b"a", b"", b"\xff", b"ab", b"a\x00", b"b", b"\x80a", b"ab", b"a"]
    data = np.frombuffer(b"".join(words), dtype=np.uint8)
    stops = np.cumsum([len(w) for w in words])
    starts = stops - [len(w) for w in words]
    parents = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    out = np.zeros(12, dtype=np.int64)
    sort = _sort(
        keys="data",
        ranges=SortRanges.RUNS,
        bounds="parents",
        string_starts=RowRef("starts"),
        string_stops=RowRef("stops"),
        stops_at_nul=True,
        ties=SortTies.REVERSED,
        nan_first=False,
    )
    arrays = {"data": data, "starts": starts, "stops": stops, "parents": parents, "out": out}
    sorting.run(np, sort, arrays, {"length": 12, "ascending": ascending})
    key = functools.cmp_to_key(
        lambda i, j: -1 if _strncmp_less(words[i], words[j]) else int(_strncmp_less(words[j], words[i]))
    )
    expected = []
    for lo, hi in ((0, 7), (7, 12)):
        order = sorted(range(lo, hi), key=key)  # stable ascending
        expected += order if ascending else order[::-1]  # !(a < b): std::stable_sort reverses ties
    assert out.tolist() == expected


def test_the_sort_step_builds_no_index_on_the_host():
    """On the counting target's array module (which counts every crossing itself), a segmented
    sort copies nothing to the device and reads back one verdict (do ranges overlap?)."""
    from akcuda.runtime import counting

    arrays = {"values": np.array(VALUES["float64"]), "offsets": np.array([0, 5, 5, 6, 12]), "out": np.zeros(12, int)}
    scalars = {"length": 12, "offsetslength": 5, "ascending": 1}
    on_device = {name: counting.adopt(array.copy()) for name, array in arrays.items()}
    with counting.record() as figures:
        sorting.run(counting.CountingArrays(), _sort(local=E.Int(1)), on_device, scalars)
    assert figures.h2d_copies == 0 and figures.syncs == 1
    sorting.run(np, _sort(local=E.Int(1)), arrays, scalars)  # the same sort on plain NumPy
    assert on_device["out"].get().tolist() == arrays["out"].tolist()


@pytest.mark.parametrize("offsets", [[0, 8, 3, 12], [0, 12, 5, 9], [4, 12, 2, 6], [6, 12, 0, 6]])
def test_ranges_that_overlap_or_come_out_of_order_sort_as_the_c_does(offsets):
    """Overlapping ranges are sorted one after another in C order; disjoint ones in any order are
    each sorted on their own."""
    values = np.array(VALUES["int64"])
    out = np.zeros(12, dtype=np.int64)
    sort = _sort(local=E.Int(0))
    arrays = {"values": values, "offsets": np.array(offsets), "out": out}
    sorting.run(np, sort, arrays, {"length": 12, "offsetslength": len(offsets), "ascending": 1})
    perm = list(range(12))
    for lo, hi in zip(offsets[:-1], offsets[1:]):  # the C: std::stable_sort of each range in turn
        lo, hi = max(min(lo, 12), 0), min(hi, 12)
        perm[lo:hi] = sorted(perm[lo:hi], key=lambda i: values[i])
    assert out.tolist() == perm


def test_positions_no_range_holds_read_no_key():
    """offsetslength 0 with length 1 (an upstream vector): no range, so the C reads no key at all,
    not even from an empty array."""
    out = np.full(1, 7, dtype=np.int64)
    arrays = {"values": np.zeros(0, dtype=np.int64), "offsets": np.zeros(0, dtype=np.int64), "out": out}
    for writes in (SortWrites.VALUES, SortWrites.PERMUTATION):
        sorting.run(np, _sort(writes=writes), arrays, {"length": 1, "offsetslength": 0, "ascending": 1})
    assert out.tolist() == [0]  # the permutation: std::iota, no range sorted
