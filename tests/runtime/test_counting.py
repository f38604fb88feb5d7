"""Per-call cost, counted on the counting target, and the two error modes."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.plan.errors import KernelFailure
from akcuda.runtime import executor
from akcuda.runtime.executor import Mode
from akcuda.runtime.host import CountingTarget

pytestmark = pytest.mark.gxx


def _offsets_call(demo, generated, target, n: int, bad: list[int], mode: Mode):
    plan = executor.load_plan("akc_demo_offsets", generated)
    special = next(s for s in demo.offsets["specializations"] if s["symbol"] == "akc_demo32_offsets_64")
    starts = np.arange(n, dtype=np.int32)
    stops = starts + 1
    stops[bad] = starts[bad] - 1
    values = [np.zeros(n, np.int64), np.zeros(n + 1, np.int64), starts, stops, n]
    return executor.run(plan, special, values, target, 32, mode), values


def test_a_call_copies_nothing_to_the_device_and_reads_back_only_in_immediate_mode(demo, demo_generated):
    target = CountingTarget(seed=3, generated=demo_generated)
    _offsets_call(demo, demo_generated, target, 50, [], Mode.IMMEDIATE)  # makes the stream buffers
    for mode in (Mode.IMMEDIATE, Mode.DEFERRED, Mode.IMMEDIATE):
        failure, (lengths, out, *_) = _offsets_call(demo, demo_generated, target, 300, [], mode)
        assert failure is None
        np.testing.assert_array_equal(out, np.arange(301))
    immediate, deferred, again = target.calls[1:]
    assert immediate.h2d_copies == deferred.h2d_copies == 0
    assert immediate.syncs == 1 and deferred.syncs == 0
    assert immediate.launches == deferred.launches > 0
    assert again.allocations == 0  # the buffers of the first call are reused
    assert executor.synchronize(target) is None


def test_deferred_failures_are_reported_at_synchronize_first_in_call_order(demo, demo_generated):
    target = CountingTarget(seed=1, generated=demo_generated)
    immediate = [_offsets_call(demo, demo_generated, target, 100, bad, Mode.IMMEDIATE)[0] for bad in ([], [40], [9])]
    assert immediate[0] is None and immediate[1].identity == 40 and immediate[2].identity == 9
    for bad in ([], [40], [9]):
        assert _offsets_call(demo, demo_generated, target, 100, bad, Mode.DEFERRED)[0] is None
    assert executor.pending(target) == 3
    failure, context = executor.synchronize(target)
    assert failure == immediate[1] and isinstance(failure, KernelFailure)
    assert executor.pending(target) == 0 and executor.synchronize(target) is None
    # the records are ready again: a good call after a failed synchronization succeeds
    assert _offsets_call(demo, demo_generated, target, 100, [], Mode.IMMEDIATE)[0] is None


SEGMENTS = ("akc_demo_segments", [("akc_demo_segments", [], ["int64_t*", "const int64_t*", "int64_t"])])


@pytest.mark.parametrize("back", [False, True])
def test_row_ranges_checked_on_the_device_read_nothing_back_and_keep_the_c_result(tmp_path, demo, back):
    """Each row writes its own range: the parallel form needs the ranges ordered and disjoint.
    The device checks them and picks the form itself, so a deferred call reads nothing back,
    whichever form the data choose; either way the result is the C order's."""
    spec = demo.spec(*SEGMENTS, ["torow", "offsets", "length"])
    translation = demo.write(spec, tmp_path)
    (step,) = translation.plan.entries["akc_demo_segments"].steps
    assert step.form_on_device and not executor.needs_read_back(translation.plan.entries["akc_demo_segments"])
    offsets = np.arange(0, 82, 2)
    if back:  # row 6 ends before it starts and row 7 starts inside row 5: the C order decides
        offsets[7] = offsets[6] - 1
    expected = np.full(int(offsets.max()) + 1, -1, np.int64)
    for row in range(40):  # the C order: a later row overwrites an earlier one
        expected[offsets[row] : offsets[row + 1]] = row
    target = CountingTarget(seed=2, generated=tmp_path)
    special = spec["specializations"][0]
    for mode in (Mode.IMMEDIATE, Mode.DEFERRED):
        torow = np.full(len(expected), -1, np.int64)
        assert executor.run(translation.plan, special, [torow, offsets, 40], target, 8, mode) is None
        np.testing.assert_array_equal(torow, expected)
    immediate, deferred = target.calls[-2:]
    assert deferred.syncs == 0 and immediate.syncs == 1  # the record only, at the end
    assert deferred.launches == 2  # the parallel form and the serial one, one of them leaving at once
    assert executor.synchronize(target) is None


def test_the_counting_array_module_counts_every_crossing_itself():
    """No note() needed: the module and its arrays count copies, read-backs and allocations."""
    from akcuda.runtime import counting

    xp = counting.CountingArrays()
    with counting.record() as figures:
        a = xp.asarray(np.arange(5))  # a copy to the device
        view = a[1:]  # a view: nothing
        assert bool(xp.all(a * 2 >= 0))  # one read-back (and two arrays made)
        assert int(a[3]) == 3  # an element read
        assert len(a[a > 2]) == 2  # a boolean selection reads its size back
        assert len(xp.flatnonzero(a)) == 4  # so does nonzero
        view[:2] = np.array([7, 7])  # host data written: a copy
        assert a.tolist() == [0, 7, 7, 3, 4]
    assert figures.h2d_copies == 2 and figures.syncs == 5
    assert figures.allocations >= 4 and figures.bytes_allocated >= 5 * 8


def test_private_rows_read_backs_are_counted(tmp_path, translate_upstream):
    """ak.combinations' private copies are checked after count: read-backs the bench names."""
    spec = translate_upstream(tmp_path, "awkward_ListArray_combinations")
    special = next(s for s in spec["specializations"] if s["symbol"] == "awkward_ListArray64_combinations_64")
    plan = executor.load_plan(spec["name"], tmp_path)
    target = CountingTarget(seed=1, generated=tmp_path)
    starts, stops = np.array([0, 3, 3, 7]), np.array([3, 3, 7, 9])
    carry = [np.full(12, -1, np.int64) for _ in range(2)]
    values = [target.pointer_table(carry), np.zeros(2, np.int64), np.zeros(2, np.int64), 2, False, starts, stops, 4]
    assert executor.run(plan, special, values, target, 32, Mode.DEFERRED) is None
    assert executor.synchronize(target) is None
    figures = target.calls[-1]
    assert figures.syncs > 0 and "private copies checked after count" in figures.reasons
    assert "private copies checked after count" in executor.needs_read_back(plan.entry_of(special["symbol"]))
    assert carry[0][:10].tolist() == [0, 0, 1, 3, 3, 3, 4, 4, 5, 7]  # the pairs of each row, as the C
