"""Preprocess stage: C++ kernel source -> plain C for pycparser, lines kept (tests/kernels/)."""

from __future__ import annotations

import textwrap

import pytest

from akcuda.generator.frontend.parse import parse
from akcuda.generator.frontend.preprocess import preprocess

pytestmark = pytest.mark.gxx  # the preprocessor is g++ -E


def test_preprocess_records_templates_wrappers_and_keeps_lines(demo):
    kernels = demo.folder
    pp = preprocess(kernels / "akc_demo_offsets.cpp", [demo.include])
    assert pp.templates == {"akc_demo_offsets": ["C", "T"]}
    assert pp.wrappers["akc_demo32_offsets_64"].target == "akc_demo_offsets"
    assert pp.wrappers["akc_demoU32_offsets_64"].template_args == ["uint32_t", "int64_t"]
    assert "static_cast" not in pp.text and "T{}" not in pp.text and "__restrict__" not in pp.text
    parsed = parse(kernels / "akc_demo_offsets.cpp", [demo.include])
    func = parsed.functions["akc_demo_offsets"]
    source_lines = (kernels / "akc_demo_offsets.cpp").read_text().splitlines()
    # every statement's coordinate points at the original line of that statement
    first_loop = func.body.block_items[0]
    assert "for (int64_t i = 0" in source_lines[first_loop.coord.line - 1]
    assert func.body.block_items[1].coord.line == source_lines.index("  tooffsets[0] = T{};") + 1


def test_wrapper_template_arguments_are_deduced_when_not_named(tmp_path):
    src = tmp_path / "akc_deduce.cpp"
    src.write_text(
        textwrap.dedent("""\
        #include "awkward/kernels.h"
        template <typename TO>
        ERROR akc_deduce(TO* __restrict__ out, int64_t length) {
          for (int64_t i = 0; i < length; i++) { out[i] = (TO)i; }
          return success();
        }
        ERROR akc_deduce_to64(int64_t* out, int64_t length) {
          return akc_deduce(out, length);
        }
        """)
    )
    assert preprocess(src, []).wrappers["akc_deduce_to64"].template_args == ["int64_t"]
