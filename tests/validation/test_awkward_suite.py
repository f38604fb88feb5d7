"""`make awkward-suite`'s comparison: per-test outcomes of two JUnit files, and fallbacks."""

from __future__ import annotations

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from akcuda.validation import awkward_suite


def _junit(path, outcomes: dict[str, str]) -> None:
    suite = TestSuite("pytest")
    for name, outcome in outcomes.items():
        case = TestCase(name, classname="tests.test_x")
        case.result = {"failed": [Failure("boom")], "skipped": [Skipped("no pyarrow")], "passed": []}[outcome]
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.write(str(path))


def test_outcomes_are_compared_test_by_test_and_a_fallback_fails_the_run(tmp_path):
    _junit(tmp_path / "stock.xml", {"a": "passed", "b": "skipped", "c": "failed"})
    _junit(tmp_path / "ours.xml", {"a": "passed", "b": "skipped", "c": "passed"})
    stock, ours = (awkward_suite.outcomes(tmp_path / name) for name in ("stock.xml", "ours.xml"))
    assert stock == {"tests.test_x::a": "passed", "tests.test_x::b": "skipped", "tests.test_x::c": "failed"}
    different = awkward_suite.Comparison(stock, ours, {"calls": 10, "fallbacks": 0})
    assert different.differences == [("tests.test_x::c", "failed", "passed")] and not different.passed
    assert awkward_suite.Comparison(stock, dict(stock), {"calls": 10, "fallbacks": 0}).passed
    assert not awkward_suite.Comparison(stock, dict(stock), {"calls": 10, "fallbacks": 1}).passed
    assert not awkward_suite.Comparison(stock, dict(stock), {}).passed  # no count from the plug-in: not passed


def test_both_runs_use_awkwards_own_configuration_and_only_ours_loads_the_plug_in(tmp_path):
    tests = tmp_path / "awkward-2.14.0" / "tests"
    stock, ours = (
        awkward_suite.suite_command(tests, tmp_path / "x.xml", plugin, ["-k", "validity"]) for plugin in (False, True)
    )
    assert ["-c", str(tests.parent / "pyproject.toml")] == stock[stock.index("-c") : stock.index("-c") + 2]
    assert "akcuda.validation.awkward_suite" not in stock and ours[-3:-1] == ["-p", "akcuda.validation.awkward_suite"]
    assert stock[-1] == ours[-1] == str(tests) and "validity" in stock
