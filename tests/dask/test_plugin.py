"""The worker plug-in on a LocalCluster of worker processes: set-up installs and preloads on every
worker (and on one that joins later), removal uninstalls, and a worker that cannot run the
target fails its set-up with one line, on the client and in the worker's log."""

from __future__ import annotations

import re

import pytest

from akcuda import store
from akcuda.dask import AkcudaPlugin, AkcudaUnavailable, cluster_trace
from akcuda.runtime import awkward_plugin
from akcuda.validation.cluster import local_cluster

pytestmark = pytest.mark.gxx  # the workers run the host build of the generated kernels


def _worker_state() -> dict:
    """Run on a worker: whether Awkward's cpu backend is routed to akcuda, and what the shared
    host target has loaded."""
    from awkward._backends.numpy import NumpyBackend

    target = awkward_plugin.shared_target("host")
    return {
        "patched": getattr(NumpyBackend.__dict__["__getitem__"], "akcuda_patch", False),
        "bound": len(target._bound),
        "libraries": len(target._libs),
    }


def _runnable() -> tuple[int, int]:
    """(families, specializations) of the store's kernels akcuda runs, as this process's router sees them."""
    specs = store.current().specs().values()
    found = {s["symbol"]: spec["name"] for spec in specs for s in spec["specializations"]}
    found = {symbol: name for symbol, name in found.items() if awkward_plugin.fallback_reason(symbol) is None}
    return len(set(found.values())), len(found)


def test_client_side_arguments_are_checked_before_any_worker_sees_them():
    with pytest.raises(ValueError, match="unknown akcuda target 'gpu'"):
        AkcudaPlugin(target="gpu")
    with pytest.raises(ValueError, match="'later' is not a valid Mode"):
        AkcudaPlugin(errors="later")


def test_setup_installs_and_preloads_on_every_worker_and_removal_uninstalls(dask_client):
    assert not any(state["patched"] for state in dask_client.run(_worker_state).values())
    dask_client.register_plugin(AkcudaPlugin(target="host"))
    try:
        states = dask_client.run(_worker_state)
        trace = cluster_trace(dask_client)
    finally:
        dask_client.unregister_worker_plugin("akcuda")
    families, specializations = _runnable()
    assert len(states) == 2 and set(trace.workers) == set(states)
    for address, state in states.items():
        worker = trace.workers[address]
        assert state["patched"] and worker.installed and worker.target == "host"
        # every specialization's launchers and every family's library are loaded before any task
        assert state["bound"] == worker.preloaded["specializations"] == specializations
        assert state["libraries"] == worker.preloaded["families"] == families
    assert not any(state["patched"] for state in dask_client.run(_worker_state).values())
    after = cluster_trace(dask_client)
    assert all(not w.installed and "no worker plug-in named 'akcuda'" in w.setup_error for w in after.workers.values())


def test_a_mode_akcuda_refuses_fails_setup_with_installs_reason(dask_client):
    with pytest.raises(AkcudaUnavailable, match="deferred errors need Awkward's cuda backend"):
        dask_client.register_plugin(AkcudaPlugin(target="host", errors="deferred"))
    dask_client.unregister_worker_plugin("akcuda")
    assert not any(state["patched"] for state in dask_client.run(_worker_state).values())


def test_a_worker_that_joins_later_is_set_up_too(host_kernels):
    with local_cluster("host", 1) as client:
        client.register_plugin(AkcudaPlugin(target="host"))
        first = set(client.scheduler_info()["workers"])
        client.cluster.scale(2)
        client.wait_for_workers(2)
        trace = cluster_trace(client)
        joined = set(trace.workers) - first
        assert len(joined) == 1
        assert all(w.installed and w.preloaded["specializations"] > 0 for w in trace.workers.values())
        assert all(state["patched"] for state in client.run(_worker_state).values())


def test_a_worker_that_cannot_run_the_target_fails_setup_with_one_line(host_kernels, tmp_path):
    """No usable GPU for "cuda" (CUDA_VISIBLE_DEVICES empty: true with or without a GPU here) and
    no kernels for "host" (AKCUDA_KERNELS an empty folder): the client gets install's refusal as
    one line, the worker logs it without a traceback, and the cluster trace says so."""
    env = {"CUDA_VISIBLE_DEVICES": "", "AKCUDA_KERNELS": str(tmp_path)}
    with local_cluster("host", 1, env=env) as client:
        (address,) = client.scheduler_info()["workers"]
        for target, reason in [
            ("cuda", "akcuda target 'cuda' cannot run here: "),
            ("host", f"AKCUDA_KERNELS={tmp_path}: not a kernel store "),
        ]:
            with pytest.raises(AkcudaUnavailable) as raised:
                client.register_plugin(AkcudaPlugin(target=target))
            message = str(raised.value)
            assert message.startswith(f"akcuda on {address}: {reason}") and "\n" not in message, message
            worker = cluster_trace(client).workers[address]
            assert not worker.installed and worker.setup_error == message.removeprefix(f"akcuda on {address}: ")
            assert not cluster_trace(client).all_akcuda
            client.unregister_worker_plugin("akcuda")
        logs = [text for level, text in client.get_worker_logs()[address] if level == "ERROR"]
    failures = [text for text in logs if "Worker plugin akcuda failed to setup" in text]
    assert len(failures) == 2, logs
    assert all(re.search(r"failed to setup: akcuda on \S+: ", t) and "Traceback" not in t for t in failures)
