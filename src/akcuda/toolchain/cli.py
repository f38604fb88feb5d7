"""The `akcuda` command: one sub-command per pipeline stage, in pipeline order, plus `pipeline`
for all of them, `port` for a contributor's kernel files, `pack` for the kernel store a wheel
carries and `info` for what this akcuda can do here. Every command but `info` works in a checkout
of akcuda's sources (`akcuda.paths`); outside one it says so in one line (exit 2).

Exit codes: 0 passed; 1 parity failures (or untranslated, uncompiled); 2 a usage or setup error
(bad option, malformed spec, bad upstream, unknown kernel, untranslatable construct); 3 a
regression against a base report (`report --compare`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from akcuda import __version__, paths
from akcuda.toolchain.exitcodes import Exit

# Each command imports the stages it runs when it runs, so `akcuda --help` and the light
# commands start without loading Awkward, pycparser or NVRTC.
out = Console(soft_wrap=True)  # long lines wrap in the terminal, not mid-message in a log


def _import(args) -> int:
    from akcuda.toolchain import upstream

    try:
        upstream.fetch(log=lambda m: out.print(m, highlight=False))
    except upstream.UpstreamError as exc:
        out.print(f"[red]import failed:[/] {escape(str(exc))}")
        return Exit.USAGE
    sources = upstream.active()
    if sources.origin != "pinned" or sources.kernels:
        out.print(
            f"kernel C from {sources.cpp} ({len(sources.kernel_files())} kernel sources"
            + (f", {len(sources.kernels)} of them a contributor's" if sources.kernels else "")
            + ")",
            highlight=False,
        )
    return Exit.PASSED


def _specs(args) -> int:
    from akcuda.toolchain import specs

    if not args.check:
        derived = specs.write_specs(log=lambda m: out.print(m, highlight=False), pattern=args.k)
        for kernel, items in derived.todo.items():
            for item in items:
                out.print(f"[yellow]to do[/] {kernel}: {escape(item)}", highlight=False)
        return Exit.PASSED
    problems = specs.check_specs(pattern=args.k)
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem)}", highlight=False)
    loaded = {k: v for k, v in specs.load_all().items() if specs.matches(args.k, k)}
    n = sum(len(s["specializations"]) for s in loaded.values())
    out.print(f"specs check: {len(loaded)} kernels, {n} specializations, {len(problems)} difference(s) from the C")
    return Exit.FAILED if problems else Exit.PASSED


def _generate(args) -> int:
    from akcuda.toolchain.generate import generate

    results = generate(args.k)
    failed = {k: v for k, v in results.items() if v}
    for reason in failed.values():
        out.print(f"[red]✗[/] {escape(reason)}", highlight=False)
    steps = _step_counts(results)
    out.print(
        f"generate: {len(results) - len(failed)}/{len(results)} kernel families translated "
        f"into {paths.GENERATED} ({steps['parallel']} parallel steps, {steps['scan']} count-scan-fill, "
        f"{steps['serial']} serial, {steps['sort']} library sorts)"
    )
    return 1 if failed else 0


def _step_counts(results) -> dict[str, int]:
    from akcuda.runtime import executor

    counts = {"parallel": 0, "scan": 0, "serial": 0, "sort": 0}
    for kernel, failure in results.items():
        if failure is None:
            for entry in executor.load_plan(kernel, paths.GENERATED).entries.values():
                for step in entry.steps:
                    counts[step.kind.value] += 1
    return counts


def _explain(args) -> int:
    """Each loop of one kernel: its C, each rewrite, each rule tried and why it refused, the step."""
    from akcuda.generator.explain import explain
    from akcuda.toolchain import specs, upstream
    from akcuda.validation.suite import NoMatch

    spec = specs.load_all().get(args.kernel)
    if spec is None:
        raise NoMatch(f"{args.kernel}: no such kernel in {paths.SPECS}")
    sources = upstream.active()
    located = {**spec, "source": str(sources.file(spec["source"]))}
    for line in explain(located, sources.kernel_dir, sources.include):
        out.print(escape(line), highlight=False)
    return Exit.PASSED


def _compile(args) -> int:
    from akcuda.toolchain.compile import compile_kernels

    start = time.perf_counter()
    results = compile_kernels(args.k)
    failed = {k: v for k, v in results.items() if v}
    for kernel, log in failed.items():
        out.print(f"[red]✗ {kernel}[/]: {escape(log)}", highlight=False)
    out.print(
        f"compile: {len(results) - len(failed)}/{len(results)} kernel families compiled with NVRTC "
        f"for sm_80 and sm_90 in {time.perf_counter() - start:.1f}s"
    )
    return 1 if failed else 0


def _parity(args) -> int:
    from akcuda.toolchain import upstream
    from akcuda.validation import report, suite

    start = time.perf_counter()
    results = suite.parity_results(args.target, args.k, args.sources, args.block, tuple(args.seed), case=args.case)
    if args.case is not None and not any(r.cases for r in results):
        raise suite.NoMatch(f"--case {args.case}: no case of that name among the chosen specializations")
    meta = report.metadata(upstream.active().describe(), args.target, args.block, args.seed, {"pattern": args.k})
    rep = report.build_report(results, {"parity": time.perf_counter() - start}, meta)
    for path, text in (
        (args.json, lambda: json.dumps(rep, indent=1, default=str)),
        (args.junit, lambda: report.junit(rep)),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text())
    report.render_summary(rep, out)
    if args.case is not None:
        for row in rep["specializations"]:
            if row["cases"]:
                f = row["failure"] or {}
                out.print(f"{row['symbol']} {escape(f'[{args.case}]')}: {row['status']}", highlight=False)
                for key in ("reason", "cpu", "ours", "inputs"):
                    if f.get(key) is not None:
                        out.print(f"  {key}: {escape(json.dumps(f[key]))}", highlight=False)
    return Exit.PASSED if rep["summary"]["failed"] == 0 else Exit.FAILED


def _report(args) -> int:
    """Re-render a parity report (Markdown, HTML, JUnit) and compare it with a base report."""
    from akcuda.validation import compare, report

    path = Path(args.path) if args.path else paths.REPORT
    if not (path / "parity.json" if path.is_dir() else path).is_file():
        raise FileNotFoundError(f"{path}: no parity report there (run `akcuda pipeline` first)")
    rep = report.load_report(path)
    if args.junit:
        Path(args.junit).write_text(report.junit(rep))
        out.print(f"report: JUnit XML written to {args.junit}", highlight=False)
    if not args.compare:
        report.render_summary(rep, out)
        return Exit.PASSED if rep["summary"]["failed"] == 0 else Exit.FAILED
    result = compare.compare(rep, report.load_report(args.compare), (str(path), args.compare))
    for title, changes, color in (
        ("regressions", result.regressions, "red"),
        ("fixes", result.fixes, "green"),
        ("new", result.new, "cyan"),
        ("removed", result.removed, "yellow"),
    ):
        for c in changes:
            why = f": {escape(c.why)}" if c.why and title == "regressions" else ""
            out.print(
                f"[{color}]{title[:-1] if title.endswith('s') else title}[/] {c.symbol} ({c.before} → {c.after}){why}",
                highlight=False,
            )
    out.print(
        f"compare with {args.compare}: {len(result.regressions)} regression(s), {len(result.fixes)} fix(es), "
        f"{len(result.new)} new, {len(result.removed)} removed, {result.unchanged} unchanged",
        highlight=False,
    )
    return Exit.REGRESSION if result.regressed else Exit.PASSED


def _port(args) -> int:
    from akcuda.toolchain import port

    verdict = port.port(args.files, out, args.upstream, args.block, tuple(args.seed))
    return port.render(verdict, out)


def _plans(args) -> int:
    from rich.table import Table

    from akcuda.validation import plans

    rep = plans.build(args.k)
    path = plans.write(rep)
    table = Table(title="akcuda plans")
    for col in ("specialization", "launches", "passes", "steps (kind: width)"):
        table.add_column(col)
    for row in rep["specializations"]:
        steps = ", ".join(
            f"{s['kind']}: {s['width']}"
            + PER_THREAD.get(s["per_thread"], "")
            + (f" if {s['guard']}" if s.get("guard") else "")
            for s in row["steps"]
        )
        table.add_row(row["symbol"], str(row["launches"]), str(row["passes"]), steps)
    if args.k:
        out.print(table)
    seen = set()
    for row in rep["specializations"]:
        for step in row["steps"]:
            key = (row["kernel"], step["line"])
            if step["width1_input_sized"] and key not in seen:
                seen.add(key)
                out.print(f"[yellow]width 1[/] {row['kernel']}: {escape(step['reason'])}", highlight=False)
    s = rep["summary"]
    out.print(
        f"plans: {s['specializations']} specializations; steps {s['steps']}; launches median "
        f"{s['launches_median']}, max {s['launches_max']}; passes over the input median "
        f"{s['passes_median']}, max {s['passes_max']}; {s['width1_input_sized']} with an "
        f"input-sized width-1 step; {len(s['row_per_thread'])} with a whole row per thread; "
        f"written to {path.relative_to(paths.ROOT)}"
    )
    return 0


PER_THREAD = {"row": " (a whole row per thread)", "piece": " (a piece of a bin per thread)"}


def _pack(args) -> int:
    from akcuda.toolchain import pack

    try:
        packed = pack.pack(Path(args.out) if args.out else None, args.k)
    except pack.PackError as exc:
        out.print(f"[red]pack failed:[/] {escape(str(exc))}", highlight=False)
        return Exit.USAGE
    out.print(f"pack: {_packed(packed)} into {packed.folder}", highlight=False)
    return Exit.PASSED


def _packed(packed) -> str:
    return (
        f"{packed.kernels} kernel families, {packed.specializations} specializations, {packed.files} files "
        f"({packed.bytes / 2**20:.1f} MB)"
    )


def _wheel(args) -> int:
    from akcuda.toolchain.pack import PackError
    from akcuda.toolchain.wheel import build_wheel

    try:
        wheel, packed = build_wheel(Path(args.out) if args.out else None)
    except PackError as exc:
        out.print(f"[red]wheel failed:[/] {escape(str(exc))}", highlight=False)
        return Exit.USAGE
    out.print(f"wheel: {wheel} ({wheel.stat().st_size / 2**20:.1f} MB) carrying {_packed(packed)}", highlight=False)
    return Exit.PASSED


def _info(args) -> int:
    from akcuda import info

    return info.main(["--json"] if args.json else [])


def _gpu_check(args) -> int:
    from akcuda.validation import gpucheck

    result = gpucheck.run(Path(args.out), args.budget)
    if not result["gpu"]:
        out.print(f"[yellow]gpu-check: no GPU here[/] ({result['reason']}); wrote {args.out}/gpu-check.json")
        return 2
    for t in result["tiers"]:
        verdict = ("ok" if t["ok"] else "[red]FAILED[/]") if t["ran"] else f"not run ({t['why']})"
        out.print(f"{t['tier']}: {verdict}" + (f" in {t['seconds']}s" if t["ran"] else ""))
    out.print(f"gpu-check on {result['device']}: results in {args.out}")
    return 0 if all(t["ok"] is not False for t in result["tiers"]) else 1


def _awkward_suite(args) -> int:
    """Awkward's own tests, stock and through install("host"): non-zero if any outcome differs or
    any kernel call fell back."""
    from akcuda.toolchain import upstream
    from akcuda.validation import awkward_suite

    result = awkward_suite.run(upstream.awkward_dir() / "tests", Path(args.out), args.pytest_args)
    s = result.summary()
    out.print(
        f"awkward suite: {s['tests']} tests; stock {s['stock']}; akcuda {s['akcuda']}; {s['different']} different; "
        f"{s['kernel_calls']} kernel calls, {s['fallbacks']} fallbacks; results in {args.out}",
        highlight=False,
    )
    for name, stock, ours in result.differences[:50]:
        out.print(f"[red]✗ {escape(name)}[/]: stock {stock}, akcuda {ours}", highlight=False)
    return 0 if result.passed else 1


def _pipeline(args) -> int:
    from akcuda.toolchain import pipeline

    return pipeline.run(
        out, args.k, args.block, args.seed, lambda: _import(args), lambda: _record(argparse.Namespace(out=None))
    )


def _sanitize(args) -> int:
    """Every parity case against the ASan+UBSan host build; non-zero on any report."""
    from akcuda.validation import sanitize

    result = sanitize.run_sanitized(
        args.k, paths.BUILD / "sanitize", tuple(args.seeds or [1]), max_reports=args.max_reports
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    for k, r in enumerate(result["reports"]):
        out.print(
            f"[red]✗ {r['sanitizer'] or 'crash'}: {r['kind']}[/] in {r['symbol']} "
            f"({r['origin']}), case {r['case']} seed {r['seed']}",
            highlight=False,
        )
        if r.get("cpu_writes_past_end"):
            out.print(
                f"  the CPU reference also writes past {', '.join(r['cpu_writes_past_end'])}: "
                "the upstream kernel or test vector is out of bounds",
                highlight=False,
            )
        if k < 5:  # the text of the first few; the rest are in the JSON and the log folder
            out.print(r["head"], highlight=False, markup=False)
    for kernel, log in result["build_failures"].items():
        out.print(f"[red]✗ sanitized build of {kernel} failed:[/] {escape(log[:500])}", highlight=False)
    for f in result["parity_failures"][:10]:
        out.print(f"[red]✗ parity[/] {f['symbol']} {escape(str(f['case']))}: {escape(f['reason'])}", highlight=False)
    s = result["summary"]
    out.print(
        f"sanitize: {s['specializations']} specializations, {s['cases']} cases under ASan+UBSan "
        f"in {s['seconds']}s: {s['reports']} report(s), {s['parity_failed']} parity failure(s), "
        f"{s['build_failed']} build failure(s); logs in {s['logs']}",
        highlight=False,
    )
    if s["cpu_also_out_of_bounds"]:
        out.print(
            f"{s['cpu_also_out_of_bounds']} of the reports are on cases where the CPU reference "
            "overruns a buffer too (faithful translations of out-of-bounds upstream calls)",
            highlight=False,
        )
    if s["skipped"]:
        out.print(
            f"[yellow]{s['skipped']} case(s) skipped after --max-reports {args.max_reports} "
            "reports in one specialization[/]"
        )
    return 0 if sanitize.ok(result) else 1


def _corpus(args) -> int:
    """Every corpus operation with and without akcuda installed; non-zero if any result differs."""
    from rich.table import Table

    from akcuda.validation import corpus

    seed = {"seed": args.data_seed} if args.data_seed is not None else {}
    result = corpus.run_corpus(args.target, names=args.operation or None, **seed)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    s = result["summary"]
    table = Table(title=f"akcuda corpus ({s['target']})")
    for column in ("operations", "identical", "different", "via akcuda", "needs pending", "kernel calls"):
        table.add_column(column, justify="right")
    table.add_row(
        *(str(s[k]) for k in ("operations", "identical", "different", "via_akcuda", "needs_pending", "kernel_calls"))
    )
    out.print(table)
    for op in result["operations"]:
        if not op["identical"]:
            out.print(f"[red]✗ {escape(op['name'])}[/]: {escape(op['difference'])}", highlight=False)
    out.print(
        f"fallback kernels: {', '.join(s['fallback_kernels']) or 'none'}; {s['kernels']} kernels used, {s['seconds']}s",
        highlight=False,
    )
    return 0 if s["different"] == 0 else 1


def _record(args) -> int:
    """Record every kernel call of the corpus (stock Awkward) as parity cases."""
    from akcuda.validation.cases import recorded

    summary = recorded.record(Path(args.out) if args.out else None)
    out.print(
        f"record: {summary.operations} operations made {summary.calls} kernel calls; "
        f"{summary.distinct} distinct ({summary.errors} failing) saved for {summary.symbols} "
        f"specializations in {summary.folder}"
        + (f"; {summary.skipped} not recordable" if summary.skipped else "")
        + (f"; {summary.unfaithful} did not replay as recorded" if summary.unfaithful else ""),
        highlight=False,
    )
    return 0 if summary.unfaithful == 0 else 1


def _bench(args) -> int:
    from akcuda.validation import bench

    result = bench.run_bench(args.k, Path(args.out) if args.out else None, args.timed_on)
    s = result["summary"]
    out.print(result["gpu_note"], highlight=False)
    out.print(
        f"bench: {s['specializations']} specializations; per call at most {s['h2d_copies_per_call_max']} "
        f"host-to-device copies, {s['syncs_per_call_deferred_max']} syncs (deferred, no read-back by nature), "
        f"{s['launches_per_call_max']} launches (median {s['launches_per_call_median']}); "
        f"{s['over_upstream_launches']} launch more than Awkward's own of {s['upstream_countable']} countable; "
        f"workloads {s['workloads_checked']} checked, {s['workloads_unequal']} unequal, {s['workloads_failed']} "
        f"failed -> {args.out or paths.BUILD / 'bench'}/bench.{{json,md}}",
        highlight=False,
    )
    return 0


def _cluster_check(args) -> int:
    """The cluster analysis with akcuda on every worker against stock Awkward in one process."""
    from akcuda.validation import cluster

    folder = Path(args.out) if args.out else paths.BUILD / "cluster"
    result = cluster.run(folder, args.target, args.workers, args.events, args.partitions, args.errors)
    if "setup_error" in result:
        out.print(f"[red]akcuda cluster-check:[/] {escape(result['setup_error'])}", highlight=False)
        return Exit.USAGE
    calls = ", ".join(f"{via} {n}" for via, n in result["trace"]["calls"].items())
    yes = {True: "yes", False: "no"}
    out.print(
        f"cluster-check ({args.target}, {result['workers']} worker processes, {args.events} events in "
        f"{args.partitions} partitions): {len(result['different'])} result(s) different from stock Awkward; "
        f"kernel calls {calls}; every worker on akcuda: {yes[result['trace']['all_akcuda']]}; a failing kernel's "
        f"error is Awkward's own: {yes[result['error']['same_as_stock']]} -> {folder}/cluster-check.{{json,md}}",
        highlight=False,
    )
    return Exit.PASSED if result["passed"] else Exit.FAILED


def _cluster_bench(args) -> int:
    """Scaling figures of the cluster analysis: sizes by worker counts, with stock beside them."""
    from akcuda.validation import cluster, cluster_bench

    missing = cluster.missing_extra()
    if missing:
        out.print(f"[red]akcuda cluster-bench:[/] {escape(missing)}", highlight=False)
        return Exit.USAGE
    from akcuda.dask import AkcudaUnavailable

    try:
        chosen = {k: v for k, v in (("sizes", args.sizes), ("workers", args.workers)) if v is not None}
        result = cluster_bench.run(
            target=args.target, partitions=args.partitions, repeats=args.repeats, log=out.print, **chosen
        )
    except AkcudaUnavailable as exc:
        out.print(f"[red]akcuda cluster-bench:[/] {escape(str(exc))}", highlight=False)
        return Exit.USAGE
    folder = Path(args.out) if args.out else paths.BUILD / "bench"
    cluster_bench.write(result, folder)
    out.print(cluster_bench.markdown(result), highlight=False, markup=False)
    unequal = sum(not r["identical"] or r.get("all_akcuda") is False for r in result["rows"])
    out.print(
        f"cluster-bench: {len(result['rows'])} runs, {unequal} not identical to stock or not all on akcuda "
        f"-> {folder}/cluster-bench.{{json,md,png}}",
        highlight=False,
    )
    return Exit.PASSED if unequal == 0 else Exit.FAILED


def _counts(text: str) -> tuple[int, ...]:
    """--sizes, --workers: comma-separated positive integers."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def _bundle(args) -> int:
    from akcuda.toolchain import bundle
    from akcuda.toolchain.pack import PackError
    from akcuda.toolchain.wheel import build_wheel

    try:
        made = bundle.make_bundle(Path(args.out), build_wheel()[0], args.python)
    except (bundle.BundleError, PackError) as exc:
        out.print(f"[red]bundle failed:[/] {escape(str(exc))}")
        return Exit.USAGE
    wheels = ", ".join(sorted(p.name.split("-")[0] for p in (made / "wheels").glob("*.whl")))
    out.print(
        f"bundle: {made} ({bundle.size_of(made) / 2**20:.1f} MB) for Python {args.python}: wheels of {wheels}; "
        f"the pinned sdists",
        highlight=False,
    )
    missing = made / "missing.txt"
    if missing.read_text().strip():
        out.print(f"not in the bundle: {escape(missing.read_text().strip())}", highlight=False)
    return 0


def _sources(text: str) -> tuple[str, ...]:
    """--sources: a comma-separated subset of the case sources; anything else is a usage error."""
    from akcuda.validation.cases.sources import SOURCES

    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in chosen if part not in SOURCES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown case source {unknown[0] if unknown else text!r} (choose from {', '.join(SOURCES)})"
        )
    return chosen


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and exit with the usage code)."""

    def error(self, message: str):
        self.exit(Exit.USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class HELP(argparse.ArgumentDefaultsHelpFormatter):
    """Says each option's default, unless its help already does."""

    def _get_help_string(self, action):
        return action.help if "default" in (action.help or "") else super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    """The commands, in pipeline order; every option says its default and accepted values."""
    from akcuda.validation.cases.sources import SOURCES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--upstream",
        metavar="PATH",
        default=None,
        help="kernel C from a local awkward checkout or awkward-cpp source tree instead of the pinned sdists "
        "(default: [tool.akcuda] upstream in pyproject.toml, else the pinned sdists in build/upstream/)",
    )
    common.add_argument(
        "--kernels",
        metavar="PATH",
        action="append",
        default=[],
        help="a contributor's kernel file (FILE.cpp) or folder of them, taking the place of a same-named "
        "upstream file or adding a kernel (repeatable; also [tool.akcuda] kernels)",
    )
    pattern = argparse.ArgumentParser(add_help=False)
    pattern.add_argument(
        "-k",
        metavar="PATTERN",
        default=None,
        help="only kernels or symbols matching this substring or glob (default: all); matching none is an error",
    )
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--block", type=int, default=256, help="threads per block of the emulated grid")
    run.add_argument(
        "--seed",
        type=int,
        action="append",
        default=None,
        help="shuffle seed of the emulated grid (repeatable; default: 1 and 2)",
    )

    parser = _Parser(prog="akcuda", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"akcuda {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def command(name: str, fn, text: str, *parents) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, parents=[common, *parents], formatter_class=HELP)
        p.set_defaults(fn=fn)
        return p

    command("import", _import, "fetch and verify the pinned upstream sdists (and check --upstream PATH)")
    p = command(
        "specs", _specs, "write kernel-specs/ from the kernels' C, keeping hand annotations (or --check)", pattern
    )
    p.add_argument(
        "--check", action="store_true", help="only list every difference between the specs and the C; change nothing"
    )
    command("generate", _generate, "translate kernels to CUDA into build/generated/", pattern)
    p = command("explain", _explain, "show what each rewrite and rule did with each loop of one kernel")
    p.add_argument("kernel", metavar="KERNEL", help="a kernel's name, as kernel-specs/ names it")
    command("compile", _compile, "compile the generated CUDA with NVRTC for sm_80 and sm_90", pattern)
    p = sub.add_parser("record", help="record the corpus's kernel calls as parity cases", formatter_class=HELP)
    p.add_argument("--out", metavar="DIR", help="folder for the .npz files (default: build/recorded)")
    p.set_defaults(fn=_record)
    p = command("parity", _parity, "compare the generated kernels with their CPU reference", pattern, run)
    p.add_argument("--target", choices=("host", "cuda"), default="host", help="where the generated kernels run")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the report as JSON here (default: none)")
    p.add_argument("--junit", metavar="FILE", default=None, help="also write JUnit XML here (default: none)")
    p.add_argument(
        "--sources",
        type=_sources,
        default=SOURCES,
        metavar="LIST",
        help=f"comma-separated case sources, any of {','.join(SOURCES)} (default: all)",
    )
    p.add_argument(
        "--case",
        metavar="NAME",
        default=None,
        help="rerun only this case, as a report names it (e.g. generated:generate:n=255)",
    )
    command("plans", _plans, "show each specialization's plan steps and widths", pattern)
    p = command("report", _report, "show a parity report, write its JUnit XML, compare it with a base report")
    p.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="REPORT",
        help="parity.json, or the folder holding it (default: build/report)",
    )
    p.add_argument(
        "--compare",
        metavar="BASE.json",
        default=None,
        help="list regressions, fixes, new and removed specializations against this base report "
        "(exit 3 on a regression; default: no comparison)",
    )
    p.add_argument("--junit", metavar="FILE", default=None, help="write the report as JUnit XML here")
    command("pipeline", _pipeline, "import, specs check, generate, compile, record, host parity, reports", pattern, run)
    p = command("port", _port, "a contributor's kernel files: spec, generate, compile, parity and the verdict", run)
    p.add_argument(
        "files", nargs="+", metavar="FILE.cpp", help="kernel files written in upstream's style (or folders of them)"
    )
    p = command("sanitize", _sanitize, "run every parity case on the ASan+UBSan host build", pattern)
    p.add_argument("--json", metavar="FILE", default=None, help="also write the result as JSON here (default: none)")
    # dest "seeds": one seed is enough here
    p.add_argument(
        "--seed",
        dest="seeds",
        type=int,
        action="append",
        default=None,
        help="shuffle seed of the emulated grid (repeatable; default: 1)",
    )
    p.add_argument(
        "--max-reports", type=int, default=10, help="skip the rest of a specialization after this many reports"
    )
    p = command("corpus", _corpus, "run Awkward operations with and without akcuda installed")
    p.add_argument("--target", choices=("host", "cuda"), default="host", help="where akcuda runs the kernels")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the result as JSON here (default: none)")
    p.add_argument(
        "--data-seed", type=int, default=None, help="seed of the random input arrays (default: the corpus's own)"
    )
    p.add_argument(
        "--operation", action="append", default=[], help="only this operation (repeatable; default: all of them)"
    )
    p = command(
        "bench", _bench, "per-call cost of every specialization (counting target; GPU sweeps on a GPU)", pattern
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="folder for bench.json, bench.md and the plots (default: build/bench)",
    )
    p.add_argument(
        "--timed-on",
        choices=("host", "cuda"),
        default=None,
        help="target of the timed sections: cuda at GPU sizes, host at small ones (default: cuda where a GPU exists)",
    )
    p = command("cluster-check", _cluster_check, "the cluster analysis with akcuda on every worker against stock")
    p.add_argument("--target", choices=("host", "cuda"), default="host", help="akcuda's target on the workers")
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: 2 for host, 1 for cuda: one GPU)"
    )
    p.add_argument(
        "--errors",
        choices=("immediate", "deferred"),
        default=None,
        help="akcuda's error mode on the workers (default: immediate on host, deferred on cuda)",
    )
    p.add_argument("--events", type=int, default=20_000, help="synthetic collision events")
    p.add_argument("--partitions", type=int, default=4, help="Parquet files, one partition each")
    p.add_argument("--out", metavar="DIR", default=None, help="folder for the results (default: build/cluster)")
    p = command("cluster-bench", _cluster_bench, "the cluster analysis's wall time and events/s by worker count")
    p.add_argument("--sizes", type=_counts, default=None, help="events, comma-separated (default: 200000,1000000)")
    p.add_argument("--workers", type=_counts, default=None, help="worker counts, comma-separated (default: 1,2)")
    p.add_argument("--target", choices=("host", "cuda"), default="host", help="akcuda's target on the workers")
    p.add_argument("--partitions", type=int, default=8, help="Parquet files, one partition each")
    p.add_argument("--repeats", type=int, default=3, help="timed runs after a warm-up (the median is reported)")
    p.add_argument(
        "--out", metavar="DIR", default=None, help="folder for cluster-bench.{json,md,png} (default: build/bench)"
    )
    p = command("bundle", _bundle, "one folder for `make gpu-check` on a GPU machine without network")
    p.add_argument("--python", default="3.12", help="the GPU machine's Python version")
    p.add_argument("--out", required=True, metavar="DIR", help="the bundle's folder")
    p = command(
        "pack", _pack, "write the kernel store a wheel carries, from the generated and compiled kernels", pattern
    )
    p.add_argument("--out", metavar="DIR", default=None, help="the store's folder (default: build/store)")
    p = command("wheel", _wheel, "pack the kernel store into build/store and build akcuda's wheel carrying it")
    p.add_argument("--out", metavar="DIR", default=None, help="folder for the wheel (default: build/dist)")
    p = sub.add_parser(
        "info", help="versions, where the kernels come from, which targets can run here", formatter_class=HELP
    )
    p.add_argument("--json", action="store_true", help="print the facts as JSON (default: plain lines)")
    p.set_defaults(fn=_info)
    p = command("awkward-suite", _awkward_suite, "Awkward's own tests, stock and through install('host'), compared")
    p.add_argument("--out", metavar="DIR", default="build/awkward-suite", help="folder for the JUnit files and result")
    p.add_argument(
        "pytest_args", nargs="*", metavar="PYTEST_ARG", help="passed on to both pytest runs (e.g. -k validity)"
    )
    p = command("gpu-check", _gpu_check, "the device check in tiers: smoke, parity, corpus, sweeps, memcheck")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the JSON and Markdown results")
    p.add_argument(
        "--budget", type=float, default=480.0, help="seconds for all tiers; a tier that no longer fits is not run"
    )
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that are a user's mistake: each prints one line, no traceback."""
    from akcuda.generator.frontend.errors import TranslationError
    from akcuda.generator.frontend.preprocess import PreprocessError
    from akcuda.paths import NotInCheckout
    from akcuda.plan import PlanError
    from akcuda.store import StoreError
    from akcuda.toolchain.specs import SpecError
    from akcuda.toolchain.upstream import UpstreamError
    from akcuda.validation.cases.generated import RecipeError
    from akcuda.validation.compare import CompareError
    from akcuda.validation.reference_build import ReferenceBuildError
    from akcuda.validation.suite import NoMatch

    return (
        SpecError,
        UpstreamError,
        TranslationError,
        PreprocessError,
        PlanError,
        RecipeError,
        CompareError,
        ReferenceBuildError,
        NoMatch,
        NotInCheckout,
        StoreError,
        FileNotFoundError,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "seed", 0) is None:
        args.seed = [1, 2]
    from akcuda.toolchain import upstream

    errors = _user_errors()
    try:
        if args.command != "info":
            paths.repo_root()  # NotInCheckout outside a checkout: one line, before any work
        upstream.use(upstream.select(args.upstream, args.kernels) if hasattr(args, "upstream") else None)
        if getattr(args, "k", None):
            from akcuda.validation.suite import selected

            selected(args.k)  # -k matching nothing is a usage error, before any work
        return int(args.fn(args))
    except errors as exc:
        out.print(
            f"[red]akcuda {args.command}:[/] {escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}",
            highlight=False,
        )
        return Exit.USAGE
    finally:
        upstream.use(None)


if __name__ == "__main__":
    sys.exit(main())
