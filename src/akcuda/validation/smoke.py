"""The smoke tier's checks: each defect of issue 22 checked explicitly through Awkward, with
`install(target)` against stock Awkward on the CPU. On "cuda" they run on the device; on "host"
(the CPU-side test) those that need no cuda backend run the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from akcuda.runtime import awkward_plugin


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[str], str | None]  # target -> None when it holds, else what went wrong
    cuda_only: bool = False


def _backend(target: str) -> str:
    return "cuda" if target == "cuda" else "cpu"


def _same_as_cpu(target: str, make: Callable[[str], object], close: Callable | None = None) -> str | None:
    """`make(backend)` through akcuda on the target's backend, as a list, against stock CPU's."""
    expected = ak.to_list(make("cpu"))
    with awkward_plugin.installed(target), awkward_plugin.trace() as calls:
        got = ak.to_list(make(_backend(target)))
    if calls.fallbacks:
        return f"fell back: {sorted({c.kernel for c in calls.fallbacks})}"
    if str(got) == str(expected) or (close is not None and close(got, expected)):  # NaN and -0.0 as printed
        return None
    return f"got {str(got)[:200]}, the CPU gives {str(expected)[:200]}"


def _on(backend: str, value) -> ak.Array:
    return ak.to_backend(ak.Array(value), backend)


def sync_without_awkwards_table(target: str) -> str | None:
    """1: Awkward's synchronize_cuda with every kernel akcuda's (no KeyError)."""
    import awkward._connect.cuda as ak_cuda

    with awkward_plugin.installed("cuda"):
        array = _on("cuda", [[1, 2, 3], [], [4, 5]])
        ak.sum(array, axis=1)
        ak_cuda.synchronize_cuda()
    return None


def deferred_errors(target: str) -> str | None:
    """2: a bad index raises the CPU's IndexError, with its text, at the first host read; the
    calls after it did nothing and the device goes on working."""
    cpu = ak.Array([[1, 2, 3], [], [4, 5]])
    try:
        cpu[:, 2]
    except IndexError as exc:
        expected = str(exc)
    with awkward_plugin.installed("cuda"):
        array = ak.to_backend(cpu, "cuda")
        result = array[:, 2]  # deferred: nothing raised yet
        try:
            ak.to_list(result)
        except IndexError as exc:
            if str(exc) != expected:
                return f"IndexError text {str(exc)[:200]!r}, the CPU's {expected[:200]!r}"
        else:
            return "no error at the first host read"
        after = ak.to_list(ak.sum(array, axis=1))
    return None if after == [6, 0, 9] else f"after the failure: {after}"


def recursion(target: str) -> str | None:
    """3: ak.combinations up to n = 12 (one thread per row) and n = 40 with replacement (the
    helper 40 levels deep): the stack holds."""
    rows = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [], [1, 2], list(range(14))]
    for n in (2, 7, 12):
        found = _same_as_cpu(target, lambda b, n=n: ak.combinations(_on(b, rows), n))
        if found:
            return f"n = {n}: {found}"
    return _same_as_cpu(target, lambda b: ak.combinations(_on(b, [[1], [2, 3], []]), 40, replacement=True))


def sorts_on_the_device(target: str) -> str | None:
    """4: the sort step's ranges built on the device."""
    values = [[3.0, float("nan"), -0.0, 0.0, 2.0], [], [5.0, 4.0], [1.0]]
    found = _same_as_cpu(target, lambda b: ak.sort(_on(b, values), axis=1, ascending=False))
    return found or _same_as_cpu(target, lambda b: ak.argsort(_on(b, values), axis=1))


def flat_views(target: str) -> str | None:
    """5: a 2-D NumpyArray's data is the flat array the C sees."""

    def unique(backend: str):
        layout = ak.contents.NumpyArray(np.array([[3, 1, 3], [2, 2, 1]]))
        return ak._do.unique(ak.to_backend(layout, backend, highlevel=False), axis=-1)

    return _same_as_cpu(target, unique)


def empty_reads(target: str) -> str | None:
    """6: unique over lists with empty ones last (the C reads one past), and over no elements."""
    for value in ([[1, 1, 2], [3], []], [[]], [[], []]):

        def unique(backend: str, value=value):
            return ak._do.unique(ak.to_layout(_on(backend, value)), axis=-1)

        found = _same_as_cpu(target, unique)
        if found:
            return f"{value}: {found}"
    return None


def scalars(target: str) -> str | None:
    """7: an int8 identity of 1000 reaches the C as -24."""
    values = ak.values_astype(ak.Array([[5, -100], [], [7]]), np.int8)
    return _same_as_cpu(target, lambda b: ak.min(ak.to_backend(values, b), axis=1, initial=1000))


def math(target: str) -> str | None:
    """8: a negative power (pow on the device) within CUDA's bound of the CPU's."""

    def close(got, expected) -> bool:
        g, e = np.array(got, dtype=float), np.array(expected, dtype=float)
        return bool(np.all((g == e) | (np.isnan(g) & np.isnan(e)) | (np.abs(g - e) <= 2 * 3 * np.spacing(np.abs(e)))))

    return _same_as_cpu(target, lambda b: ak.moment(_on(b, [[1.5, 2.0, -3.0], [], [4.0]]), -3, axis=1), close)


CHECKS = (
    Check("1 synchronize without Awkward's stream table", sync_without_awkwards_table, cuda_only=True),
    Check("2 deferred errors raised as the CPU's, at the first host read", deferred_errors, cuda_only=True),
    Check("3 recursion: combinations to n = 12, and 40 levels deep", recursion),
    Check("4 sort ranges on the device", sorts_on_the_device),
    Check("5 a 2-D array is the flat array the C sees", flat_views),
    Check("6 empty arrays and reads one past the end", empty_reads),
    Check("7 scalars converted as C converts", scalars),
    Check("8 libm calls within CUDA's bound", math),
)


def run_all(target: str) -> list[dict]:
    """Every check that can run on `target`: {"check", "ok", "detail"}."""
    results = []
    for check in CHECKS:
        if check.cuda_only and target != "cuda":
            continue
        try:
            detail = check.run(target)
        except Exception as exc:  # noqa: BLE001 - a check that raises is a failed check
            detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        results.append({"check": check.name, "ok": detail is None, "detail": detail})
    return results


def binaries_load(target: str) -> dict:
    """Every kernel family's prebuilt binary loads on the device (cuda only)."""
    if target != "cuda":
        return {"ok": True, "line": "binaries: not loaded (host target)"}
    from akcuda.toolchain import specs

    shared = awkward_plugin.shared_target("cuda")
    failed = []
    for name, spec in specs.load_all().items():
        if spec["status"] != "translate":
            continue
        try:
            shared.module(name)
        except Exception as exc:  # noqa: BLE001 - named in the result
            failed.append(f"{name}: {type(exc).__name__}")
    how = sorted(set(shared.loaded.values()))
    return {"ok": not failed, "failed": failed, "line": f"binaries: {len(failed)} failed to load; loaded as {how}"}
