"""The C++ pre-pass (cxx.py): lambdas lifted with their captures, std::vector as scratch,
`if constexpr` as `if`, lines kept; what it cannot lower is named with file:line."""

from __future__ import annotations

import pytest
from pycparser import c_ast, c_parser

from akcuda.generator.frontend import cxx

MARK = '# 1 "k.cpp"\n'


def _parse(text: str) -> c_ast.FileAST:
    return c_parser.CParser().parse(
        "typedef int int64_t; typedef int T; typedef int bool;\n" + text.replace("std::", "std_"), "k.cpp"
    )


def test_a_lambda_is_lifted_with_its_captures_first_and_its_body_keeps_its_line():
    text = MARK + (
        "int f(int* a, int n) {\n"
        "  std::sort(a, a + n,\n"
        "    [&a, n](int64_t x, int64_t y) -> bool {\n"
        "      return a[x] < a[y];\n"
        "    });\n"
        "  return 0;\n"
        "}\n"
    )
    lowered = cxx.lambdas(text)
    assert lowered.lambdas == {"akc_lambda_0": ("a", "n")}
    assert lowered.text.count("\n") > text.count("\n")  # the lifted function comes after the code
    assert lowered.text.split("\n")[:6] == text.split("\n")[:2] + [
        "  std::sort(a, a + n,",
        "    akc_lambda_0",
        "",
        ");",
    ]
    ast = _parse(lowered.text.replace("auto ", "int "))
    (lifted,) = [n for n in ast.ext if isinstance(n, c_ast.FuncDef) and n.decl.name == "akc_lambda_0"]
    assert [p.name for p in lifted.decl.type.args.params] == ["a", "n", "x", "y"]
    assert lifted.body.block_items[0].coord.line == 4  # `return a[x] < a[y];` is line 4 of k.cpp
    main = next(n for n in ast.ext if isinstance(n, c_ast.FuncDef) and n.decl.name == "f")
    assert main.body.block_items[1].coord.line == 6  # the code after the lambda keeps its lines


def test_vectors_become_scratch_arrays_and_if_constexpr_an_if():
    assert cxx.vectors("std::vector<int64_t> index(length);") == "int64_t* index = std::vector(length);"
    assert cxx.vectors("std::vector<int64_t> index;") == "int64_t* index = std::vector();"
    lowered = cxx.if_constexpr("if constexpr (std::is_integral_v<T>) { return 1; }")
    assert lowered == "if (std::is_integral_v((T)0)) { return 1; }"
    _parse(f"int g(void) {{ {lowered} return 0; }}")  # C that pycparser reads


@pytest.mark.parametrize(
    "source, construct",
    [
        (MARK + "void f() {\n  for (const auto& x : words) {}\n}\n", "k.cpp:2: range-based for"),
        (
            MARK + "\ntemplate <bool is_stable, typename T>\nint f();\n",
            "k.cpp:2: template value parameter bool is_stable",
        ),
    ],
)
def test_what_the_pre_pass_cannot_lower_is_named_with_its_line(source, construct):
    with pytest.raises(cxx.PreprocessError, match=construct):
        cxx.unlowerable(source)


def test_a_default_capture_names_no_variable_and_is_refused():
    with pytest.raises(cxx.PreprocessError, match=r"k.cpp:2: lambda with capture \[&\]"):
        cxx.lambdas(MARK + "int f(int* a) {\n  std::sort(a, a + 1, [&](int x, int y) { return a[x] < a[y]; });\n}\n")
