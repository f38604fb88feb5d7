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
    """The elements a sort step sorts: `members` (ascending), each one's range number `rid` and
    the start (element index) of its range; `ordered` is False where C-order ranges overlap."""

    members: Any
    rid: Any
    start: Any
    bounds: list[tuple[int, int]]
    ordered: bool = True


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
    """[bounds[r], bounds[r + 1]) clamped to n; empty ones are skipped, as the C does."""
    m = max(evaluate(sort.range_count, scalars), 0)
    bounds = np.asarray(_host(arrays[sort.bounds][: m + 1])).astype(np.int64)
    lo, hi = np.minimum(bounds[:-1], n), np.minimum(bounds[1:], n)
    keep = lo < hi
    lo, hi = lo[keep], hi[keep]
    ordered = bool(np.all(lo >= 0)) and bool(np.all(lo[1:] >= hi[:-1]))
    edges = np.zeros(n + 1, dtype=np.int64)
    if ordered:
        np.add.at(edges, lo, 1)
        np.add.at(edges, hi, -1)
    inside = np.cumsum(edges[:n]) > 0
    members = np.flatnonzero(inside)
    rid = np.searchsorted(lo, members, side="right") - 1
    start = lo[rid] if len(lo) else np.zeros(0, dtype=np.int64)
    return Ranges(xp.asarray(members), xp.asarray(rid), xp.asarray(start), list(zip(lo, hi)), ordered)


def _ranges(xp, sort: Sort, arrays, scalars, n: int) -> Ranges:
    members = xp.arange(n, dtype=np.int64)
    if sort.ranges == SortRanges.WHOLE:
        zeros = xp.zeros(n, dtype=np.int64)
        return Ranges(members, zeros, zeros, [(0, n)] if n else [])
    if sort.ranges == SortRanges.RUNS:
        parents = arrays[sort.bounds][:n]
        new = xp.ones(n, dtype=bool)
        new[1:] = parents[1:] != parents[:-1]
        rid = xp.cumsum(new) - 1
        starts = xp.flatnonzero(new)
        return Ranges(members, rid, starts[rid], [])
    return _offsets_ranges(xp, sort, arrays, scalars, n)


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _string_extents(xp, sort: Sort, arrays, n: int):
    """Each string's first byte, its length (a negative one is empty) and how many of its bytes
    the comparison reads: all of them, or (strncmp) up to and including the first NUL."""
    data = arrays[sort.keys]
    starts = arrays[sort.string_starts.array][sort.string_starts.shift :][:n].astype(np.int64)
    stops = arrays[sort.string_stops.array][sort.string_stops.shift :][:n].astype(np.int64)
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


def _order(xp, sort: Sort, arrays, scalars, n: int, ranges: Ranges, ascending: bool):
    """Positions within `ranges.members` in sorted order, range by range."""
    if sort.string_starts is None:
        key = number_key(xp, arrays[sort.keys][:n][ranges.members], ascending, sort.nan_first)
        return _by_range(xp, xp.argsort(key, kind="stable"), ranges.rid)
    order, rank = _string_order(xp, sort, arrays, n, ranges.members, ranges.rid)
    if ascending:
        return order
    if sort.ties == SortTies.REVERSED:  # !(a < b): the ascending order, reversed in each range
        return _reversed_in_ranges(xp, order, ranges.rid[order])
    of_member = xp.empty_like(rank)
    of_member[order] = rank
    return _by_range(xp, xp.argsort(-of_member, kind="stable"), ranges.rid)


def _reversed_in_ranges(xp, order, rid):
    """Each range's stretch of `order` reversed (ranges are contiguous and in order)."""
    m = len(order)
    if not m:
        return order
    new = xp.ones(m, dtype=bool)
    new[1:] = rid[1:] != rid[:-1]
    first = xp.flatnonzero(new)
    last = xp.concatenate([first[1:], xp.asarray([m])]) - 1
    which = xp.cumsum(new) - 1
    position = xp.arange(m)
    return order[first[which] + last[which] - position]


def permutation(xp, sort: Sort, arrays: Mapping[str, Any], scalars: Mapping[str, Any], n: int):
    """std::iota then each range sorted: the sorted element index at every position."""
    ascending = bool(evaluate(sort.ascending, scalars))
    ranges = _ranges(xp, sort, arrays, scalars, n)
    perm = xp.arange(n, dtype=np.int64)
    if ranges.ordered:
        members = ranges.members
        perm[members] = members[_order(xp, sort, arrays, scalars, n, ranges, ascending)]
        return perm, ranges
    for lo, hi in ranges.bounds:  # ranges that overlap: sorted in turn, in C order
        lo, hi = int(lo), int(hi)
        inner = Ranges(perm[lo:hi].copy(), xp.zeros(hi - lo, dtype=np.int64), xp.zeros(hi - lo, dtype=np.int64), [])
        part = _order(xp, sort, arrays, scalars, n, inner, ascending)
        perm[lo:hi] = inner.members[part] - (lo if evaluate(sort.local, scalars) else 0)
    return perm, None


def run(xp, sort: Sort, arrays: Mapping[str, Any], scalars: Mapping[str, Any]) -> None:
    """Run one sort step: arrays by argument name (on the target), scalars by name."""
    n = max(evaluate(sort.count, scalars), 0)
    perm, ranges = permutation(xp, sort, arrays, scalars, n)
    out = arrays[sort.out]
    if sort.writes == SortWrites.PERMUTATION:
        if ranges is not None and evaluate(sort.local, scalars):
            perm[ranges.members] -= ranges.start
        out[:n] = perm
    elif sort.writes == SortWrites.VALUES:
        extent = n
        if sort.extent == SortExtent.LAST_BOUND:
            m = evaluate(sort.range_count, scalars)
            extent = min(int(_host(arrays[sort.bounds][m : m + 1])[0]), n) if m >= 0 else 0
        if extent > 0:
            out[:extent] = arrays[sort.keys][perm[:extent]]
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
