"""`akcuda cluster-bench`: the cluster analysis's scaling figures.

For each size, from Parquet files to filled histograms: stock Awkward in one process, then on a
local cluster of each worker count, stock dask-awkward and dask-awkward with `AkcudaPlugin`
(the median wall time of a few runs after a warm-up, and events per second). Every run's
results are checked against the stock single-process ones, and akcuda's runs against the
cluster trace (every worker ran akcuda kernels, none fell back). Written as cluster-bench.json,
cluster-bench.md and cluster-bench.png.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from akcuda.validation import analysis, cluster, timing

SIZES = (200_000, 1_000_000)
WORKERS = (1, 2)
STOCK, DASK, AKCUDA = "stock Awkward, 1 process", "stock dask-awkward", "dask-awkward + akcuda"


def _timed(work: Callable[[], dict], repeats: int) -> tuple[timing.Spread, dict]:
    """The median wall time of `work` and its last result."""
    last: dict[str, Any] = {}

    def once() -> None:
        last["results"] = work()
        analysis.histograms(last["results"])  # the histograms are part of the analysis

    return timing.repeat(once, repeats, timing.clock("host")), last["results"]


def _row(config: str, workers: int, events: int, spread: timing.Spread, identical: bool, **extra: Any) -> dict:
    seconds = round(spread.median, 4)  # the rate from the figure written, so that the two agree
    return {
        "config": config,
        "workers": workers,
        "events": events,
        "seconds": seconds,
        "seconds_min": round(spread.low, 4),
        "seconds_max": round(spread.high, 4),
        "runs": spread.runs,
        "events_per_s": round(events / seconds),
        "identical": identical,
        **extra,
    }


def _on_cluster(target: str, count: int, files: dict, expected: dict, repeats: int, log: Callable) -> tuple:
    """On a cluster of `count` workers: stock dask-awkward's rows, then the plug-in's set-up and
    akcuda's rows."""
    from akcuda.dask import AkcudaPlugin, cluster_trace

    def rows_of(config: str, backend: str, traced: bool) -> list[dict]:
        rows = []
        for n, parts in files.items():
            if traced:
                cluster_trace(client, reset=True)
            spread, got = _timed(lambda parts=parts: cluster.compute(client, cluster.graph(parts, backend)), repeats)
            trace = cluster_trace(client) if traced else None  # the warm-up's calls and the timed runs'
            extra = {"all_akcuda": trace.all_akcuda, "kernel_calls": trace.calls} if trace else {}
            rows.append(_row(config, count, n, spread, not analysis.differences(expected[n], got), **extra))
            log(f"{config}, {count} worker(s): {n} events in {spread.median:.2f}s")
        return rows

    start = time.perf_counter()
    with cluster.local_cluster(target, count) as client:
        setup = {"workers": count, "cluster_s": round(time.perf_counter() - start, 3)}
        rows = rows_of(DASK, "cpu", traced=False)
        start = time.perf_counter()
        client.register_plugin(AkcudaPlugin(target))
        setup["plugin_s"] = round(time.perf_counter() - start, 3)
        setup["preload_s_max"] = max(w.preloaded["seconds"] for w in cluster_trace(client).workers.values())
        rows += rows_of(f"{AKCUDA} {target}", cluster.BACKEND[target], traced=True)
    return rows, setup


def run(
    sizes: tuple[int, ...] = SIZES,
    workers: tuple[int, ...] = WORKERS,
    target: str = "host",
    partitions: int = 8,
    repeats: int = 3,
    seed: int = 1,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """The rows of every (configuration, worker count, size), with the set-up costs and the
    client's cost of building each size's graph."""
    import dask

    result = {"target": target, "partitions": partitions, "repeats": repeats, "rows": [], "setup": [], "graph": []}
    with tempfile.TemporaryDirectory(prefix="akcuda-cluster-bench-") as folder:
        files, expected = {}, {}
        for n in sizes:
            files[n] = analysis.write_partitions(analysis.collision_events(n, seed), Path(folder) / str(n), partitions)
            spread, expected[n] = _timed(lambda n=n: analysis.stock(files[n]), repeats)
            result["rows"].append(_row(STOCK, 0, n, spread, True))
            log(f"{STOCK}: {n} events in {spread.median:.2f}s")
            built = timing.repeat(lambda n=n: dask.optimize(cluster.graph(files[n])), repeats, timing.clock("host"))
            result["graph"].append({"events": n, "seconds": round(built.median, 4)})
        for count in workers:
            rows, setup = _on_cluster(target, count, files, expected, repeats, log)
            result["rows"] += rows
            result["setup"].append(setup)
    return result


def markdown(result: dict) -> str:
    """The rows as a table, by size, then the set-up costs."""
    lines = [
        f"# akcuda cluster bench ({result['target']} target, {result['partitions']} partitions, "
        f"median of {result['repeats']} runs)",
        "",
        "From Parquet files to filled histograms; workers are processes with one thread each.",
        "",
        "| events | configuration | workers | wall time (s) | min–max (s) | events/s | same as stock | all akcuda |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(result["rows"], key=lambda r: (r["events"], r["workers"], r["config"] != DASK)):
        all_akcuda = {True: "yes", False: "no", None: ""}[row.get("all_akcuda")]
        lines.append(
            f"| {row['events']} | {row['config']} | {row['workers'] or ''} | {row['seconds']:.3f} "
            f"| {row['seconds_min']:.3f}–{row['seconds_max']:.3f} | {row['events_per_s']} "
            f"| {'yes' if row['identical'] else 'no'} | {all_akcuda} |"
        )
    lines += [
        "",
        "| workers | cluster start (s) | plug-in registered on every worker (s) | of which preloading kernels (s) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {s['workers']} | {s['cluster_s']} | {s['plugin_s']} | {s['preload_s_max']} |" for s in result["setup"]
    ]
    lines += [
        "",
        "Building and optimizing the dask-awkward graph on the client (part of every dask run's wall time): "
        + ", ".join(f"{g['seconds']:.3f} s for {g['events']} events" for g in result["graph"]),
    ]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> Path:
    """Events per second by worker count, one panel per size, a line per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["events"] for r in result["rows"]})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.5), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        rows = [r for r in result["rows"] if r["events"] == n]
        for config in dict.fromkeys(r["config"] for r in rows):
            mine = sorted((r["workers"], r["events_per_s"]) for r in rows if r["config"] == config)
            if config == STOCK:
                ax.axhline(mine[0][1], linestyle="--", color="grey", label=config)
            else:
                ax.plot([w for w, _ in mine], [e for _, e in mine], marker="o", label=config)
        ax.set(title=f"{n} events", xlabel="workers", ylabel="events / s")
        ax.set_xticks(sorted({r["workers"] for r in rows if r["workers"]}))
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write(result: dict, out: Path) -> list[Path]:
    """cluster-bench.json, .md and .png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "cluster-bench.json", out / "cluster-bench.md"]
    written[0].write_text(json.dumps(result, indent=1))
    written[1].write_text(markdown(result))
    return [*written, plot(result, out / "cluster-bench.png")]
