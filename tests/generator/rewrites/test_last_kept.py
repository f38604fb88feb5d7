""" "Last kept" state speculated from the previous item (rewrites/last_kept.py), on a small kernel written
for these tests (tests/kernels/akc_demo_dedup_words.cpp): words compacted in place, each dropped
when it equals the last word kept. Run on the host emulation under the race check, compared with
an independent Python reference of the C loop, and sent back to C order exactly when the words
overlap what the compaction already overwrote."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.analysis.ast_util import text
from akcuda.generator.rewrites.last_kept import speculated
from akcuda.generator.rules.compaction import find_compaction
from akcuda.plan.model import Compaction, Role, StepKind
from akcuda.validation import plans

I64, PI64, CI64 = "int64_t", "int64_t*", "const int64_t*"
NAMES = ["words", "fromoffsets", "length", "tolengths", "tokept"]


def spec(demo, element: str) -> dict:
    return demo.int64_and_float64("akc_demo_dedup_words", element, [CI64, I64, PI64, PI64], NAMES)


def reference(values: np.ndarray, offsets) -> tuple[np.ndarray, list[int]]:
    """The C loop, element by element on a copy (its reads of the compacted words included)."""
    out, lengths, at, last, m = values.copy(), [], 0, 0, 0
    for start, stop in zip(offsets[:-1], offsets[1:], strict=True):
        length = stop - start
        same = length == last and all(out[at + k] == out[start + k] for k in range(last))
        if not same:
            at = m
            for j in range(start, stop):
                out[m] = out[j]
                m += 1
            last = length
            lengths.append(length)
    return out, lengths


def words(rng, n: int, case: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets): runs of equal words of 0..3 elements from a few distinct ones sharing
    prefixes, or (overlapping) words placed one element apart, overlapping each other."""
    if case == "overlapping":
        offsets = np.concatenate([[0], np.arange(n) + rng.integers(0, 4, n)])
        return rng.integers(0, 2, 4 * n + 4), offsets
    pool = [[], [1], [1, 2], [1, 3], [1, 2, 3], [2]]
    picks = np.sort(rng.integers(0, len(pool), n)) if case == "runs" else rng.integers(0, len(pool), n)
    chosen = [pool[p] for p in picks]
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in chosen])])
    return np.array([x for w in chosen for x in w] + [7], np.int64), offsets


@pytest.mark.gxx
@pytest.mark.parametrize("element", ["int64", "float64"])
@pytest.mark.parametrize("case", ["runs", "shuffled", "one word", "overlapping"])
def test_last_kept_state_is_speculated_and_verified(tmp_path, demo, in_c_order, element, case):
    steps, plan, run = demo.translated(spec(demo, element), tmp_path)
    (scan,) = [s for s in steps if s.kind == StepKind.SCAN]
    k = steps.index(scan)
    assert isinstance(scan.form, Compaction) and scan.form.array == "words"
    assert {Role.COUNT, Role.COMPACT, Role.VERIFY, Role.FILL, Role.COPY, Role.FINISH, Role.SERIAL} == set(
        plan.specializations[f"akc_demo_dedup_words_{element}"].launches[k]
    )
    row = plans.describe(plan, f"akc_demo_dedup_words_{element}")["steps"][k]
    assert not row["width1_input_sized"]
    rng = np.random.default_rng(11)
    values, offsets = words(rng, 1 if case == "one word" else 500, case)
    values = values.astype(np.int64 if element == "int64" else np.float64)
    want, want_lengths = reference(values, offsets)
    n = len(offsets) - 1
    toptr, tolengths, tokept = values.copy(), np.full(n, -7, np.int64), np.full(1, -7, np.int64)
    assert run([toptr, offsets, n, tolengths, tokept], block=32) is None
    assert tokept[0] == len(want_lengths)
    np.testing.assert_array_equal(tolengths[: len(want_lengths)], want_lengths)
    assert toptr.tobytes() == want.tobytes()
    # overlapping words read elements the compaction overwrote: C order, and only then
    assert (k in in_c_order) is (case == "overlapping")


def test_a_speculation_that_fails_runs_in_c_order(tmp_path, demo, in_c_order):
    """-0.0 == 0.0 drops a word whose bits differ from the last kept one: the next word is
    compared with the C's state, not the dropped word, so the check sends the loop to C order."""
    steps, plan, run = demo.translated(spec(demo, "float64"), tmp_path)
    values, offsets = np.array([0.0, -0.0, 5.0]), np.array([0, 1, 2, 3])
    want, want_lengths = reference(values, offsets)
    tolengths, tokept = np.zeros(3, np.int64), np.zeros(1, np.int64)
    assert run([values, offsets, 3, tolengths, tokept], block=2) is None
    assert values.tobytes() == want.tobytes() and tokept[0] == len(want_lengths) == 2
    assert steps.index(next(s for s in steps if s.kind == StepKind.SCAN)) in in_c_order


def _loop(body: str):
    func = (
        c_parser.CParser()
        .parse(
            "typedef long int64_t; void f(int64_t* a, int64_t* o, int64_t* out, int64_t n) {"
            " int64_t at = 0; int64_t len = 0; int64_t m = 0; int64_t c = 0; int64_t d = 0;"
            f" for (int64_t i = 0; i < n; i++) {{ {body} }} }}"
        )
        .ext[-1]
    )
    items = func.body.block_items
    return items[-1], {d.name: d for d in items[:-1]}


KEEP = "if (d) { at = m; for (int64_t j = o[i]; j < o[i + 1]; j++) a[m++] = a[j]; len = o[i + 1] - o[i]; c++; }"


@pytest.mark.parametrize(
    ("body", "fits"),
    [
        (f"d = o[i + 1] - o[i] != len || a[at] != a[o[i]]; {KEEP}", True),
        (f"d = a[at + 1] != a[o[i]]; {KEEP}", True),
        (f"d = a[at] != 0; {KEEP} at = 0;", False),  # the position assigned outside the kept branch
        (f"d = at > 3; {KEEP}", False),  # the position read other than as an element of the kept item
        (f"d = a[at] != 0; {KEEP.replace('len = o[i + 1] - o[i]', 'len = 2')}", False),  # not the copy's length
        (f"d = a[at] != 0; {KEEP.replace('at = m;', '')}", False),  # no position at the counter
        (f"d = a[at] != 0; a[m++] = 1; {KEEP}", False),  # a store besides the copy's
        (f"d = a[at] != 0; {KEEP} out[i] = len;", False),  # the state read after the branch
    ],
)
def test_speculated_takes_only_state_assigned_in_the_kept_branch(body, fits):
    loop, decls = _loop(body)
    found = find_compaction(loop)
    rewritten = found and speculated(loop, found.array, found.counter, decls, {"n": None}, {"a", "o", "out"}, set())
    assert (rewritten is not None) is fits


def test_the_speculated_loop_reads_the_kept_item_and_verify_checks_it():
    """Count, compact and fill read the kept item in the unchanged array; verify's form checks
    each such read and the item of an iteration that keeps nothing: two real loops, no markers
    for a later stage to strip."""
    loop, decls = _loop(f"d = a[at + 1] != a[o[i]]; {KEEP}")
    found = find_compaction(loop)
    spec = speculated(loop, found.array, found.counter, decls, {"n": None}, {"a", "o", "out"}, set())
    plain, checked = text(spec.loop), text(spec.checked)
    assert "a[akc_kept_at + 1]" in plain and "akc_kept_read" not in plain and "akc_same_as_kept" not in plain
    assert "akc_kept_read(a, akc_kept_at, 1, akc_kept_len, &akc_broken)" in checked
    assert "akc_same_as_kept(a, o[i], o[i + 1] - o[i], akc_kept_at, akc_kept_len, &akc_broken)" in checked
