"""`akcuda gpu-check --out DIR`: the device check, in tiers, within one lease of a GPU machine.

Tiers run in order and each writes its results (`NN-<tier>.json` and `.md`) and the index
(`gpu-check.json`, `gpu-check.md`) before the next starts, so a timeout loses nothing done. A
tier whose estimate no longer fits the time left is recorded as not run, with why:

1. smoke (under a minute): every kernel family's binary loads; a slice of parity in both error
   modes; each defect of issue 22 checked on the device (`smoke.CHECKS`);
2. parity: every specialization on the cuda target (deferred mode, one seed);
3. corpus: the Awkward corpus with install("cuda"), and the physics workloads against the CPU
   and Awkward's own cuda backend;
4. sweeps: the kernel sweeps, per-call overhead and first call;
5. memcheck: compute-sanitizer's memcheck over a slice of the corpus;
6. cluster: the dask-awkward analysis on one GPU worker against the CPU (`akcuda cluster-check`),
   in the time the estimates above leave unused.

Estimates (seconds on one H100 or H200) are in `TIERS`; docs/gpu-check.md says how they were
made from the host run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from akcuda.runtime import device, unavailable

BUDGET_S = 480.0  # all tiers within 8 minutes of a 15-minute lease
SMOKE_PARITY = "awkward_ListArray_getitem_next_*"  # the smoke tier's slice of parity, both modes
MEMCHECK_OPERATIONS = ("slice_range_axis1", "sum_axis1", "combinations_2", "flatten_union", "pad_none_axis1")


def gpu_available() -> tuple[bool, str]:
    """(True, device name) when CuPy sees a CUDA device, else (False, why not)."""
    why = unavailable("cuda")
    return (False, why) if why is not None else (True, device()[0])


@dataclass(frozen=True)
class Tier:
    """One tier: its name, its estimate on one H100/H200, and what it runs (on a target name)."""

    name: str
    estimate_s: float
    run: Callable[[str], dict]  # -> {"ok": bool, "summary": {...}, "lines": [Markdown lines]}


# ---------------------------------------------------------------- the tiers


def smoke(target: str) -> dict:
    """Binaries load, a parity slice in both modes, and each defect's check."""
    from akcuda.validation import smoke as checks

    results = checks.run_all(target)
    parity = _parity(target, SMOKE_PARITY, seeds=(1, 2))
    loads = checks.binaries_load(target)
    ok = all(r["ok"] for r in results) and parity["summary"]["failed"] == 0 and loads["ok"]
    lines = ["| check | on | result |", "|---|---|---|"]
    lines += [f"| {r['check']} | {target} | {'ok' if r['ok'] else r['detail']} |" for r in results]
    lines += ["", _parity_line(parity, f"parity slice `{SMOKE_PARITY}`, immediate and deferred"), loads["line"]]
    return {"ok": ok, "summary": {"checks": results, "parity": parity["summary"], "binaries": loads}, "lines": lines}


def _parity(target: str, pattern: str | None, seeds: tuple[int, ...]) -> dict:
    from akcuda.runtime.executor import Mode
    from akcuda.validation import report, suite

    modes = (Mode.IMMEDIATE, Mode.DEFERRED) if len(seeds) > 1 else (Mode.DEFERRED,)
    results = suite.parity_results(target, pattern, seeds=seeds, modes=modes)
    return report.build_report(results, {}, {"target": target})


def _parity_line(parity: dict, what: str) -> str:
    p = parity["summary"]
    return f"{what}: {p['passed']}/{p['specializations'] - p['pending']} specializations passed, {p['cases']} cases"


def parity(target: str) -> dict:
    result = _parity(target, None, seeds=(1,))
    failures = [s for s in result["specializations"] if s["status"] == "failed"]
    lines = [_parity_line(result, "parity of every specialization (deferred)")]
    lines += [f"- `{s['symbol']}`: {(s['failure'] or {}).get('reason') or s['reason']}" for s in failures[:50]]
    return {"ok": not failures, "summary": result["summary"], "lines": lines}


def corpus_and_workloads(target: str) -> dict:
    from akcuda.validation import corpus, workloads

    found = corpus.run_corpus(target)
    rows = workloads.run(target, (10**5,), repeats=1)
    c = found["summary"]
    wrong = [r for r in rows if r.get("error") or (r["config"] != "cpu" and not r.get("close", True))]
    lines = [
        f"corpus: {c['identical']}/{c['operations']} identical, {c['via_akcuda']} via akcuda; "
        f"fallbacks: {', '.join(c['fallback_kernels']) or 'none'}",
        "",
        "| workload | config | equal to the CPU | close | error |",
        "|---|---|---|---|---|",
        *(
            f"| {r['workload']} | {r['config']} | {r.get('equal', '')} | {r.get('close', '')} | {r.get('error', '')} |"
            for r in rows
        ),
    ]
    lines += [f"- `{o['name']}`: {o.get('difference')}" for o in found["operations"] if not o["identical"]][:50]
    return {"ok": c["different"] == 0 and not wrong, "summary": {"corpus": c, "workloads": rows}, "lines": lines}


def sweeps(target: str) -> dict:
    from akcuda.runtime import make_target
    from akcuda.validation import sweeps as timed

    sizes = (10**3, 10**5, 10**7) if target == "cuda" else timed.SMOKE_SIZES
    bandwidth = timed.copy_bandwidth(target, make_target(target), 1 << 24, 3)
    rows = timed.sweep(target, sizes, 3, bandwidth)
    overhead = timed.overhead(target)
    lines = [f"copy bandwidth {bandwidth / 1e9:.1f} GB/s", "", "| kernel | n | akcuda GB/s | Awkward's GB/s |"]
    lines.append("|---|---|---|---|")
    for r in rows:
        theirs = r.get("awkward", {})
        awkward = theirs.get("gb_s", theirs.get("error"))
        lines.append(f"| {r['symbol']} | {r['n']} | {r['akcuda']['gb_s']} | {awkward} |")
    return {"ok": True, "summary": {"sweeps": rows, "overhead": overhead}, "lines": lines}


def memcheck(target: str) -> dict:
    """compute-sanitizer's memcheck over a slice of the corpus (a child process)."""
    tool = shutil.which("compute-sanitizer")
    if target != "cuda" or tool is None:
        why = "compute-sanitizer is not on PATH" if tool is None else "needs the cuda target"
        return {"ok": True, "summary": {"run": False, "why": why}, "lines": [f"not run: {why}"]}
    command = [tool, "--tool", "memcheck", "--error-exitcode", "3", sys.executable, "-m", "akcuda", "corpus"]
    command += ["--target", "cuda", *(f"--operation={name}" for name in MEMCHECK_OPERATIONS)]
    child = subprocess.run(command, capture_output=True, text=True, timeout=300)
    tail = (child.stdout + child.stderr)[-3000:]
    return {
        "ok": child.returncode == 0,
        "summary": {"run": True, "exit": child.returncode, "operations": list(MEMCHECK_OPERATIONS)},
        "lines": ["```", tail, "```"],
    }


def cluster(target: str) -> dict:
    """The dask-awkward analysis on one worker with `AkcudaPlugin(target)`, partitions on the
    target's backend, against stock Awkward on the CPU (`akcuda cluster-check`); not run where
    the `dask` extra is not installed."""
    from akcuda.validation import cluster as on_cluster

    missing = on_cluster.missing_extra()
    if missing:
        return {"ok": True, "summary": {"run": False, "why": missing}, "lines": [f"not run: {missing}"]}
    result = on_cluster.check(target, workers=1)
    summary = {k: v for k, v in result.items() if k != "trace_markdown"}
    return {"ok": result["passed"], "summary": summary, "lines": on_cluster.markdown(result).splitlines()[2:]}


TIERS = (
    Tier("smoke", 60, smoke),
    Tier("parity", 150, parity),
    Tier("corpus", 120, corpus_and_workloads),
    Tier("sweeps", 60, sweeps),
    Tier("memcheck", 90, memcheck),
    Tier("cluster", 45, cluster),  # last: it runs in what the estimates above leave unused
)


# ---------------------------------------------------------------- sequencing


def run_tiers(tiers: tuple[Tier, ...], target: str, out_dir: Path, device: str, budget_s: float = BUDGET_S) -> dict:
    """Each tier in order, its results written before the next starts; a tier whose estimate
    exceeds the time left is not run (and says so)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    index = {"gpu": True, "device": device, "target": target, "budget_s": budget_s, "tiers": []}
    for k, tier in enumerate(tiers, 1):
        left = budget_s - (time.perf_counter() - start)
        entry = {"tier": tier.name, "estimate_s": tier.estimate_s}
        if tier.estimate_s > left:
            entry.update(ran=False, ok=None, why=f"{left:.0f}s left, estimate {tier.estimate_s:.0f}s")
            result = {"lines": [f"not run: {entry['why']}"]}
        else:
            began = time.perf_counter()
            try:
                result = tier.run(target)
            except Exception as exc:  # noqa: BLE001 - a tier that breaks is a result; the next tiers still run
                result = {"ok": False, "summary": {"error": f"{type(exc).__name__}: {exc}"}, "lines": [repr(exc)]}
            entry.update(ran=True, ok=bool(result["ok"]), seconds=round(time.perf_counter() - began, 1))
            entry["summary"] = result.get("summary")
        name = f"{k:02d}-{tier.name}"
        (out_dir / f"{name}.json").write_text(json.dumps(entry, indent=1, default=str))
        (out_dir / f"{name}.md").write_text("\n".join([f"# {tier.name} on {device}", "", *result["lines"], ""]))
        index["tiers"].append({key: entry[key] for key in entry if key != "summary"})
        _write_index(index, out_dir)
    return index


def _write_index(index: dict, out_dir: Path) -> None:
    (out_dir / "gpu-check.json").write_text(json.dumps(index, indent=1, default=str))
    lines = [
        f"# akcuda GPU check on {index['device']}",
        "",
        "| tier | ran | ok | seconds | estimate |",
        "|---|---|---|---|---|",
    ]
    for t in index["tiers"]:
        ran = "yes" if t["ran"] else f"no ({t['why']})"
        lines.append(f"| {t['tier']} | {ran} | {t['ok']} | {t.get('seconds', '')} | {t['estimate_s']} |")
    (out_dir / "gpu-check.md").write_text("\n".join(lines) + "\n")


def run(out_dir: Path, budget_s: float = BUDGET_S) -> dict:
    """Every tier on the GPU; without one, gpu-check.json says why and nothing runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    present, device = gpu_available()
    if not present:
        result = {"gpu": False, "reason": device}
        (out_dir / "gpu-check.json").write_text(json.dumps(result, indent=1))
        return result
    return run_tiers(TIERS, "cuda", out_dir, device, budget_s)
