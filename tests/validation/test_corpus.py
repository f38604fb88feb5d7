"""The Awkward corpus: every operation gives the same result with akcuda installed (host)."""

from __future__ import annotations

import math

import awkward as ak
import pytest

from akcuda.toolchain import specs
from akcuda.validation import corpus


@pytest.fixture(scope="module")
def host_run(upstream_cpp):
    return corpus.run_corpus("host")


@pytest.mark.gxx
def test_every_operation_is_identical_on_host(host_run):
    different = {op["name"]: op["difference"] for op in host_run["operations"] if not op["identical"]}
    assert different == {}
    summary = host_run["summary"]
    assert summary["operations"] >= 60
    assert summary["identical"] == summary["operations"] and summary["different"] == 0


@pytest.mark.gxx
def test_every_operation_runs_kernels_and_none_falls_back(host_run):
    summary, operations = host_run["summary"], host_run["operations"]
    assert all(op["calls"] > 0 for op in operations), [op["name"] for op in operations if not op["calls"]]
    assert summary["via_akcuda"] == summary["operations"] and summary["needs_pending"] == 0
    assert summary["fallback_kernels"] == []
    for op in operations:
        assert op["via_akcuda"] and not op["fallbacks"], op["name"]


@pytest.mark.gxx
def test_sorts_and_uniques_reach_the_sort_kernels_through_akcuda(host_run):
    sorting = [op for op in host_run["operations"] if "sort" in op["name"] or "unique" in op["name"]]
    assert len(sorting) >= 50 and all(op["identical"] and op["via_akcuda"] for op in sorting)
    reached = {k for op in sorting for k in op["kernels"]}
    # every sort kernel (sort_asstrings through the unique operations on strings), and the
    # in-place compaction of unique strings after it
    assert specs.SORT_FAMILY - reached == set()
    assert "awkward_NumpyArray_unique_strings" in reached


@pytest.mark.gxx
def test_errors_are_part_of_the_corpus(host_run):
    errors = [op for op in host_run["operations"] if op["error"]]
    assert len(errors) >= 5
    assert sum("in compiled code" in op["error"] for op in errors) >= 5  # raised by a kernel


def test_the_corpus_covers_every_reducer_axis_and_option():
    names = {op.name for op in corpus.OPERATIONS}
    for reducer in corpus.REDUCERS:
        assert {f"{reducer}_axis0", f"{reducer}_axis1", f"{reducer}_axis-1", f"{reducer}_mask_identity"} <= names
        assert any(n.startswith(f"{reducer}_keepdims") for n in names)
    for family in (
        "slice_",
        "num_",
        "flatten_",
        "combinations_",
        "argcombinations",
        "cartesian",
        "local_index",
        "pad_none",
        "fill_none",
        "drop_none",
        "is_none",
        "concatenate",
        "where",
        "zip",
        "records",
        "union",
        "error_",
    ):
        assert any(n.startswith(family) for n in names), family


def test_inputs_are_seeded_and_varied():
    one, again, other = corpus.make_arrays(7), corpus.make_arrays(7), corpus.make_arrays(8)
    assert all(corpus.same(ak.to_list(one[k]), ak.to_list(again[k])) for k in one)
    assert not corpus.same(ak.to_list(one.jag_i64), ak.to_list(other.jag_i64))
    kinds = {type(a.layout).__name__ for a in one.values()}
    assert {
        "ListOffsetArray",
        "ListArray",
        "RegularArray",
        "IndexedOptionArray",
        "ByteMaskedArray",
        "BitMaskedArray",
        "UnmaskedArray",
        "RecordArray",
        "UnionArray",
    } <= kinds
    dtypes = {str(t) for a in one.values() for t in [a.type]}
    assert any("float32" in t for t in dtypes) and any("uint8" in t for t in dtypes)


def test_same_is_exact():
    assert corpus.same([1, [2.5, math.nan]], [1, [2.5, math.nan]])
    assert not corpus.same(1, 1.0) and not corpus.same(1, True)
    assert not corpus.same(0.0, -0.0)
    assert not corpus.same({"x": 1, "y": 2}, {"y": 2, "x": 1})
    assert not corpus.same([1, 2], [1, 2, 3])


@pytest.mark.gxx
def test_a_wrong_kernel_would_be_caught(monkeypatch, upstream_cpp):
    """The comparison is not vacuous: corrupting one kernel's output makes operations differ."""
    from akcuda.runtime import awkward_plugin

    real = awkward_plugin.AkcudaKernel.__call__

    def off_by_one(self, *args):
        result = real(self, *args)
        if self.symbol == "awkward_reduce_sum_int64_int32_64":
            args[0][0] += 1
        return result

    monkeypatch.setattr(awkward_plugin.AkcudaKernel, "__call__", off_by_one)
    result = corpus.run_corpus("host", names=["sum_axis1", "slice_range_axis1"])
    verdict = {op["name"]: op["identical"] for op in result["operations"]}
    assert verdict == {"sum_axis1": False, "slice_range_axis1": True}


def test_unknown_operation_names_are_refused():
    with pytest.raises(KeyError, match="no_such_op"):
        corpus.select(["no_such_op"])
