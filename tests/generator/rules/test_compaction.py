"""In-place compaction at a counter (rules/compaction.py), on a small kernel written for these tests
(tests/kernels/akc_demo_compact.cpp): run on the host emulation under the race check, compared
with an independent Python reference of the C loop, and sent back to C order exactly when a
read would have seen what an earlier row wrote."""

from __future__ import annotations

import numpy as np
import pytest
from pycparser import c_parser

from akcuda.generator.rules.compaction import find_compaction
from akcuda.plan.model import Compaction, Role, StepKind
from akcuda.validation import plans

I64, PI64, CI64 = "int64_t", "int64_t*", "const int64_t*"
NAMES = ["toptr", "fromstarts", "fromstops", "length", "tooffsets"]


def spec(demo, element: str) -> dict:
    return demo.int64_and_float64("akc_demo_compact", element, [CI64, CI64, I64, PI64], NAMES)


def reference(values: np.ndarray, starts, stops) -> tuple[np.ndarray, list[int]]:
    """The C loop, element by element on a copy (its in-place reads included)."""
    out, offsets, m = values.copy(), [], 0
    for start, stop in zip(starts, stops, strict=True):
        offsets.append(m)
        out[m] = out[start]
        m += 1
        for k in range(start + 1, stop):
            if out[k] > out[m - 1]:
                out[m] = out[k]
                m += 1
    return out, offsets + [m]


def rows(rng, length: int, ordered: bool):
    """Rows of 0..6 elements (empty rows and rows of one among them), in order with gaps, or
    (not ordered) each row placed anywhere."""
    counts = rng.integers(0, 7, length)
    starts = np.cumsum(counts + rng.integers(0, 3, length)) - counts
    if not ordered:
        starts = rng.permutation(starts)
    return starts, starts + counts


@pytest.mark.gxx
@pytest.mark.parametrize("element", ["int64", "float64"])
@pytest.mark.parametrize("case", ["ordered", "NaN", "signed zeros", "reads behind", "one row"])
def test_in_place_compaction_runs_count_scan_fill_and_verifies_its_reads(tmp_path, demo, in_c_order, element, case):
    steps, plan, run = demo.translated(spec(demo, element), tmp_path)
    (scan,) = [s for s in steps if s.kind == StepKind.SCAN]
    k = steps.index(scan)
    assert isinstance(scan.form, Compaction) and scan.form.array == "toptr"
    assert set(plan.specializations[f"akc_demo_compact_{element}"].launches[k]) == {
        Role.COUNT,
        Role.COMPACT,
        Role.VERIFY,
        Role.FILL,
        Role.COPY,
        Role.FINISH,
        Role.SERIAL,
    }
    row = plans.describe(plan, f"akc_demo_compact_{element}")["steps"][k]
    assert row["per_thread"] == "row" and not row["width1_input_sized"]
    rng = np.random.default_rng(7)
    dtype = np.int64 if element == "int64" else np.float64
    starts, stops = rows(rng, 1 if case == "one row" else 400, ordered=case != "reads behind")
    values = rng.integers(-3, 4, int(stops.max()) + len(starts) + 1).astype(dtype)
    if case == "NaN" and element == "float64":
        values[rng.random(len(values)) < 0.2] = np.nan  # NaN > x is false: never kept after the first
    if case == "signed zeros" and element == "float64":
        values = np.where(values == 0, np.where(rng.random(len(values)) < 0.5, -0.0, 0.0), values)
    want, want_offsets = reference(values, starts, stops)
    toptr, tooffsets = values.copy(), np.full(len(starts) + 1, -7, np.int64)
    assert run([toptr, starts, stops, len(starts), tooffsets], block=32) is None
    np.testing.assert_array_equal(tooffsets, want_offsets)
    assert toptr.tobytes() == want.tobytes()  # bit for bit: -0.0 and NaN too
    # rows placed anywhere read elements earlier rows overwrote: C order, and only then
    assert (k in in_c_order) is (case == "reads behind")  # (the serial steps around it always run so)


def test_a_store_that_keeps_its_value_passes_the_check(tmp_path, demo, in_c_order):
    """A read of a position an earlier store reached is the C's when that store left the same
    bits: rows that re-read a prefix of equal values stay parallel."""
    steps, plan, run = demo.translated(spec(demo, "int64"), tmp_path)
    values = np.array([5, 5, 5, 5, 5, 5], np.int64)
    starts, stops = np.array([0, 0, 1]), np.array([3, 2, 6])
    want, want_offsets = reference(values, starts, stops)
    tooffsets = np.zeros(4, np.int64)
    assert run([values, starts, stops, 3, tooffsets], block=2) is None
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(tooffsets, want_offsets)
    assert steps.index(next(s for s in steps if s.kind == StepKind.SCAN)) not in in_c_order


def _loop(body: str):
    func = (
        c_parser.CParser()
        .parse(
            "typedef long int64_t; void f(int64_t* a, int64_t* b, int64_t* o, int64_t n) { int64_t m = 0;"
            f" for (int64_t i = 0; i < n; i++) {{ {body} }} }}"
        )
        .ext[-1]
    )
    return func.body.block_items[1]


@pytest.mark.parametrize(
    ("body", "fits"),
    [
        ("o[i] = m; a[m++] = a[b[i]]; if (a[m - 1] != a[i]) a[m++] = a[i];", True),
        ("a[m++] = a[i];", True),
        ("if (a[m - 1] != a[i]) a[m++] = a[i];", False),  # A[m - 1] before the row's own store
        ("a[m++] = a[i]; a[i] = 0;", False),  # a store not at the counter
        ("a[m++] = a[i]; m++;", False),  # the counter moves without a store
        ("a[m++] = a[m];", False),  # a read at the counter
        ("a[m++] = b[i];", False),  # nothing read in place: no compaction
        ("a[m++] = a[i]; if (a[i] < 0) break;", False),
        ("a[m++] = a[i]; for (int64_t k = 0; k < n; k++) if (a[k] < 0) break;", True),  # an inner loop's break
        ("a[m++] = a[i]; o[c++] = m;", True),  # another array stored at a counter, never read: a plain store
    ],
)
def test_find_compaction_takes_only_stores_at_the_counter_read_in_place(body, fits):
    assert (find_compaction(_loop(body)) is not None) is fits
