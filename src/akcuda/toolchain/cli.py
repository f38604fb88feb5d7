"""The `akcuda` command: one sub-command per pipeline stage, plus `pipeline` for all of them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from akcuda import paths

# Each command imports the stages it runs when it runs, so `akcuda --help` and the light
# commands start without loading Awkward, pycparser or NVRTC.
out = Console()


def _import(args) -> int:
    from akcuda.toolchain import upstream

    try:
        upstream.fetch(log=lambda m: out.print(m, highlight=False))
    except upstream.UpstreamError as exc:
        out.print(f"[red]import failed:[/] {escape(str(exc))}")
        return 1
    return 0


def _specs(args) -> int:
    from akcuda.toolchain import specs

    if not args.check:
        specs.write_specs(log=out.print)
        return 0
    try:
        problems = specs.check_specs()
    except specs.SpecError as exc:
        out.print(f"[red]malformed spec:[/] {escape(str(exc))}")
        return 1
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem)}", highlight=False)
    loaded = specs.load_all()
    n = sum(len(s["specializations"]) for s in loaded.values())
    out.print(f"specs check: {len(loaded)} kernels, {n} specializations, {len(problems)} difference(s) from upstream")
    return 1 if problems else 0


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
            for entry in executor.load_plan(kernel).entries.values():
                for step in entry.steps:
                    counts[step.kind.value] += 1
    return counts


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
    from akcuda.validation import report, suite

    start = time.perf_counter()
    results = suite.parity_results(args.target, args.k, tuple(args.sources.split(",")), args.block, tuple(args.seed))
    rep = report.build_report(
        results,
        {"parity": time.perf_counter() - start},
        {"target": args.target, "block": args.block, "seeds": args.seed},
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rep, indent=1, default=str))
    report.render_summary(rep, out)
    return 0 if rep["summary"]["failed"] == 0 else 1


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
            f"{s['kind']}: {s['width']}" + (" (a whole row per thread)" if s["per_thread"] == "row" else "")
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


def _gpu_check(args) -> int:
    from akcuda.validation import gpucheck

    result = gpucheck.run(Path(args.out))
    if not result["gpu"]:
        out.print(f"[yellow]gpu-check: no GPU here[/] ({result['reason']}); wrote {args.out}/gpu-check.json")
        return 2
    p, c = result["parity"], result["corpus"]
    out.print(
        f"gpu-check on {result['device']}: parity {p['passed']}/{p['specializations'] - p['pending']} "
        f"specializations passed ({p['cases']} cases); corpus {c['identical']}/{c['operations']} identical; "
        f"results in {args.out}"
    )
    return 0 if p["failed"] == 0 and c["different"] == 0 else 1


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

    result = corpus.run_corpus(args.target, **({"seed": args.data_seed} if args.data_seed is not None else {}))
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

    result = bench.run_bench(args.k, Path(args.out) if args.out else None)
    s = result["summary"]
    out.print(result["gpu_note"], highlight=False)
    out.print(
        f"bench: {s['specializations']} specializations; per call at most {s['h2d_copies_per_call_max']} "
        f"host-to-device copies, {s['syncs_per_call_deferred_max']} syncs (deferred, no read-back by nature), "
        f"{s['launches_per_call_max']} launches (median {s['launches_per_call_median']}); "
        f"{s['over_upstream_launches']} launch more than Awkward's own of {s['upstream_countable']} countable "
        f"-> {args.out or paths.BUILD / 'bench'}/bench.{{json,md}}",
        highlight=False,
    )
    return 0


def _bundle(args) -> int:
    from akcuda.toolchain import bundle

    try:
        made = bundle.make_bundle(Path(args.out), args.python)
    except bundle.BundleError as exc:
        out.print(f"[red]bundle failed:[/] {escape(str(exc))}")
        return 1
    out.print(f"bundle: {made} ({bundle.size_of(made) / 2**20:.1f} MB) for Python {args.python}", highlight=False)
    missing = made / "missing.txt"
    if missing.exists() and missing.read_text().strip():
        out.print(f"not in the bundle: {escape(missing.read_text().strip())}", highlight=False)
    return 0


def _add_awkward_commands(sub) -> None:
    """Parser entries of the Awkward-integration commands (corpus, record)."""
    p = sub.add_parser("corpus", help="run Awkward operations with and without akcuda installed")
    p.add_argument("--target", choices=("host", "cuda"), default="host")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--data-seed", type=int, default=None, help="seed of the random input arrays")
    p.set_defaults(fn=_corpus)
    p = sub.add_parser("record", help="record the corpus's kernel calls as parity cases")
    p.add_argument("--out", metavar="DIR", help="folder for the .npz files (default build/recorded)")
    p.set_defaults(fn=_record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="akcuda", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("import", help="fetch and verify the pinned upstream sdists").set_defaults(fn=_import)
    p = sub.add_parser("gpu-check", help="parity and corpus on the cuda target (needs an NVIDIA GPU)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the JSON and Markdown results")
    p.set_defaults(fn=_gpu_check)
    p = sub.add_parser("bench", help="per-call cost of every specialization (counting target; GPU sweeps on a GPU)")
    p.add_argument("-k", metavar="PATTERN", help="only kernels or symbols matching this")
    p.add_argument("--out", metavar="DIR", help="folder for bench.json, bench.md and the plots (build/bench)")
    p.set_defaults(fn=_bench)
    p = sub.add_parser("bundle", help="one folder for `make gpu-check` on a GPU machine without network")
    p.add_argument("--python", default="3.12", help="the GPU machine's Python version")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(fn=_bundle)
    p = sub.add_parser("specs", help="write kernel-specs/ from upstream facts (or --check them)")
    p.add_argument("--check", action="store_true")
    p.set_defaults(fn=_specs)
    for name, fn, text in (
        ("generate", _generate, "translate kernels to CUDA"),
        ("compile", _compile, "compile generated CUDA with NVRTC"),
        ("parity", _parity, "compare generated kernels with the CPU"),
        ("plans", _plans, "show each specialization's plan steps and widths"),
        ("pipeline", _pipeline, "import, check, generate, compile, parity, report"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("-k", metavar="PATTERN", help="only kernels or symbols matching this")
        p.set_defaults(fn=fn)
        if name in ("parity", "pipeline"):
            p.add_argument("--block", type=int, default=256, help="threads per block")
            p.add_argument(
                "--seed", type=int, action="append", default=None, help="shuffle seed of the emulated grid (repeatable)"
            )
        if name == "parity":
            p.add_argument("--target", choices=("host", "cuda"), default="host")
            p.add_argument("--json", metavar="FILE")
            p.add_argument("--sources", default="upstream,generated,invalid,recorded")
    p = sub.add_parser("sanitize", help="run every parity case on the ASan+UBSan host build")
    p.add_argument("-k", metavar="PATTERN", help="only kernels or symbols matching this")
    p.add_argument("--json", metavar="FILE")
    # dest "seeds": main() turns a missing --seed into [1, 2]; one seed is enough here
    p.add_argument(
        "--seed",
        dest="seeds",
        type=int,
        action="append",
        default=None,
        help="shuffle seed of the emulated grid (repeatable; default 1)",
    )
    p.add_argument(
        "--max-reports", type=int, default=10, help="skip the rest of a specialization after this many reports"
    )
    p.set_defaults(fn=_sanitize)
    _add_awkward_commands(sub)
    args = parser.parse_args(argv)
    if getattr(args, "seed", 0) is None:
        args.seed = [1, 2]
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
