"""The executor: plan expressions with C semantics, the host emulation of translated kernels
(block sizes, failure order, the race check), its scan helpers, and prebuilt cubins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akcuda.plan import expr as E
from akcuda.plan.errors import KernelFailure
from akcuda.runtime import executor
from akcuda.runtime.cuda import prebuilt_cubin
from akcuda.runtime.host import HostTarget, RaceDetected


def _run(demo, generated, symbol, values, block, seed):
    plan = executor.load_plan("akc_demo_offsets", generated)
    special = next(s for s in demo.offsets["specializations"] if s["symbol"] == symbol)
    target = HostTarget(seed=seed, generated=generated)
    return executor.run(plan, special, values, target, block)


@pytest.mark.gxx
@pytest.mark.parametrize("block", [1, 7, 32, 256])
@pytest.mark.parametrize("seed", [1, 2])
def test_host_run_matches_an_independent_numpy_reference(demo, demo_generated, block, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, 300)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    starts, stops = offsets[:-1].astype(np.int32), offsets[1:].astype(np.int32)
    lengths, out = np.full(300, -1, np.int64), np.full(301, -1, np.int64)
    failure = _run(demo, demo_generated, "akc_demo32_offsets_64", [lengths, out, starts, stops, 300], block, seed)
    assert failure is None
    np.testing.assert_array_equal(lengths, counts)
    np.testing.assert_array_equal(out, offsets)


@pytest.mark.gxx
@pytest.mark.parametrize("block", [1, 7, 32])
def test_parallel_failure_reports_the_first_bad_row_in_sequential_order(demo, demo_generated, block):
    starts = np.arange(0, 100, dtype=np.int32)
    stops = starts + 1
    stops[[41, 17, 90]] = starts[[41, 17, 90]] - 1  # three bad rows; row 17 comes first
    failure = _run(
        demo,
        demo_generated,
        "akc_demo32_offsets_64",
        [np.zeros(100, np.int64), np.zeros(101, np.int64), starts, stops, 100],
        block,
        5,
    )
    assert failure == KernelFailure("row stops before it starts", 17, 17, failure.line)


@pytest.mark.gxx
def test_regular_kernel_fills_two_dimensions(demo, demo_generated):
    plan = executor.load_plan("akc_demo_regular", demo_generated)
    out = np.full(5 * 3, -1, np.int64)
    target = HostTarget(seed=3, generated=demo_generated)
    assert executor.run(plan, demo.regular["specializations"][0], [out, 3, 5, 10], target, block=4) is None
    np.testing.assert_array_equal(out, np.minimum(np.arange(15), 10))


def test_evaluate_follows_c_integer_semantics():
    def evaluate(data: list, scalars: dict) -> int:  # the plan's JSON form, as the translator writes it
        return E.evaluate(E.from_json(data), scalars)

    assert evaluate(["/", ["int", -7], ["int", 2]], {}) == -3
    assert evaluate(["%", ["int", -7], ["int", 2]], {}) == -1
    assert evaluate(["-", ["arg", "length"], ["int", 1]], {"length": 10}) == 9
    assert evaluate(["neg", ["*", ["arg", "a"], ["int", 3]]], {"a": 2}) == -6


@pytest.mark.gxx
def test_race_check_catches_two_threads_writing_one_address(demo, demo_generated, tmp_path):
    racy = tmp_path / "racy"
    racy.mkdir()
    text = (demo_generated / "akc_demo_offsets.cu").read_text()
    assert "AKC_STORE(tolengths[i])" in text
    (racy / "akc_demo_offsets.cu").write_text(text.replace("AKC_STORE(tolengths[i])", "AKC_STORE(tolengths[i / 2])"))
    (racy / "akc_demo_offsets.plan.json").write_text((demo_generated / "akc_demo_offsets.plan.json").read_text())
    starts = np.arange(10, dtype=np.int32)
    values = [np.zeros(10, np.int64), np.zeros(11, np.int64), starts, starts + 1, 10]
    with pytest.raises(RaceDetected, match=r"race in akc_demo_offsets__s0<int32_t, int64_t>: .* argument 0 element \d"):
        _run(demo, racy, "akc_demo32_offsets_64", values, 4, 1)
    # the faithful translation runs clean under the same check
    assert _run(demo, demo_generated, "akc_demo32_offsets_64", values, 4, 1) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 5)), min_size=1, max_size=60))
def test_scan_by_key_matches_a_running_count_per_key(items):
    keys = np.array([k for k, _ in items], np.int64)
    advances = np.concatenate([np.array([a for _, a in items], np.int64), [0]])
    distinct, totals = executor._scan_by_key(np, advances, keys, len(items))
    running: dict[int, int] = {}
    for position, (key, advance) in enumerate(items):  # the C loop: start where the key stood
        assert advances[position] == running.get(key, 0)
        running[key] = running.get(key, 0) + advance
    assert dict(zip(distinct.tolist(), totals.tolist(), strict=True)) == running


@pytest.mark.gxx
@pytest.mark.nvrtc
def test_prebuilt_cubins_are_used_only_for_the_same_source_and_arch(upstream_cpp):
    """The cuda target's first call needs no compile when `akcuda compile` built this source."""
    from akcuda import paths
    from akcuda.toolchain import pipeline
    from akcuda.toolchain.compile import compile_all

    kernel = "awkward_ListArray_compact_offsets"
    assert not any(pipeline.generate(kernel).values())
    compile_all(paths.GENERATED, paths.COMPILED, kernels=[kernel], progress=False)
    source = (paths.GENERATED / f"{kernel}.cu").read_text()
    found = prebuilt_cubin(paths.COMPILED, kernel, "sm_90", source)
    assert found is not None and found[0].read_bytes()[:4] == b"\x7fELF"
    plan = executor.load_plan(kernel)
    assert set(found[1]) == set(plan.name_expressions)
    assert prebuilt_cubin(paths.COMPILED, kernel, "sm_90", source + "// edited\n") is None
    assert prebuilt_cubin(paths.COMPILED, kernel, "sm_75", source) is None


@pytest.mark.gxx
@pytest.mark.nvrtc
def test_the_cuda_stack_is_sized_from_the_frames_ptxas_reports(upstream_cpp):
    """ak.combinations' helper recurses once per column: a launch needs its entry frame plus one
    helper frame per level, as ptxas reports them at compile time; CUDA's default 1 KiB per
    thread overflows from about n = 7, so the cuda target raises the limit before such a launch."""
    import json

    from akcuda import paths
    from akcuda.runtime.cuda import DEFAULT_STACK, recursion_depth_argument, stack_bytes
    from akcuda.toolchain import pipeline
    from akcuda.toolchain.compile import compile_all

    kernel, symbol = "awkward_ListArray_combinations", "awkward_ListArray64_combinations_64"
    assert not any(pipeline.generate(kernel).values())
    compile_all(paths.GENERATED, paths.COMPILED, kernels=[kernel], progress=False)
    record = json.loads((paths.COMPILED / "sm_90" / f"{kernel}.lowered.json").read_text())
    frames, plan = record["frames"], executor.load_plan(kernel)
    assert frames["calls"] >= 64  # the recursive helper spills to its stack frame at every level
    fill = next(
        record["lowered"][launch.expression]
        for roles in plan.specializations[symbol].launches
        for role, launch in roles.items()
        if role.value == "fill"
    )
    assert frames["entries"][fill] >= 128
    assert recursion_depth_argument(symbol) == 3  # n, as the spec says
    for n in (1, 7, 16, 64, 1000):
        assert stack_bytes(frames, fill, n) >= frames["entries"][fill] + (n + 1) * frames["calls"]
    assert stack_bytes(frames, fill, 7) > DEFAULT_STACK >= stack_bytes(frames, fill, 1)
