"""The parity report: results per specialization -> parity.json, parity.md, parity.html and a console summary."""

from __future__ import annotations

import datetime
import json
import subprocess
from dataclasses import dataclass
from importlib import metadata as _metadata
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from akcuda import paths
from akcuda.validation import math_functions

# parity.json's layout; a report of another version cannot be compared (`akcuda report --compare`).
# 2: schema_version and meta (akcuda version, commit, upstream source and hashes, target, seeds,
# time); per specialization its CPU reference.
SCHEMA_VERSION = 2
STATUSES = ("passed", "failed", "pending", "untranslated", "compile-failed")
RAN = ("passed", "failed")
NOT_RUN = ("pending", "untranslated", "compile-failed")


@dataclass
class SpecResult:
    """Outcome for one specialization (one exported typed symbol)."""

    symbol: str
    kernel: str
    status: str  # one of STATUSES
    cases: int = 0
    cases_passed: int = 0
    failure: dict | None = None  # first failure: {"case", "reason", "cpu", "ours"}
    reason: str | None = None  # why pending / untranslated / compile-failed
    translated: bool = False
    compiled: bool = False
    plan: list[dict] | None = None  # steps as the plans report describes them: kind, width, launches, ...
    coverage: dict | None = None  # cases per source, failure messages reached / in the source
    reference: dict | None = None  # the CPU reference used: {"kind": "installed" | "source", "why", ["library"]}
    source: str | None = None  # the kernel's C file
    generated: str | None = None  # its generated .cu


def _plain(obj: Any) -> Any:
    """Make obj JSON-safe (numpy arrays/scalars via tolist/item, anything else via str)."""

    def default(o: Any) -> Any:
        for attr in ("tolist", "item"):
            if hasattr(o, attr):
                return getattr(o, attr)()
        return str(o)

    return json.loads(json.dumps(obj, default=default))


def _commit() -> str:
    """The project's git commit (with `+dirty` when the tree has changes), or 'unknown'."""
    run = lambda *a: subprocess.run(["git", "-C", str(paths.ROOT), *a], capture_output=True, text=True)  # noqa: E731
    head = run("rev-parse", "HEAD")
    if head.returncode != 0:
        return "unknown"
    dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def metadata(upstream: dict, target: str, block: int, seeds: list[int], extra: dict | None = None) -> dict:
    """A report's `meta`: akcuda version, project commit, where the kernel C came from (and its
    hashes), target, block, seeds and the time (UTC)."""
    return {
        "akcuda": _metadata.version("akcuda"),
        "commit": _commit(),
        "upstream": upstream,
        "target": target,
        "block": block,
        "seeds": seeds,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def build_report(results: list[SpecResult], stages: dict[str, float], meta: dict) -> dict:
    """Aggregate results into the parity.json object (summary, specializations, kernels, stages, meta)."""
    specs = []
    for r in results:
        if r.status not in STATUSES:
            raise ValueError(f"{r.symbol}: unknown status {r.status!r}")
        compiled = r.compiled or r.status in RAN  # a case ran, so it compiled
        specs.append(
            {
                "symbol": r.symbol,
                "kernel": r.kernel,
                "status": r.status,
                "translated": r.translated or compiled,
                "compiled": compiled,
                "cases": r.cases,
                "cases_passed": r.cases_passed,
                "failure": _plain(r.failure),
                "reason": r.reason,
                "plan": _plain(r.plan),
                "coverage": _plain(r.coverage),
                "reference": r.reference,
                "source": r.source,
                "generated": r.generated,
            }
        )
    by_kernel: dict[str, list[dict]] = {}
    for s in specs:
        by_kernel.setdefault(s["kernel"], []).append(s)
    kernels = []
    for name in sorted(by_kernel):
        ks = by_kernel[name]
        n = {st: sum(s["status"] == st for s in ks) for st in STATUSES}
        status = (
            "failed"
            if n["failed"] or n["compile-failed"]
            else "passed"
            if n["passed"] == len(ks)
            else "partial"
            if n["passed"]
            else "pending"
        )
        kernels.append(
            {
                "name": name,
                "specializations": len(ks),
                "passed": n["passed"],
                "failed": n["failed"],
                "pending": n["pending"],
                "untranslated": n["untranslated"],
                "compile_failed": n["compile-failed"],
                "status": status,
                "translated": all(s["translated"] for s in ks),
                "compiled": all(s["compiled"] for s in ks),
                "reference": next((s["reference"] for s in ks if s["reference"]), None),
            }
        )
    count = lambda st: sum(s["status"] == st for s in specs)  # noqa: E731
    summary = {
        "kernels": len(kernels),
        "specializations": len(specs),
        "translated": sum(s["translated"] for s in specs),
        "compiled": sum(s["compiled"] for s in specs),
        "passed": count("passed"),
        "failed": count("failed"),
        "pending": count("pending"),
        "untranslated": count("untranslated"),
        "compile_failed": count("compile-failed"),
        "cases": sum(s["cases"] for s in specs),
        "cases_passed": sum(s["cases_passed"] for s in specs),
        "kernels_translated": sum(k["translated"] for k in kernels),
        "kernels_compiled": sum(k["compiled"] for k in kernels),
        "kernels_passed": sum(k["status"] == "passed" for k in kernels),
        "kernels_failed": sum(k["status"] == "failed" for k in kernels),
        "kernels_pending": sum(k["status"] in ("pending", "partial") for k in kernels),
        "error_messages": sum(len((s["coverage"] or {}).get("errors_in_source", [])) for s in specs),
        "error_messages_reached": sum(len((s["coverage"] or {}).get("errors_reached", [])) for s in specs),
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "summary": summary,
        "specializations": specs,
        "kernels": kernels,
        "stages": {k: float(v) for k, v in stages.items()},
        "meta": _plain(meta),
    }


def _context(report: dict) -> dict:
    """Template variables: the report plus failures, not-run specializations and specs grouped by kernel."""
    specs = report["specializations"]
    order = {"failed": 0, "compile-failed": 1, "untranslated": 2, "pending": 3, "passed": 4}
    groups = {
        k["name"]: sorted((s for s in specs if s["kernel"] == k["name"]), key=lambda s: order[s["status"]])
        for k in report["kernels"]
    }
    return {
        **report,
        "failures": [s for s in specs if s["status"] in ("failed", "compile-failed")],
        "not_run": [s for s in specs if s["status"] in ("pending", "untranslated")],
        "groups": groups,
        # each sorting kernel's library sort step, and whether the sort rule or a spec override named it
        "sorts": {s["kernel"]: p for s in specs for p in s.get("plan") or [] if p["kind"] == "sort"},
        # every kernel whose C calls a libm function, and how each target's results are compared
        "math": math_functions.table([k["name"] for k in report["kernels"]]),
    }


def _why(s: dict) -> str:
    """The one-line reason a specialization did not pass."""
    return (s["failure"] or {}).get("reason") or s["reason"] or ""


UPSTREAM_URL = (
    "https://github.com/scikit-hep/awkward/blob/awkward-cpp-{version}/awkward-cpp/src/cpu-kernels/{name}#L{line}"
)


def _source_link(row: dict, line: int) -> str:
    """Where a plan step's C line is: upstream's file on GitHub when the installed awkward_cpp
    was the reference (the C is the pinned release's), else the local file that was used."""
    source = Path(row.get("source") or "")
    if (row.get("reference") or {}).get("kind") == "installed":
        return UPSTREAM_URL.format(version=row["reference"]["version"], name=source.name, line=line)
    return f"{source.as_uri()}#L{line}" if source.is_absolute() else f"#L{line}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _render(name: str, report: dict) -> str:
    env = jinja2.Environment(autoescape=name.endswith(".html.j2"), trim_blocks=True, lstrip_blocks=True)
    env.filters["why"] = _why
    md_safe = str.maketrans({"|": "\\|", "<": "&lt;", "\n": " "})
    env.filters["cell"] = lambda v, n=200: _clip(str(v).translate(md_safe), n)
    env.filters["short"] = lambda v, n=300: _clip(json.dumps(v), n)
    env.filters["source_link"] = _source_link
    env.filters["file_url"] = lambda path: Path(path).as_uri()
    source = resources.files("akcuda").joinpath("data", name).read_text(encoding="utf-8")
    return env.from_string(source).render(**_context(report))


def write_report(report: dict, out_dir: Path) -> list[Path]:
    """Write parity.json, parity.md, parity.html and junit.xml into out_dir; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "parity.json", out_dir / "parity.md", out_dir / "parity.html", out_dir / "junit.xml"]
    files[0].write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    files[1].write_text(_render("parity.md.j2", report), encoding="utf-8")
    files[2].write_text(_render("parity.html.j2", report), encoding="utf-8")
    files[3].write_text(junit(report), encoding="utf-8")
    return files


def load_report(path: str | Path) -> dict:
    """Read a parity.json (or the parity.json inside a folder)."""
    path = Path(path)
    return json.loads((path / "parity.json" if path.is_dir() else path).read_text(encoding="utf-8"))


def render_summary(report: dict, console: Any = None) -> None:
    """Print a short human-readable summary with rich: counts, cases, stage times, up to 10 failures."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    s = report["summary"]
    t = Table(title="akcuda parity")
    for col in ("", "total", "translated", "compiled", "passed", "failed", "pending"):
        t.add_column(col, justify="left" if not col else "right")
    t.add_row(
        "kernels",
        *(
            str(s[f"kernels_{c}"] if c else s["kernels"])
            for c in ("", "translated", "compiled", "passed", "failed", "pending")
        ),
    )
    t.add_row(
        "specializations",
        *(str(s[c]) for c in ("specializations", "translated", "compiled", "passed", "failed", "pending")),
    )
    console.print(t)
    console.print(
        f"failure messages reached: {s['error_messages_reached']}/{s['error_messages']} (specialization × message)"
    )
    console.print(
        f"cases: {s['cases_passed']}/{s['cases']} passed; untranslated: {s['untranslated']}, "
        f"compile-failed: {s['compile_failed']}"
    )
    built = [k["name"] for k in report["kernels"] if (k.get("reference") or {}).get("kind") == "source"]
    if built:
        console.print(f"CPU reference built from source for {len(built)} kernel(s): {', '.join(built)}")
    if report["stages"]:
        console.print("stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in report["stages"].items()))
    failures = _context(report)["failures"]
    for f in failures[:10]:
        case = (f["failure"] or {}).get("case")
        console.print(
            Text.assemble(
                (f["status"].upper(), "red"), f" {f['symbol']}" + (f" [{case}]" if case else "") + f": {_why(f)}"
            )
        )
    if len(failures) > 10:
        console.print(f"… and {len(failures) - 10} more failures")


def junit(report: dict) -> str:
    """The report as JUnit XML: one test case per specialization (class name: its kernel); a
    failure carries its first differing case, the two results and the case's inputs; pending
    specializations are skipped with their reason."""
    import xml.etree.ElementTree as ET

    s = report["summary"]
    seconds = sum(report.get("stages", {}).values())
    suites = ET.Element("testsuites", name="akcuda parity")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"akcuda parity ({report['meta'].get('target', 'host')})",
        tests=str(s["specializations"]),
        failures=str(s["failed"] + s["untranslated"] + s["compile_failed"]),
        errors="0",
        skipped=str(s["pending"]),
        time=f"{seconds:.3f}",
        timestamp=str(report["meta"].get("time", "")),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("akcuda", "commit", "target", "block", "seeds"):
        ET.SubElement(props, "property", name=key, value=str(report["meta"].get(key, "")))
    for row in report["specializations"]:
        case = ET.SubElement(suite, "testcase", classname=row["kernel"], name=row["symbol"], time="0")
        if row["status"] == "pending":
            ET.SubElement(case, "skipped", message=row["reason"] or "pending")
        elif row["status"] != "passed":
            f = row["failure"] or {}
            where = f" [{f['case']}]" if f.get("case") else ""
            element = ET.SubElement(case, "failure", message=f"{row['status']}{where}: {_why(row)}", type=row["status"])
            element.text = "\n".join(
                f"{k}: {json.dumps(f[k])}" for k in ("case", "reason", "cpu", "ours", "inputs") if f.get(k) is not None
            ) or (row["reason"] or "")
        out = ET.SubElement(case, "system-out")
        out.text = (
            f"{row['cases_passed']}/{row['cases']} cases; reference: {(row.get('reference') or {}).get('why', '-')}"
        )
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def report_dir(pattern: str | None) -> Path:
    """Where a run's reports go: build/report/ for a full run; a -k run gets its own folder
    (build/report/k/<pattern>/), so it never overwrites the full report."""
    if not pattern:
        return paths.REPORT
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in pattern)
    return paths.REPORT / "k" / slug
