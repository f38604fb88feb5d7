"""The stages end to end (`akcuda pipeline`, what `make generate-kernels` runs): import, specs
check, generate, compile, record, host parity, then the reports. Each stage is also a command."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from akcuda import paths
from akcuda.toolchain import specs, upstream
from akcuda.toolchain.compile import compile_kernels
from akcuda.toolchain.generate import generate
from akcuda.validation import plans, report, suite
from akcuda.validation.cases.sources import SOURCES


class Stages:
    """Runs named stages under a rule line and keeps how long each took."""

    def __init__(self, out: Console):
        self.out = out
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        self.out.rule(f"[bold]{name}")
        value = fn()
        self.seconds[name] = time.perf_counter() - start
        return value


def run(
    out: Console, pattern: str | None, block: int, seeds: list[int], fetch: Callable[[], int], record: Callable[[], int]
) -> int:
    """Every stage in order; 0 when every chosen specialization translated, compiled and passed.
    `fetch` and `record` are the CLI's own import and record commands (they print their summary)."""
    stage = Stages(out)
    if stage("import", fetch):
        return 1
    problems = stage("specs check", specs.check_specs)
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem)}", highlight=False)
    if problems:
        out.print("[red]the committed kernel specs differ from upstream: run `akcuda specs`[/]")
        return 1
    translated = stage("generate", lambda: generate(pattern))
    plans.write(plans.build(pattern))
    compiled = stage("compile", lambda: compile_kernels(pattern))
    stage("record", record)
    results = stage(
        "parity (host)",
        lambda: suite.parity_results("host", pattern, SOURCES, block, tuple(seeds), translated, compiled),
    )
    rep = report.build_report(
        results,
        stage.seconds,
        {
            "target": "host",
            "block": block,
            "seeds": seeds,
            "upstream": [f"{p.name}=={p.version}" for p in upstream.PINS],
        },
    )
    written = report.write_report(rep, paths.REPORT)
    report.render_summary(rep, out)
    out.print("report: " + ", ".join(str(p.relative_to(paths.ROOT)) for p in written))
    s = rep["summary"]
    return 0 if s["failed"] == 0 and s["untranslated"] == 0 and s["compile_failed"] == 0 else 1
