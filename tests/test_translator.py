"""The translator on small kernels written for these tests (tests/kernels/), not upstream ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from akcuda.toolchain import compile as nvrtc_compile
from akcuda.runtime import executor, host
from akcuda.generator.analyze import plan_steps
from akcuda.generator.cuda_generator import TranslationError
from akcuda.generator.preprocess import preprocess
from akcuda.generator.translate import parse, translate

KERNELS = Path(__file__).with_name("kernels")
EMPTY_INCLUDE = KERNELS  # the demo kernels include only awkward/kernels.h, which the stubs supply


def demo_spec(name: str, specializations: list[tuple[str, list[str], list[str]]], names: list[str]) -> dict:
    """A kernel-spec mapping for a demo kernel: (symbol, template args, arg ctypes) per symbol."""
    return {
        "name": name, "source": f"tests/kernels/{name}.cpp", "sha256": "0" * 64,
        "specializations": [
            {"symbol": symbol, "template_args": targs,
             "args": [{"name": n, "ctype": c, "dir": "in"} for n, c in zip(names, ctypes)]}
            for symbol, targs, ctypes in specializations],
    }


OFFSETS_ARGS = ["tolengths", "tooffsets", "fromstarts", "fromstops", "length"]
OFFSETS = demo_spec("akc_demo_offsets", [
    ("akc_demo32_offsets_64", ["int32_t", "int64_t"], ["int64_t*", "int64_t*", "const int32_t*", "const int32_t*", "int64_t"]),
    ("akc_demoU32_offsets_64", ["uint32_t", "int64_t"], ["int64_t*", "int64_t*", "const uint32_t*", "const uint32_t*", "int64_t"]),
], OFFSETS_ARGS)
REGULAR = demo_spec("akc_demo_regular", [
    ("akc_demo_regular", [], ["int64_t*", "int64_t", "int64_t", "int64_t"]),
], ["tocarry", "size", "length", "limit"])


# ------------------------------------------------------------------ preprocess

def test_preprocess_records_templates_wrappers_and_keeps_lines():
    pp = preprocess(KERNELS / "akc_demo_offsets.cpp", [EMPTY_INCLUDE])
    assert pp.templates == {"akc_demo_offsets": ["C", "T"]}
    assert pp.wrappers["akc_demo32_offsets_64"].target == "akc_demo_offsets"
    assert pp.wrappers["akc_demoU32_offsets_64"].template_args == ["uint32_t", "int64_t"]
    assert "static_cast" not in pp.text and "T{}" not in pp.text and "__restrict__" not in pp.text
    parsed = parse(KERNELS / "akc_demo_offsets.cpp", [EMPTY_INCLUDE])
    func = parsed.functions["akc_demo_offsets"]
    source_lines = (KERNELS / "akc_demo_offsets.cpp").read_text().splitlines()
    # every statement's coordinate points at the original line of that statement
    first_loop = func.body.block_items[0]
    assert "for (int64_t i = 0" in source_lines[first_loop.coord.line - 1]
    assert func.body.block_items[1].coord.line == source_lines.index("  tooffsets[0] = T{};") + 1


def test_wrapper_template_arguments_are_deduced_when_not_named(tmp_path):
    src = tmp_path / "akc_deduce.cpp"
    src.write_text(textwrap.dedent("""\
        #include "awkward/kernels.h"
        template <typename TO>
        ERROR akc_deduce(TO* __restrict__ out, int64_t length) {
          for (int64_t i = 0; i < length; i++) { out[i] = (TO)i; }
          return success();
        }
        ERROR akc_deduce_to64(int64_t* out, int64_t length) {
          return akc_deduce(out, length);
        }
        """))
    assert preprocess(src, []).wrappers["akc_deduce_to64"].template_args == ["int64_t"]


# ------------------------------------------------------------------ analyze

def test_independent_loop_is_parallel_and_integer_running_sum_is_a_scan():
    func = parse(KERNELS / "akc_demo_offsets.cpp", [EMPTY_INCLUDE]).functions["akc_demo_offsets"]
    steps, _ = plan_steps(func, {"length"}, set(), {"tolengths", "tooffsets", "fromstarts", "fromstops"},
                          integral=lambda array: array == "tooffsets")
    assert [s.kind for s in steps] == ["parallel", "serial", "scan"]
    assert steps[0].count == ["-", ["arg", "length"], ["int", 0]]
    assert [(c.kind, c.place) for c in steps[2].counters] == [("running", "tooffsets")]
    # a floating-point running sum would be reordered by a scan: it stays serial, with the reason
    steps, _ = plan_steps(func, {"length"}, set(), {"tolengths", "tooffsets", "fromstarts", "fromstops"})
    assert [s.kind for s in steps] == ["parallel", "serial"]
    assert "not of an integer type" in steps[1].reason


def test_conditional_counter_becomes_count_scan_fill(tmp_path):
    src = tmp_path / "akc_compact.cpp"
    src.write_text(textwrap.dedent("""\
        ERROR akc_compact(int64_t* out, int64_t* total, const int8_t* mask, int64_t length) {
          int64_t k = 0;
          for (int64_t i = 0; i < length; i++) {
            if (mask[i] != 0) {
              out[k] = i;
              k++;
            }
          }
          *total = k;
          return success();
        }
        """))
    func = parse(src, []).functions["akc_compact"]
    steps, decls = plan_steps(func, {"length"}, set(), {"out", "total", "mask"})
    assert [s.kind for s in steps] == ["serial", "scan", "serial"]
    assert [(c.kind, c.name) for c in steps[1].counters] == [("local", "k")]
    assert [d.name for d in decls] == ["k"]


def test_counter_in_a_condition_is_not_a_scan(tmp_path):
    src = tmp_path / "akc_capped.cpp"
    src.write_text(textwrap.dedent("""\
        ERROR akc_capped(int64_t* out, int64_t length) {
          int64_t k = 0;
          for (int64_t i = 0; i < length; i++) {
            if (k < 3) { out[k] = i; k++; }
          }
          return success();
        }
        """))
    steps, _ = plan_steps(parse(src, []).functions["akc_capped"], {"length"}, set(), {"out"})
    assert steps[0].kind == "serial" and "counter 'k' is used in a branch condition at line 4" in steps[0].reason


def test_nested_regular_loop_with_private_helper_call_is_parallel():
    parsed = parse(KERNELS / "akc_demo_regular.cpp", [EMPTY_INCLUDE])
    func = parsed.functions["akc_demo_regular"]
    steps, _ = plan_steps(func, {"size", "length", "limit"}, {"akc_demo_clamp"}, {"tocarry"})
    assert steps[0].kind == "parallel"


def test_write_through_a_data_dependent_index_is_not_parallel(tmp_path):
    src = tmp_path / "akc_scatter.cpp"
    src.write_text(textwrap.dedent("""\
        ERROR akc_scatter(int64_t* out, const int64_t* index, int64_t length) {
          for (int64_t i = 0; i < length; i++) { out[index[i]] = i; }
          return success();
        }
        """))
    func = parse(src, []).functions["akc_scatter"]
    steps, _ = plan_steps(func, {"length"}, set(), {"out", "index"})
    assert steps[0].kind == "serial" and "out[index[i]]" in steps[0].reason


# ------------------------------------------------------------------ emit and compile

def test_untranslatable_construct_names_kernel_line_and_construct(tmp_path):
    src = tmp_path / "akc_goto.cpp"
    src.write_text(textwrap.dedent("""\
        ERROR akc_goto(int64_t* out, int64_t length) {
          int64_t i = 0;
        again:
          out[i] = i;
          i++;
          if (i < length) goto again;
          return success();
        }
        """))
    spec = demo_spec("akc_goto", [("akc_goto", [], ["int64_t*", "int64_t"])], ["out", "length"])
    with pytest.raises(TranslationError) as info:
        translate({**spec, "source": "akc_goto.cpp"}, tmp_path, tmp_path)
    assert "akc_goto" in str(info.value) and "akc_goto.cpp:6" in str(info.value) and "goto" in str(info.value)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    for spec in (OFFSETS, REGULAR):
        translation = translate(spec, KERNELS, EMPTY_INCLUDE)
        (out / f"{spec['name']}.cu").write_text(translation.source)
        (out / f"{spec['name']}.plan.json").write_text(__import__("json").dumps(translation.plan))
    return out


def test_emitted_cuda_has_templates_steps_and_error_writes(generated):
    text = (generated / "akc_demo_offsets.cu").read_text()
    assert "template <typename C, typename T>\n__global__ void akc_demo_offsets__s0(" in text
    assert "akc_fail(akc_err, 0, akc_tid" in text
    assert "__device__ static void akc_demo_clamp" in (generated / "akc_demo_regular.cu").read_text()


@pytest.mark.parametrize("arch", nvrtc_compile.ARCHS)
def test_generated_demo_kernels_compile_cleanly_with_nvrtc(generated, arch):
    for name in ("akc_demo_offsets", "akc_demo_regular"):
        plan = executor.load_plan(name, generated)
        cubin, _, lowered, log = nvrtc_compile.compile_source(
            (generated / f"{name}.cu").read_text(), f"{name}.cu", plan["name_expressions"], arch)
        assert log == "" and cubin is not None and set(lowered) == set(plan["name_expressions"])


# ------------------------------------------------------------------ run on the host emulation

def _run(generated, symbol, values, block, seed):
    plan = executor.load_plan("akc_demo_offsets", generated)
    special = next(s for s in OFFSETS["specializations"] if s["symbol"] == symbol)
    target = executor.HostTarget(seed=seed, generated=generated)
    return executor.run(plan, special, values, target, block)


@pytest.mark.parametrize("block", [1, 7, 32, 256])
@pytest.mark.parametrize("seed", [1, 2])
def test_host_run_matches_an_independent_numpy_reference(generated, block, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, 300)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    starts, stops = offsets[:-1].astype(np.int32), offsets[1:].astype(np.int32)
    lengths, out = np.full(300, -1, np.int64), np.full(301, -1, np.int64)
    failure = _run(generated, "akc_demo32_offsets_64", [lengths, out, starts, stops, 300], block, seed)
    assert failure is None
    np.testing.assert_array_equal(lengths, counts)
    np.testing.assert_array_equal(out, offsets)


@pytest.mark.parametrize("block", [1, 7, 32])
def test_parallel_failure_reports_the_first_bad_row_in_sequential_order(generated, block):
    starts = np.arange(0, 100, dtype=np.int32)
    stops = starts + 1
    stops[[41, 17, 90]] = starts[[41, 17, 90]] - 1  # three bad rows; row 17 comes first
    failure = _run(generated, "akc_demo32_offsets_64",
                   [np.zeros(100, np.int64), np.zeros(101, np.int64), starts, stops, 100], block, 5)
    assert failure == executor.KernelFailure("row stops before it starts", 17, 17, failure.line)


def test_regular_kernel_fills_two_dimensions(generated):
    plan = executor.load_plan("akc_demo_regular", generated)
    out = np.full(5 * 3, -1, np.int64)
    target = executor.HostTarget(seed=3, generated=generated)
    assert executor.run(plan, REGULAR["specializations"][0], [out, 3, 5, 10], target, block=4) is None
    np.testing.assert_array_equal(out, np.minimum(np.arange(15), 10))


def test_evaluate_follows_c_integer_semantics():
    assert executor.evaluate(["/", ["int", -7], ["int", 2]], {}) == -3
    assert executor.evaluate(["%", ["int", -7], ["int", 2]], {}) == -1
    assert executor.evaluate(["-", ["arg", "length"], ["int", 1]], {"length": 10}) == 9
    assert executor.evaluate(["neg", ["*", ["arg", "a"], ["int", 3]]], {"a": 2}) == -6


def test_host_build_reports_compiler_errors(tmp_path):
    broken = tmp_path / "akc_broken.cu"
    broken.write_text("__global__ void k( { }\n")
    result = host.build(broken, tmp_path / "out")
    assert not result.ok and "akc_broken.cu" in result.log


def test_race_check_catches_two_threads_writing_one_address(generated, tmp_path):
    racy = tmp_path / "racy"
    racy.mkdir()
    text = (generated / "akc_demo_offsets.cu").read_text()
    assert "AKC_STORE(tolengths[i])" in text
    (racy / "akc_demo_offsets.cu").write_text(text.replace("AKC_STORE(tolengths[i])", "AKC_STORE(tolengths[i / 2])"))
    (racy / "akc_demo_offsets.plan.json").write_text((generated / "akc_demo_offsets.plan.json").read_text())
    starts = np.arange(10, dtype=np.int32)
    values = [np.zeros(10, np.int64), np.zeros(11, np.int64), starts, starts + 1, 10]
    with pytest.raises(executor.RaceDetected, match=r"race in akc_demo_offsets__s0<int32_t, int64_t>: .* argument 0 element \d"):
        _run(racy, "akc_demo32_offsets_64", values, 4, 1)
    # the faithful translation runs clean under the same check
    assert _run(generated, "akc_demo32_offsets_64", values, 4, 1) is None


BRANCHES = demo_spec("akc_demo_branches", [
    ("akc_demo_branches", [], ["int64_t*", "int64_t*", "int64_t*", "const int64_t*", "int64_t", "bool"]),
], ["out", "longest", "total", "offsets", "length", "reverse"])


def test_branches_on_flags_and_reductions_into_memory_run_in_parallel(tmp_path):
    translation = translate(BRANCHES, KERNELS, EMPTY_INCLUDE)
    steps = translation.plan["entries"]["akc_demo_branches"]["steps"]
    assert [(s["kind"], s["guard"]) for s in steps[:2]] == [
        ("parallel", ["arg", "reverse"]), ("parallel", ["!", ["arg", "reverse"]])]
    assert steps[-1]["kind"] == "scan"
    assert sorted(c["op"] for c in steps[-1]["counters"]) == ["max", "sum"]
    (tmp_path / "akc_demo_branches.cu").write_text(translation.source)
    (tmp_path / "akc_demo_branches.plan.json").write_text(__import__("json").dumps(translation.plan))
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 9, 500)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for reverse in (False, True):
        out, longest, total = np.zeros(500, np.int64), np.full(1, -5, np.int64), np.full(1, -5, np.int64)
        target = executor.HostTarget(seed=9, generated=tmp_path)
        failure = executor.run(translation.plan, BRANCHES["specializations"][0],
                               [out, longest, total, offsets, 500, reverse], target, block=32)
        assert failure is None
        np.testing.assert_array_equal(out, counts[::-1] if reverse else counts)
        assert (longest[0], total[0]) == (counts.max(), counts.sum())


SEGMENTS = demo_spec("akc_demo_segments", [
    ("akc_demo_segments", [], ["int64_t*", "const int64_t*", "int64_t"]),
], ["torow", "offsets", "length"])


def test_segment_writes_run_in_parallel_only_when_the_offsets_rise(tmp_path):
    translation = translate(SEGMENTS, KERNELS, EMPTY_INCLUDE)
    (step,) = translation.plan["entries"]["akc_demo_segments"]["steps"]
    assert step["kind"] == "parallel" and step["segments"] == [{"starts": ["offsets", 0], "stops": ["offsets", 1], "disjoint": True}]
    (tmp_path / "akc_demo_segments.cu").write_text(translation.source)
    special = SEGMENTS["specializations"][0]

    def reference(offsets, size):  # the C loop, in order: a later row overwrites an earlier one
        out = np.full(size, -1, np.int64)
        for row in range(len(offsets) - 1):
            out[offsets[row]:offsets[row + 1]] = row
        return out

    rising = np.array([0, 3, 3, 7, 10], np.int64)
    overlapping = np.array([0, 6, 2, 9, 10], np.int64)  # rows 1 and 2 share elements 2..5
    for offsets in (rising, overlapping):
        out = np.full(10, -1, np.int64)
        target = executor.HostTarget(seed=5, generated=tmp_path)
        assert executor.run(translation.plan, special, [out, offsets, 4], target, block=2) is None
        np.testing.assert_array_equal(out, reference(offsets, 10))


RANGES = demo_spec("akc_demo_ranges", [
    ("akc_demo_ranges", [], ["int64_t*", "const int64_t*", "const int64_t*", "int64_t"]),
], ["toindex", "starts", "stops", "length"])


@pytest.mark.parametrize("starts, stops, parallel", [
    ([0, 4, 4, 9], [4, 4, 9, 12], True),     # ordered, non-overlapping: rows run in parallel
    ([6, 0, 3, 9], [9, 3, 6, 12], False),    # disjoint but out of order: C order is kept
    ([0, 2, 5, 9], [4, 6, 9, 12], False),    # overlapping: a later row overwrites, as in C
])
def test_list_ranges_are_checked_at_run_time(tmp_path, starts, stops, parallel):
    translation = translate(RANGES, KERNELS, EMPTY_INCLUDE)
    (step,) = translation.plan["entries"]["akc_demo_ranges"]["steps"]
    assert step["segments"] == [{"starts": ["starts", 0], "stops": ["stops", 0], "disjoint": True}]
    (tmp_path / "akc_demo_ranges.cu").write_text(translation.source)
    starts, stops = np.array(starts, np.int64), np.array(stops, np.int64)
    expected = np.full(12, -1, np.int64)
    for start, stop in zip(starts, stops):
        expected[start:stop] = np.arange(stop - start)
    target = executor.HostTarget(seed=2, generated=tmp_path)
    assert executor._disjoint(target, step, RANGES["specializations"][0], [None, starts, stops, 4], {"length": 4}, 4) == parallel
    out = np.full(12, -1, np.int64)
    assert executor.run(translation.plan, RANGES["specializations"][0], [out, starts, stops, 4], target, block=2) is None
    np.testing.assert_array_equal(out, expected)
