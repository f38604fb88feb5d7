"""akcuda on a dask.distributed cluster: a worker plug-in and a cluster-wide kernel trace.

    from akcuda.dask import AkcudaPlugin, cluster_trace

    client.register_plugin(AkcudaPlugin(target="host"))  # or "cuda", one worker per GPU (to_backend)
    result = collection.compute()                         # dask-awkward, on akcuda's kernels
    assert cluster_trace(client).all_akcuda               # every worker ran akcuda, none fell back

Needs the `dask` extra (dask, distributed, dask-awkward, pyarrow).
"""

from akcuda.dask.backend import on_backend, to_backend
from akcuda.dask.plugin import AkcudaPlugin, AkcudaUnavailable
from akcuda.dask.trace import ClusterTrace, WorkerTrace, cluster_trace

__all__ = [
    "AkcudaPlugin",
    "AkcudaUnavailable",
    "ClusterTrace",
    "WorkerTrace",
    "cluster_trace",
    "on_backend",
    "to_backend",
]
