"""Load now what first kernel calls would load: every plan, host library (or GPU module) and launcher.

A process that is about to run many tasks (a dask worker, `akcuda.dask`) calls `preload` once,
so that no task pays for reading a plan, building or opening a host library, loading a cubin
or resolving a function handle. It says in one line why a process cannot run a target at all
(`NotReady`): no kernels where this process looks for them, no usable GPU, a failed host build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from akcuda import paths
from akcuda.runtime import awkward_plugin, executor, host_build


class NotReady(RuntimeError):
    """This process cannot run the target; the message is one line saying why."""


@dataclass(frozen=True)
class Preloaded:
    """What `preload` loaded: kernel families and specializations, and the ones akcuda cannot run
    (their calls fall back, as `install` would route them)."""

    target: str
    families: int
    specializations: int
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why akcuda does not run it


def kernels_missing() -> str | None:
    """Why this process finds no generated kernels (None: it finds them).

    The one place the scale-out code asks where kernels are: today the build folder of the
    checkout `akcuda.paths` finds (the current folder or $AKCUDA_ROOT, which a LocalCluster's
    workers inherit)."""
    folder = paths.GENERATED
    if not any(folder.glob("*.plan.json")):
        return f"no generated kernels in {folder} (run `make generate-kernels` there, or set AKCUDA_ROOT)"
    return None


def _target(name: str):
    """The shared target `install` routes to; a GPU that cannot be used is one line."""
    try:
        return awkward_plugin.shared_target(name)
    except ImportError as exc:
        raise NotReady(f"no usable GPU: CuPy cannot be imported ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - CuPy's errors for a missing driver or device vary
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotReady(f"no usable GPU: {first}") from None


def preload(target_name: str) -> Preloaded:
    """Load, for every specialization akcuda runs, its plan and its launchers on the shared
    `target_name` target (building missing host libraries first, in parallel)."""
    start = time.perf_counter()
    target = _target(target_name)
    missing = kernels_missing()
    if missing:
        raise NotReady(missing)
    runnable, skipped = {}, {}
    for symbol, found in awkward_plugin._specializations().items():  # the router's own table and rule
        why = awkward_plugin._why_not(symbol)
        if why is None:
            runnable[symbol] = found
        else:
            skipped[symbol] = why
    if not runnable:
        raise NotReady(f"none of the {len(skipped)} specializations can run: {next(iter(skipped.values()))}")
    families = sorted({spec["name"] for spec, _ in runnable.values()})
    if target_name == "host":
        built = host_build.build_all([paths.GENERATED / f"{k}.cu" for k in families], target.out_dir, target.extra)
        failed = next((b for b in built if not b.ok), None)
        if failed is not None:
            raise NotReady(f"host build of {failed.kernel} failed: {(failed.log.splitlines() or ['?'])[0]}")
    for symbol, (spec, special) in runnable.items():
        plan = executor.load_plan(spec["name"])
        target.bind(plan, symbol, executor._static(plan, special).ctypes)  # what a call's _Run resolves
    return Preloaded(target_name, len(families), len(runnable), round(time.perf_counter() - start, 3), skipped)
