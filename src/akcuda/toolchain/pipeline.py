"""The stages end to end: generate, compile, parity, report. Each stage is also a CLI command."""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from akcuda.runtime import executor
from akcuda.validation import parity
from akcuda import paths
from akcuda.toolchain import specs, upstream
from akcuda.validation.cases.generated import RecipeError, generated_cases
from akcuda.validation.cases.recorded import load_recorded_cases
from akcuda.validation.cases.upstream import cases_for
from akcuda.validation.report import SpecResult

console = Console(stderr=True)
SOURCES = ("upstream", "generated", "invalid", "recorded")


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[item]}"), console=console,
                    transient=True)


def matches(pattern: str | None, *names: str) -> bool:
    """-k PATTERN: a substring or glob of the kernel name or the symbol."""
    if not pattern:
        return True
    return any(pattern in n or fnmatch.fnmatch(n, pattern) for n in names)


def generate(pattern: str | None = None, out: Path | None = None) -> dict[str, str | None]:
    """Translate every matching kernel; kernel -> None on success, else the reason."""
    from akcuda.generator.translate import translate

    out = out or paths.GENERATED
    out.mkdir(parents=True, exist_ok=True)
    kernel_dir, include = upstream.cpp_dir() / "src" / "cpu-kernels", upstream.cpp_dir() / "include"
    chosen = [s for s in specs.load_all().values()
              if s["status"] == "translate" and matches(pattern, s["name"])]
    results: dict[str, str | None] = {}
    with progress() as bar:
        task = bar.add_task("translate", total=len(chosen), item="")
        for spec in chosen:
            bar.update(task, item=spec["name"])
            try:
                translation = translate(spec, kernel_dir, include)
            except Exception as exc:  # TranslationError names kernel, file:line and construct
                results[spec["name"]] = str(exc)
            else:
                (out / f"{spec['name']}.cu").write_text(translation.source)
                (out / f"{spec['name']}.plan.json").write_text(json.dumps(translation.plan, indent=1))
                results[spec["name"]] = None
            bar.advance(task)
    return results


def compile_kernels(pattern: str | None = None) -> dict[str, str | None]:
    """NVRTC-compile every matching generated kernel for every arch; kernel -> None or the log."""
    from akcuda.toolchain.compile import compile_all

    names = [p.stem for p in sorted(paths.GENERATED.glob("*.cu")) if matches(pattern, p.stem)]
    out: dict[str, str | None] = {name: None for name in names}
    for result in compile_all(paths.GENERATED, paths.COMPILED, kernels=names, progress=True):
        if not result.ok:
            out[result.kernel] = f"{result.arch}: {result.log.strip()[:500]}"
    return out


def collect_cases(spec: dict, special: dict, sources: tuple[str, ...]) -> list:
    cases = cases_for(upstream.cpp_dir(), special["symbol"]) if "upstream" in sources else []
    made = generated_cases(spec, special)
    cases += [c for c in made if c.source in sources]
    if "recorded" in sources:  # calls saved by `akcuda record` (none until it has run)
        cases += load_recorded_cases(special["symbol"])
    return cases


def parity_results(target_name: str = "host", pattern: str | None = None,
                   sources: tuple[str, ...] = SOURCES, block: int = 256, seeds: tuple[int, ...] = (1,),
                   translated: dict | None = None, compiled: dict | None = None) -> list[SpecResult]:
    """Run parity for every matching specialization; pending and broken ones are reported too."""
    all_specs = specs.load_all()
    chosen = [(k, s) for k, s in specs.specializations(all_specs) if matches(pattern, k["name"], s["symbol"])]
    targets = [make_target(target_name, seed) for seed in seeds]
    if target_name == "host":  # build the emulation libraries in parallel up front
        from akcuda.runtime import host

        kernels = sorted({k["name"] for k, _ in chosen if k["status"] == "translate"})
        host.build_all([paths.GENERATED / f"{k}.cu" for k in kernels
                        if (paths.GENERATED / f"{k}.cu").exists()], targets[0].out_dir)
    results = []
    with progress() as bar:
        task = bar.add_task(f"parity ({target_name})", total=len(chosen), item="")
        for spec, special in chosen:
            bar.update(task, item=special["symbol"])
            results.append(_one(spec, special, targets, sources, block,
                                translated or {}, compiled or {}))
            bar.advance(task)
    return results


def _check_recipe(case, outcome: parity.CaseOutcome) -> None:
    """A generated case must be valid for the C kernel, and an invalid one must make it fail."""
    if not outcome.passed:
        return
    if case.source == "generated" and outcome.cpu_failure:
        outcome.passed = False
        outcome.reason = f"recipe bug: the CPU kernel rejected a generated case ({outcome.cpu_failure})"
    elif case.source == "invalid" and not outcome.cpu_failure:
        outcome.passed = False
        outcome.reason = "recipe bug: the CPU kernel accepted an 'invalid' case"


def make_target(name: str, seed: int = 1):
    return executor.HostTarget(seed=seed) if name == "host" else executor.CudaTarget()


def _one(spec, special, targets, sources, block, translated, compiled) -> SpecResult:
    result = SpecResult(special["symbol"], spec["name"], "failed")
    if spec["status"] == "pending":
        result.status, result.reason = "pending", spec.get("pending_reason")
        return result
    if translated.get(spec["name"]):
        result.status, result.reason = "untranslated", translated[spec["name"]]
        return result
    result.translated = True
    if compiled.get(spec["name"]):
        result.status, result.reason = "compile-failed", compiled[spec["name"]]
        return result
    result.compiled = spec["name"] in compiled
    try:
        plan = executor.load_plan(spec["name"])
        cases = collect_cases(spec, special, sources)
    except (OSError, RecipeError) as exc:
        result.reason = str(exc)
        return result
    result.plan = plan["entries"][plan["specializations"][special["symbol"]]["target"]]["steps"]
    reached, per_source = set(), Counter()
    for case in cases:
        per_source[case.source] += 1
        for target in targets:
            try:
                outcome = parity.run_case(plan, special, case, target, block)
            except Exception as exc:  # a case the harness cannot even build is reported, not fatal
                outcome = parity.CaseOutcome(case.name, False, f"harness error: {type(exc).__name__}: {exc}")
            _check_recipe(case, outcome)
            result.cases += 1
            if outcome.passed:
                result.cases_passed += 1
                if outcome.cpu_failure:
                    reached.add(outcome.cpu_failure)
            elif result.failure is None:
                result.failure = {"case": case.name, "reason": outcome.reason,
                                  "cpu": outcome.cpu, "ours": outcome.ours}
    result.coverage = {"sources": dict(per_source), "errors_reached": sorted(reached),
                       "errors_in_source": plan["messages"]}
    if not cases:
        result.reason = "no parity cases"
    elif result.failure is None:
        result.status = "passed"
    return result
