"""The cluster trace's parts in one process: a worker's tally counts exactly what a trace records
(akcuda calls, fallbacks with their reason, failures with their message), and the cluster
verdict `all_akcuda` fails on each thing that should fail it."""

from __future__ import annotations

import json
from collections import Counter

import awkward as ak
import pytest

from akcuda.dask.trace import ClusterTrace, Tally, WorkerTrace
from akcuda.runtime import awkward_plugin

pytestmark = pytest.mark.gxx  # the calls run on the host build of the generated kernels

FALLS_BACK = "awkward_reduce_sum"  # made to fall back in the test, as a kernel akcuda lacked would


@pytest.fixture
def calls(host_kernels, monkeypatch):
    """Kernel calls made with akcuda installed, `FALLS_BACK` falling back and one failing call:
    the ordinary trace's calls and a tally recording the same calls alongside."""
    why_not = awkward_plugin.fallback_reason
    monkeypatch.setattr(
        awkward_plugin,
        "fallback_reason",
        lambda symbol: "made to fall back" if symbol and FALLS_BACK in symbol else why_not(symbol),
    )
    lists = ak.Array([[1.0, 2.0, 3.0], [], [4.0, 5.0]] * 50)
    tally = Tally()
    awkward_plugin.uninstall()
    with awkward_plugin.installed("host"), awkward_plugin.trace() as recorded, awkward_plugin.trace() as counted:
        counted.calls = tally
        ak.sum(lists, axis=1)
        ak.combinations(lists, 2)
        ak.argmax(lists, axis=1, keepdims=True)
        with pytest.raises(IndexError, match="index out of range"):
            lists[:, 2]
    return recorded.calls, tally


def test_a_tally_counts_every_call_a_trace_records(calls):
    recorded, tally = calls
    expected = Counter((c.kernel, c.via, c.reason, c.error) for c in recorded)
    assert tally.take() == expected
    assert {"akcuda", "fallback"} <= {via for _, via, _, _ in expected}  # both kinds, and a failure
    assert any(error for *_, error in expected)
    assert tally.take(reset=True) == expected and tally.take() == Counter()


def test_a_worker_trace_sorts_the_counts_by_how_calls_ran(calls):
    recorded, tally = calls
    worker = WorkerTrace.from_counts("tcp://w:1", tally.take(), installed=True, target="host")
    assert worker.calls == dict(Counter(c.via for c in recorded))
    assert worker.fallback_calls == sum(1 for c in recorded if c.via != "akcuda") > 0
    assert worker.kernels[FALLS_BACK] == {"fallback": sum(1 for c in recorded if c.kernel == FALLS_BACK)}
    assert [(f["kernel"], f["via"], f["reason"]) for f in worker.fallbacks] == [
        (FALLS_BACK, "fallback", "made to fall back")
    ]
    assert [(f["kernel"], f["via"], f["error"], f["calls"]) for f in worker.failures] == [
        ("awkward_ListArray_getitem_next_at", "akcuda", "index out of range", 1)
    ]


def _worker(address: str, installed: bool = True, **calls: int) -> WorkerTrace:
    counts = Counter({("awkward_K", via.replace("_", "-"), None, None): n for via, n in calls.items()})
    return WorkerTrace.from_counts(address, counts, installed=installed, target="host")


@pytest.mark.parametrize(
    "workers, verdict",
    [
        ([_worker("a", akcuda=3), _worker("b", akcuda=1)], True),
        ([], False),  # no worker at all
        ([_worker("a", akcuda=3), _worker("b")], False),  # a worker that ran no kernel
        ([_worker("a", akcuda=3), _worker("b", False)], False),  # a worker without akcuda
        ([_worker("a", akcuda=3), _worker("b", akcuda=2, fallback=1)], False),
        ([_worker("a", akcuda=3), _worker("b", akcuda=2, cpu_copy=1)], False),
    ],
)
def test_all_akcuda_needs_every_worker_on_akcuda_and_no_fallback(workers, verdict):
    trace = ClusterTrace({w.address: w for w in workers})
    assert trace.all_akcuda is verdict
    assert trace.fallback_calls == sum(w.fallback_calls for w in workers)
    assert set(trace.calls) == {"akcuda", "fallback", "cpu-copy"}
    assert trace.calls["akcuda"] == sum(w.akcuda_calls for w in workers)
    assert sum(sum(calls.values()) for calls in trace.kernels.values()) == sum(trace.calls.values())


def test_the_markdown_has_a_row_per_worker_and_names_fallbacks_and_failures(calls):
    _, tally = calls
    counts = tally.take()
    trace = ClusterTrace(
        {
            "tcp://a:1": WorkerTrace.from_counts("tcp://a:1", counts, installed=True, target="host"),
            "tcp://b:2": WorkerTrace("tcp://b:2", False, setup_error="no usable GPU: x"),
        }
    )
    text = trace.markdown()
    assert "| tcp://a:1 | installed | host |" in text and "| tcp://b:2 | not installed: no usable GPU: x |" in text
    assert f"- tcp://a:1: {FALLS_BACK} via fallback (made to fall back)" in text
    assert "- tcp://a:1: awkward_ListArray_getitem_next_at failed: index out of range (1x)" in text
    fallbacks = trace.kernels[FALLS_BACK]["fallback"]
    assert f"| {FALLS_BACK} | 0 | {fallbacks} | 0 |" in text and fallbacks > 0
    assert json.loads(json.dumps(trace.as_dict()))["workers"]["tcp://a:1"]["calls"] == trace.workers["tcp://a:1"].calls
