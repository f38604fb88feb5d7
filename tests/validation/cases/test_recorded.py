"""Recorded cases: kernel calls Awkward makes, saved, loaded back, and passed by akcuda."""

from __future__ import annotations

import numpy as np
import pytest
from awkward._backends.numpy import NumpyBackend
from awkward._nplikes.numpy import Numpy

from akcuda.runtime import awkward_plugin, executor
from akcuda.runtime.host import HostTarget
from akcuda.validation import corpus, parity
from akcuda.validation.cases import Case
from akcuda.validation.cases.recorded import load_recorded_cases, reads_output, record, recorded_symbols

# A few operations that between them record T** tables (combinations, union flatten — the
# latter passed by Awkward as a ctypes pointer), a failing kernel, reducers and option types.
OPERATIONS = [
    "slice_jagged_int",
    "combinations_3_replacement",
    "combinations_regular",
    "flatten_union",
    "error_int_out_of_range",
    "argmax_axis0",
    "fill_none_bitmasked",
    "pad_none_option",
    "sum_mask_identity",
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, upstream_cpp):
    corpus.prepare("host")
    folder = tmp_path_factory.mktemp("recorded")
    return record(folder, OPERATIONS), folder


def _cases(folder):
    return {symbol: load_recorded_cases(symbol, folder) for symbol in recorded_symbols(folder)}


@pytest.mark.gxx
def test_recording_saves_every_call_and_undoes_its_patches(recorded):
    summary, folder = recorded
    assert summary.operations == len(OPERATIONS)
    assert summary.skipped == 0 and summary.unfaithful == 0 and 0 < summary.distinct <= summary.calls
    assert summary.symbols == len(list(folder.glob("*.npz")))
    assert not getattr(NumpyBackend.__dict__["__getitem__"], "akcuda_patch", False)
    assert Numpy.__dict__["memory_ptr"].__module__.startswith("awkward")


@pytest.mark.gxx
def test_loaded_cases_are_recorded_cases_with_named_arguments(recorded):
    _, folder = recorded
    cases = _cases(folder)
    assert {
        "awkward_ListArray32_combinations_64",
        "awkward_RegularArray_combinations_64",
        "awkward_UnionArray64_flatten_combine_64",
        "awkward_ListArray64_getitem_next_at_64",
    } <= set(cases)
    for symbol, found in cases.items():
        _, special = awkward_plugin.specialization(symbol)
        for case in found:
            assert isinstance(case, Case) and case.source == "recorded" and case.symbol == symbol
            assert set(case.args) == {a["name"] for a in special["args"]}
    table = cases["awkward_UnionArray64_flatten_combine_64"][0].args["offsetsraws"]
    assert isinstance(table, list) and all(isinstance(a, np.ndarray) for a in table)
    carry = cases["awkward_RegularArray_combinations_64"][0].args["tocarry"]
    assert carry and all(c == {"out": c["out"]} for c in carry)
    failing = cases["awkward_ListArray64_getitem_next_at_64"]
    assert any(c.expect_failure and c.notes["message"] == "index out of range" for c in failing)


@pytest.mark.gxx
def test_recorded_cases_pass_parity_on_the_host_target(recorded):
    _, folder = recorded
    target = HostTarget()
    ran = 0
    for symbol, cases in _cases(folder).items():
        spec, special = awkward_plugin.specialization(symbol)
        if spec["status"] == "pending":
            continue
        plan = executor.load_plan(spec["name"])
        for case in cases:
            outcome = parity.run_case(plan, special, case, target)
            assert outcome.passed, (symbol, case.name, outcome.reason, outcome.cpu, outcome.ours)
            ran += 1
    assert ran >= 20


def test_an_output_the_kernel_reads_is_given_with_its_contents():
    _, adjust = awkward_plugin.specialization("awkward_NumpyArray_reduce_adjust_starts_64")
    # toptr holds argmin positions that the kernel rebases in place: it reads them.
    before = {
        "toptr": np.array([1, 5, -1], dtype=np.int64),
        "outlength": 3,
        "offsets": np.array([0, 2, 5, 5], dtype=np.int64),
        "starts": np.array([0, 2, 5], dtype=np.int64),
    }
    assert reads_output(adjust, before, "toptr")
    _, compact = awkward_plugin.specialization("awkward_ListArray64_compact_offsets_64")
    garbage = {
        "tooffsets": np.array([7, 7, 7], dtype=np.int64),
        "fromstarts": np.array([0, 3], dtype=np.int64),
        "fromstops": np.array([3, 4], dtype=np.int64),
        "length": 2,
    }
    assert not reads_output(compact, garbage, "tooffsets")


def test_no_file_means_no_cases(tmp_path):
    assert load_recorded_cases("awkward_ListArray64_num_64", tmp_path) == []
