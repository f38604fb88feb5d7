"""A plan's sort step on the array library: NumPy's stable sorts on the host, CuPy's on cuda.

Every sort here is `xp.argsort(kind="stable")` (CuPy's is always stable): a segmented sort is two
of them, by key and then by range number (least significant key first), so each range comes out
sorted on its own. Keys are mapped to unsigned integers whose order is the C comparator's:
integers with the sign bit flipped, floats by their bits (negative ones inverted, -0.0 as 0.0),
descending by inverting every bit, NaN to 0 (before everything, in both directions, as the C
comparators put it). An unstable C sort (`std::sort`) leaves equal keys in some order; this
stable one gives one of the orders it may give (parity compares what the C guarantees).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from akcuda.plan.expr import evaluate
from akcuda.plan.model import Sort, SortExtent, SortRanges, SortTies, SortWrites

SIGN = np.uint64(1 << 63)
WORD = 8  # string bytes compared per pass, packed big-endian into one uint64


@dataclass
class Ranges:
    """Every position [0, n) and its range: `group` is the first position of the range holding it,
    or the position itself where no range does (a range of one, which stays where it is); so
    a stable sort by (group, key) sorts each range within its own positions. `inside` says which
    positions a range holds. `disjoint` (an array-library boolean, never read unless needed) is
    False where ranges overlap: they are then sorted one by one in C order."""

    group: Any
    inside: Any
    disjoint: Any = True


def number_key(xp, values, ascending: bool, nan_first: bool):
    """Unsigned keys in the comparator's order: [-0.0, nan, 1.0, -2.0] ascending -> keys with
    nan first, then -2.0, then -0.0 and 0.0 equal, then 1.0."""
    kind = values.dtype.kind
    if kind == "b":
        key = values.astype(np.uint8)
    elif kind == "u":
        key = values.astype(np.uint64)
    elif kind == "i":
        key = values.astype(np.int64).view(np.uint64) ^ SIGN
    else:
        floats = values.astype(np.float64) + 0.0  # -0.0 + 0.0 is 0.0: the comparator ties them
        bits = floats.view(np.uint64)
        key = xp.where(bits >= SIGN, ~bits, bits | SIGN)
    if not ascending:
        key = ~key
    if kind == "f" and nan_first:
        key = xp.where(xp.isnan(floats), np.uint64(0), key)
    return key


def _by_range(xp, order, rid):
    """A stable sort by key (`order`), then by range number: the segmented order."""
    return order[xp.argsort(rid[order], kind="stable")]


def _offsets_ranges(xp, sort: Sort, arrays, scalars, n: int) -> Ranges:
    """[bounds[r], bounds[r + 1]) clamped to n, on the device: empty ones are skipped, as the C
    does; each position finds the range that may hold it by a search over the ranges' starts."""
    m = max(evaluate(sort.range_count, scalars), 0)
    positions = xp.arange(n, dtype=np.int64)
    if m == 0:
        return Ranges(positions, xp.zeros(n, dtype=bool))
    bounds = arrays[sort.bounds][: m + 1].astype(np.int64)
    lo, hi = xp.minimum(bounds[:-1], n), xp.minimum(bounds[1:], n)
    kept = lo < hi
    starts = xp.where(kept, lo, n + 1)  # empty ranges after every kept one
    by_start = xp.argsort(starts, kind="stable")
    starts, lo, hi, kept = starts[by_start], lo[by_start], hi[by_start], kept[by_start]
    # ranges ordered by start are disjoint where each kept one starts at or after the end of the one before
    disjoint = xp.all((lo >= 0) | ~kept) & xp.all((lo[1:] >= hi[:-1]) | ~kept[1:])
    r = xp.clip(xp.searchsorted(starts, positions, side="right") - 1, 0, m - 1)
    inside = (starts[r] <= positions) & (positions < hi[r])
    return Ranges(xp.where(inside, starts[r], positions), inside, disjoint)


def _ranges(xp, sort: Sort, arrays, scalars, n: int) -> Ranges:
    if sort.ranges == SortRanges.WHOLE:
        return Ranges(xp.zeros(n, dtype=np.int64), xp.ones(n, dtype=bool))
    if sort.ranges == SortRanges.RUNS:
        parents = arrays[sort.bounds][:n]
        new = xp.ones(n, dtype=bool)
        new[1:] = parents[1:] != parents[:-1]
        run = xp.cumsum(new) - 1
        return Ranges(xp.searchsorted(run, run, side="left"), xp.ones(n, dtype=bool))  # each run's first
    return _offsets_ranges(xp, sort, arrays, scalars, n)


def _first(xp, array, n: int):
    """The first n elements of an array, padded with zeros where it is shorter: every position
    takes part in the sort, but the C reads only those its ranges hold, and the others stay
    where they are whatever they hold."""
    if len(array) >= n:
        return array[:n]
    return xp.concatenate([array, xp.zeros(n - len(array), dtype=array.dtype)])


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _string_extents(xp, sort: Sort, arrays, n: int):
    """Each string's first byte, its length (a negative one is empty) and how many of its bytes
    the comparison reads: all of them, or (strncmp) up to and including the first NUL."""
    data = arrays[sort.keys]
    starts = _first(xp, arrays[sort.string_starts.array][sort.string_starts.shift :], n).astype(np.int64)
    stops = _first(xp, arrays[sort.string_stops.array][sort.string_stops.shift :], n).astype(np.int64)
    lengths = xp.maximum(stops - starts, 0)
    if not sort.stops_at_nul:
        return data, starts, lengths, lengths
    nuls = xp.flatnonzero(data == 0)
    if not len(nuls):
        return data, starts, lengths, lengths
    first = nuls[xp.minimum(xp.searchsorted(nuls, starts), len(nuls) - 1)]
    return data, starts, lengths, xp.where((first >= starts) & (first < stops), first - starts + 1, lengths)


def _word(xp, data, starts, upto, j: int):
    """Bytes [WORD*j, WORD*(j+1)) of each string's compared part, big-endian, zero past its end."""
    word = xp.zeros(len(starts), dtype=np.uint64)
    for b in range(WORD):
        at = WORD * j + b
        byte = xp.where(at < upto, data[xp.clip(starts + at, 0, len(data) - 1)], 0)
        word = (word << np.uint64(8)) | byte.astype(np.uint64)
    return word


def _boundaries(xp, group):
    new = xp.ones(len(group), dtype=bool)
    new[1:] = group[1:] != group[:-1]
    return new


def _string_order(xp, sort: Sort, arrays, n: int, members, rid):
    """The stable ascending order of `members` by (range, string), refined a word at a time only
    where elements are still tied, then by length (an equal, shorter one first); and each
    position's rank (equal strings of a range share it)."""
    data, starts, lengths, upto = _string_extents(xp, sort, arrays, n)
    starts, lengths, upto = starts[members], lengths[members], upto[members]
    order = xp.argsort(rid, kind="stable")
    group = rid[order]
    words = (int(upto.max()) + WORD - 1) // WORD if len(members) else 0
    for j in range(words):
        new = _boundaries(xp, group)
        tied = ~new
        tied[:-1] |= ~new[1:]
        if not bool(tied.any()):
            break
        at = xp.flatnonzero(tied)
        word = _word(xp, data, starts[order[at]], upto[order[at]], j)
        within = _by_range(xp, xp.argsort(word, kind="stable"), group[at])
        order[at] = order[at][within]
        word = word[within]
        change = xp.zeros(len(order), dtype=bool)
        change[at[1:]] = word[1:] != word[:-1]
        group = xp.cumsum(new | change) - 1
    final = _by_range(xp, xp.argsort(lengths[order], kind="stable"), group)
    order, size = order[final], lengths[order[final]]
    change = xp.zeros(len(order), dtype=bool)
    change[1:] = size[1:] != size[:-1]
    return order, xp.cumsum(_boundaries(xp, group[final]) | change) - 1


def _order(xp, sort: Sort, arrays, scalars, n: int, members, group, ascending: bool):
    """Positions within `members` in sorted order, each group (a range) on its own."""
    if sort.string_starts is None:
        key = number_key(xp, _first(xp, arrays[sort.keys], n)[members], ascending, sort.nan_first)
        return _by_range(xp, xp.argsort(key, kind="stable"), group)
    order, rank = _string_order(xp, sort, arrays, n, members, group)
    if ascending:
        return order
    if sort.ties == SortTies.REVERSED:  # !(a < b): the ascending order, reversed in each range
        return _reversed_in_ranges(xp, order, group[order])
    of_member = xp.empty_like(rank)
    of_member[order] = rank
    return _by_range(xp, xp.argsort(-of_member, kind="stable"), group)


def _reversed_in_ranges(xp, order, rid):
    """Each range's stretch of `order` reversed (ranges are contiguous and in order)."""
    m = len(order)
    if not m:
        return order
    new = xp.ones(m, dtype=bool)
    new[1:] = rid[1:] != rid[:-1]
    first = xp.flatnonzero(new)
    last = xp.concatenate([first[1:], xp.full(1, m, dtype=first.dtype)]) - 1  # a fill on the device: no copy
    which = xp.cumsum(new) - 1
    position = xp.arange(m)
    return order[first[which] + last[which] - position]


def permutation(xp, sort: Sort, arrays: Mapping[str, Any], scalars: Mapping[str, Any], n: int):
    """std::iota then each range sorted: the sorted element index at every position, and the
    ranges (None where they overlap and were sorted one by one in C order)."""
    ascending = bool(evaluate(sort.ascending, scalars))
    ranges = _ranges(xp, sort, arrays, scalars, n)
    positions = xp.arange(n, dtype=np.int64)
    if ranges.disjoint is True or bool(ranges.disjoint):  # one read-back, for offsets only
        return _order(xp, sort, arrays, scalars, n, positions, ranges.group, ascending), ranges
    perm = positions
    m = max(evaluate(sort.range_count, scalars), 0)
    bounds = np.minimum(_host(arrays[sort.bounds][: m + 1]).astype(np.int64), n)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # overlapping: in turn, in C order
        if lo >= hi:
            continue
        part = _order(xp, sort, arrays, scalars, n, perm[lo:hi].copy(), xp.zeros(hi - lo, dtype=np.int64), ascending)
        perm[lo:hi] = perm[lo:hi][part] - (lo if evaluate(sort.local, scalars) else 0)
    return perm, None


def run(xp, sort: Sort, arrays: Mapping[str, Any], scalars: Mapping[str, Any]) -> None:
    """Run one sort step: arrays by argument name (on the target), scalars by name."""
    n = max(evaluate(sort.count, scalars), 0)
    perm, ranges = permutation(xp, sort, arrays, scalars, n)
    out = arrays[sort.out]
    if sort.writes == SortWrites.PERMUTATION:
        if ranges is not None and evaluate(sort.local, scalars):
            perm = perm - xp.where(ranges.inside, ranges.group, 0)
        out[:n] = perm
    elif sort.writes == SortWrites.VALUES:
        if sort.extent != SortExtent.LAST_BOUND:
            out[:n] = _first(xp, arrays[sort.keys], n)[perm]
            return
        m = evaluate(sort.range_count, scalars)  # up to the last bound, read on the device
        if m >= 0:
            before = out[:n].copy()
            out[:n] = _first(xp, arrays[sort.keys], n)[perm]  # converted as the C's assignment converts
            out[:n] = xp.where(xp.arange(n) < xp.minimum(arrays[sort.bounds][m : m + 1], n), out[:n], before)
    else:
        _write_strings(xp, sort, arrays, n, perm)


def _write_strings(xp, sort: Sort, arrays, n: int, perm) -> None:
    """The sorted strings' bytes, one after another, and their offsets (0 first)."""
    data, starts, lengths, _ = _string_extents(xp, sort, arrays, n)
    sizes = lengths[perm]
    offsets = arrays[sort.out_offsets]
    offsets[0] = 0
    offsets[1 : n + 1] = xp.cumsum(sizes)
    total = int(sizes.sum()) if n else 0
    if total:
        # each output byte's string (CuPy's repeat takes no array of counts: a search instead)
        owner = xp.searchsorted(offsets[1 : n + 1], xp.arange(total), side="right")
        within = xp.arange(total) - offsets[owner]
        arrays[sort.out][:total] = data[starts[perm][owner] + within]
