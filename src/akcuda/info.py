"""`akcuda info`: what this akcuda is and what it can do here.

The versions (akcuda, Python, awkward, awkward-cpp, NumPy, CuPy, the CUDA driver and runtime
where present), where the kernels come from and how many, anything that stops them from running,
which targets can run here and why not, and on a GPU its architecture and which binary each
kernel family would load. Runs on a base install: no toolchain, no checkout.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field

from akcuda import __version__, store
from akcuda.runtime import cuda, device, host_build, unavailable


@dataclass(frozen=True)
class Target:
    name: str
    ready: bool
    detail: str  # what runs it, or why it cannot run here


@dataclass(frozen=True)
class Gpu:
    name: str
    arch: str  # "sm_90"
    binaries: dict[str, int]  # how each kernel family would load ("cubin sm_90", "ptx sm_90", "nvrtc") -> families


@dataclass(frozen=True)
class Info:
    versions: dict[str, str | None]
    kernels: dict[str, object] = field(default_factory=dict)  # where they come from, what they were made from, counts
    problems: list[str] = field(default_factory=list)  # why the kernels cannot run (each with its fix)
    targets: list[Target] = field(default_factory=list)
    gpu: Gpu | None = None

    @property
    def ok(self) -> bool:
        """The kernels can run, and some target can run them here."""
        return not self.problems and any(t.ready for t in self.targets)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cuda_version(number: int) -> str:
    return f"{number // 1000}.{number % 1000 // 10}"  # 12080 -> "12.8"


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def versions() -> dict[str, str | None]:
    found = {
        "akcuda": __version__,
        "python": platform.python_version(),
        "awkward": _version("awkward"),
        "awkward-cpp": _version("awkward_cpp"),
        "numpy": _version("numpy"),
        "cupy": None,
        "cuda driver": None,
        "cuda runtime": None,
    }
    cupy = _cupy()
    if cupy is not None:
        found["cupy"] = cupy.__version__
        for key, ask in (("cuda driver", "driverGetVersion"), ("cuda runtime", "runtimeGetVersion")):
            try:
                found[key] = _cuda_version(getattr(cupy.cuda.runtime, ask)())
            except Exception:  # noqa: BLE001 - no driver: CuPy raises its own kinds
                pass
    return found


def binaries(kernels: store.Store, capability: int) -> dict[str, int]:
    """How each kernel family of the store would load on a device of `capability` (90 for
    sm_90), as the cuda target chooses: a prebuilt cubin, the PTX (the driver compiles it), or
    NVRTC on first use; families per way."""
    ways: Counter[str] = Counter()
    for kernel in kernels.kernels():
        cu = kernels.generated / f"{kernel}.cu"
        if not cu.is_file():
            continue
        found = cuda.binaries(kernels.compiled, kernel, capability, cu.read_text())
        ways[f"{found[0][0]} {found[0][1].parent.name}" if found else "nvrtc"] += 1
    return dict(sorted(ways.items()))


def _archs(kernels: store.Store) -> dict[str, str]:
    """Each architecture the store has binaries for, and which kinds ("cubin", "ptx")."""
    folders = sorted(kernels.compiled.glob("sm_*")) if kernels.compiled.is_dir() else []
    return {
        f.name: "+".join(kind for kind in ("cubin", "ptx") if any(f.glob(f"*.{kind}"))) for f in folders if f.is_dir()
    }


def _gpu(kernels: store.Store | None) -> Gpu | None:
    if unavailable("cuda") is not None:
        return None
    name, capability = device()
    return Gpu(name, f"sm_{capability}", binaries(kernels, capability) if kernels is not None else {})


def gather() -> Info:
    """Everything `akcuda info` prints."""
    targets = []
    for name in ("host", "cuda"):
        why = unavailable(name)
        detail = why or (host_build.compiler() if name == "host" else "CuPy sees a CUDA device")
        targets.append(Target(name, why is None, detail))
    try:
        kernels = store.current()
    except store.StoreError as exc:
        return Info(versions(), {}, [str(exc)], targets, _gpu(None))
    problems = kernels.problems()
    specs = kernels.specs()
    described = {
        "origin": kernels.origin,
        "where": kernels.describe(),
        "made from": f"awkward-cpp {kernels.made_from}",
        "kernel families": sum((kernels.generated / f"{k}.plan.json").is_file() for k in kernels.kernels()),
        "specializations": sum(len(specs[k]["specializations"]) for k in kernels.kernels()),
        "pending": sum(s["status"] == "pending" for s in specs.values()),
        "binaries": _archs(kernels),
        "host cache": str(kernels.host_cache),
    }
    return Info(versions(), described, problems, targets, _gpu(kernels))


def render(info: Info) -> list[str]:
    """The lines `akcuda info` prints."""
    lines = ["versions: " + ", ".join(f"{k} {v}" for k, v in info.versions.items() if v is not None)]
    missing = [k for k, v in info.versions.items() if v is None]
    if missing:
        lines.append("not present: " + ", ".join(missing))
    if info.kernels:
        k = info.kernels
        archs = ", ".join(f"{arch} {kinds}" for arch, kinds in k["binaries"].items()) or "none"
        lines += [
            f"kernels: {k['kernel families']} families, {k['specializations']} specializations "
            f"({k['pending']} kernels pending) from {k['where']}, made from {k['made from']}",
            f"  GPU binaries: {archs}; host libraries built into {k['host cache']}",
        ]
    lines += [f"problem: {p}" for p in info.problems[:10]]
    if len(info.problems) > 10:
        lines.append(f"... and {len(info.problems) - 10} more problem(s)")
    for t in info.targets:
        lines.append(f"target {t.name}: {'can run' if t.ready else 'cannot run'} ({t.detail})")
    if info.gpu is not None:
        ways = ", ".join(f"{way} for {n}" for way, n in info.gpu.binaries.items())
        lines.append(f"GPU: {info.gpu.name}, {info.gpu.arch}; kernel families load {ways or 'nothing'}")
    lines.append("akcuda info: " + ("ready" if info.ok else "not ready"))
    return lines


def main(argv: list[str] | None = None) -> int:
    """`akcuda info [--json]`: exit 0 when the kernels can run on some target here, else 1."""
    parser = argparse.ArgumentParser(prog="akcuda info", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the facts as JSON (default: plain lines)")
    args = parser.parse_args(argv)
    info = gather()
    if args.json:
        print(json.dumps({**asdict(info), "ok": info.ok}, indent=1))
    else:
        print("\n".join(render(info)))
    sys.stdout.flush()
    return 0 if info.ok else 1
