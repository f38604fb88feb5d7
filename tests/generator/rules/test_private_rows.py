"""Rows through a helper that writes memory, with private copies (rules/private_rows.py), on a small
recursive kernel written for these tests (tests/kernels/akc_demo_chains.cpp), run on the host
emulation under the race check and compared with an independent Python reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from akcuda.plan.model import CounterKind, Role, StepKind

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

I64, PI64, CI64 = "int64_t", "int64_t*", "const int64_t*"
CHAINS = (
    "akc_demo_chains",
    [
        (
            "akc_demo_chains",
            [],
            ["int64_t**", PI64, PI64, CI64, CI64, CI64, I64, I64],
        )
    ],
    ["out", "at", "path", "values", "starts", "stops", "depth", "length"],
)


def reference(values, starts, stops, depth, path):
    """The chains in C order, and the path the C loop leaves (rows that write no element of it
    keep an earlier row's value)."""
    chains = []
    for start, stop in zip(starts, stops, strict=True):
        rising = [
            chain
            for chain in itertools.combinations(range(start, stop), depth)
            if all(values[a] < values[b] for a, b in itertools.pairwise(chain))
        ]
        chains += rising
        path[0] = max(start, stop)
        # the helper leaves each level's position at the end of the last loop that ran there
        _leave(values, start, stop, depth, 0, path)
    return chains


def _leave(values, first, stop, depth, level, path):
    position = first
    while position < stop:
        path[level] = position
        if (level == 0 or values[path[level - 1]] < values[position]) and level + 1 < depth:
            _leave(values, position + 1, stop, depth, level + 1, path)
        position += 1
    path[level] = max(first, stop)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("depth", [1, 2, 3, 17])
def test_recursive_helper_rows_run_count_scan_fill_with_private_scratch(tmp_path, demo, in_c_order, seed, depth):
    steps, plan, run = demo.translated(demo.spec(*CHAINS), tmp_path)
    (scan,) = [s for s in steps if s.kind == StepKind.SCAN]
    columns, scratch = scan.form.counters
    assert (columns.kind, columns.array, columns.row, columns.width_row, columns.check_row) == (
        CounterKind.COLUMNS,
        "at",
        0,
        1,
        2,
    )
    assert (scratch.kind, scratch.array, scratch.row, scratch.check_row) == (CounterKind.SCRATCH, "path", 3, 4)
    launches = plan.specializations["akc_demo_chains"].launches[steps.index(scan)]
    assert set(launches) == {Role.COUNT, Role.FILL, Role.FINISH, Role.SERIAL}
    rng = np.random.default_rng(seed)
    # empty rows, rows of one, and (depth 17: beyond the private capacity, so C order) one long rising row
    counts = rng.integers(0, 7, 300) if depth < 17 else np.array([3, 0, 20, 1, 0])
    starts = np.cumsum(counts + rng.integers(0, 3, len(counts))) - counts
    stops = starts + counts
    values = rng.integers(0, 5, int(stops[-1]) + 1) if depth < 17 else np.arange(int(stops[-1]) + 1)
    want_path = np.full(max(depth, 1), -5, np.int64)
    chains = reference(values, starts, stops, depth, want_path)
    out = [np.full(len(chains) + 2, -1, np.int64) for _ in range(depth)]
    at, path = np.full(depth, 99, np.int64), np.full(depth, -5, np.int64)
    table = np.array([a.ctypes.data for a in out], dtype=np.uint64)  # the host's pointer table
    assert run([table, at, path, values, starts, stops, depth, len(counts)], seed, block=32) is None
    for c in range(depth):
        np.testing.assert_array_equal(out[c][: len(chains)], [chain[c] for chain in chains])
        assert (out[c][len(chains) :] == -1).all()
    np.testing.assert_array_equal(at, np.full(depth, len(chains)))
    np.testing.assert_array_equal(path, want_path)
    assert in_c_order == ([steps.index(scan)] if depth == 17 else [])
