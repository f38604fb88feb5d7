"""`akcuda port FILE.cpp ...`: a contributor's kernel files, written in upstream's style, from
spec to verdict in one command.

For each file: its spec is written or updated from the C (a new kernel gets a scaffolded
`generate` recipe), the kernel is translated and compiled, and parity runs on every case source
(upstream vectors where the tree has them, generated and invalid cases, recorded calls) against
the kernel's own C (built from source when it is new or changed). The verdict lists each
specialization with its plan and what the contributor must still do; the command exits 0 only
when every specialization passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from akcuda import paths
from akcuda.toolchain import specs, upstream
from akcuda.toolchain.compile import compile_kernels
from akcuda.toolchain.exitcodes import Exit
from akcuda.toolchain.generate import generate
from akcuda.validation import report, suite
from akcuda.validation.cases.sources import SOURCES


@dataclass(frozen=True)
class Verdict:
    """What `port` found: the report of its kernels and, per kernel, what is still to do."""

    report: dict
    todo: dict[str, list[str]]
    written: tuple[Path, ...]

    @property
    def passed(self) -> bool:
        s = self.report["summary"]
        return s["specializations"] > 0 and s["passed"] == s["specializations"]


def plan_text(steps: list[dict] | None) -> str:
    """A specialization's plan in one line: `scan (length) @ line 12, serial @ line 20`."""
    return ", ".join(
        f"{s['kind']}" + (f" ({s['width']})" if s["kind"] != "serial" else "") + f" @ line {s['line']}"
        for s in steps or []
    )


def _todo(derived: specs.Derived, rep: dict, loaded: dict[str, dict]) -> dict[str, list[str]]:
    """Per kernel: the spec's open annotations, then what the parity run showed is missing."""
    out = {k: list(v) for k, v in derived.todo.items()}
    for name, spec in loaded.items():
        items = out.setdefault(name, [])
        if (spec.get("generate") or {}).get("scaffold"):
            items.append(
                f"kernel-specs/{name}.yml: the `generate` recipe is a scaffold: make every expression honour "
                "the kernel's preconditions (lengths, offsets, index ranges), then delete `scaffold: true`"
            )
        rows = [s for s in rep["specializations"] if s["kernel"] == name]
        reached = {m for s in rows for m in (s["coverage"] or {}).get("errors_reached", [])}
        in_source = {m for s in rows for m in (s["coverage"] or {}).get("errors_in_source", [])}
        unreachable = str((spec.get("notes") or {}).get("unreachable", ""))
        for message in sorted(in_source - reached):
            if message not in unreachable:
                items.append(
                    f"kernel-specs/{name}.yml: no case reaches the failure {message!r}: add an `invalid` recipe "
                    "that does (or say why it cannot under notes.unreachable)"
                )
    return out


def port(
    files: list[str], out: Console, upstream_path: str | None = None, block: int = 256, seeds: tuple[int, ...] = (1, 2)
) -> Verdict:
    """Spec, translate, compile and verify the kernels of `files`; raises UpstreamError or
    SpecError (usage/setup errors) with a one-line message."""
    start = time.perf_counter()
    given = upstream.kernel_paths(files)
    sources = upstream.select(upstream_path, given)
    upstream.use(sources)
    derived = specs.write_specs(log=lambda m: out.print(m, highlight=False), sources=sources, only=given)
    chosen = frozenset(derived.specs)
    translated = generate(chosen)
    compiled = compile_kernels(chosen)
    results = suite.parity_results("host", chosen, SOURCES, block, seeds, translated, compiled)
    meta = report.metadata(sources.describe(), "host", block, list(seeds), {"port": [str(p) for p in given]})
    rep = report.build_report(results, {"port": time.perf_counter() - start}, meta)
    written = report.write_report(rep, paths.REPORT / "port")
    loaded = {k: v for k, v in specs.load_all().items() if k in chosen}
    return Verdict(rep, _todo(derived, rep, loaded), tuple(written))


def render(verdict: Verdict, out: Console) -> int:
    """Print the verdict (each specialization with its plan and reference, first differing cases,
    what is still to do); the exit code."""
    table = Table(title="akcuda port: verdict")
    for column in ("specialization", "verdict", "cases", "reference", "plan"):
        table.add_column(column)
    for s in verdict.report["specializations"]:
        ref = (s.get("reference") or {}).get("kind", "")
        color = "green" if s["status"] == "passed" else "red"
        table.add_row(
            s["symbol"], f"[{color}]{s['status']}[/]", f"{s['cases_passed']}/{s['cases']}", ref, plan_text(s["plan"])
        )
    out.print(table)
    for s in verdict.report["specializations"]:
        if s["status"] != "passed":
            f = s["failure"] or {}
            where = f" [{f['case']}]" if f.get("case") else ""
            out.print(f"[red]✗ {s['symbol']}{escape(where)}:[/] {escape(f.get('reason') or s['reason'] or '')}")
            if f.get("cpu") is not None or f.get("ours") is not None:
                out.print(f"    cpu: {escape(str(f.get('cpu')))}\n    ours: {escape(str(f.get('ours')))}")
    refs = {s["kernel"]: s["reference"] for s in verdict.report["specializations"] if s.get("reference")}
    for kernel, ref in refs.items():
        out.print(f"reference of {kernel}: {escape(ref['why'])}", highlight=False)
    todo = [(k, item) for k, items in verdict.todo.items() for item in items]
    if todo:
        out.print("[bold]still to do:[/]")
        for _, item in todo:
            out.print(f"  • {escape(item)}", highlight=False)
    s = verdict.report["summary"]
    out.print(
        f"port: {s['passed']}/{s['specializations']} specialization(s) passed ({s['cases_passed']}/{s['cases']} "
        f"cases); {len(todo)} thing(s) still to do; report in "
        + ", ".join(
            str(p.relative_to(paths.ROOT)) if p.is_relative_to(paths.ROOT) else str(p) for p in verdict.written
        ),
        highlight=False,
    )
    return Exit.PASSED if verdict.passed else Exit.FAILED
