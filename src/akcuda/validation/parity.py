"""Parity harness: the generated kernel and the real awkward_cpp CPU kernel, case by case.

Definition (DESIGN.md): inputs are built once; every output buffer is pre-filled with the same
sentinel for both runs (plus a guard band past its end, also compared); the runs agree when both
succeed and every output buffer is equal over its whole length (bit-exact for integers and
booleans, NaN-aware equality for floating point), or when both fail with the same message,
identity and attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from akcuda.plan.ctype import DTYPES, base_type, c_value
from akcuda.plan.errors import KernelFailure
from akcuda.plan.model import Plan
from akcuda.runtime import executor
from akcuda.runtime.executor import Mode
from akcuda.validation import math_functions, reference, ties
from akcuda.validation.cases import Case

SENTINEL_BYTE = 0x7B
UPSTREAM_PLACEHOLDER = 123  # what upstream vectors put in an output buffer they do not care about
GUARD = 8  # elements past each buffer's end, so an overrun shows as a difference


@dataclass
class CaseOutcome:
    case: str
    passed: bool
    reason: str | None = None
    cpu: Any = None
    ours: Any = None
    cpu_failure: str | None = None  # the message both runs failed with, when they agree


def _buffer(values: Any, dtype, fill: bool) -> np.ndarray:
    if isinstance(values, dict):  # a generated output: {"out": length}
        values, fill = [0] * values["out"], True
    n = len(values)
    out = np.empty(n + GUARD, dtype=dtype)
    out.view(np.uint8)[:] = SENTINEL_BYTE
    if not fill and n:
        out[:n] = np.asarray(values).astype(dtype, copy=False) if dtype != np.bool_ else np.asarray(values).astype(bool)
    return out


def _placeholder(value: Any) -> bool:
    if isinstance(value, dict) or (value and isinstance(value[0], dict)):
        return True
    flat = [x for v in value for x in v] if value and isinstance(value[0], list) else value
    return all(x == UPSTREAM_PLACEHOLDER for x in flat)


def materialize(special: dict, case: Case) -> list:
    """Fresh NumPy values for every argument of one case."""
    values = []
    for arg in special["args"]:
        name, stars = base_type(arg["ctype"])
        value = case.args[arg["name"]]
        # Some kernels read an argument declared "out" (an offset update in place): a case that
        # gives it real contents is honoured; upstream's placeholder fill is not.
        is_output = arg["dir"] == "out" and _placeholder(value)
        if stars == 2:
            values.append([_buffer(v, DTYPES[name], is_output) for v in value])
        elif stars == 1:
            values.append(_buffer(value, DTYPES[name], is_output))
        else:
            values.append(c_value(name, value))
    return values


def _copy(values: list) -> list:
    return [
        [a.copy() for a in v] if isinstance(v, list) else v.copy() if isinstance(v, np.ndarray) else v for v in values
    ]


def _equal(a: np.ndarray, b: np.ndarray, ulps: int = 0, terms: int = 0) -> bool:
    """Bit-exact for integers and booleans, NaN-aware equality for floats; within `ulps` per term
    where the kernel calls a libm function whose device form is not glibc's (`math_functions`)."""
    if a.dtype.kind == "f":
        return math_functions.within(a, b, ulps, terms) if ulps else bool(np.array_equal(a, b, equal_nan=True))
    return a.tobytes() == b.tobytes()


def _failure_text(f: KernelFailure | None) -> Any:
    return None if f is None else {"message": f.message, "identity": f.identity, "attempt": f.attempt}


def _guard_written(special: dict, values: list) -> str | None:
    """The first buffer whose guard band the CPU run changed."""
    for arg, value in zip(special["args"], values):
        for array in value if isinstance(value, list) else [value] if isinstance(value, np.ndarray) else []:
            if GUARD and np.any(array[len(array) - GUARD :].view(np.uint8) != SENTINEL_BYTE):
                return arg["name"]
    return None


def _overrun(special: dict, device: list, tables: list, cpu_values: list, target) -> str | None:
    """The first buffer whose guard band our run left different from the CPU run's (a C
    kernel that writes past a buffer before failing may do so; we may not do more)."""
    parts = iter(tables)
    for arg, value, theirs in zip(special["args"], device, cpu_values):
        stars = base_type(arg["ctype"])[1]
        ours = [target.to_host(p) for p in next(parts)] if stars == 2 else [target.to_host(value)] if stars == 1 else []
        for mine, cpu in zip(ours, theirs if stars == 2 else [theirs]):
            if GUARD and mine[len(mine) - GUARD :].tobytes() != cpu[len(cpu) - GUARD :].tobytes():
                return arg["name"]
    return None


def run_case(
    plan: Plan,
    special: dict,
    case: Case,
    target,
    block: int = 256,
    mode: Mode = Mode.IMMEDIATE,
    ref: reference.Reference | None = None,
) -> CaseOutcome:
    """Run one case on the CPU reference (`ref`, else the installed awkward_cpp) and on the
    target, and compare. In the deferred mode the failure is the one the next synchronization
    reports."""
    cpu_values = materialize(special, case)
    our_values = _copy(cpu_values)
    recipe = "recipe bug: " if case.source == "generated" else ""
    try:
        cpu = ref.call(special, cpu_values) if ref else reference.call(special, cpu_values)
    except reference.ReferenceCrashed as exc:  # ours is not run: the inputs are not the C's to take
        return CaseOutcome(case.name, False, f"{recipe}{exc}")
    overrun = _guard_written(special, cpu_values) if recipe else None
    if overrun:  # a generated case's buffers are sized by its recipe, so the recipe is short
        return CaseOutcome(case.name, False, f"{recipe}the CPU kernel wrote past the end of {overrun}")

    device, tables = [], []
    for value in our_values:
        if isinstance(value, list):
            parts = [target.to_device(a) for a in value]
            tables.append(parts)
            device.append(target.pointer_table(parts))
        else:
            device.append(target.to_device(value) if isinstance(value, np.ndarray) else value)
    try:
        ours = executor.run(plan, special, device, target, block, mode)
        if mode == Mode.DEFERRED:
            reported = executor.synchronize(target)
            ours = None if reported is None else reported[0]
    except Exception as exc:  # a launch that crashes is a parity failure, not a harness crash
        return CaseOutcome(case.name, False, f"run raised {type(exc).__name__}: {exc}")

    if (cpu is None) != (ours is None) or (
        cpu is not None and (cpu.message, cpu.identity, cpu.attempt) != (ours.message, ours.identity, ours.attempt)
    ):
        return CaseOutcome(case.name, False, "different outcome", _failure_text(cpu), _failure_text(ours))
    if cpu is not None:
        # outputs are not compared on failure, but nothing may be written past a buffer's end
        overrun = _overrun(special, device, tables, cpu_values, target)
        if overrun:
            return CaseOutcome(case.name, False, f"failed as the CPU did, but wrote past the end of {overrun}")
        return CaseOutcome(case.name, True, cpu_failure=cpu.message)

    names = [a["name"] for a in special["args"]]
    scalars = {n: v for n, v in zip(names, cpu_values) if not isinstance(v, (list, np.ndarray))}
    unstable = ties.unstable_sort(plan, special["symbol"], scalars)
    functions = math_functions.of_kernel(plan.kernel) if target.name == "cuda" else ()
    terms = sum(v.size for v in cpu_values if isinstance(v, np.ndarray) and v.dtype.kind == "f")
    parts = iter(tables)
    for arg, mine, theirs in zip(special["args"], device, cpu_values):
        if arg["dir"] == "in":
            if isinstance(theirs, list):
                next(parts)
            continue
        pairs = (
            zip([target.to_host(p) for p in next(parts)], theirs)
            if isinstance(theirs, list)
            else [(target.to_host(mine), theirs)]
        )
        for k, (got, want) in enumerate(pairs):
            if unstable is not None and arg["name"] == unstable.out:  # std::sort: equal keys in any order
                inputs = dict(zip(names, cpu_values))
                got, want = (ties.settle(unstable, inputs, scalars, x) for x in (got, want))
            if not _equal(got, want, math_functions.ulps(functions, got.dtype) if got.dtype.kind == "f" else 0, terms):
                where = (
                    int(np.flatnonzero(got.view(np.uint8) != want.view(np.uint8))[0] // got.itemsize)
                    if got.dtype.kind != "f"
                    else int(np.flatnonzero(~((got == want) | (np.isnan(got) & np.isnan(want))))[0])
                )
                label = arg["name"] + (f"[{k}]" if isinstance(theirs, list) else "")
                return CaseOutcome(
                    case.name,
                    False,
                    f"{label} differs at index {where}",
                    want[max(0, where - 3) : where + 4].tolist(),
                    got[max(0, where - 3) : where + 4].tolist(),
                )
    return CaseOutcome(case.name, True)
