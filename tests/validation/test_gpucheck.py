"""`make gpu-check`'s CPU-side logic: the no-GPU answer and the results page."""

from __future__ import annotations

import json

import pytest

from akcuda.toolchain import cli
from akcuda.validation import gpucheck


def test_without_a_gpu_the_check_says_so_and_exits_2(tmp_path, capsys):
    present, why = gpucheck.gpu_available()
    if present:
        pytest.skip(f"a GPU is present ({why}): this test covers the machine without one")
    assert cli.main(["gpu-check", "--out", str(tmp_path)]) == 2
    assert json.loads((tmp_path / "gpu-check.json").read_text()) == {"gpu": False, "reason": why}
    assert "no GPU here" in capsys.readouterr().out


def test_tiers_run_in_order_each_writing_its_results_before_the_next(tmp_path):
    seen: list[str] = []

    def first(target: str) -> dict:
        seen.append(target)
        return {"ok": True, "summary": {"n": 1}, "lines": ["first ran"]}

    def second(target: str) -> dict:
        # the first tier's results are on disk before this one starts
        assert json.loads((tmp_path / "01-first.json").read_text())["ok"] is True
        assert "first ran" in (tmp_path / "01-first.md").read_text()
        assert json.loads((tmp_path / "gpu-check.json").read_text())["tiers"][0]["tier"] == "first"
        raise RuntimeError("the device fell over")

    def third(target: str) -> dict:
        seen.append("third")
        return {"ok": False, "summary": {}, "lines": ["a difference"]}

    tiers = (
        gpucheck.Tier("first", 1, first),
        gpucheck.Tier("second", 1, second),
        gpucheck.Tier("third", 1, third),
        gpucheck.Tier("long", 10**6, first),
    )
    index = gpucheck.run_tiers(tiers, "host", tmp_path, "a CPU", budget_s=60)
    assert seen == ["host", "third"]  # a tier that raises leaves the next ones running
    ran = {t["tier"]: (t["ran"], t["ok"]) for t in index["tiers"]}
    assert ran == {"first": (True, True), "second": (True, False), "third": (True, False), "long": (False, None)}
    assert "RuntimeError" in json.loads((tmp_path / "02-second.json").read_text())["summary"]["error"]
    assert "not run" in (tmp_path / "04-long.md").read_text()
    assert "| long | no (" in (tmp_path / "gpu-check.md").read_text()


@pytest.mark.gxx
def test_the_smoke_checks_hold_on_the_host_target(upstream_cpp):
    """Each defect's smoke check that needs no cuda backend, run through install("host")."""
    from akcuda.validation import corpus, smoke

    corpus.prepare("host")
    results = smoke.run_all("host")
    assert [r["check"][0] for r in results] == ["3", "4", "5", "6", "7", "8"]
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]


@pytest.mark.gxx
def test_the_smoke_tier_runs_on_the_host_and_writes_its_page(upstream_cpp, tmp_path):
    index = gpucheck.run_tiers(gpucheck.TIERS[:1], "host", tmp_path, "a CPU", budget_s=600)
    assert index["tiers"][0]["ok"] is True
    page = (tmp_path / "01-smoke.md").read_text()
    assert "| 7 scalars converted as C converts | host | ok |" in page and "immediate and deferred" in page
