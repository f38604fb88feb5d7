"""Sanitized host run: every parity case against generated kernels built with ASan and UBSan.

The generated .cu files are compiled with `host_build.SANITIZE_FLAGS` and run by the parity harness
in a child Python process that has the ASan runtime preloaded (it must come first in the link
order for CPython to load an instrumented library, and it intercepts NumPy's malloc so that
every buffer gets redzones) and with the harness's guard band set to 0, so that the first
element past a buffer is an ASan redzone rather than a guard element.

Policy: halt on the first report, then resume. Each sanitizer halts the child at its first
report (ASan checks an access *before* it happens, so nothing is ever corrupted and nothing
later in the run is suspect); the report lands under `out_dir/logs` (ASan's log_path; GCC's
UBSan writes to stderr whenever ASan is loaded, so the parent saves a halted child's stderr
there), the child's progress lines say which case was running, and the parent starts a fresh
child after that case. So one run still finds every report, each attributed to one kernel and
case, and a single report makes the run fail loudly with its text. A specialization stops
being retried after `max_reports` reports (see `run_shard`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from akcuda import paths
from akcuda.runtime import executor, host_build
from akcuda.runtime.host import HostTarget
from akcuda.toolchain import specs
from akcuda.validation import parity, reference
from akcuda.validation.cases.sources import SOURCES, collect_cases

SANITIZER_EXIT = 86  # the child's exit status when a sanitizer halted it
HEAD_LINES = 14  # lines of a report kept in the summary (the log keeps all)
_ASAN_KIND = re.compile(r"ERROR: AddressSanitizer: ([\w-]+)")
_UBSAN_LINE = re.compile(r"^(?P<where>\S+:\d+(?::\d+)?): runtime error: (?P<what>.*)$", re.M)


@cache
def asan_runtime() -> str:
    """The ASan runtime g++ links against (preloaded into the child)."""
    found = subprocess.run(
        ["g++", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(found) or not os.path.exists(found):
        raise RuntimeError(f"g++ has no ASan runtime (got {found!r})")
    return os.path.realpath(found)


def child_env(log_dir: Path) -> dict[str, str]:
    """The child's environment: ASan preloaded, both sanitizers halting into log files."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [asan_runtime(), env.get("LD_PRELOAD", "")]))
    common = f"halt_on_error=1:exitcode={SANITIZER_EXIT}"
    # detect_leaks=0: CPython leaks by design. verify_asan_link_order=0: some launcher may
    # preload another library first; the runtime is preloaded here anyway. redzone=128: an
    # overrun by up to 16 int64 elements lands in a redzone (the default 16 bytes let a write a
    # few elements past a small buffer land silently in a neighbouring live buffer).
    env["ASAN_OPTIONS"] = (
        f"{common}:log_path={log_dir / 'asan'}:detect_leaks=0:"
        "verify_asan_link_order=0:abort_on_error=0:symbolize=1:redzone=128"
    )
    # UBSan's log_path is set too, though GCC's UBSan writes to stderr next to ASan anyway
    env["UBSAN_OPTIONS"] = f"{common}:log_path={log_dir / 'ubsan'}:print_stacktrace=1:symbolize=1"
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH", "")]))
    env["AKCUDA_ROOT"] = str(paths.ROOT)
    return env


def chosen(pattern: str | None, generated: Path) -> list[tuple[dict, dict]]:
    """The (spec, specialization) pairs that `parity_results` would run and that have code."""

    return [
        (spec, special)
        for spec, special in specs.specializations(specs.load_all())
        if spec["status"] != "pending"
        and (generated / f"{spec['name']}.cu").exists()
        and specs.matches(pattern, spec["name"], special["symbol"])
    ]


def build_libraries(kernels: list[str], generated: Path, lib_dir: Path) -> dict[str, str]:
    """Build every kernel family sanitized, in parallel; kernel -> compiler log of failures."""
    built = host_build.build_all([generated / f"{k}.cu" for k in kernels], lib_dir, host_build.SANITIZE_FLAGS)
    return {b.kernel: b.log for b in built if not b.ok}


# ---------------------------------------------------------------- child side


def _child_cases(job: dict) -> Iterator[tuple[int, dict, dict, Any, Any]]:
    """(index, plan, specialization, case, target) in a fixed order; resumes at job['start']."""

    generated = Path(job["generated"])
    targets = []
    for seed in job["seeds"]:
        target = HostTarget(seed=seed, generated=generated, sanitize=True)
        target.out_dir = Path(job["lib_dir"])
        targets.append(target)
    all_specs, index = specs.load_all(), 0
    for spec, special in specs.specializations(all_specs):
        if special["symbol"] not in job["symbols"]:
            continue
        skip = special["symbol"] in job.get("skip", ())
        try:
            plan = executor.load_plan(spec["name"], generated)
            cases = collect_cases(spec, special, SOURCES)
        except Exception as exc:  # reported once (a resumed child is past it), not fatal
            if index >= job["start"]:
                _emit(
                    {
                        "failed": None,
                        "symbol": special["symbol"],
                        "case": None,
                        "seed": None,
                        "reason": f"cannot collect cases: {type(exc).__name__}: {exc}",
                    }
                )
            continue
        for case in cases:
            for target in targets:
                if index >= job["start"] and not skip:
                    yield index, plan, special, case, target
                index += 1
    _emit({"end": index})


def _emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()  # the parent must see the case that was running when a sanitizer halts


def child_main(job: dict) -> int:
    """Run the job's cases, announcing each one first; a sanitizer may end the process."""

    parity.GUARD = 0  # no guard band: ASan's redzone starts right after every buffer
    for index, plan, special, case, target in _child_cases(job):
        _emit(
            {
                "case": index,
                "symbol": special["symbol"],
                "kernel": plan.kernel,
                "name": case.name,
                "source": case.source,
                "seed": target.seed,
            }
        )
        try:
            outcome = parity.run_case(plan, special, case, target, job["block"])
        except Exception as exc:  # the harness could not build the case: reported, not fatal
            outcome = parity.CaseOutcome(case.name, False, f"harness error: {type(exc).__name__}: {exc}")
        if not outcome.passed:
            _emit(
                {
                    "failed": index,
                    "symbol": special["symbol"],
                    "case": case.name,
                    "seed": target.seed,
                    "reason": outcome.reason,
                }
            )
    return 0


# ---------------------------------------------------------------- parent side


def parse_reports(text: str) -> list[dict[str, str]]:
    """Split one sanitizer log into reports: sanitizer, kind, location and first lines."""
    reports = []
    for block in re.split(r"^=+\n", text, flags=re.M):
        found = _ASAN_KIND.search(block)
        if found:
            summary = re.search(r"^SUMMARY: AddressSanitizer: \S+ (.*)$", block, re.M)
            reports.append(
                _report("AddressSanitizer", found.group(1), summary.group(1) if summary else "", block[found.start() :])
            )
    starts = list(_UBSAN_LINE.finditer(text))
    for k, m in enumerate(starts):
        end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
        what = m.group("what")
        # the kind is the clause before the values ("signed integer overflow: 1 + 2 ...")
        kind = what.split(":")[0] if ":" in what else what
        reports.append(_report("UndefinedBehaviorSanitizer", kind.strip(), m.group("where"), text[m.start() : end]))
    return reports


def _report(sanitizer: str, kind: str, where: str, text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.strip()]
    return {
        "sanitizer": sanitizer,
        "kind": kind,
        "where": where,
        "origin": _origin(text),
        "head": "\n".join(lines[:HEAD_LINES]),
    }


def _origin(text: str) -> str:
    """Which code the faulting frames belong to: a generated kernel, the CPU reference, other."""
    frames = re.findall(r"^\s*#\d+ .*$", text, re.M) or text.splitlines()[:1]
    for frame in frames:
        if "akc_run_grid" in frame or "akc_host__" in frame or ".cu:" in frame:
            return "generated kernel"
        if "awkward_cpp" in frame or "awkward-cpu-kernels" in frame:
            return "cpu reference (awkward_cpp)"
    return "other"


def _read_logs(log_dir: Path, pid: int) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(log_dir.glob(f"*.{pid}")))


def _run_child(job: dict, env: dict[str, str], timeout: float | None) -> tuple[int, str, list, int]:
    """One child run: (exit status, stderr, progress events, pid); its log files end in .<pid>."""
    cmd = [sys.executable, "-m", "akcuda.validation.sanitize", "--child"]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=paths.ROOT
    )
    try:
        stdout, stderr = proc.communicate(json.dumps(job), timeout=timeout)
    except subprocess.TimeoutExpired:  # a hung kernel: reported like a crash of that case
        proc.kill()
        stdout, stderr = proc.communicate()
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return proc.returncode, stderr, events, proc.pid


def run_shard(
    job: dict, env: dict[str, str], log_dir: Path, timeout: float | None = None, max_reports: int = 10
) -> dict:
    """Run one shard to its end, restarting the child after each case a sanitizer halted.

    After `max_reports` reports in one specialization its remaining cases are skipped (and
    counted as skipped): a bug hit by every case would otherwise cost one child start (~0.5 s)
    per case, and tell little new.
    """
    reports, failures, ran, restarts = [], [], Counter(), 0
    per_symbol: dict[str, int] = {}
    job = {**job, "skip": []}
    while True:
        status, stderr, events, pid = _run_child(job, env, timeout)
        failures += [e for e in events if "failed" in e]
        cases = [e for e in events if "case" in e and "failed" not in e]  # announcements, not failures
        ran.update(e["source"] for e in cases)
        end = next((e["end"] for e in events if "end" in e), None)
        if status == 0 and end is not None:
            return {"cases": ran, "total": end, "reports": reports, "failures": failures, "restarts": restarts}
        last = cases[-1] if cases else None
        # GCC's UBSan ignores log_path when the ASan runtime is loaded: it writes to stderr
        (log_dir / f"stderr.{pid}").write_text(stderr)
        reports += _halt_reports(status, stderr, last, _read_logs(log_dir, pid))
        if last is None:  # the child died before its first case: nothing to resume from
            return {"cases": ran, "total": None, "reports": reports, "failures": failures, "restarts": restarts}
        per_symbol[last["symbol"]] = per_symbol.get(last["symbol"], 0) + 1
        if per_symbol[last["symbol"]] >= max_reports:
            job["skip"].append(last["symbol"])
        job = {**job, "start": last["case"] + 1}
        restarts += 1


def _halt_reports(status: int, stderr: str, last: dict | None, log: str) -> list[dict]:
    """The reports of a child that did not finish, attributed to the case it was running."""
    where = (
        {"kernel": last["kernel"], "symbol": last["symbol"], "case": last["name"], "seed": last["seed"]}
        if last
        else {"kernel": None, "symbol": None, "case": None, "seed": None}
    )
    found = parse_reports(log)
    if not found:  # no sanitizer spoke: a crash or a Python error is still a loud failure
        tail = "\n".join((stderr or "").strip().splitlines()[-HEAD_LINES:])
        found = [
            {
                "sanitizer": None,
                "kind": f"child exited with status {status}",
                "where": "",
                "origin": "other",
                "head": tail,
            }
        ]
    return [{**where, **r} for r in found]


def cpu_writes_past_end(symbol: str, case_name: str) -> list[str]:
    """Arguments past whose end the CPU reference itself writes on this case (with the guard).

    awkward_cpp is not instrumented, so ASan cannot see its overruns; the guard band can. A
    report on a case where the C kernel also overruns is a faithful translation of an upstream
    kernel (or test vector) that is out of bounds, not a translator bug.
    """

    pairs = [(k, s) for k, s in specs.specializations(specs.load_all()) if s["symbol"] == symbol]
    cases = [c for c in collect_cases(*pairs[0], SOURCES) if c.name == case_name] if pairs else []
    if not cases or parity.GUARD == 0:
        return []
    special = pairs[0][1]
    values = parity.materialize(special, cases[0])
    reference.call(special, values)
    past = []
    for arg, value in zip(special["args"], values):
        for array in value if isinstance(value, list) else [value]:
            if (
                isinstance(array, np.ndarray)
                and (array.view(np.uint8)[-parity.GUARD * array.itemsize :] != parity.SENTINEL_BYTE).any()
            ):
                past.append(arg["name"])
    return past


def _shards(symbols: list[str], jobs: int) -> list[list[str]]:
    return [s for s in (symbols[k::jobs] for k in range(jobs)) if s]


def run_sanitized(
    pattern: str | None,
    out_dir: Path,
    seeds: tuple[int, ...] = (1,),
    *,
    generated: Path | None = None,
    block: int = 256,
    jobs: int | None = None,
    timeout: float | None = None,
    max_reports: int = 10,
) -> dict:
    """Run every parity case of the matching kernels against the ASan+UBSan host build.

    Returns {"summary": {"specializations", "cases", "reports", ...}, "reports": [...],
    "parity_failures": [...], "build_failures": {...}}; each report names its kernel,
    specialization, case and seed, the sanitizer, kind, location and first lines, and which
    arguments the CPU reference itself overruns on that case. Sanitized libraries go to
    build/host/asan for the main generated folder, else to out_dir/lib (so a test's mutated
    kernel never replaces the real one there).
    """
    start = time.perf_counter()
    generated = (generated or paths.GENERATED).resolve()
    lib_dir = paths.HOSTLIB / "asan" if generated == paths.GENERATED.resolve() else out_dir / "lib"
    log_dir = out_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for stale in log_dir.glob("*.*"):  # reports of an earlier run
        stale.unlink()
    pairs = chosen(pattern, generated)
    kernels = sorted({spec["name"] for spec, _ in pairs})
    build_failures = build_libraries(kernels, generated, lib_dir)
    symbols = [special["symbol"] for spec, special in pairs if spec["name"] not in build_failures]
    env = child_env(log_dir)
    base = {"generated": str(generated), "lib_dir": str(lib_dir), "seeds": list(seeds), "block": block, "start": 0}
    shards = _shards(symbols, jobs or min(os.cpu_count() or 1, 8))
    with ThreadPoolExecutor(max(1, len(shards))) as pool:
        results = list(
            pool.map(lambda s: run_shard({**base, "symbols": s}, env, log_dir, timeout, max_reports), shards)
        )
    reports = [r for res in results for r in res["reports"]]
    for report in reports:
        if report["symbol"] and report["case"]:
            report["cpu_writes_past_end"] = cpu_writes_past_end(report["symbol"], report["case"])
    ran = sum((r["cases"] for r in results), Counter())  # cases run, per source
    failures = [f for res in results for f in res["failures"]]
    summary = {
        "kernels": len(kernels),
        "specializations": len(pairs),
        "cases": sum(ran.values()),
        "sources": dict(ran),
        "reports": len(reports),
        # reports on cases where the uninstrumented C kernel overruns a buffer too
        "cpu_also_out_of_bounds": sum(bool(r.get("cpu_writes_past_end")) for r in reports),
        "skipped": sum((r["total"] or r["cases"].total()) - r["cases"].total() for r in results),
        "parity_failed": len(failures),
        "build_failed": len(build_failures),
        "restarts": sum(r["restarts"] for r in results),
        "seconds": round(time.perf_counter() - start, 1),
        "logs": str(log_dir),
    }
    return {"summary": summary, "reports": reports, "parity_failures": failures, "build_failures": build_failures}


def ok(result: dict) -> bool:
    """No sanitizer report of our own (a case on which the C reference itself goes past a
    buffer is an upstream test vector's doing, counted but not held against the translation),
    no parity failure, no build failure."""
    s = result["summary"]
    return s["reports"] - s["cpu_also_out_of_bounds"] == 0 and s["parity_failed"] == 0 and s["build_failed"] == 0


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    sys.exit(child_main(json.loads(sys.stdin.read())))
