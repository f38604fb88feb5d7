"""Partitions of a dask-awkward collection moved to another Awkward backend inside the graph.

    events = to_backend(dak.from_parquet(files), "cuda")   # each partition onto its worker's GPU
    result = to_backend(analysis(events), "cpu")            # and back, before it leaves the worker

On the workers `on_backend` runs `ak.to_backend` on each partition; dask-awkward's typetracer
partitions (building the graph, projecting its columns on the client) pass through unchanged,
so the graph builds on a client without a GPU and reads only the columns the analysis needs.
"""

from __future__ import annotations

from typing import Any

import awkward as ak

from akcuda.runtime import awkward_plugin


def on_backend(array: ak.Array, backend: str) -> ak.Array:
    """One partition on Awkward's `backend` (a typetracer, or a partition already there, as it is).
    Leaving the cuda backend first raises any failure a kernel deferred, inside this task."""
    current = ak.backend(array)
    if current in ("typetracer", backend):
        return array
    if current == "cuda":
        awkward_plugin.synchronize_cuda_backend()
    return ak.to_backend(array, backend)


def to_backend(collection: Any, backend: str) -> Any:
    """A dask-awkward collection whose partitions are moved to `backend` ("cuda", "cpu") on the
    workers: one `map_partitions` layer, labelled `to-<backend>`."""
    import dask_awkward as dak

    return dak.map_partitions(on_backend, collection, backend, label=f"to-{backend}")
