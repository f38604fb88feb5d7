"""Load now what first kernel calls would load: every plan, host library (or GPU module) and launcher.

A process that is about to run many tasks (a dask worker, `akcuda.dask`) calls `preload` once,
after `install`, so that no task pays for reading a plan, building or opening a host library,
loading a cubin or resolving a function handle. `install` has already refused what cannot run
(no g++ or GPU, a store with missing or stale kernels); a host library that fails to build is
`NotReady`, one line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from akcuda import store
from akcuda.runtime import awkward_plugin, executor, host_build


class NotReady(RuntimeError):
    """This process cannot run the target; the message is one line saying why."""


@dataclass(frozen=True)
class Preloaded:
    """What `preload` loaded: kernel families and specializations, and the ones akcuda does not
    run (their calls fall back, as `install` routes them: no spec, or a pending one)."""

    target: str
    families: int
    specializations: int
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why akcuda does not run it


def preload(target_name: str) -> Preloaded:
    """Load, for every specialization the store's kernels run, its plan and its launchers on the
    shared `target_name` target (building missing host libraries first, in parallel)."""
    start = time.perf_counter()
    kernels = store.current()
    target = awkward_plugin.shared_target(target_name)
    runnable, skipped = {}, {}
    for spec in kernels.specs().values():
        for special in spec["specializations"]:
            why = awkward_plugin.fallback_reason(special["symbol"])  # the router's own rule
            if why is None:
                runnable[special["symbol"]] = (spec, special)
            else:
                skipped[special["symbol"]] = why
    families = sorted({spec["name"] for spec, _ in runnable.values()})
    if target_name == "host":
        built = host_build.build_all([target.generated / f"{k}.cu" for k in families], target.out_dir, target.extra)
        failed = next((b for b in built if not b.ok), None)
        if failed is not None:
            raise NotReady(f"host build of {failed.kernel} failed: {(failed.log.splitlines() or ['?'])[0]}")
    for spec, special in runnable.values():
        executor.bind(kernels.plan(spec["name"]), special, target)
    return Preloaded(target_name, len(families), len(runnable), round(time.perf_counter() - start, 3), skipped)
