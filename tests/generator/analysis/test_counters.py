"""Counters and count-scan-fill (analysis/counters.py, emission/counting.py) on small kernels
written for these tests (tests/kernels/), run on the host emulation under the race check and
compared with independent NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.model import CounterKind, CounterOp, Role, RowRef, Segment, StepKind

pytestmark = pytest.mark.gxx  # g++ -E to translate, a g++ host build to run

I64, PI64 = "int64_t", "int64_t*"

LAST = (
    "akc_demo_last",
    [("akc_demo_last", [], [PI64, "bool*", PI64, PI64, I64, I64, I64])],
    ["tolast", "tofound", "offsets", "content", "value", "limit", "length"],
)


@pytest.mark.parametrize("seed", [1, 2])
def test_locals_only_assigned_keep_the_last_assigning_iteration(tmp_path, demo, seed):
    steps, plan, run = demo.translated(demo.spec(*LAST), tmp_path)
    (scan,) = [s for s in steps if s.kind == StepKind.SCAN]
    # each last-value local has its flag row (the assigning iteration) right after its own
    assert [(c.name, c.op, c.row, c.flag_row) for c in scan.form.counters] == [
        ("found", CounterOp.LAST, 0, 1),
        ("last", CounterOp.LAST, 2, 3),
    ]
    assert scan.form.scan_rows == 4
    # nothing is stored in the loop, so no fill launch: count, then finish
    assert set(plan.specializations["akc_demo_last"].launches[steps.index(scan)]) == {Role.COUNT, Role.FINISH}
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, 400)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    content = rng.integers(0, 1000, offsets[-1])
    for value, limit in ((content[len(content) // 2], 4), (-7, 99)):
        tolast, tofound = np.full(1, -9, np.int64), np.zeros(1, np.bool_)
        assert run([tolast, tofound, offsets, content, value, limit, 400], seed) is None
        long_rows = np.flatnonzero(counts >= limit)
        assert tolast[0] == (long_rows[-1] if len(long_rows) else -1)
        assert tofound[0] == bool((content == value).any())


KEYED = (
    "akc_demo_keyed",
    [("akc_demo_keyed", [], [PI64, "int32_t*", PI64, PI64, "const int8_t*", "const int64_t*", I64, I64])],
    ["toindex", "current", "tooffsets", "togaps", "fromtags", "sizes", "numtags", "length"],
)


@pytest.mark.parametrize("seed", [1, 2])
def test_keyed_counters_running_sums_at_counters_and_previous_values(tmp_path, demo, seed):
    steps, _, run = demo.translated(demo.spec(*KEYED), tmp_path)
    loops = [s for s in steps if s.kind != StepKind.SERIAL]
    assert [s.kind for s in loops] == [StepKind.PARALLEL, StepKind.SCAN, StepKind.SCAN, StepKind.PARALLEL]
    ((keyed,),) = [loops[1].form.counters]
    assert (keyed.kind, keyed.row, keyed.key_row, loops[1].form.scan_rows) == (CounterKind.KEYED, 0, 1, 2)
    assert sorted(c.kind for c in loops[2].form.counters) == [CounterKind.LOCAL, CounterKind.RUNNING]
    rng = np.random.default_rng(seed)
    n, numtags = 3000, 5
    tags = rng.integers(0, numtags, n).astype(np.int8)
    sizes = rng.integers(-3, 6, n)
    toindex, current = np.full(n, -1, np.int64), np.full(numtags, 77, np.int32)
    tooffsets, togaps = np.full(n + 1, -1, np.int64), np.full(n, -1, np.int64)
    assert run([toindex, current, tooffsets, togaps, tags, sizes, numtags, n], seed, block=64) is None
    for tag in range(numtags):  # the k-th item of a tag gets k
        np.testing.assert_array_equal(toindex[tags == tag], np.arange((tags == tag).sum()))
    np.testing.assert_array_equal(current, np.bincount(tags, minlength=numtags))
    positive = sizes[sizes > 0]
    np.testing.assert_array_equal(tooffsets[: len(positive) + 1], np.concatenate([[0], np.cumsum(positive)]))
    assert (tooffsets[len(positive) + 1 :] == -1).all()
    np.testing.assert_array_equal(togaps, np.diff(sizes, prepend=0))


PADROWS = (
    "akc_demo_padrows",
    [
        (
            "akc_demo_padrows",
            [],
            [PI64, "int32_t*", PI64, "const int64_t*", "const int64_t*", "const int64_t*", I64, I64],
        )
    ],
    ["toindex", "tostarts", "shifted", "starts", "stops", "bases", "target", "length"],
)
OVERRUN = ("akc_demo_overrun", [("akc_demo_overrun", [], [PI64, "const int64_t*", I64])], ["out", "sizes", "length"])


@pytest.mark.parametrize("backwards", [False, True])
def test_counters_read_back_through_memory_and_updated_in_place(tmp_path, demo, backwards):
    steps, _, run = demo.translated(demo.spec(*PADROWS), tmp_path)
    assert [s.kind for s in steps if s.kind != StepKind.SERIAL] == [StepKind.SCAN, StepKind.SCAN]
    # `j` from the list's size up to target stays inside the row only if the size is >= 0
    assert steps[1].segments == (Segment(RowRef("starts"), stops=RowRef("stops"), disjoint=False),)
    rng = np.random.default_rng(3)
    n, target = 200, 3
    sizes = rng.integers(0, 6, n)
    starts = rng.permutation(n) * 10  # lists in any order: only each one's own size matters
    stops = starts + sizes
    if backwards:  # a list that ends before it starts: the C order decides, serially
        stops[50] = starts[50] - 2
    lengths = np.maximum(stops - starts, target)
    total = int(lengths.sum())
    toindex, tostarts = np.full(total + 8, -9, np.int64), np.full(n, -9, np.int32)
    shifted = np.arange(int(sizes.sum()) + 8, dtype=np.int64)
    bases = rng.integers(0, 100, n)
    values = [toindex, tostarts, shifted.copy(), starts, stops, bases, target, n]
    assert run(values, block=16) is None
    expected = np.full(total + 8, -9, np.int64)
    offset = 0
    for i in range(n):  # the C loop in order (a backwards list writes before its own start)
        size = stops[i] - starts[i]
        for j in range(size, target):
            expected[offset + j] = -1
        expected[offset : offset + max(size, 0)] = starts[i] + np.arange(max(size, 0))
        offset += max(size, target)
    np.testing.assert_array_equal(toindex, expected)
    np.testing.assert_array_equal(tostarts, np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    counts = np.maximum(stops - starts, 0)
    np.testing.assert_array_equal(values[2][: counts.sum()], shifted[: counts.sum()] + np.repeat(bases, counts))


def test_a_write_past_its_counters_advance_keeps_the_c_order(tmp_path, demo):
    steps, _, run = demo.translated(demo.spec(*OVERRUN), tmp_path)
    (step,) = steps
    assert step.kind == StepKind.SERIAL and "may leave the range its counter's advance claims" in step.reason
    sizes = np.array([2, 0, 3, 1], np.int64)
    out = np.full(8, -1, np.int64)
    assert run([out, sizes, 4]) is None
    np.testing.assert_array_equal(out, [0, 0, 2, 2, 2, 3, 3, -1])


CURSOR = (
    "akc_demo_cursor",
    [("akc_demo_cursor", [], [PI64, "const uint8_t*", "const int64_t*", I64])],
    ["tocounts", "bytes", "offsets", "length"],
)


def _tokens(bytes_, offsets):
    """The C loop of akc_demo_cursor, in order."""
    counts, cursor = [], offsets[0]
    for i in range(len(offsets) - 1):
        last, tokens = cursor + offsets[i + 1] - offsets[i], 0
        while cursor < last:
            cursor += 1 + (bytes_[cursor] & 3)
            tokens += 1
        counts.append(tokens)
    return counts


@pytest.mark.parametrize("crossing", [False, True])
def test_a_cursor_read_as_a_position_is_speculated_and_checked(tmp_path, demo, crossing):
    steps, plan, run = demo.translated(demo.spec(*CURSOR), tmp_path)
    (scan,) = [s for s in steps if s.kind == StepKind.SCAN]
    assert [(c.op, c.row, c.actual_row) for c in scan.form.counters] == [(CounterOp.SPECULATED, 0, 1)]
    assert Role.NOMINAL in plan.specializations["akc_demo_cursor"].launches[steps.index(scan)]
    rng = np.random.default_rng(11)
    widths = rng.integers(1, 5, 600)  # whole tokens: each row ends where a token ends
    tokens = (rng.integers(0, 64, 600) * 4 + widths - 1).astype(np.uint8)
    stream = np.concatenate(
        [np.concatenate([[t], np.zeros(w - 1, np.uint8)]) for t, w in zip(tokens, widths, strict=True)]
    )
    ends = np.cumsum(widths)
    offsets = np.concatenate([[0], np.sort(rng.choice(ends[:-1], 99, replace=False)), [ends[-1]]]).astype(np.int64)
    if crossing:  # row 40 now ends inside a token: the cursor overshoots into row 41
        offsets[41] -= 1
    stream = np.concatenate([stream, np.zeros(4 * 100, np.uint8)])  # room for the drift a crossing causes
    tocounts = np.full(100, -1, np.int64)
    assert run([tocounts, stream, offsets, 100], block=8) is None
    np.testing.assert_array_equal(tocounts, _tokens(stream, offsets))
    # each row parsed from its own start (what an unchecked speculation would give) differs
    # exactly when a token crosses a row's end
    alone = [_tokens(stream, offsets[i : i + 2])[0] for i in range(100)]
    assert (list(tocounts) != alone) == crossing
