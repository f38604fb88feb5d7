"""`akcuda bench`: what a kernel call costs, per specialization, written as JSON, Markdown and PNG.

It runs every chosen specialization on the counting target (launches, array-library calls,
host-to-device copies, read-backs, allocations, per call, in both error modes) and on the host
target and the CPU reference (awkward_cpp) at small sizes; each specialization's launches are
set beside those of Awkward's own GPU path where they are countable (`upstream_launches`).
Then the timed sections (`bench_device`): on the cuda target where a GPU exists, else on the
host target at small sizes (the CI smoke run), which then says plainly that it has no GPU
figures.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from akcuda import paths
from akcuda.plan import PlanError
from akcuda.plan.model import CounterKind, CounterOp, Parallel, Role, Scans, Serial
from akcuda.progress import progress
from akcuda.runtime import executor, host_build
from akcuda.runtime.executor import Mode
from akcuda.runtime.host import CountingTarget
from akcuda.toolchain import specs
from akcuda.validation import bench_device, parity, reference, upstream_launches
from akcuda.validation.cases.generated import RecipeError
from akcuda.validation.cases.sources import collect_cases
from akcuda.validation.gpucheck import gpu_available

SMOKE_SIZES = ("n=255", "n=257")  # small generated cases: the smoke run stays well under a minute
FIGURES = ("launches", "library", "device_launches", "h2d_copies", "syncs", "allocations")


def _cases(spec: dict, special: dict) -> list:
    """A small valid case or two and one invalid case: the success path and the failure path."""
    cases = collect_cases(spec, special, ("generated", "invalid"))
    small = [c for c in cases if c.source == "generated" and c.name.endswith(SMOKE_SIZES)]
    return small + [c for c in cases if c.source == "invalid"][:1]


def _device_values(target, values: list) -> list:
    return [target.pointer_table(v) if isinstance(v, list) else v for v in values]


def _measure(plan, special: dict, case, target: CountingTarget, mode: Mode) -> tuple[dict, float]:
    """One call's figures and wall time on the counting target (after a warm-up call)."""
    for _warm_up_first in range(2):
        made = parity.materialize(special, case)  # kept alive: pointer tables point into it
        values = _device_values(target, made)
        start = time.perf_counter()
        executor.run(plan, special, values, target, mode=mode)
        seconds = time.perf_counter() - start
        if mode == Mode.DEFERRED:
            executor.synchronize(target)
    return target.calls[-1].as_dict(), seconds


def _cpu_seconds(special: dict, case) -> float:
    values = parity.materialize(special, case)
    start = time.perf_counter()
    reference.call(special, values)
    return time.perf_counter() - start


def count_specialization(spec: dict, special: dict, target: CountingTarget) -> dict | None:
    """Per-call figures of one specialization (the worst of its cases), in both modes."""
    try:
        plan = executor.load_plan(spec["name"])
        cases = _cases(spec, special)
    except (OSError, RecipeError, PlanError):
        return None
    if not cases:
        return None
    entry = {"symbol": special["symbol"], "kernel": spec["name"], "cases": len(cases)}
    timings = {"host_us": [], "cpu_us": []}
    for mode in Mode:
        worst = dict.fromkeys(FIGURES, 0)
        reasons: list[str] = []
        for case in cases:
            figures, seconds = _measure(plan, special, case, target, mode)
            for name in FIGURES:
                worst[name] = max(worst[name], figures[name])
            reasons += [r for r in figures["reasons"] if r not in reasons]
            if mode == Mode.IMMEDIATE:
                timings["host_us"].append(seconds * 1e6)
                timings["cpu_us"].append(_cpu_seconds(special, case) * 1e6)
        entry[mode.value] = {**worst, "read_back_for": reasons}
    entry["read_back_by_nature"] = executor.needs_read_back(plan.entry_of(special["symbol"]))
    entry["host_us"] = round(statistics.median(timings["host_us"]), 1)
    entry["cpu_us"] = round(statistics.median(timings["cpu_us"]), 1)
    theirs = upstream_launches.by_symbol().get(special["symbol"])
    entry["upstream_launches"] = theirs
    ours = entry[Mode.DEFERRED.value]["device_launches"]
    entry["over_upstream"] = theirs is not None and ours > theirs
    if entry["over_upstream"]:
        entry["why_more"] = _why_more(plan, special)
    return entry


def _why_more(plan, special: dict) -> str:
    """Where the plan's launches come from, step by step, beyond one launch per step: what
    Awkward's hand-written kernels do without (a constant-work step folded into a neighbour
    costs nothing and is not named)."""
    launches = plan.specializations[special["symbol"]].launches
    reasons = []
    for step, roles in zip(plan.entry_of(special["symbol"]).steps, launches):
        form = step.form
        if isinstance(form, Serial) and form.fold is None:
            reasons.append("a one-thread step of its own (" + (step.reason or "constant work") + ")")
        if isinstance(form, Parallel) and form.checked:
            reasons.append(
                "a check launch first finds the first failing iteration, so no thread writes past it "
                "(the C loop stops there; Awkward's kernel runs every row and only flags the error)"
            )
        if step.segments and step.form_on_device:
            reasons.append(
                "row ranges checked on the device by the array library (two calls per test and four to "
                "set the record's bit) and the C order launched beside the parallel form, leaving at once "
                "unless the ranges refuse it (Awkward's kernel assumes them)"
            )
        elif step.segments:
            reasons.append(
                "row ranges checked on the array library before the parallel form (two calls per test; "
                "Awkward's kernel assumes them)"
            )
        if isinstance(form, Scans):
            parts = [role.value for role in (Role.NOMINAL, Role.COUNT, Role.FILL, Role.FINISH) if role in roles]
            library = []
            if any(c.kind == CounterKind.KEYED for c in form.counters):
                library.append("a scan within each key by a stable sort (16 calls)")
            if any(c.op == CounterOp.LAST for c in form.counters):
                library.append("a last value picked (3 calls)")
            if any(c.op in (CounterOp.SUM, CounterOp.SPECULATED) for c in form.counters):
                library.append("an in-place scan per sum")
            reasons.append(f"{' + '.join(parts)} launches and " + ", ".join(library or ["a reduction"]))
    return "; ".join(dict.fromkeys(reasons)) or "parallel steps, one launch each"


def summarize(entries: list[dict]) -> dict:
    """The integer summary CI and reviewers read."""
    natural = [e for e in entries if not e["read_back_by_nature"]]

    def worst(rows: list[dict], mode: Mode, name: str) -> int:
        return max((e[mode.value][name] for e in rows), default=0)

    def median(mode: Mode, name: str) -> float:
        return statistics.median(e[mode.value][name] for e in entries) if entries else 0

    return {
        "specializations": len(entries),
        "h2d_copies_per_call_max": max(worst(entries, m, "h2d_copies") for m in Mode),
        "syncs_per_call_deferred_max": worst(natural, Mode.DEFERRED, "syncs"),
        "syncs_per_call_deferred_max_with_read_back": worst(entries, Mode.DEFERRED, "syncs"),
        "syncs_per_call_immediate_max": worst(entries, Mode.IMMEDIATE, "syncs"),
        "launches_per_call_max": worst(entries, Mode.DEFERRED, "device_launches"),
        "launches_per_call_median": median(Mode.DEFERRED, "device_launches"),
        "syncs_per_call_immediate_median": median(Mode.IMMEDIATE, "syncs"),
        "needs_read_back_by_nature": len(entries) - len(natural),
        "upstream_countable": sum(e["upstream_launches"] is not None for e in entries),
        "over_upstream_launches": sum(e["over_upstream"] for e in entries),
    }


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = [
        "# akcuda bench",
        "",
        result["gpu_note"],
        "",
        "| summary | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in s.items()],
        "",
        "Per call, on the counting target (worst case of each specialization's cases); launches are",
        "generated kernels + array-library calls; Awkward's own = its hand-written path, where countable.",
        "",
        "| specialization | launches (imm/def) | syncs imm | syncs def | H2D | allocs | Awkward's own "
        "| host µs | CPU µs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in result["specializations"]:
        imm, dfr = e["immediate"], e["deferred"]
        own = "—" if e["upstream_launches"] is None else str(e["upstream_launches"])
        lines.append(
            f"| `{e['symbol']}` | {imm['device_launches']}/{dfr['device_launches']} | {imm['syncs']} | {dfr['syncs']} "
            f"| {max(imm['h2d_copies'], dfr['h2d_copies'])} | {dfr['allocations']} | {own} | {e['host_us']} "
            f"| {e['cpu_us']} |"
        )
    over = [e for e in result["specializations"] if e["over_upstream"]]
    lines += ["", "## More launches than Awkward's own GPU path", ""]
    lines += [
        f"- `{e['symbol']}`: {e['deferred']['device_launches']} vs {e['upstream_launches']}: {e['why_more']}"
        for e in over
    ]
    lines += [] if over else ["none"]
    lines += ["", *bench_device.markdown(result["device"])]
    return "\n".join(lines) + "\n"


def plots(result: dict, out_dir: Path) -> list[Path]:
    """Histograms of launches and read-backs per call, and host vs CPU time per call."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = result["specializations"]
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, mode in zip(axes, Mode):
        ax.hist([e[mode.value]["device_launches"] for e in entries], bins=range(0, 20), alpha=0.7, label="launches")
        ax.hist([e[mode.value]["syncs"] for e in entries], bins=range(0, 20), alpha=0.7, label="syncs")
        ax.set_title(f"per call, {mode.value} errors")
        ax.set_xlabel("count per call")
        ax.set_ylabel("specializations")
        ax.legend()
    fig.tight_layout()
    written.append(out_dir / "per_call.png")
    fig.savefig(written[-1])
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.loglog([e["cpu_us"] for e in entries], [e["host_us"] for e in entries], ".", alpha=0.5)
    ax.set_xlabel("awkward_cpp on the CPU, µs per call")
    ax.set_ylabel("akcuda host target (emulated grid), µs per call")
    ax.set_title("small sizes (smoke run, not GPU figures)")
    fig.tight_layout()
    written.append(out_dir / "host_vs_cpu.png")
    fig.savefig(written[-1])
    plt.close(fig)
    return written + bench_device.plots(result["device"], out_dir, plt)


def run_bench(pattern: str | None = None, out_dir: Path | None = None, timed_on: str | None = None) -> dict:
    """Count every chosen specialization, run the timed sections (on `timed_on`: by default
    "cuda" where a GPU exists, else "host" at small sizes) and write bench.json, bench.md and
    the plots."""
    out_dir = out_dir or paths.BUILD / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = [
        (k, s)
        for k, s in specs.specializations(specs.load_all())
        if k["status"] == "translate" and specs.matches(pattern, k["name"], s["symbol"])
    ]
    target = CountingTarget(seed=1)
    kernels = sorted({k["name"] for k, _ in chosen})
    host_build.build_all([target.generated / f"{k}.cu" for k in kernels], target.out_dir)
    start = time.perf_counter()
    entries = []
    with progress() as bar:
        task = bar.add_task("bench (counting)", total=len(chosen), item="")
        for spec, special in chosen:
            bar.update(task, item=special["symbol"])
            entry = count_specialization(spec, special, target)
            if entry is not None:
                entries.append(entry)
            bar.advance(task)
    present, device = gpu_available()
    timed_on = timed_on or ("cuda" if present else "host")
    timed = bench_device.run(timed_on)
    result = {
        "summary": {**summarize(entries), **_workload_summary(timed["workloads"])},
        "gpu": timed_on == "cuda",
        "gpu_note": (
            f"GPU: {device}. Counts are exact (counting target); the timed sections ran on the cuda "
            "target, timed with CUDA events, beside Awkward's own cuda backend and the CPU."
            if timed_on == "cuda"
            else f"No GPU figures: this is the CPU smoke run ({device}). Counts are exact; every time "
            "here is the host target (an emulated grid) or awkward-cpp on the CPU at small sizes: they "
            "test the bench's code paths, they are not GPU timings."
        ),
        "seconds": round(time.perf_counter() - start, 2),
        "device": timed,
        "specializations": entries,
    }
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1))
    (out_dir / "bench.md").write_text(markdown(result))
    result["plots"] = [str(p) for p in plots(result, out_dir)]
    return result


def _workload_summary(rows: list[dict]) -> dict:
    """How many workload runs were checked against the plain CPU, and how many differed (or
    failed to run)."""
    checked = [w for w in rows if "equal" in w]
    return {
        "workloads_checked": len(checked),
        "workloads_unequal": sum(not w["close"] for w in checked),
        "workloads_failed": sum("error" in w for w in rows),
    }
