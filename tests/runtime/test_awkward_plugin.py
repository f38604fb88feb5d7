"""akcuda inside Awkward: install/uninstall, traced calls, identical errors, sorts on the library."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from awkward._backends.numpy import NumpyBackend

from akcuda.runtime import awkward_plugin
from akcuda.validation import corpus

pytestmark = pytest.mark.gxx  # every test starts from the host build of the generated kernels


@pytest.fixture(scope="module", autouse=True)
def ready(upstream_cpp):
    """Generated kernels and their host libraries (built once, in parallel)."""
    corpus.prepare("host")


@pytest.fixture(autouse=True)
def clean():
    """Every test starts and ends with stock Awkward."""
    awkward_plugin.uninstall()
    yield
    awkward_plugin.uninstall()


def _outcome(fn):
    try:
        return "ok", corpus.snapshot(fn())
    except Exception as exc:
        return "error", type(exc), str(exc)


def test_install_and_uninstall_restore_the_original_attribute():
    original = NumpyBackend.__dict__["__getitem__"]
    awkward_plugin.install("host")
    patched = NumpyBackend.__dict__["__getitem__"]
    assert patched is not original and getattr(patched, "akcuda_patch", False)
    awkward_plugin.install("host")  # a second install does not stack a second patch
    assert NumpyBackend.__dict__["__getitem__"] is patched
    awkward_plugin.uninstall()
    assert NumpyBackend.__dict__["__getitem__"] is original
    assert not awkward_plugin.is_installed("host")


def test_context_manager_restores_even_after_an_exception():
    original = NumpyBackend.__dict__["__getitem__"]
    with pytest.raises(RuntimeError, match="inside"):
        with awkward_plugin.installed("host"):
            assert awkward_plugin.is_installed("host")
            raise RuntimeError("inside")
    assert NumpyBackend.__dict__["__getitem__"] is original


def test_kernel_objects_keep_awkwards_interface():
    key = ("awkward_ListArray_compact_offsets", np.int64, np.int64, np.int64)
    with awkward_plugin.installed("host"):
        kernel = NumpyBackend.instance()[key]
    assert isinstance(kernel, awkward_plugin.AkcudaKernel)
    assert kernel.key == key and kernel.symbol == "awkward_ListArray64_compact_offsets_64"
    with pytest.raises(KeyError):  # an unknown key fails as it does in stock Awkward
        with awkward_plugin.installed("host"):
            NumpyBackend.instance()[("awkward_no_such_kernel", np.int64)]


@pytest.mark.parametrize(
    "name, expect",
    [
        ("slice_range_axis1", "awkward_ListArray_getitem_next_range"),
        ("sum_axis1", "awkward_reduce_sum"),
        ("combinations_2", "awkward_ListArray_combinations"),
        ("flatten_union", "awkward_UnionArray_flatten_combine"),
        ("pad_none_axis1", "awkward_ListOffsetArray_rpad_axis1"),
    ],
)
def test_trace_shows_each_call_went_through_akcuda(name, expect):
    arrays = corpus.make_arrays()
    op = corpus.select([name])[0]
    stock = _outcome(lambda: op.fn(arrays))
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorder:
        ours = _outcome(lambda: op.fn(arrays))
    assert stock[0] == "ok" and corpus.same(stock, ours)
    assert recorder.all_akcuda and expect in recorder.kernels
    assert {c.target for c in recorder.calls} == {"host"}
    assert all(c.symbol for c in recorder.calls)


def test_nothing_is_traced_once_uninstalled():
    array = ak.Array([[1, 2, 3], [], [4, 5]])
    with awkward_plugin.installed("host"):
        pass
    with awkward_plugin.trace() as recorder:
        assert ak.sum(array, axis=1).tolist() == [6, 0, 9]
    assert recorder.calls == []


@pytest.mark.parametrize(
    "make_error",
    [
        lambda a: a[:, 2],  # awkward_ListArray_getitem_next_at
        lambda a: a[[0, 2], [1, 5]],  # awkward_ListArray_getitem_next_array_advanced
        lambda a: a[ak.Array([[0], [], [0, 7]])],  # awkward_ListArray_getitem_jagged_apply
        lambda a: a + ak.Array([[1], [2], [3]])[::-1],  # awkward_ListArray_broadcast_tooffsets
    ],
    ids=["int", "advanced", "jagged", "broadcast"],
)
def test_kernel_errors_are_the_same_exception_with_the_same_text(make_error):
    array = ak.Array([[1, 2, 3], [], [4, 5]])
    stock = _outcome(lambda: make_error(array))
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorder:
        ours = _outcome(lambda: make_error(array))
    assert stock[0] == "error" and "in compiled code" in stock[2]
    assert ours == stock
    failed = [c for c in recorder.calls if c.error]
    assert failed and failed[-1].via == "akcuda" and failed[-1].error in stock[2]


def test_sort_runs_through_akcuda_on_the_library_sort():
    array = ak.Array([[3.0, float("nan"), -0.0, 0.0, 2.0], [], [5.0, 4.0]])
    stock = ak.sort(array, axis=1, ascending=False).tolist()
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorder:
        result = ak.sort(array, axis=1, ascending=False)
    assert str(result.tolist()) == str(stock)  # NaN first, -0.0 and 0.0 in input order, as the C
    assert "awkward_sort" in recorder.kernels and recorder.all_akcuda


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unknown akcuda target"):
        awkward_plugin.install("tpu")


@pytest.mark.gpu  # skips, saying why, where no GPU is usable (tests/conftest.py)
@pytest.mark.nvrtc
def test_cuda_target_runs_awkward_on_the_gpu():
    array = ak.to_backend(ak.Array([[1, 2, 3], [], [4, 5]]), "cuda")
    with awkward_plugin.installed("cuda"), awkward_plugin.trace() as recorder:
        assert ak.to_list(array[:, 1:]) == [[2, 3], [], [5]]
        with pytest.raises(IndexError, match="index out of range"):  # deferred: at the first host read
            ak.to_list(array[:, 2])
    assert recorder.calls and all(c.target == "cuda" for c in recorder.calls if c.via == "akcuda")


@pytest.mark.parametrize(
    "values",
    [[[3, 1, 3], [2, 2, 1]], [[[1.5, -0.0], [0.0, 1.5]], [[2.0, 2.0], [1.0, 9.0]]]],
    ids=["2d", "3d"],
)
def test_a_multidimensional_argument_is_the_flat_array_the_c_sees(values):
    """Awkward hands a 2-D (or 3-D) NumpyArray's data to the sort and unique kernels as it is:
    the C reads one flat pointer, so every array argument is its flat view."""
    layout = ak.contents.NumpyArray(np.array(values))
    stock = [ak.to_list(ak._do.unique(layout, axis=axis)) for axis in (-1, None)]
    stock_sorted = ak.to_list(ak.sort(layout, axis=-1))
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorder:
        ours = [ak.to_list(ak._do.unique(layout, axis=axis)) for axis in (-1, None)]
        ours_sorted = ak.to_list(ak.sort(layout, axis=-1))
    assert ours == stock and ours_sorted == stock_sorted
    assert recorder.all_akcuda and "awkward_sort" in recorder.kernels


def test_a_scalar_out_of_its_c_range_is_converted_as_c_converts():
    """An int8 reducer's identity of 1000 is -24 to the C (modulo 2^8), on every target."""
    array = ak.Array(np.array([[5, -100], [], [7]], dtype=object).tolist(), backend="cpu")
    array = ak.values_astype(array, np.int8)
    stock = _outcome(lambda: ak.min(array, axis=1, initial=1000))
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorder:
        ours = _outcome(lambda: ak.min(array, axis=1, initial=1000))
    assert ours == stock and recorder.all_akcuda


def test_datetimes_sort_and_unique_as_stock():
    """The sort step writes datetime64 keys into the output as the C's assignment does."""
    layout = ak.contents.NumpyArray(np.array(["2020-07-27T10:41:11", "2019-01-01", "2020-01-01"], "datetime64[s]"))
    stock = [ak.to_list(ak.sort(layout, highlevel=False)), ak.to_list(ak._do.unique(layout))]
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorder:
        ours = [ak.to_list(ak.sort(layout, highlevel=False)), ak.to_list(ak._do.unique(layout))]
    assert ours == stock and recorder.all_akcuda
