"""Parity over every chosen specialization: cases from each source, on one or more targets
(shuffle seeds) and in both error modes, with pending, untranslated and uncompiled ones
reported as such."""

from __future__ import annotations

from collections import Counter

from akcuda import paths
from akcuda.plan import PlanError
from akcuda.progress import progress
from akcuda.runtime import executor, host_build, make_target
from akcuda.runtime.executor import Mode
from akcuda.toolchain import specs
from akcuda.validation import parity
from akcuda.validation.cases.generated import RecipeError
from akcuda.validation.cases.sources import SOURCES, collect_cases
from akcuda.validation.plans import describe
from akcuda.validation.report import SpecResult


def parity_results(
    target_name: str = "host",
    pattern: str | None = None,
    sources: tuple[str, ...] = SOURCES,
    block: int = 256,
    seeds: tuple[int, ...] = (1,),
    translated: dict | None = None,
    compiled: dict | None = None,
    modes: tuple[Mode, ...] = (Mode.IMMEDIATE, Mode.DEFERRED),
) -> list[SpecResult]:
    """Run parity for every matching specialization; pending and broken ones are reported too."""
    all_specs = specs.load_all()
    chosen = [(k, s) for k, s in specs.specializations(all_specs) if specs.matches(pattern, k["name"], s["symbol"])]
    made: dict[int, object] = {}
    targets = [(made.setdefault(seed, make_target(target_name, seed)), mode) for seed, mode in runs(seeds, modes)]
    if target_name != "cuda":  # build the emulation libraries in parallel up front
        kernels = sorted({k["name"] for k, _ in chosen if k["status"] == "translate"})
        host_build.build_all(
            [paths.GENERATED / f"{k}.cu" for k in kernels if (paths.GENERATED / f"{k}.cu").exists()],
            targets[0][0].out_dir,
        )
    results = []
    with progress() as bar:
        task = bar.add_task(f"parity ({target_name})", total=len(chosen), item="")
        for spec, special in chosen:
            bar.update(task, item=special["symbol"])
            results.append(_one(spec, special, targets, sources, block, translated or {}, compiled or {}))
            bar.advance(task)
    return results


def runs(seeds: tuple[int, ...], modes: tuple[Mode, ...]) -> list[tuple[int, Mode]]:
    """(seed, error mode) per run: the seeds take the modes in turn, and a mode no seed took
    runs with the first seed. (1, 2) x both modes -> (1, immediate), (2, deferred)."""
    pairs = [(seed, modes[k % len(modes)]) for k, seed in enumerate(seeds)]
    return pairs + [(seeds[0], mode) for mode in modes if mode not in {m for _, m in pairs}]


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
    except (OSError, RecipeError, PlanError) as exc:
        result.reason = str(exc)
        return result
    result.plan = describe(plan, special["symbol"])["steps"]
    reached, per_source = set(), Counter()
    for case in cases:
        per_source[case.source] += 1
        for target, mode in targets:
            try:
                outcome = parity.run_case(plan, special, case, target, block, mode)
            except Exception as exc:  # a case the harness cannot even build is reported, not fatal
                outcome = parity.CaseOutcome(case.name, False, f"harness error: {type(exc).__name__}: {exc}")
            _check_recipe(case, outcome)
            result.cases += 1
            if outcome.passed:
                result.cases_passed += 1
                if outcome.cpu_failure:
                    reached.add(outcome.cpu_failure)
            elif result.failure is None:
                result.failure = {"case": case.name, "reason": outcome.reason, "cpu": outcome.cpu, "ours": outcome.ours}
    result.coverage = {
        "sources": dict(per_source),
        "errors_reached": sorted(reached),
        "errors_in_source": list(plan.messages),
    }
    if not cases:
        result.reason = "no parity cases"
    elif result.failure is None:
        result.status = "passed"
    return result
