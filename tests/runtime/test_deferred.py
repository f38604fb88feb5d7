"""Deferred errors: a call after a failed one on its stream does nothing, a pending call keeps only
what raising needs, and the failure is raised as the CPU raises it, no later than the first time
a result reaches the host."""

from __future__ import annotations

import gc
import re
import weakref

import awkward as ak
import numpy as np
import pytest

from akcuda import paths
from akcuda import plan as plans
from akcuda.runtime import awkward_plugin, deferred_errors, executor
from akcuda.runtime.executor import Mode
from akcuda.runtime.host import CountingTarget
from akcuda.validation import corpus

pytestmark = pytest.mark.gxx


def _offsets(demo, generated, target, bad: list[int], fill: int = 0):
    """A deferred call of the demo offsets kernel over 100 rows (rows in `bad` fail)."""
    plan = executor.load_plan("akc_demo_offsets", generated)
    special = next(s for s in demo.offsets["specializations"] if s["symbol"] == "akc_demo32_offsets_64")
    starts = np.arange(100, dtype=np.int32)
    stops = starts + 1
    stops[bad] = starts[bad] - 1
    values = [np.full(100, fill, np.int64), np.full(101, fill, np.int64), starts, stops, 100]
    assert executor.run(plan, special, values, target, 32, Mode.DEFERRED, context=tuple(bad)) is None
    return values


def test_a_call_after_a_failed_one_on_its_stream_does_nothing(demo, demo_generated):
    target = CountingTarget(seed=2, generated=demo_generated)
    _offsets(demo, demo_generated, target, [40])
    lengths, offsets, *_ = _offsets(demo, demo_generated, target, [], fill=-7)
    assert target.calls[-1].launches > 0  # its kernels were launched, and each left at once
    assert (lengths == -7).all() and (offsets == -7).all()
    failure, context = executor.synchronize(target)
    assert failure.identity == 40 and context == (40,)
    # once reported, the stream runs again
    lengths, offsets, *_ = _offsets(demo, demo_generated, target, [], fill=-7)
    np.testing.assert_array_equal(offsets, np.arange(101))
    assert executor.synchronize(target) is None


def test_a_pending_call_keeps_none_of_its_arguments(demo, demo_generated):
    target = CountingTarget(seed=2, generated=demo_generated)
    values = _offsets(demo, demo_generated, target, [3])
    held = [weakref.ref(v) for v in values if isinstance(v, np.ndarray)]
    del values
    gc.collect()
    assert executor.pending(target) == 1 and all(ref() is None for ref in held)
    assert executor.synchronize(target)[0].identity == 3  # and its failure is still reported


def test_every_failure_record_is_complete_when_its_call_ends():
    """A deferred call's failure is reported from its record alone: no generated kernel leaves
    the message to a re-run on the arguments, except a one-thread launch that the executor
    always makes with its report index set (serial steps and the C-order forms)."""
    corpus.prepare("host")
    incomplete = []
    for source in sorted(paths.GENERATED.glob("*.cu")):
        plan = plans.load(paths.GENERATED / f"{source.stem}.plan.json")
        for name, body in re.findall(r"__global__ void (\w+)\((.*?)\n\}", source.read_text(), re.S):
            if "akc_report >= 0, " not in body:
                continue
            entry, step, role = re.fullmatch(r"(\w+?)__s(\d+)(?:_(\w+))?", name).groups()
            if not (role == "serial" or (role is None and plan.entries[entry].steps[int(step)].kind.value == "serial")):
                incomplete.append(name)
    assert incomplete == []


# ------------------------------------------------------------------ inside Awkward


class HostArray(np.ndarray):
    """A NumPy array standing for a device array: reading it is a result reaching the host."""


@pytest.fixture
def deferred_host(monkeypatch):
    """Awkward's cpu backend on akcuda's host target with deferred errors, HostArray as its
    device array (only the cuda backend has deferred errors for users). Awkward goes on past a
    failed call with its unset outputs, as on the cuda backend; there CuPy's indexing never
    raises on them, NumPy's may: what Awkward allocates is zeroed here."""
    from awkward._nplikes.numpy import Numpy

    monkeypatch.setattr(Numpy, "empty", lambda self, shape, *, dtype=None: np.zeros(shape, dtype=dtype))
    corpus.prepare("host")
    awkward_plugin.uninstall()
    awkward_plugin.route("host", Mode.DEFERRED, HostArray)
    yield
    awkward_plugin.uninstall()
    awkward_plugin.synchronize_target(awkward_plugin.shared_target("host"))  # nothing left behind


ERRORS = {
    "int": lambda a: a[:, 2],  # awkward_ListArray_getitem_next_at: an IndexError
    "advanced": lambda a: a[[0, 2], [1, 5]],
    "jagged": lambda a: a[ak.Array([[0], [], [0, 7]])],
    "broadcast": lambda a: a + ak.Array([[1], [2], [3]])[::-1],  # a ValueError
}


def _raised(fn) -> tuple[type, str, list[str]]:
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value), getattr(info.value, "__notes__", [])[:1]


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_a_deferred_failure_is_raised_as_the_cpu_raises_it(name, deferred_host):
    array = ak.Array([[1, 2, 3], [], [4, 5]])
    awkward_plugin.uninstall()
    stock = _raised(lambda: ERRORS[name](array))
    awkward_plugin.route("host", Mode.DEFERRED, HostArray)
    ERRORS[name](array)  # nothing raised yet: the failure waits on the device
    assert _raised(lambda: awkward_plugin.synchronize("host")) == stock
    assert stock[0] is (ValueError if name == "broadcast" else IndexError)


def test_a_result_reaching_the_host_raises_the_pending_failure_first(deferred_host):
    array = ak.Array([[1, 2, 3], [], [4, 5]])
    ERRORS["int"](array)
    probe = np.arange(3).view(HostArray)
    with pytest.raises(IndexError, match="index out of range"):
        probe.tolist()
    assert probe.tolist() == [0, 1, 2] and int(probe[1]) == 1  # reported once, then reads go on


def test_a_check_that_reads_the_error_gets_it_at_once(deferred_host):
    """Awkward's validity checks return the C's failure as text: the call settles when read."""
    good = ak.Array([[1, 2, 3], [], [4, 5]]).layout
    bad = ak.contents.ListArray(ak.index.Index64([0, 3, 2]), ak.index.Index64([3, 1, 5]), good.content)
    awkward_plugin.uninstall()
    stock = [ak.validity_error(x) for x in (bad, good)]
    awkward_plugin.route("host", Mode.DEFERRED, HostArray)
    assert [ak.validity_error(x) for x in (bad, good)] == stock and stock[0] and not stock[1]


def test_the_host_read_hooks_are_cupys_own_methods_and_are_put_back():
    """The cuda backend's hooks patch CuPy's ndarray (real CuPy; no device needed)."""
    import cupy  # a test dependency: it imports without a device

    before = dict(cupy.ndarray.__dict__)
    patch = deferred_errors.HostReadPatch(cupy.ndarray, lambda: None)
    hooked = {name for (_, name) in patch.originals}
    assert {"get", "item", "tolist", "__int__", "__float__", "__bool__"} <= hooked
    assert all(getattr(cupy.ndarray.__dict__[name], "akcuda_patch", False) for name in hooked)
    patch.undo()
    assert dict(cupy.ndarray.__dict__) == before
