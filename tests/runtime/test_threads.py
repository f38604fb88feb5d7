"""The host target under threads: Awkward operations from 4 threads at once give what one
thread gives (the emulation's race recorder is per thread, module caches are locked, each
thread has its own stream buffers)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from akcuda.runtime import awkward_plugin
from akcuda.validation import corpus

pytestmark = pytest.mark.gxx

NAMES = [
    "slice_range_axis1",
    "slice_jagged_int",
    "flatten_nested_axis2",
    "combinations_2",
    "cartesian_axis1",
    "pad_none_axis1",
    "fill_none_inner",
    "local_index_axis1",
    "sum_axis2_nested",
    "softmax",
]


@pytest.fixture(scope="module")
def operations(upstream_cpp):
    corpus.prepare("host")
    known = {op.name for op in corpus.OPERATIONS}
    chosen = [op for op in corpus.OPERATIONS if op.name in NAMES]
    assert len(chosen) >= 6, f"corpus lacks the operations this test names: {sorted(set(NAMES) - known)}"
    return chosen


def test_four_threads_give_what_one_thread_gives(operations):
    arrays = corpus.make_arrays()
    with awkward_plugin.installed("host"), awkward_plugin.trace() as calls:
        alone = {op.name: corpus.evaluate(op, arrays) for op in operations}

        def worker(seed: int) -> dict:
            order = list(operations) * 2
            random.Random(seed).shuffle(order)
            return {op.name: corpus.evaluate(op, arrays) for op in order}

        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(worker, range(4)))
    assert calls.calls and not calls.fallbacks  # the generated kernels ran, not Awkward's
    assert all(outcome[0] == "ok" for outcome in alone.values())
    for results in together:
        assert all(corpus.same(results[name], alone[name]) for name in alone)
