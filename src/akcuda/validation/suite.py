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
from akcuda.toolchain import specs, upstream
from akcuda.validation import parity, reference
from akcuda.validation.cases.generated import RecipeError
from akcuda.validation.cases.sources import SOURCES, collect_cases
from akcuda.validation.plans import describe
from akcuda.validation.reference_build import ReferenceBuildError
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
    case: str | None = None,
) -> list[SpecResult]:
    """Run parity for every matching specialization; pending and broken ones are reported too.
    `case`: only the case of that name (as a report names it: `generated:generate:n=255`)."""
    chosen = selected(pattern)
    made: dict[int, object] = {}
    targets = [(made.setdefault(seed, make_target(target_name, seed)), mode) for seed, mode in runs(seeds, modes)]
    if target_name != "cuda":  # build the emulation libraries in parallel up front
        kernels = sorted({k["name"] for k, _ in chosen if k["status"] == "translate"})
        generated = targets[0][0].generated
        host_build.build_all(
            [generated / f"{k}.cu" for k in kernels if (generated / f"{k}.cu").exists()], targets[0][0].out_dir
        )
    results, references = [], {}
    kernel_c = upstream.active()  # once: each specialization names its C file and generated .cu
    with progress() as bar:
        task = bar.add_task(f"parity ({target_name})", total=len(chosen), item="")
        for spec, special in chosen:
            bar.update(task, item=special["symbol"])
            if spec["name"] not in references and spec["status"] == "translate":
                references[spec["name"]] = _reference(spec)
            ref = references.get(spec["name"])
            result = _one(spec, special, targets, sources, block, translated or {}, compiled or {}, ref, case)
            result.source = str(kernel_c.file(spec["source"]))
            results.append(result)
            bar.advance(task)
    return results


def runs(seeds: tuple[int, ...], modes: tuple[Mode, ...]) -> list[tuple[int, Mode]]:
    """(seed, error mode) per run: the seeds take the modes in turn, and a mode no seed took
    runs with the first seed. (1, 2) x both modes -> (1, immediate), (2, deferred)."""
    pairs = [(seed, modes[k % len(modes)]) for k, seed in enumerate(seeds)]
    return pairs + [(seeds[0], mode) for mode in modes if mode not in {m for _, m in pairs}]


class NoMatch(ValueError):
    """-k matched no kernel or symbol, or --case no case: a usage error."""


def selected(pattern) -> list[tuple[dict, dict]]:
    """The (kernel spec, specialization) pairs -k PATTERN chooses; none is a usage error."""
    chosen = [
        (k, s) for k, s in specs.specializations(specs.load_all()) if specs.matches(pattern, k["name"], s["symbol"])
    ]
    if not chosen:
        raise NoMatch(f"-k {pattern}: matches no kernel or specialization in {paths.SPECS}")
    return chosen


INPUT_ELEMENTS = 20  # elements of each input array a report shows for a failing case


def shown_inputs(case) -> dict:
    """A failing case's inputs as a report shows them: scalars, and each array's length and head."""

    def clip(value):
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
            return "output buffer"
        if isinstance(value, list):
            if value and isinstance(value[0], list):
                return [clip(v) for v in value]
            return {"length": len(value), "head": list(value[:INPUT_ELEMENTS])}
        return value

    return {name: clip(value) for name, value in case.args.items()}


def _reference(spec: dict) -> reference.Reference | str:
    """The kernel's CPU reference, or why it could not be built."""
    try:
        return reference.for_kernel(spec)
    except (ReferenceBuildError, OSError) as exc:
        return str(exc)


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


def _one(spec, special, targets, sources, block, translated, compiled, ref=None, only_case=None) -> SpecResult:
    result = SpecResult(special["symbol"], spec["name"], "failed")
    result.generated = str(targets[0][0].generated / f"{spec['name']}.cu")
    if isinstance(ref, str):
        result.reason = f"no CPU reference: {ref}"
        return result
    result.reference = ref.describe() if ref else None
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
        if only_case is not None:
            cases = [c for c in cases if c.name == only_case]
    except (OSError, RecipeError, PlanError) as exc:
        result.reason = str(exc)
        return result
    result.plan = describe(plan, special["symbol"])["steps"]
    reached, per_source = set(), Counter()
    for case in cases:
        per_source[case.source] += 1
        for target, mode in targets:
            try:
                outcome = parity.run_case(plan, special, case, target, block, mode, ref)
            except Exception as exc:  # a case the harness cannot even build is reported, not fatal
                outcome = parity.CaseOutcome(case.name, False, f"harness error: {type(exc).__name__}: {exc}")
            _check_recipe(case, outcome)
            result.cases += 1
            if outcome.passed:
                result.cases_passed += 1
                if outcome.cpu_failure:
                    reached.add(outcome.cpu_failure)
            elif result.failure is None:
                result.failure = {
                    "case": case.name,
                    "reason": outcome.reason,
                    "cpu": outcome.cpu,
                    "ours": outcome.ours,
                    "inputs": shown_inputs(case),
                }
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
