"""Reading upstream kernel test vectors as data: synthetic files, plus the real sdist if present."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from akcuda.toolchain import upstream
from akcuda.validation.cases.upstream import load_upstream_cases, upstream_stats

HEADER = "import ctypes\nimport pytest\nfrom awkward_cpp.cpu_kernels import lib\n\n"

PASSING = """
def test_cpuawkward_demo_fill_1():
    out = [9, 9, 9]
    out = (ctypes.c_int64*len(out))(*out)
    src = [-1, 2.5, 3]
    src = (ctypes.c_double*len(src))(*src)
    flag = False
    n = -3
    funcC = getattr(lib, 'awkward_demo_fill')
    ret_pass = funcC(n, src, out, flag)
    pytest_out = [1, 2, 3]
    assert out[:len(pytest_out)] == pytest.approx(pytest_out)
    assert not ret_pass.str
"""

FAILING = """
def test_cpuawkward_demo_fill_2():
    out = [9]
    out = (ctypes.c_int64*len(out))(*out)
    n = 5
    funcC = getattr(lib, 'awkward_demo_fill')
    assert funcC(out, n).str

def test_cpuawkward_demo_fill_3():
    out = [9]
    out = (ctypes.c_int64*len(out))(*out)
    n = 7
    funcC = getattr(lib, 'awkward_demo_fill')
    assert funcC(out, n).str.decode('utf-8') == "made-up failure"
"""

NOT_IMPLEMENTED = """
def test_cpuawkward_demo_other_1():
    raise NotImplementedError('no vectors here')
"""

MALFORMED = """
def test_cpuawkward_demo_other_2():
    funcC = getattr(lib, 'awkward_demo_other')
    ret_pass = funcC(never_assigned)
    assert not ret_pass.str
"""

NESTED = """
def test_unit_cpuawkward_demo_pairs_1():
    rows = [[0, 0], [1, 1]]
    rows = rows_ct_ptr
    length = 2
    funcC = getattr(lib, 'awkward_demo_pairs')
    ret_pass = funcC(length, rows)
    pytest_rows = [[np.True_, np.False_], [3, 4]]
    assert not ret_pass.str
"""


def _write(root: Path, folder: str, name: str, body: str) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / name).write_text(HEADER + body)


@pytest.fixture
def sdist(tmp_path: Path) -> Path:
    _write(tmp_path, "tests-cpu-kernels", "test_cpuawkward_demo_fill.py", PASSING + FAILING)
    _write(tmp_path, "tests-cpu-kernels", "test_cpuawkward_demo_other.py", NOT_IMPLEMENTED + MALFORMED)
    _write(tmp_path, "tests-cpu-kernels", "test_cpuawkward_demo_broken.py", "def test_x(:\n")
    _write(tmp_path, "tests-cpu-kernels-explicit", "test_unit_cpuawkward_demo_pairs.py", NESTED)
    return tmp_path


def test_passing_case_and_argument_order(sdist: Path) -> None:
    case = load_upstream_cases(sdist)["awkward_demo_fill"][0]
    assert case.source == "upstream"
    assert case.name == "tests-cpu-kernels/test_cpuawkward_demo_fill.py::test_cpuawkward_demo_fill_1"
    assert list(case.args) == ["n", "src", "out", "flag"]  # call order, not assignment order
    assert case.args == {"n": -3, "src": [-1, 2.5, 3], "out": [9, 9, 9], "flag": False}
    assert case.expect_failure is False
    assert case.notes == {"expected": {"out": [1, 2, 3]}}


def test_expected_failures_both_spellings(sdist: Path) -> None:
    _, bare, with_message = load_upstream_cases(sdist)["awkward_demo_fill"]
    assert bare.expect_failure is True and "message" not in bare.notes
    assert bare.args == {"out": [9], "n": 5}
    assert with_message.expect_failure is True
    assert with_message.notes["message"] == "made-up failure"


def test_not_implemented_and_malformed_are_counted(sdist: Path) -> None:
    cases = load_upstream_cases(sdist)
    assert "awkward_demo_other" not in cases
    stats = upstream_stats(sdist)
    assert stats["files"] == 4 and stats["functions"] == 6
    assert stats["cases"] == 4 and stats["symbols"] == 2
    assert stats["not_implemented"] == 1
    assert stats["unparsable"] == 2
    reasons = {r["where"]: r["reason"] for r in stats["unparsable_reasons"]}
    bad = "tests-cpu-kernels/test_cpuawkward_demo_other.py::test_cpuawkward_demo_other_2"
    assert "never_assigned" in reasons[bad]
    assert reasons["tests-cpu-kernels/test_cpuawkward_demo_broken.py"].startswith("cannot parse")


def test_nested_pointer_argument_and_numpy_bools(sdist: Path) -> None:
    (case,) = load_upstream_cases(sdist)["awkward_demo_pairs"]
    assert case.name.startswith("tests-cpu-kernels-explicit/test_unit_cpuawkward_demo_pairs.py::")
    assert case.args == {"length": 2, "rows": [[0, 0], [1, 1]]}
    assert case.notes["expected"] == {"rows": [[True, False], [3, 4]]}
    assert case.expect_failure is False


def test_files_are_never_executed(tmp_path: Path) -> None:
    body = f"""
def test_cpuawkward_demo_boom_1():
    n = 1
    open(__import__("os").path.join(r"{tmp_path}", "ran"), "w")
    funcC = getattr(lib, 'awkward_demo_boom')
    ret_pass = funcC(n)
"""
    _write(tmp_path, "tests-cpu-kernels", "test_cpuawkward_demo_boom.py", "raise SystemExit('imported')\n" + body)
    (case,) = load_upstream_cases(tmp_path)["awkward_demo_boom"]
    assert case.args == {"n": 1} and case.expect_failure is None
    assert not (tmp_path / "ran").exists()
    missing = upstream_stats(tmp_path)["unparsable_reasons"]
    assert [m["where"] for m in missing] == ["tests-cpu-kernels-explicit"]  # reported, not dropped


def _real_sdist() -> Path:
    env = os.environ.get("AKCUDA_UPSTREAM_CPP")
    if env:
        return Path(env)
    return upstream.cpp_dir()  # build/upstream/awkward_cpp-57 at the repository root


def test_real_upstream_vectors() -> None:
    folder = _real_sdist()
    if not (folder / "tests-cpu-kernels").is_dir():
        pytest.skip(f"awkward-cpp 57 sdist not unpacked at {folder} (run the fetch stage or set AKCUDA_UPSTREAM_CPP)")
    start = time.perf_counter()
    cases = load_upstream_cases(folder)
    elapsed = time.perf_counter() - start
    stats = upstream_stats(folder)
    assert sum(map(len, cases.values())) == stats["cases"] > 13_000
    assert len(cases) > 400
    assert stats["functions"] == stats["cases"] + stats["not_implemented"] + stats["unparsable"]
    assert all(c.source == "upstream" and c.symbol == s for s, cs in cases.items() for c in cs)
    assert elapsed < 30, f"loading took {elapsed:.1f}s"
