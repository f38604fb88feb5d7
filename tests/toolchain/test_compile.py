"""NVRTC compile stage: runs without a GPU (only the NVRTC library is needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akcuda import plan
from akcuda.plan.model import Launch, Plan, Role, Specialization

pytest.importorskip("cuda.bindings.nvrtc")

from akcuda.toolchain.compile import ARCHS, compile_all, compile_source, summarize  # noqa: E402

pytestmark = pytest.mark.nvrtc

PRELUDE = """#ifdef __CUDACC_RTC__
typedef int int32_t;
typedef long long int64_t;
#endif
"""
TEMPLATE = (
    PRELUDE
    + """
template <typename C, typename T>
__global__ void awkward_demo_compact(T* toptr, const C* fromstarts, const C* fromstops, int64_t length) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < length) {
    toptr[i + 1] = (T)(fromstops[i] - fromstarts[i]);
  }
}
"""
)
TEMPLATE_NAMES = ["awkward_demo_compact<int32_t, int64_t>", "awkward_demo_compact<int64_t, int64_t>"]
PLAIN = (
    PRELUDE
    + """
__global__ void awkward_demo_fill(int64_t* toptr, int64_t length, int64_t value) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < length) {
    toptr[i] = value;
  }
}
"""
)
SYNTAX_ERROR = (
    PRELUDE
    + """
__global__ void awkward_demo_broken(int64_t* toptr) {
  toptr[0] = 1
}
"""
)
UNUSED = (
    PRELUDE
    + """
__global__ void awkward_demo_unused(int64_t* toptr) {
  int64_t unused = 3;
  toptr[0] = 1;
}
"""
)
DIRECTIVE = '#warning "not finished"\n' + PLAIN.replace("awkward_demo_fill", "awkward_demo_directive")


def _launching(names: list[str]) -> dict[str, Specialization]:
    """Plan specializations whose kernels are exactly `names` (what compile reads of a plan)."""
    return {name: Specialization(name, name, launches=({Role.MAIN: Launch(name, "")},)) for name in names}


@pytest.fixture()
def generated(tmp_path: Path) -> Path:
    gen = tmp_path / "generated"
    gen.mkdir()
    for name, src, names in [
        ("awkward_demo_compact", TEMPLATE, TEMPLATE_NAMES),
        ("awkward_demo_fill", PLAIN, ["awkward_demo_fill"]),
        ("awkward_demo_broken", SYNTAX_ERROR, ["awkward_demo_broken"]),
        ("awkward_demo_unused", UNUSED, ["awkward_demo_unused"]),
        ("awkward_demo_directive", DIRECTIVE, ["awkward_demo_directive"]),
    ]:
        (gen / f"{name}.cu").write_text(src)
        plan.save(
            Plan(name, specializations=_launching(names), translator=plan.translator_fingerprint()),
            gen / f"{name}.plan.json",
        )
    return gen


@pytest.mark.parametrize("arch", ARCHS)
def test_compile_source_template(arch: str) -> None:
    cubin, ptx, lowered, log, _ = compile_source(TEMPLATE, "t", TEMPLATE_NAMES, arch)
    assert log == ""
    assert cubin[:4] == b"\x7fELF"
    assert f".target {arch}".encode() in ptx
    assert set(lowered) == set(TEMPLATE_NAMES)
    assert len(set(lowered.values())) == 2 and all(v.startswith("_Z") for v in lowered.values())
    for mangled in lowered.values():
        assert mangled.encode() in ptx


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("src,needle", [(SYNTAX_ERROR, "error"), (UNUSED, "#177"), (DIRECTIVE, "#1105")])
def test_compile_source_diagnostics(arch: str, src: str, needle: str) -> None:
    _, _, _, log, _ = compile_source(src, "bad", [], arch)
    assert needle in log


def test_compile_all(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    results = compile_all(generated, out, jobs=4, progress=False)
    by = {(r.kernel, r.arch): r for r in results}
    assert len(results) == 5 * len(ARCHS)
    for arch in ARCHS:
        for kernel, names in [("awkward_demo_compact", TEMPLATE_NAMES), ("awkward_demo_fill", ["awkward_demo_fill"])]:
            r = by[kernel, arch]
            assert r.ok and r.log == "" and not r.cached, r.log
            assert r.cubin == out / arch / f"{kernel}.cubin" and r.cubin.read_bytes()[:4] == b"\x7fELF"
            assert r.ptx.read_text().lstrip().startswith("//")
            assert set(r.lowered) == set(names) and all(r.lowered.values())
            meta = json.loads((out / arch / f"{kernel}.lowered.json").read_text())
            assert meta["lowered"] == r.lowered and len(meta["source_sha256"]) == 64
        broken = by["awkward_demo_broken", arch]
        assert not broken.ok and "awkward_demo_broken.cu(8): error" in broken.log  # the missing ';' line
        assert broken.cubin is None and not (out / arch / "awkward_demo_broken.cubin").exists()
        for kernel, needle in [("awkward_demo_unused", "warning #177"), ("awkward_demo_directive", "warning #1105")]:
            r = by[kernel, arch]
            assert not r.ok and needle in r.log
            assert not (out / arch / f"{kernel}.cubin").exists()

    s = summarize(results)
    assert s["kernels"] == 5 and s["ok"] == 2 * len(ARCHS) and s["failed"] == 3 * len(ARCHS)
    assert s["warnings"] == 2 * len(ARCHS) and s["per_arch"]["sm_90"] == {"ok": 2, "failed": 3}
    assert {f["kernel"] for f in s["failures"]} == {
        "awkward_demo_broken",
        "awkward_demo_unused",
        "awkward_demo_directive",
    }

    # Second call: cache hits for the good kernels (files untouched), failures are retried.
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = compile_all(generated, out, progress=True)
    assert [(r.kernel, r.arch, r.ok) for r in again] == [(r.kernel, r.arch, r.ok) for r in results]
    assert {(r.kernel, r.arch) for r in again if r.cached} == {(k, a) for k, a in by if by[k, a].ok}
    assert all(r.lowered == by[r.kernel, r.arch].lowered for r in again if r.cached)
    assert mtimes == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    # Changing the source invalidates only that kernel.
    (generated / "awkward_demo_fill.cu").write_text(PLAIN + "\n// touched\n")
    third = compile_all(generated, out, kernels=["awkward_demo_fill", "awkward_demo_compact"], jobs=1, progress=False)
    assert [(r.kernel, r.cached) for r in third] == [("awkward_demo_fill", False)] * len(ARCHS) + [
        ("awkward_demo_compact", True)
    ] * len(ARCHS)
    assert all(r.ok for r in third)
