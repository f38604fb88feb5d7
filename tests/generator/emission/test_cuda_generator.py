"""Emission stage: the CUDA text printed for a kernel, and what cannot be printed."""

from __future__ import annotations

import textwrap

import pytest

from akcuda.generator.frontend.errors import TranslationError
from akcuda.generator.translate import translate
from akcuda.runtime import executor
from akcuda.toolchain import compile as nvrtc_compile

pytestmark = pytest.mark.gxx  # translating preprocesses with g++ -E


def test_untranslatable_construct_names_kernel_line_and_construct(tmp_path, demo):
    src = tmp_path / "akc_goto.cpp"
    src.write_text(
        textwrap.dedent("""\
        ERROR akc_goto(int64_t* out, int64_t length) {
          int64_t i = 0;
        again:
          out[i] = i;
          i++;
          if (i < length) goto again;
          return success();
        }
        """)
    )
    spec = demo.spec("akc_goto", [("akc_goto", [], ["int64_t*", "int64_t"])], ["out", "length"])
    with pytest.raises(TranslationError) as info:
        translate({**spec, "source": "akc_goto.cpp"}, tmp_path, tmp_path)
    assert "akc_goto" in str(info.value) and "akc_goto.cpp:6" in str(info.value) and "goto" in str(info.value)


def test_emitted_cuda_has_templates_steps_and_error_writes(demo_generated):
    text = (demo_generated / "akc_demo_offsets.cu").read_text()
    assert "template <typename C, typename T>\n__global__ void akc_demo_offsets__s0(" in text
    assert "akc_fail(akc_err, 0, akc_tid" in text
    assert "__device__ static void akc_demo_clamp" in (demo_generated / "akc_demo_regular.cu").read_text()


@pytest.mark.nvrtc
@pytest.mark.parametrize("arch", nvrtc_compile.ARCHS)
def test_generated_demo_kernels_compile_cleanly_with_nvrtc(demo_generated, arch):
    for name in ("akc_demo_offsets", "akc_demo_regular"):
        plan = executor.load_plan(name, demo_generated)
        cubin, _, lowered, log, _ = nvrtc_compile.compile_source(
            (demo_generated / f"{name}.cu").read_text(), f"{name}.cu", plan.name_expressions, arch
        )
        assert log == "" and cubin is not None and set(lowered) == set(plan.name_expressions)
