"""What an unstable C sort guarantees: `std::sort` may leave equal keys in any order, so where a
plan's sort step runs with `stable` false, parity compares each output after putting every run
of equal keys (within one range) in a canonical order. Runs are found from the output itself, so
an output that is not sorted, or holds other elements, still differs."""

from __future__ import annotations

from typing import Any

import numpy as np

from akcuda.plan.expr import evaluate
from akcuda.plan.model import Plan, Sort, SortWrites
from akcuda.runtime import sorting


def unstable_sort(plan: Plan, symbol: str, scalars: dict[str, Any]) -> Sort | None:
    """The plan's sort step if it runs unstable for these scalars."""
    for step in plan.entry_of(symbol).steps:
        if isinstance(step.form, Sort) and not evaluate(step.form.stable, scalars):
            return step.form
    return None


def _string_keys(sort: Sort, arrays: dict, n: int, elements: np.ndarray) -> list[tuple[bytes, int]]:
    """Each element's string as the C compares it: the bytes it reads, and its length."""
    data, starts, lengths, upto = sorting._string_extents(np, sort, arrays, n)
    return [(data[starts[e] : starts[e] + upto[e]].tobytes(), int(lengths[e])) for e in elements]


def settle(sort: Sort, arrays: dict[str, np.ndarray], scalars: dict[str, Any], out: np.ndarray) -> np.ndarray:
    """`out` (a sort step's output) with each run of equal keys in ascending order of its
    elements (bit patterns for values, indices for a permutation)."""
    n = max(evaluate(sort.count, scalars), 0)
    if sort.writes == SortWrites.STRINGS or n == 0:
        return out  # equal std::strings are equal bytes: nothing to settle
    ranges = sorting._ranges(np, sort, arrays, scalars, n)
    disjoint = bool(ranges.disjoint)  # overlapping ranges, sorted one by one: nothing to settle
    rid = np.where(ranges.inside & disjoint, ranges.group, -1)
    local = sort.writes == SortWrites.PERMUTATION and evaluate(sort.local, scalars) and disjoint
    start = np.where(ranges.inside, ranges.group, 0) if local else np.zeros(n, dtype=np.int64)
    head = out[:n].copy()
    if sort.writes == SortWrites.VALUES:
        same = sorting.number_key(np, head, True, sort.nan_first)
        bits = head.view(f"u{head.itemsize}")
        same_next = same[1:] == same[:-1]
    else:
        elements = np.clip(head + start, 0, n - 1)
        if sort.string_starts is None:
            same = sorting.number_key(np, arrays[sort.keys][:n][elements], True, sort.nan_first)
            same_next = same[1:] == same[:-1]
        else:
            keys = _string_keys(sort, arrays, n, elements)
            same_next = np.array([a == b for a, b in zip(keys[1:], keys[:-1])], dtype=bool)
        bits = head
    new = np.ones(n, dtype=bool)
    new[1:] = ~same_next | (rid[1:] != rid[:-1]) | (rid[1:] < 0)
    run = np.cumsum(new)
    settled = out.copy()
    settled[:n] = head[np.lexsort((bits, run))]
    return settled
