"""Plan rules on small kernels written for these tests (tests/kernels/), run on the host
emulation under the race check and compared with independent NumPy references."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akcuda.runtime import executor
from akcuda.generator.translate import translate
from test_translator import EMPTY_INCLUDE, KERNELS, demo_spec

I64, PI64 = "int64_t", "int64_t*"

LAST = demo_spec("akc_demo_last", [("akc_demo_last", [], [PI64, "bool*", PI64, PI64, I64, I64, I64])],
                 ["tolast", "tofound", "offsets", "content", "value", "limit", "length"])
ROWS = demo_spec("akc_demo_rows", [("akc_demo_rows", [], [PI64] * 6 + [I64, I64])],
                 ["byoffset", "bycount", "byshift", "cursor", "offsets", "counts", "limit", "length"])
PAD = demo_spec("akc_demo_pad", [("akc_demo_pad", [], [PI64, PI64, I64, I64, I64])],
                ["toindex", "marks", "target", "size", "length"])


def _translated(spec: dict, folder):
    """Translate a demo kernel into `folder`; its plan entry's steps and a runner."""
    translation = translate(spec, KERNELS, EMPTY_INCLUDE)
    (folder / f"{spec['name']}.cu").write_text(translation.source)
    (folder / f"{spec['name']}.plan.json").write_text(json.dumps(translation.plan))
    special = spec["specializations"][0]

    def run(values: list, seed: int = 1, block: int = 3):
        target = executor.HostTarget(seed=seed, generated=folder)
        return executor.run(translation.plan, special, values, target, block)

    return translation.plan["entries"][spec["name"]]["steps"], translation.plan, run


@pytest.mark.parametrize("seed", [1, 2])
def test_locals_only_assigned_keep_the_last_assigning_iteration(tmp_path, seed):
    steps, plan, run = _translated(LAST, tmp_path)
    (scan,) = [s for s in steps if s["kind"] == "scan"]
    assert [(c["name"], c["op"]) for c in scan["counters"]] == [
        ("found", "last"), ("akc_seen1", "seen"), ("last", "last"), ("akc_seen3", "seen")]
    # nothing is stored in the loop, so no fill launch: count, then finish
    assert set(plan["specializations"]["akc_demo_last"]["steps"][steps.index(scan)]) == {"count", "finish"}
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


def _rows_reference(offsets, counts, cursor, limit, size):
    """The C loops of akc_demo_rows in order (a later row overwrites an earlier one)."""
    byoffset, bycount, byshift = (np.full(size, -1, np.int64) for _ in range(3))
    cursor = cursor.copy()
    for i in range(len(counts)):
        byoffset[offsets[i]:offsets[i + 1]] = i
    for i in range(len(counts)):
        start, stop = cursor[i], cursor[i] + counts[i]
        bycount[start:stop] = np.arange(stop - start)
        cursor[i] = stop
    for i in range(len(counts)):
        byshift[offsets[i] - offsets[0]:min(offsets[i + 1] - offsets[0], limit)] = i
    return byoffset, bycount, byshift, cursor


@pytest.mark.parametrize("overlapping", [False, True])
def test_row_ranges_by_base_counts_and_shift_run_in_parallel_when_disjoint(tmp_path, overlapping):
    steps, _, run = _translated(ROWS, tmp_path)
    assert [s["kind"] for s in steps[:2]] + [steps[-1]["kind"]] == ["parallel"] * 3
    assert steps[0]["segments"] == [{"starts": ["offsets", 0], "stops": ["offsets", 1], "disjoint": True}]
    assert steps[1]["segments"] == [{"starts": ["cursor", 0], "counts": ["counts", 0], "disjoint": True}]
    assert steps[-1]["segments"] == [{"starts": ["offsets", 0], "stops": ["offsets", 1], "disjoint": True}]
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 5, 60)
    offsets = np.concatenate([[3], 3 + np.cumsum(counts)])
    cursor = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if overlapping:  # row 10 starts inside row 9's range: the C order decides, serially
        offsets[10], cursor[10] = offsets[9] + 1, cursor[9] + 1
        counts[9] = 3
    size = int(offsets.max() + counts.sum() + 8)
    out = [np.full(size, -1, np.int64) for _ in range(3)]
    values = [*out, cursor.copy(), offsets, counts, 100, 60]
    assert run(values) is None
    for got, want in zip([*out, values[3]], _rows_reference(offsets, counts, cursor, 100, size)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target, size", [(4, 5), (4, 2), (4, 0), (-2, 3)])
def test_clipping_bounds_become_run_time_requirements(tmp_path, target, size):
    steps, _, run = _translated(PAD, tmp_path)
    (pad,) = [s for s in steps if s["kind"] == "parallel"]
    # a negative target would write before each row: the C order then runs, serially
    assert executor.evaluate(pad["requires"], {"target": target, "size": size}) == (target >= 0)
    marks = np.array([4, -1, 7, -1, -1, 0], np.int64)
    length = 6
    toindex = np.full(max(target, 0) * length, -9, np.int64)
    assert run([toindex, marks, target, size, length]) is None
    expected = np.full(max(target, 0) * length, -9, np.int64)
    for i in range(length):
        for j in range(target):
            expected[i * target + j] = i * size + j if j < size else -1
    np.testing.assert_array_equal(toindex, expected)
    # the counter reads back the place it writes: numbered in order, through count-scan-fill
    assert [s["kind"] for s in steps][-1] == "scan"
    np.testing.assert_array_equal(marks, [4, 0, 7, 1, 2, 0])


KEYED = demo_spec("akc_demo_keyed", [("akc_demo_keyed", [], [PI64, "int32_t*", PI64, PI64, "const int8_t*",
                                                              "const int64_t*", I64, I64])],
                  ["toindex", "current", "tooffsets", "togaps", "fromtags", "sizes", "numtags", "length"])


@pytest.mark.parametrize("seed", [1, 2])
def test_keyed_counters_running_sums_at_counters_and_previous_values(tmp_path, seed):
    steps, _, run = _translated(KEYED, tmp_path)
    loops = [s for s in steps if s["kind"] != "serial"]
    assert [s["kind"] for s in loops] == ["parallel", "scan", "scan", "parallel"]
    assert [c["kind"] for c in loops[1]["counters"]] == ["keyed", "key"]
    assert sorted((c["kind"], c["base"]) for c in loops[2]["counters"]) == [("local", ""), ("running", "k")]
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
    np.testing.assert_array_equal(tooffsets[:len(positive) + 1], np.concatenate([[0], np.cumsum(positive)]))
    assert (tooffsets[len(positive) + 1:] == -1).all()
    np.testing.assert_array_equal(togaps, np.diff(sizes, prepend=0))


PADROWS = demo_spec("akc_demo_padrows", [("akc_demo_padrows", [], [PI64, "int32_t*", PI64, "const int64_t*",
                                                                    "const int64_t*", "const int64_t*", I64, I64])],
                    ["toindex", "tostarts", "shifted", "starts", "stops", "bases", "target", "length"])
OVERRUN = demo_spec("akc_demo_overrun", [("akc_demo_overrun", [], [PI64, "const int64_t*", I64])],
                    ["out", "sizes", "length"])


@pytest.mark.parametrize("backwards", [False, True])
def test_counters_read_back_through_memory_and_updated_in_place(tmp_path, backwards):
    steps, _, run = _translated(PADROWS, tmp_path)
    assert [s["kind"] for s in steps if s["kind"] != "serial"] == ["scan", "scan"]
    # `j` from the list's size up to target stays inside the row only if the size is >= 0
    assert steps[1]["segments"] == [{"starts": ["starts", 0], "stops": ["stops", 0], "disjoint": False}]
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
        expected[offset:offset + max(size, 0)] = starts[i] + np.arange(max(size, 0))
        offset += max(size, target)
    np.testing.assert_array_equal(toindex, expected)
    np.testing.assert_array_equal(tostarts, np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    counts = np.maximum(stops - starts, 0)
    np.testing.assert_array_equal(values[2][:counts.sum()], shifted[:counts.sum()] + np.repeat(bases, counts))


def test_a_write_past_its_counters_advance_keeps_the_c_order(tmp_path):
    steps, _, run = _translated(OVERRUN, tmp_path)
    (step,) = steps
    assert step["kind"] == "serial" and "may leave the range its counter's advance claims" in step["reason"]
    sizes = np.array([2, 0, 3, 1], np.int64)
    out = np.full(8, -1, np.int64)
    assert run([out, sizes, 4]) is None
    np.testing.assert_array_equal(out, [0, 0, 2, 2, 2, 3, 3, -1])


CURSOR = demo_spec("akc_demo_cursor", [("akc_demo_cursor", [], [PI64, "const uint8_t*", "const int64_t*", I64])],
                   ["tocounts", "bytes", "offsets", "length"])


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
def test_a_cursor_read_as_a_position_is_speculated_and_checked(tmp_path, crossing):
    steps, plan, run = _translated(CURSOR, tmp_path)
    (scan,) = [s for s in steps if s["kind"] == "scan"]
    assert [c["op"] for c in scan["counters"]] == ["speculated", "actual"]
    assert "nominal" in plan["specializations"]["akc_demo_cursor"]["steps"][steps.index(scan)]
    rng = np.random.default_rng(11)
    widths = rng.integers(1, 5, 600)  # whole tokens: each row ends where a token ends
    tokens = (rng.integers(0, 64, 600) * 4 + widths - 1).astype(np.uint8)
    stream = np.concatenate([np.concatenate([[t], np.zeros(w - 1, np.uint8)]) for t, w in zip(tokens, widths)])
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
    alone = [_tokens(stream, offsets[i:i + 2])[0] for i in range(100)]
    assert (list(tocounts) != alone) == crossing


BLOCKS = demo_spec("akc_demo_blocks", [("akc_demo_blocks", [], ["int32_t*", "const int32_t*", "const int64_t*", I64, I64])],
                   ["torows", "values", "offsets", "width", "length"])


@pytest.mark.parametrize("longest", [4, 6])
def test_block_copies_stay_in_their_row_or_keep_the_c_order(tmp_path, longest):
    steps, _, run = _translated(BLOCKS, tmp_path)
    (step,) = [s for s in steps if s["kind"] == "parallel"]
    assert {"starts": ["offsets", 0], "stops": ["offsets", 1], "disjoint": False,
            "longest": ["arg", "width"]} in step["segments"]
    width, sizes = 4, np.array([2, 0, longest, 1, 3], np.int64)  # a 6 spills into the next row
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    values = np.arange(100, 100 + offsets[-1], dtype=np.int32)
    torows = np.full(width * 5 + 4, 7, np.int32)
    special = BLOCKS["specializations"][0]
    target = executor.HostTarget(generated=tmp_path)
    assert executor._disjoint(target, step, special, [torows, values, offsets, width, 5],
                              {"width": width, "length": 5}, 5) == (longest <= width)
    assert run([torows, values, offsets, width, 5]) is None
    expected = np.full(width * 5 + 4, 7, np.int32)
    for i in range(5):  # the C order: a later row overwrites what an earlier one spilled
        expected[i * width:i * width + sizes[i]] = values[offsets[i]:offsets[i + 1]]
        expected[i * width + sizes[i]:max((i + 1) * width, i * width + sizes[i])] = -1
    np.testing.assert_array_equal(torows, expected)


COMMON = demo_spec("akc_demo_common", [("akc_demo_common", [], [PI64, "const int64_t*", I64])],
                   ["common", "values", "length"])


def _common(values):
    """The C loop of akc_demo_common, in order: (common, failing item or None)."""
    common = -1
    for i, value in enumerate(values):
        value = int(np.fmod(value, 100))
        if common == -1:
            common = value
        elif common != value:
            return common, i
    return common, None


@pytest.mark.parametrize("case", ["same", "differs", "first is the sentinel"])
def test_a_place_set_once_from_its_sentinel_peels_the_first_iteration(tmp_path, case):
    steps, _, run = _translated(COMMON, tmp_path)
    assert [s["kind"] for s in steps] == ["serial", "parallel"]
    assert steps[1]["requires"] == ["!=", ["memory", "common"], ["neg", ["int", 1]]] and steps[1]["checked"]
    values = np.full(300, 7, np.int64) + 100 * np.arange(300)
    if case == "differs":
        values[[37, 150]] = 8
    if case == "first is the sentinel":  # the first item leaves -1: every later one runs in C order
        values[0], values[1] = -1, -1
    common = np.zeros(1, np.int64)
    failure = run([common, values, 300], block=16)
    expected, failing = _common(values)
    assert common[0] == expected
    assert (failure is None) == (failing is None)
    if failing is not None:
        assert (failure.message, failure.identity, failure.attempt) == ("items differ", failing, 8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 5)), min_size=1, max_size=60))
def test_scan_by_key_matches_a_running_count_per_key(items):
    keys = np.array([k for k, _ in items], np.int64)
    advances = np.concatenate([np.array([a for _, a in items], np.int64), [0]])
    distinct, totals = executor._scan_by_key(np, advances, keys, len(items))
    running: dict[int, int] = {}
    for position, (key, advance) in enumerate(items):  # the C loop: start where the key stood
        assert advances[position] == running.get(key, 0)
        running[key] = running.get(key, 0) + advance
    assert dict(zip(distinct.tolist(), totals.tolist())) == running
