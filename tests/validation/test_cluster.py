"""The dask-awkward analysis on a LocalCluster of two worker processes with akcuda on the host
target: identical to stock Awkward in one process, every worker on akcuda's kernels with no
fallback, a kernel failure reaching the client as Awkward's own error; the cuda graph's CPU-side
parts; and `akcuda cluster-check`."""

from __future__ import annotations

import json

import awkward as ak
import dask_awkward as dak
import pytest

from akcuda.dask import AkcudaPlugin, cluster_trace
from akcuda.runtime import awkward_plugin
from akcuda.toolchain import cli
from akcuda.toolchain.exitcodes import Exit
from akcuda.validation import analysis, cluster

pytestmark = pytest.mark.gxx  # the workers run the host build of the generated kernels

# kernels of the analysis's steps: pairs, the closest pair and the leading jet, sums and maxima per event
ANALYSIS_KERNELS = {
    "awkward_ListArray_combinations",
    "awkward_reduce_argmin",
    "awkward_reduce_argmax",
    "awkward_reduce_sum",
    "awkward_reduce_max",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list:
    """4000 events in 4 Parquet files."""
    return analysis.write_partitions(analysis.collision_events(4000), tmp_path_factory.mktemp("events"), 4)


@pytest.fixture(scope="module")
def expected(files) -> dict:
    """The analysis with stock Awkward in this process."""
    assert not awkward_plugin.is_installed("host")
    return analysis.stock(files)


@pytest.fixture
def akcuda_workers(dask_client):
    """The session's cluster with the plug-in on the host target, its trace zeroed; removed after."""
    dask_client.register_plugin(AkcudaPlugin(target="host"))
    cluster_trace(dask_client, reset=True)
    yield dask_client
    dask_client.unregister_worker_plugin("akcuda")


def test_the_stock_results_are_a_real_analysis(expected):
    """Not a vacuous comparison: pairs, selected events and filled histograms."""
    assert len(ak.flatten(expected["dimuon_mass"])) > 300
    assert 100 < len(expected["selected_ht"]) < len(expected["ht"]) == 4000
    assert ak.sum(ak.is_none(expected["z_candidate_mass"])) > 0
    assert all(sum(counts) > 300 for counts in analysis.histograms(expected).values())


def test_the_analysis_on_the_cluster_is_identical_to_stock_awkward(akcuda_workers, files, expected):
    got = cluster.compute(akcuda_workers, cluster.graph(files))
    trace = cluster_trace(akcuda_workers)
    assert analysis.differences(expected, got) == []
    assert analysis.histograms(got) == analysis.histograms(expected)
    assert trace.all_akcuda, trace.markdown()
    assert trace.fallback_calls == 0 and trace.failures == []
    assert len(trace.workers) == 2 and all(w.akcuda_calls > 0 for w in trace.workers.values())
    kernels = {k for w in trace.workers.values() for k in w.kernels}
    assert ANALYSIS_KERNELS <= kernels, kernels


def test_differences_names_what_is_not_identical(expected):
    changed = dict(expected, ht=expected["ht"] * (1 + 1e-15), n_jets=expected["n_jets"][:-1])
    assert analysis.differences(expected, changed) == ["n_jets", "ht"]
    assert analysis.differences(expected, {k: v for k, v in expected.items() if k != "ht"}) == ["ht"]
    assert analysis.differences(expected, dict(expected)) == []


def test_a_kernel_failure_reaches_the_client_as_awkwards_own_error(akcuda_workers, files):
    stock_errors = set()
    for f in files:
        with pytest.raises(IndexError) as raised:
            analysis.failing_step(ak.from_parquet(str(f)))
        stock_errors.add(str(raised.value))
    with pytest.raises(IndexError) as raised:
        cluster.compute(akcuda_workers, cluster.failing_graph(files))
    assert str(raised.value) in stock_errors
    assert "index out of range" in str(raised.value)
    failures = cluster_trace(akcuda_workers).failures
    assert failures and {(f["kernel"], f["via"], f["error"]) for f in failures} == {
        ("awkward_ListArray_getitem_next_at", "akcuda", "index out of range")
    }


def test_a_cuda_graph_builds_without_a_gpu_and_reads_the_same_columns(files):
    """Partitions move to the cuda backend in a layer of the graph, and back to the CPU at the
    end; the typetracer passes through, so forms and the columns read are those of the CPU graph."""
    on_cuda, on_cpu = cluster.graph(files, "cuda"), cluster.graph(files, "cpu")
    assert on_cuda.keys() == on_cpu.keys()
    for name in on_cuda:
        layers = list(on_cuda[name].dask.layers)
        assert any(k.startswith("to-cuda-") for k in layers) and any(k.startswith("to-cpu-") for k in layers)
        assert not any(k.startswith("to-") for k in on_cpu[name].dask.layers)
        assert on_cuda[name].form == on_cpu[name].form
    assert sorted(dak.report_necessary_columns(*on_cuda.values()).values()) == sorted(
        dak.report_necessary_columns(*on_cpu.values()).values()
    )


def test_cluster_check_passes_on_the_host_target(host_kernels, tmp_path, capsys):
    code = cli.main(["cluster-check", "--events", "2000", "--partitions", "4", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "cluster-check.json").read_text())
    assert code == Exit.PASSED, result
    assert result["passed"] and result["different"] == [] and result["trace"]["all_akcuda"]
    assert result["error"]["same_as_stock"] and result["error"]["client"].startswith("IndexError: ")
    assert "## Cluster trace of the analysis" in (tmp_path / "cluster-check.md").read_text()
    assert result["error"]["client"] in result["error"]["stock_texts"] and result["errors"] == "immediate"
    assert "0 result(s) different from stock Awkward" in capsys.readouterr().out


def test_the_device_checks_cluster_tier_runs_on_the_host_and_writes_its_page(host_kernels, tmp_path):
    from akcuda.validation import gpucheck

    (tier,) = [t for t in gpucheck.TIERS if t.name == "cluster"]
    assert gpucheck.TIERS[-1] is tier  # last: it takes only what the others leave
    index = gpucheck.run_tiers((tier,), "host", tmp_path, "a CPU", budget_s=600)
    assert index["tiers"][0]["ok"] is True
    summary = json.loads((tmp_path / "01-cluster.json").read_text())["summary"]
    assert summary["workers"] == 1 and summary["passed"] and summary["trace"]["all_akcuda"]
    assert "## Cluster trace of the analysis" in (tmp_path / "01-cluster.md").read_text()


def test_cluster_check_on_cuda_runs_where_a_gpu_is_and_says_why_not_elsewhere(
    host_kernels, gpu_present, tmp_path, capsys
):
    code = cli.main(["cluster-check", "--target", "cuda", "--events", "2000", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "cluster-check.json").read_text())
    if gpu_present:
        assert code == Exit.PASSED and result["passed"], result
        return
    assert code == Exit.USAGE and not result["passed"]
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert (
        line.startswith("akcuda cluster-check: akcuda on tcp://") and ": akcuda target 'cuda' cannot run here: " in line
    )


def test_the_cluster_commands_need_the_dask_extra(monkeypatch, tmp_path, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "dask_awkward" else find_spec(name))
    assert cli.main(["cluster-check", "--target", "cuda", "--out", str(tmp_path)]) == Exit.USAGE
    assert cli.main(["cluster-bench", "--out", str(tmp_path)]) == Exit.USAGE
    assert capsys.readouterr().out.count("dask_awkward not installed: pip install 'akcuda[dask]'") == 2
    result = json.loads((tmp_path / "cluster-check.json").read_text())  # what the device check reads
    assert not result["passed"] and "dask_awkward not installed" in result["setup_error"]
    assert (result["target"], result["workers"], result["errors"]) == ("cuda", 1, "deferred")
