"""`akcuda cluster-bench` at small sizes: a row per configuration, worker count and size, every
result identical to stock Awkward in one process, akcuda's runs all on akcuda; JSON, Markdown
and a plot."""

from __future__ import annotations

import json

import pytest

from akcuda.toolchain import cli
from akcuda.toolchain.exitcodes import Exit
from akcuda.validation import cluster_bench, timing

pytestmark = pytest.mark.gxx  # the workers run the host build of the generated kernels


def test_cluster_bench_times_every_configuration_and_checks_every_result(host_kernels, tmp_path, capsys):
    argv = ["cluster-bench", "--sizes", "1500,3000", "--workers", "1,2", "--partitions", "3", "--repeats", "1"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == Exit.PASSED
    result = json.loads((tmp_path / "cluster-bench.json").read_text())
    rows = {(r["config"], r["workers"], r["events"]): r for r in result["rows"]}
    akcuda = f"{cluster_bench.AKCUDA} host"
    assert set(rows) == {
        *((cluster_bench.STOCK, 0, n) for n in (1500, 3000)),
        *((config, w, n) for config in (cluster_bench.DASK, akcuda) for w in (1, 2) for n in (1500, 3000)),
    }
    assert all(r["identical"] and r["seconds"] > 0 for r in rows.values())
    assert all(r["events_per_s"] == pytest.approx(r["events"] / r["seconds"], rel=1e-3) for r in rows.values())
    assert all(r["all_akcuda"] and r["kernel_calls"]["akcuda"] > 0 for k, r in rows.items() if k[0] == akcuda)
    assert [s["workers"] for s in result["setup"]] == [1, 2] and all(s["plugin_s"] > 0 for s in result["setup"])
    table = (tmp_path / "cluster-bench.md").read_text()
    assert sum(line.startswith(("| 1500 |", "| 3000 |")) for line in table.splitlines()) == len(rows)
    assert (tmp_path / "cluster-bench.png").stat().st_size > 0
    assert "cluster-bench: 10 runs, 0 not identical to stock or not all on akcuda" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["", "0,2", "two"])
def test_sizes_and_worker_counts_are_positive_integers(value, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(["cluster-bench", "--workers", value])
    assert raised.value.code == Exit.USAGE
    assert "expected comma-separated positive integers" in capsys.readouterr().err


def test_a_rows_rate_is_the_one_its_written_time_gives():
    """The rate comes from the seconds the row holds (rounded), not the unrounded median: a short
    run made the two disagree by more than the rounding of the rate."""
    row = cluster_bench._row(cluster_bench.STOCK, 0, 30, timing.Spread(0.000345, 0.0003, 0.0004, 3), True)
    assert row["seconds"] == 0.0003 and row["events_per_s"] == 100_000
