"""The ASan+UBSan host build: it catches a planted out-of-bounds write and a planted signed
overflow (so it fails when it should), and faithful translations of kernels with failure paths
run every parity case, invalid inputs included, with zero reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akcuda import paths
from akcuda.toolchain import cli
from akcuda.validation import sanitize

COMPACT = "awkward_ListArray_compact_offsets"
# Kernels with failure paths on invalid input: the sanitized run must stay silent on all cases.
# flatten_nextcarry's upstream vectors _3 and _4 give tocarry room only for the prefix the C loop
# reaches before failing, so a translation that stores past the first failure overruns it.
FAITHFUL = (
    "awkward_ListArray_compact_offsets",
    "awkward_IndexedArray_flatten_nextcarry",
    "awkward_ListArray_validity",
    "awkward_UnionArray_validity",
    "awkward_IndexedArray_validity",
    "awkward_NumpyArray_utf8_to_utf32_padded",
)


def _run(tmp_path: Path, pattern: str) -> dict:
    return sanitize.run_sanitized(pattern, tmp_path / "out", generated=tmp_path / "gen", max_reports=1)


@pytest.fixture
def gen(tmp_path: Path) -> Path:
    (tmp_path / "gen").mkdir()
    return tmp_path / "gen"


@pytest.mark.gxx
def test_planted_out_of_bounds_write_is_caught(tmp_path, gen, translate_upstream):
    def overrun(text: str) -> str:
        assert "AKC_STORE(tooffsets[i + 1]) = " in text
        return text.replace("AKC_STORE(tooffsets[i + 1]) = ", "AKC_STORE(tooffsets[i + 2]) = ")

    translate_upstream(gen, COMPACT, overrun)
    result = _run(tmp_path, "awkward_ListArray64_compact_offsets_64")
    assert not sanitize.ok(result)
    report = result["reports"][0]
    assert report["sanitizer"] == "AddressSanitizer" and report["kind"] == "heap-buffer-overflow"
    assert report["symbol"] == "awkward_ListArray64_compact_offsets_64" and report["case"]
    assert report["origin"] == "generated kernel"
    assert "WRITE of size 8" in report["head"] and COMPACT in report["head"]
    assert result["summary"]["reports"] == len(result["reports"]) >= 1


@pytest.mark.gxx
def test_planted_signed_overflow_is_caught(tmp_path, gen, translate_upstream):
    def overflow(text: str) -> str:
        assert "AKC_STORE(tooffsets[i + 1]) = " in text
        return text.replace(
            "AKC_STORE(tooffsets[i + 1]) = ", "AKC_STORE(tooffsets[i + 1]) = kSliceNone + (int64_t)(i + 1) + "
        )

    translate_upstream(gen, COMPACT, overflow)
    result = _run(tmp_path, "awkward_ListArray64_compact_offsets_64")
    assert not sanitize.ok(result)
    report = result["reports"][0]
    assert report["sanitizer"] == "UndefinedBehaviorSanitizer"
    assert report["kind"] == "signed integer overflow" and report["origin"] == "generated kernel"
    assert f"{COMPACT}.cu:" in report["where"]


@pytest.mark.gxx
def test_cli_fails_loudly_on_a_report(tmp_path, gen, translate_upstream, monkeypatch, capsys):
    translate_upstream(
        gen, COMPACT, lambda text: text.replace("AKC_STORE(tooffsets[i + 1]) = ", "AKC_STORE(tooffsets[i + 2]) = ")
    )
    for name, value in (("GENERATED", gen), ("HOSTLIB", tmp_path / "host"), ("BUILD", tmp_path)):
        monkeypatch.setattr(paths, name, value)
    report = tmp_path / "sanitize.json"
    argv = ["sanitize", "-k", "awkward_ListArray64_compact_offsets_64", "--max-reports", "1", "--json", str(report)]
    assert cli.main(argv) == 1
    printed = capsys.readouterr().out
    assert "heap-buffer-overflow" in printed and "WRITE of size 8" in printed
    assert json.loads(report.read_text())["summary"]["reports"] == 1


@pytest.mark.gxx
def test_a_stale_plan_is_a_failure_per_specialization_not_a_crash(tmp_path, gen, translate_upstream):
    """A plan from another translator cannot be run: each specialization says to regenerate."""
    translate_upstream(gen, COMPACT)
    plan_file = gen / f"{COMPACT}.plan.json"
    stale = json.loads(plan_file.read_text())
    stale["translator"] = "another translator"
    plan_file.write_text(json.dumps(stale))
    result = _run(tmp_path, None)
    assert not sanitize.ok(result) and result["reports"] == []
    assert len(result["parity_failures"]) == 3  # ListArray32, ListArrayU32, ListArray64
    assert all("akcuda generate" in f["reason"] for f in result["parity_failures"])


@pytest.mark.gxx
@pytest.mark.parametrize("kernel", FAITHFUL)
def test_faithful_translation_runs_every_case_with_zero_reports(tmp_path, gen, translate_upstream, kernel):
    translate_upstream(gen, kernel)
    result = _run(tmp_path, None)  # every specialization of the kernel in gen/
    summary = result["summary"]
    assert result["reports"] == [], [{k: r[k] for k in ("symbol", "case", "kind", "where")} for r in result["reports"]]
    assert result["parity_failures"] == [] and result["build_failures"] == {}
    assert summary["kernels"] == 1 and summary["skipped"] == 0 and summary["restarts"] == 0
    assert summary["sources"].get("invalid", 0) > 0  # bad inputs ran, not just valid ones


def test_reports_are_parsed_from_both_sanitizers():
    log = (
        "=================================================================\n"
        "==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1 at pc 0x2\n"
        "READ of size 4 at 0x1 thread T0\n"
        "    #0 0x3 in void k__s0<int>(int*) /g/k.cu:9\n"
        "    #1 0x4 in akc_run_grid<...> emulation.h:94\n"
        "SUMMARY: AddressSanitizer: heap-buffer-overflow /g/k.cu:9 in void k__s0<int>(int*)\n"
        "/g/k.cu:12:5: runtime error: shift exponent -1 is negative\n"
        "    #0 0x5 in (/site-packages/awkward_cpp/lib/libawkward-cpu-kernels.so+0x10)\n"
    )
    asan, ubsan = sanitize.parse_reports(log)
    assert (asan["kind"], asan["where"], asan["origin"]) == (
        "heap-buffer-overflow",
        "/g/k.cu:9 in void k__s0<int>(int*)",
        "generated kernel",
    )
    assert (ubsan["kind"], ubsan["where"]) == ("shift exponent -1 is negative", "/g/k.cu:12:5")


def test_cpu_reference_overruns_are_told_apart(upstream_cpp):
    # upstream gives numvalid = [] and the C kernel still writes *numvalid: not a translator bug
    numvalid = "awkward_ListArray_getitem_jagged_numvalid_64"
    case = f"tests-cpu-kernels-explicit/test_unit_cpu{numvalid}.py::test_unit_cpu{numvalid}_10"
    assert sanitize.cpu_writes_past_end(numvalid, case) == ["numvalid"]
    # here the C kernel stops at its failure; only a translation running on past it overruns
    nextcarry = "awkward_IndexedArray64_getitem_nextcarry_64"
    case = f"tests-cpu-kernels/test_cpu{nextcarry}.py::test_cpu{nextcarry}_3"
    assert sanitize.cpu_writes_past_end(nextcarry, case) == []


@pytest.mark.gxx
def test_every_parity_case_runs_clean_under_asan_and_ubsan(tmp_path, upstream_cpp, spec_counts):
    """The whole suite, invalid inputs included: no report of our own. The only reports allowed
    are on upstream vectors where the C reference itself goes past a buffer."""
    from akcuda.toolchain import pipeline

    assert not any(pipeline.generate().values())
    result = sanitize.run_sanitized(None, tmp_path)
    s = result["summary"]
    assert sanitize.ok(result), result["reports"][:3]
    assert s["specializations"] == spec_counts.translated and s["cases"] > 16_000 and s["skipped"] == 0
    assert all(r["cpu_writes_past_end"] for r in result["reports"])
