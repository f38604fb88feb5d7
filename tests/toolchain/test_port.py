"""`akcuda port`, tried as a new contributor would: a brand-new kernel from a folder outside the
project, a deliberately wrong translation of it, and a changed upstream kernel in a local
awkward-cpp tree. Every spec and build product goes to a temporary folder (`isolated`)."""

from __future__ import annotations

import json
import shutil

import pytest

from akcuda import paths
from akcuda.toolchain import cli, specs, upstream
from akcuda.toolchain.exitcodes import Exit
from akcuda.validation import parity, reference
from akcuda.validation.cases.generated import generated_cases

pytestmark = [pytest.mark.gxx, pytest.mark.nvrtc]

NEW = "awkward_ListArray_akctest_positive"
# What the contributor writes after the first run asked for it: preconditions as a recipe, and
# one invalid recipe per failure check.
RECIPES = """
generate:
  let:
    counts: randint(0, 5, n)
    offsets: concat([[0], cumsum(counts)])
  args:
    tocarry: out(sum(counts))
    tolength: out(1)
    fromstarts: offsets[:-1]
    fromstops: offsets[1:]
    content: randint(-3, 4, sum(counts))
    length: n
    contentlength: sum(counts)
invalid:
- name: a stop before its start
  let:
    bad: randint(0, max(n, 1))
  args:
    fromstarts: where(arange(n) == bad, offsets[1:] + 1, offsets[:-1])
- name: a stop past the content
  let:
    counts: randint(1, 5, n)
  args:
    contentlength: sum(counts) - 1
"""


def _port(*argv: str) -> tuple[int, dict]:
    code = cli.main(["port", "--seed", "1", *argv])
    return code, json.loads((paths.REPORT / "port" / "parity.json").read_text())


def _annotate(path, text: str) -> None:
    """Replace the scaffolded recipe, as the first verdict's to-do list says."""
    spec = path.read_text()
    path.write_text(spec[: spec.index("generate:")] + text.lstrip())


def test_a_new_kernel_gets_its_spec_cuda_and_a_passing_verdict_from_port(isolated, contributor, capsys):
    code, first = _port(str(contributor))
    said = capsys.readouterr().out
    spec_path = paths.SPECS / f"{NEW}.yml"
    spec = specs.load_spec(spec_path)
    # the facts come from the C: three WRAPPER lines of a template over C and T
    assert spec["template_params"] == ["C", "T"]
    assert [s["symbol"] for s in spec["specializations"]] == [
        "awkward_ListArray32_akctest_positive_64",
        "awkward_ListArray64_akctest_positive_64",
        "awkward_ListArrayU32_akctest_positive_64",
    ]
    args = spec["specializations"][2]["args"]
    assert [(a["name"], a["ctype"], a["dir"]) for a in args[:3]] == [
        ("tocarry", "int64_t*", "out"),
        ("tolength", "int64_t*", "out"),
        ("fromstarts", "const uint32_t*", "in"),
    ]
    assert spec["sha256"] == upstream.sha256_of(contributor)
    # a scaffolded recipe: random starts and stops break the kernel's precondition, which the
    # verdict reports as a recipe bug and the to-do list asks to fix
    assert spec["generate"]["scaffold"] is True
    assert code == Exit.FAILED and first["summary"]["passed"] < 3
    assert "still to do" in said and "scaffold" in said and "kernel-specification.yml" in said
    assert {r["reference"]["kind"] for r in first["specializations"]} == {reference.SOURCE}

    _annotate(spec_path, RECIPES)
    code, verdict = _port(str(contributor))
    said = capsys.readouterr().out
    assert code == Exit.PASSED, said
    assert verdict["summary"]["passed"] == verdict["summary"]["specializations"] == 3
    for row in verdict["specializations"]:
        assert row["reference"]["kind"] == reference.SOURCE and "new kernel" in row["reference"]["why"]
        assert sorted(row["coverage"]["errors_reached"]) == ["stops[i] < starts[i]", "stops[i] > len(content)"]
        assert {s["kind"] for s in row["plan"]} >= {"scan"}  # the counter became count-scan-fill
    assert (paths.GENERATED / f"{NEW}.cu").is_file()
    assert "scan (length) @ line" in said and "scaffold" not in said

    # a deliberately wrong translation: the kept values become the non-negative ones
    cu = paths.GENERATED / f"{NEW}.cu"
    text = cu.read_text()
    assert text.count("> 0") >= 1
    cu.write_text(text.replace("> 0", ">= 0"))
    wrong = isolated / "wrong.json"
    code = cli.main(["parity", "-k", NEW, "--kernels", str(contributor), "--seed", "1", "--json", str(wrong)])
    assert code == Exit.FAILED
    rows = json.loads(wrong.read_text())["specializations"]
    assert all(r["status"] == "failed" and "differs at index" in r["failure"]["reason"] for r in rows)
    assert all("inputs" in r["failure"] for r in rows)


def test_a_changed_kernel_in_a_local_tree_is_verified_against_its_new_c(isolated, cpp_tree, capsys):
    kernel = "awkward_ListArray_compact_offsets"
    shutil.copy(specs.paths.ROOT / "kernel-specs" / f"{kernel}.yml", paths.SPECS)
    before = specs.load_spec(paths.SPECS / f"{kernel}.yml")
    source = cpp_tree / "src" / "cpu-kernels" / f"{kernel}.cpp"
    text = source.read_text()
    assert "tooffsets[i + 1] = tooffsets[i] + (stop - start);" in text
    # a behaviour change (doubled lengths) and a new failure check
    source.write_text(
        text.replace(
            "tooffsets[i + 1] = tooffsets[i] + (stop - start);",
            'if (stop - start > 1000) {\n      return failure("list too long", i, kSliceNone, FILENAME(__LINE__));\n'
            "    }\n    tooffsets[i + 1] = tooffsets[i] + 2 * (stop - start);",
        )
    )
    code, verdict = _port("--upstream", str(cpp_tree), str(source))
    said = capsys.readouterr().out
    assert code == Exit.PASSED, said
    after = specs.load_spec(paths.SPECS / f"{kernel}.yml")
    assert after["sha256"] == upstream.sha256_of(source) != before["sha256"]
    assert after["generate"] == before["generate"] and after["specializations"] == before["specializations"]
    assert verdict["meta"]["upstream"]["origin"] == str(cpp_tree)
    for row in verdict["specializations"]:
        assert row["status"] == "passed" and row["cases"] > 0
        assert row["reference"]["kind"] == reference.SOURCE and "differs from awkward-cpp 57" in row["reference"]["why"]
        assert "list too long" in row["coverage"]["errors_in_source"]
    assert "no case reaches the failure 'list too long'" in said  # the new check wants an invalid recipe

    # the control: the installed awkward_cpp 57 (the old C) disagrees with the new CUDA
    upstream.use(upstream.select(str(cpp_tree)))
    try:
        special = after["specializations"][0]
        case = next(c for c in generated_cases(after, special) if c.name.endswith("n=255"))
        plan = parity.executor.load_plan(kernel)
        from akcuda.runtime import make_target

        target = make_target("host", 1)
        assert not parity.run_case(plan, special, case, target).passed
        assert parity.run_case(plan, special, case, target, ref=reference.for_kernel(after)).passed
    finally:
        upstream.use(None)
