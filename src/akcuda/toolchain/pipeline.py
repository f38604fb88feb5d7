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
from akcuda.toolchain.exitcodes import Exit
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
    """Every stage in order; the exit code (exitcodes.Exit): passed when every chosen
    specialization translated, compiled and passed. `fetch` and `record` are the CLI's own import
    and record commands (they print their summary). A -k run writes its reports in a folder of its
    own (report.report_dir), never over the full report."""
    stage = Stages(out)
    if stage("import", fetch):
        return Exit.USAGE
    problems = stage("specs check", lambda: specs.check_specs(pattern=pattern))
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem)}", highlight=False)
    if problems:
        out.print("[red]the kernel specs differ from the C: run `akcuda specs` (with -k for one kernel)[/]")
        return Exit.USAGE
    translated = stage("generate", lambda: generate(pattern))
    plans.write(plans.build(pattern), report.report_dir(pattern))
    compiled = stage("compile", lambda: compile_kernels(pattern))
    stage("record", record)
    results = stage(
        "parity (host)",
        lambda: suite.parity_results("host", pattern, SOURCES, block, tuple(seeds), translated, compiled),
    )
    meta = report.metadata(upstream.active().describe(), "host", block, seeds, {"pattern": pattern})
    rep = report.build_report(results, stage.seconds, meta)
    written = report.write_report(rep, report.report_dir(pattern))
    report.render_summary(rep, out)
    out.print("report: " + ", ".join(str(p.relative_to(paths.ROOT)) for p in written))
    s = rep["summary"]
    return Exit.PASSED if s["failed"] == 0 and s["untranslated"] == 0 and s["compile_failed"] == 0 else Exit.FAILED
