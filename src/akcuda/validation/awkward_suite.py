"""Awkward's own test suite, stock and through `install("host")`, outcome by outcome.

`make awkward-suite` (`akcuda awkward-suite`) runs the tests of the pinned awkward sdist
(`build/upstream/awkward-2.14.0/tests`) twice with Awkward's own pytest configuration: once on
stock Awkward, once with this module loaded as a pytest plug-in (`-p akcuda.validation.awkward_suite`),
which installs akcuda on the cpu backend for the whole session and counts every kernel call that
did not go through akcuda. The two JUnit files are then compared test by test: the suite passes
exactly as stock when every test has the same outcome and no call fell back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN = __name__
TRACE_ENV = "AKCUDA_SUITE_TRACE"  # where the plug-in writes its call counts (JSON)
OUTCOMES = ("passed", "failed", "error", "skipped")


# ---------------------------------------------------------------- the pytest plug-in


_session: dict = {}


def pytest_configure(config) -> None:
    """Route Awkward's cpu kernels to akcuda for the session; count calls, by how they ran."""
    from akcuda.runtime import awkward_plugin

    awkward_plugin.install("host")
    context = awkward_plugin.trace()
    _session.update(context=context, trace=context.__enter__())


def pytest_unconfigure(config) -> None:
    from akcuda.runtime import awkward_plugin

    trace = _session.pop("trace", None)
    if trace is None:
        return
    _session.pop("context").__exit__(None, None, None)
    awkward_plugin.uninstall()
    fallbacks = Counter(f"{c.kernel} ({c.reason})" for c in trace.fallbacks)
    counts = {"calls": len(trace.calls), "fallbacks": sum(fallbacks.values()), "fallback_kernels": dict(fallbacks)}
    if os.environ.get(TRACE_ENV):
        Path(os.environ[TRACE_ENV]).write_text(json.dumps(counts, indent=1))


# ---------------------------------------------------------------- the comparison


@dataclass
class Comparison:
    """Per-test outcomes of both runs and what differs."""

    stock: dict[str, str]
    ours: dict[str, str]
    calls: dict = field(default_factory=dict)

    @property
    def differences(self) -> list[tuple[str, str | None, str | None]]:
        names = sorted(set(self.stock) | set(self.ours))
        return [(n, self.stock.get(n), self.ours.get(n)) for n in names if self.stock.get(n) != self.ours.get(n)]

    @property
    def passed(self) -> bool:
        return bool(self.stock) and not self.differences and self.calls.get("fallbacks", 1) == 0

    def summary(self) -> dict:
        return {
            "tests": len(self.stock),
            "stock": dict(Counter(self.stock.values())),
            "akcuda": dict(Counter(self.ours.values())),
            "different": len(self.differences),
            "kernel_calls": self.calls.get("calls"),
            "fallbacks": self.calls.get("fallbacks"),
            "passed": self.passed,
        }


def outcomes(junit: Path) -> dict[str, str]:
    """Test id -> passed / failed / error / skipped, from a JUnit XML file."""
    from junitparser import Error, Failure, JUnitXml, Skipped

    found = {}
    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            kinds = {type(r) for r in case.result}
            found[f"{case.classname}::{case.name}"] = next(
                (name for kind, name in ((Error, "error"), (Failure, "failed"), (Skipped, "skipped")) if kind in kinds),
                "passed",
            )
    return found


def suite_command(tests: Path, junit: Path, plugin: bool, select: list[str]) -> list[str]:
    """One run of Awkward's suite with its own configuration (its pyproject's pytest section)."""
    root = tests.parent
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    command += ["--rootdir", str(root), "-c", str(root / "pyproject.toml"), *select]
    if plugin:
        command += ["-p", PLUGIN]
    return command + [str(tests)]


def run(tests: Path, out_dir: Path, select: list[str] = ()) -> Comparison:
    """Both runs (stock, then through akcuda), each in its own process, and their comparison;
    writes stock.xml, akcuda.xml, calls.json and awkward-suite.json into `out_dir`."""
    out_dir = out_dir.resolve()  # the runs start in the sdist's folder
    out_dir.mkdir(parents=True, exist_ok=True)
    stock, ours, calls = out_dir / "stock.xml", out_dir / "akcuda.xml", out_dir / "calls.json"
    calls.unlink(missing_ok=True)
    env = {**os.environ, TRACE_ENV: str(calls)}
    for junit, plugin in ((stock, False), (ours, True)):
        print(f"awkward suite: {'akcuda' if plugin else 'stock'} run ...", flush=True)
        subprocess.run(suite_command(tests, junit, plugin, list(select)), cwd=tests.parent, env=env, check=False)
    result = Comparison(outcomes(stock), outcomes(ours), json.loads(calls.read_text()) if calls.exists() else {})
    (out_dir / "awkward-suite.json").write_text(
        json.dumps({"summary": result.summary(), "differences": result.differences}, indent=1)
    )
    return result
