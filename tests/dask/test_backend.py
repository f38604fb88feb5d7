"""Partitions moved between Awkward backends inside a dask-awkward graph: typetracers pass
through (a cuda graph builds without a GPU), a cpu graph with the layer computes the same
arrays, and on a GPU a failure akcuda deferred is raised, as the CPU raises it, by the time the
partition leaves the GPU."""

from __future__ import annotations

import awkward as ak
import dask
import dask_awkward as dak
import pytest

from akcuda.dask import on_backend, to_backend
from akcuda.runtime import awkward_plugin

LISTS = ak.Array([[1.0, 2.0, 3.0], [], [4.0, 5.0], [6.0]])


def test_on_backend_passes_typetracers_and_partitions_already_there():
    tracer = ak.Array(LISTS.layout.to_typetracer(forget_length=True))
    assert on_backend(tracer, "cuda") is tracer
    assert on_backend(LISTS, "cpu") is LISTS


def test_to_backend_is_one_labelled_layer_that_keeps_the_form():
    collection = dak.from_awkward(LISTS, npartitions=2)
    moved = to_backend(collection, "cuda")
    assert [k for k in moved.dask.layers if k not in collection.dask.layers] == [
        k for k in moved.dask.layers if k.startswith("to-cuda-")
    ]
    assert moved.form == collection.form and moved.npartitions == 2


def test_a_graph_through_the_layer_computes_the_same_arrays():
    collection = dak.from_awkward(LISTS, npartitions=2)
    (result,) = dask.compute(ak.sum(to_backend(collection, "cpu"), axis=1), scheduler="sync")
    assert ak.array_equal(result, ak.sum(LISTS, axis=1))


@pytest.mark.gpu
def test_a_deferred_failure_is_raised_where_the_partition_leaves_the_gpu():
    with awkward_plugin.installed("cuda"):  # deferred errors, the cuda default
        on_gpu = on_backend(LISTS, "cuda")
        assert ak.backend(on_gpu) == "cuda"
        assert ak.array_equal(on_backend(ak.sum(on_gpu, axis=1), "cpu"), ak.sum(LISTS, axis=1))
        with pytest.raises(IndexError) as on_cpu:
            LISTS[:, 2]
        # deferred, raised where the partition leaves the GPU at the latest, as the CPU raises it
        with pytest.raises(IndexError) as raised:
            on_backend(on_gpu[:, 2], "cpu")
        assert str(raised.value) == str(on_cpu.value)
