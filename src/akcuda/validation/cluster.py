"""The analysis of `akcuda.validation.analysis` on a dask cluster with akcuda on every worker,
checked against stock Awkward in one process (`akcuda cluster-check`).

`graph` builds the dask-awkward graph: partitions read from Parquet, moved to Awkward's `cuda`
backend on the workers when the target is "cuda" (`akcuda.dask.to_backend`), the analysis, and
its results moved back to the CPU. `check` writes the events, computes the stock results,
starts a local cluster of worker processes with `AkcudaPlugin`, computes the graph there and
compares, reads the cluster trace, and runs a step that fails in a kernel to see that the
client gets stock Awkward's exception, type and text, in either error mode. On a GPU machine `check("cuda", 1)` is
the device check's cluster tier: one GPU worker (dask-cuda's `LocalCUDACluster` where
installed) against the CPU.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import awkward as ak

from akcuda.runtime import awkward_plugin
from akcuda.runtime.executor import Mode
from akcuda.validation import analysis

BACKEND = {"host": "cpu", "cuda": "cuda"}  # the Awkward backend a target's partitions live on
EXTRA = ("dask", "distributed", "dask_awkward", "pyarrow")  # the modules of the `dask` extra


def missing_extra() -> str | None:
    """Why the cluster commands cannot run here (None: the `dask` extra is installed)."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed: pip install 'akcuda[dask]'"
    return None


def graph(files: list[Path], backend: str = "cpu", step: Callable = analysis.analyze) -> dict[str, Any]:
    """`step` as a dask-awkward graph over the Parquet files, one partition per file, run on
    Awkward's `backend` on the workers; its results come back on the CPU."""
    import dask_awkward as dak

    from akcuda.dask import to_backend

    events = dak.from_parquet([str(f) for f in files])
    if backend == "cpu":
        return step(events)
    return {k: to_backend(v, "cpu") for k, v in step(to_backend(events, backend)).items()}


def failing_graph(files: list[Path], backend: str = "cpu") -> dict[str, Any]:
    """The graph of a step that fails in a kernel (`analysis.failing_step`)."""
    return graph(files, backend, lambda events: {"fourth_jet_pt": analysis.failing_step(events)})


def compute(client: Any, results: dict[str, Any]) -> dict[str, ak.Array]:
    """The graph's results, computed on the client's cluster."""
    import dask

    (computed,) = dask.compute(results, scheduler=client)
    return computed


def error_text(run: Callable[[], Any]) -> str | None:
    """The type and text of the exception `run` raises (None if it does not)."""
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - the text is what is compared
        return f"{type(exc).__name__}: {exc}"
    return None


def _setting(target: str, workers: int, events: int, partitions: int, mode: Mode) -> dict[str, Any]:
    return {"target": target, "errors": mode.value, "workers": workers, "events": events, "partitions": partitions}


@contextmanager
def local_cluster(target: str, workers: int, **options: Any):
    """A client on a cluster of `workers` worker processes, one thread each, on this machine (its
    dashboard on any free port; `options` go to the cluster): for "cuda", dask-cuda's
    LocalCUDACluster (one worker per GPU) where installed. `client.cluster` is the cluster."""
    from distributed import Client, LocalCluster

    options = {"n_workers": workers, "threads_per_worker": 1, "dashboard_address": ":0", **options}
    cluster = None
    if target == "cuda" and importlib.util.find_spec("dask_cuda") is not None:
        from dask_cuda import LocalCUDACluster

        cluster = LocalCUDACluster(**options)
    cluster = cluster or LocalCluster(processes=True, **options)
    with cluster, Client(cluster) as client:
        yield client


def check(
    target: str = "host",
    workers: int = 2,
    events: int = 20_000,
    partitions: int = 4,
    errors: str | None = None,
    seed: int = 1,
) -> dict:
    """The analysis on a local cluster with `AkcudaPlugin(target, errors)` against stock Awkward
    in this process: which results differ, the cluster trace, and the error a failing step gives."""
    from akcuda.dask import AkcudaPlugin, AkcudaUnavailable, cluster_trace

    mode = Mode(errors) if errors else awkward_plugin.DEFAULT_MODE[target]
    result = _setting(target, workers, events, partitions, mode)
    backend, seconds = BACKEND[target], {}
    with tempfile.TemporaryDirectory(prefix="akcuda-cluster-") as folder:
        files = analysis.write_partitions(analysis.collision_events(events, seed), Path(folder), partitions)
        start = time.perf_counter()
        expected = analysis.stock(files)
        seconds["stock"] = time.perf_counter() - start
        stock_errors = {error_text(lambda f=f: analysis.failing_step(ak.from_parquet(str(f)))) for f in files}
        start = time.perf_counter()
        with local_cluster(target, workers) as client:
            try:
                client.register_plugin(AkcudaPlugin(target, errors))
            except AkcudaUnavailable as exc:
                return {**result, "setup_error": str(exc), "passed": False}
            seconds["cluster_setup"] = time.perf_counter() - start
            start = time.perf_counter()
            got = compute(client, graph(files, backend))
            seconds["cluster"] = time.perf_counter() - start
            trace = cluster_trace(client, reset=True)
            client_error = error_text(lambda: compute(client, failing_graph(files, backend)))
            error_trace = cluster_trace(client, reset=True)
    different = analysis.differences(expected, got)
    error = {
        "client": client_error,
        "stock_texts": sorted(t for t in stock_errors if t),
        "same_as_stock": client_error is not None and client_error in stock_errors,
        "kernel_failures": error_trace.failures,
    }
    return {
        **result,
        "different": different,
        "histograms": analysis.histograms(got),
        "trace": trace.as_dict(),
        "trace_markdown": trace.markdown(),
        "error": error,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "passed": bool(not different and trace.all_akcuda and error["same_as_stock"]),
    }


def markdown(result: dict) -> str:
    """The check's result as a short Markdown page."""
    lines = [
        f"# akcuda cluster check ({result['target']}, {result['workers']} worker(s), "
        f"{result['events']} events in {result['partitions']} partitions)",
        "",
    ]
    if "setup_error" in result:
        return "\n".join([*lines, f"Set-up failed: {result['setup_error']}", ""])
    error = result["error"]
    lines += [
        f"- results identical to stock Awkward in one process: {'yes' if not result['different'] else 'no'}"
        + (f" (different: {', '.join(result['different'])})" if result["different"] else ""),
        f"- every worker ran akcuda kernels, none fell back: {'yes' if result['trace']['all_akcuda'] else 'no'}",
        f"- a failing kernel's error reaches the client as Awkward's own ({result['errors']} errors): "
        + ("yes" if error["same_as_stock"] else "no"),
        f"- seconds: {', '.join(f'{k} {v}' for k, v in result['seconds'].items())}",
        "",
        "## Cluster trace of the analysis",
        "",
        result["trace_markdown"],
        "## The failing step's error on the client",
        "",
        "```",
        str(error["client"]),
        "```",
        "",
        *(f"- {f['worker']}: {f['kernel']} via {f['via']} failed: {f['error']}" for f in error["kernel_failures"]),
        "",
    ]
    return "\n".join(lines)


def write(result: dict, out: Path) -> None:
    """cluster-check.json and cluster-check.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster-check.json").write_text(json.dumps(result, indent=1, default=str))
    (out / "cluster-check.md").write_text(markdown(result))


def run(
    out: Path,
    target: str = "host",
    workers: int | None = None,
    events: int = 20_000,
    partitions: int = 4,
    errors: str | None = None,
) -> dict:
    """`check` (on 1 worker for "cuda": one GPU; else 2), written to `out`: what `akcuda
    cluster-check` runs, and the device check's cluster tier with "cuda". Where the `dask` extra
    is missing, or a worker cannot run the target, the result's `setup_error` says why."""
    workers = workers or (1 if target == "cuda" else 2)
    missing = missing_extra()
    if missing:
        mode = Mode(errors) if errors else awkward_plugin.DEFAULT_MODE[target]
        result = {**_setting(target, workers, events, partitions, mode), "setup_error": missing, "passed": False}
    else:
        result = check(target, workers, events, partitions, errors)
    write(result, out)
    return result
