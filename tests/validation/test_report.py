"""Tests for akcuda.validation.report: counts, JSON round trip, Markdown/HTML content and escaping, console summary."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from akcuda.validation.report import SpecResult, build_report, load_report, render_summary, write_report

EVIL = "mismatch at index 3 <script>alert(1)</script> & more"


@pytest.fixture
def results() -> list[SpecResult]:
    plan = [{"name": "toptr", "kind": "out", "width": 64, "reason": "written per element"}]
    return [
        SpecResult("awkward_A_int64", "awkward_A", "passed", 5, 5, translated=True, compiled=True, plan=plan),
        SpecResult("awkward_A_int32", "awkward_A", "passed", 4, 4, translated=True, compiled=True),
        SpecResult(
            "awkward_B_int64",
            "awkward_B",
            "failed",
            6,
            5,
            translated=True,
            compiled=True,
            failure={"case": "random_7", "reason": EVIL, "cpu": [1, 2, 3], "ours": [1, 2, 4]},
        ),
        SpecResult("awkward_B_uint8", "awkward_B", "pending", reason="needs a sequential scan"),
        SpecResult("awkward_C_float64", "awkward_C", "untranslated", reason="uses goto"),
        SpecResult("awkward_C_bool", "awkward_C", "compile-failed", translated=True, reason="nvrtc: error X"),
    ]


@pytest.fixture
def report(results):
    return build_report(results, {"translate": 1.5, "parity": 12.25}, {"awkward_cpp": "57", "gpu": "H100"})


def test_summary_counts(results, report):
    s = report["summary"]
    count = lambda st: sum(r.status == st for r in results)  # noqa: E731
    kernels = {r.kernel for r in results}
    assert s["kernels"] == len(kernels) == len(report["kernels"])
    assert s["specializations"] == len(results) == len(report["specializations"])
    assert s["passed"] == count("passed") and s["failed"] == count("failed") and s["pending"] == count("pending")
    assert s["untranslated"] == count("untranslated") and s["compile_failed"] == count("compile-failed")
    assert s["translated"] == sum(r.translated for r in results)
    assert s["compiled"] == sum(r.compiled for r in results)
    assert s["cases"] == sum(r.cases for r in results)
    assert s["cases_passed"] == sum(r.cases_passed for r in results)
    all_passed = {k for k in kernels if all(r.status == "passed" for r in results if r.kernel == k)}
    assert s["kernels_passed"] == len(all_passed) == 1
    for key in ("kernels", "specializations", "translated", "compiled", "passed", "failed", "pending", "cases"):
        assert type(s[key]) is int
    k = {k["name"]: k for k in report["kernels"]}
    assert k["awkward_A"]["status"] == "passed" and k["awkward_B"]["status"] == "failed"
    assert k["awkward_B"]["specializations"] == 2 and k["awkward_B"]["pending"] == 1
    spec = {s["symbol"]: s for s in report["specializations"]}
    assert spec["awkward_B_int64"]["failure"]["case"] == "random_7"
    assert spec["awkward_A_int32"]["failure"] is None and spec["awkward_A_int64"]["plan"][0]["width"] == 64


def test_bad_status_rejected():
    with pytest.raises(ValueError):
        build_report([SpecResult("x", "k", "bogus")], {}, {})


def test_json_round_trip(report, tmp_path):
    paths = write_report(report, tmp_path / "out")
    assert [p.name for p in paths] == ["parity.json", "parity.md", "parity.html", "junit.xml"]
    assert all(p.is_file() for p in paths)
    assert load_report(paths[0]) == report == load_report(tmp_path / "out")
    assert json.loads(paths[0].read_text())["summary"]["failed"] == 1


def test_markdown_and_html(report, tmp_path):
    _, md_path, html_path, _ = write_report(report, tmp_path)
    md, html = md_path.read_text(), html_path.read_text()
    for text in (md, html):
        assert "awkward_B_int64" in text and "random_7" in text
        assert "awkward_B_uint8" in text and "needs a sequential scan" in text
        assert "awkward_C_float64" in text and "uses goto" in text
        assert "nvrtc: error X" in text
    assert "mismatch at index 3" in md and "| specializations | 6 |" in md
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert html.index("Failures") < html.index("Pending") and "<style>" in html


def test_render_summary(report):
    console = Console(record=True, width=200)
    render_summary(report, console)
    out = console.export_text()
    s = report["summary"]
    row = next(line for line in out.splitlines() if "specializations" in line)
    assert [int(x) for x in row.replace("│", " ").split()[1:]] == [
        s["specializations"],
        s["translated"],
        s["compiled"],
        s["passed"],
        s["failed"],
        s["pending"],
    ]
    assert f"{s['cases_passed']}/{s['cases']}" in out
    assert "parity 12.25s" in out
    assert "awkward_B_int64 [random_7]" in out and "<script>" in out  # plain text on a console


def test_the_report_has_a_schema_version_and_its_metadata(results):
    from akcuda.validation.report import SCHEMA_VERSION, metadata

    meta = metadata({"origin": "pinned", "pins": {"a.tar.gz": "ff"}}, "host", 256, [1, 2])
    rep = build_report(results, {}, meta)
    assert rep["schema_version"] == SCHEMA_VERSION
    assert set(rep["meta"]) >= {"akcuda", "commit", "upstream", "target", "seeds", "time", "block"}
    assert rep["meta"]["upstream"]["pins"] == {"a.tar.gz": "ff"} and rep["meta"]["seeds"] == [1, 2]


def test_junit_xml_parses_with_a_junit_reader(tmp_path, report):
    from junitparser import Failure, JUnitXml, Skipped

    write_report(report, tmp_path)
    xml = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == report["summary"]["specializations"]
    by_name = {case.name: case for case in cases}
    failure = by_name["awkward_B_int64"].result[0]
    assert isinstance(failure, Failure) and "random_7" in failure.message and "[1, 2, 4]" in failure.text
    assert isinstance(by_name["awkward_B_uint8"].result[0], Skipped)
    assert by_name["awkward_A_int64"].is_passed and by_name["awkward_A_int64"].classname == "awkward_A"
    assert not by_name["awkward_C_float64"].is_passed  # untranslated fails the build too


def test_compare_lists_regressions_fixes_new_and_removed(results):
    from akcuda.validation.compare import compare

    base = build_report(results, {}, {})
    assert not compare(base, base).regressed and compare(base, base).unchanged == len(results)
    now = [SpecResult(r.symbol, r.kernel, r.status) for r in results if r.symbol != "awkward_A_int32"]
    now[0].status, now[0].failure = "failed", {"case": "x", "reason": "out differs at index 2"}
    now[1].status = "passed"  # awkward_B_int64 fixed
    now.append(SpecResult("awkward_D", "awkward_D", "passed"))
    result = compare(build_report(now, {}, {}), base)
    assert result.regressed and [c.symbol for c in result.regressions] == ["awkward_A_int64"]
    assert "differs at index 2" in result.regressions[0].why
    assert [c.symbol for c in result.fixes] == ["awkward_B_int64"]
    assert [c.symbol for c in result.new] == ["awkward_D"] and [c.symbol for c in result.removed] == ["awkward_A_int32"]


def test_compare_refuses_a_report_of_another_schema(report):
    from akcuda.validation.compare import CompareError, compare

    old = dict(report)
    del old["schema_version"]
    with pytest.raises(CompareError, match="schema version None"):
        compare(report, old)


def test_the_html_plan_column_links_the_c_line_and_the_generated_cu(tmp_path):
    plan = [{"kind": "scan", "width": "length", "line": 18, "launches": 3}]
    row = SpecResult(
        "awkward_X_64",
        "awkward_X",
        "passed",
        1,
        1,
        plan=plan,
        source="/src/awkward_X.cpp",
        generated="/gen/awkward_X.cu",
    )
    row.reference = {"kind": "source", "why": "new kernel"}
    installed = SpecResult("awkward_Y_64", "awkward_Y", "passed", 1, 1, plan=plan, source="/s/awkward_Y.cpp")
    installed.reference = {"kind": "installed", "why": "installed awkward_cpp 57", "version": "57"}
    write_report(build_report([row, installed], {}, {}), tmp_path)
    html = (tmp_path / "parity.html").read_text()
    assert 'href="file:///src/awkward_X.cpp#L18">scan (length) @ line 18</a>' in html
    assert 'href="file:///gen/awkward_X.cu">.cu</a>' in html
    assert "blob/awkward-cpp-57/awkward-cpp/src/cpu-kernels/awkward_Y.cpp#L18" in html
