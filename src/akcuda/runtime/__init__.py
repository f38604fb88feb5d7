"""The runtime: the plan executor, its targets (`host`: the emulated grid on the CPU;
`counting`: the host target with a per-call recorder; `cuda`: CuPy on a GPU) and the Awkward
plug-in."""

from __future__ import annotations

from akcuda.runtime import host_build
from akcuda.runtime.cuda import CudaTarget
from akcuda.runtime.host import CountingTarget, HostTarget

TARGETS = ("host", "cuda", "counting")


def make_target(name: str, seed: int = 1) -> HostTarget | CudaTarget:
    """A fresh target by name: "host" (with its shuffle seed), "counting" (the host target
    recording each call's launches, copies, read-backs and allocations) or "cuda"."""
    if name not in TARGETS:
        raise ValueError(f"unknown akcuda target {name!r}: expected one of {TARGETS}")
    if name == "cuda":
        return CudaTarget()
    return (HostTarget if name == "host" else CountingTarget)(seed=seed)


def unavailable(name: str) -> str | None:
    """Why target `name` cannot run here (None: it can): the host targets need g++, "cuda" needs
    CuPy and a CUDA device."""
    if name != "cuda":
        return None if host_build.compiler() else host_build.NO_COMPILER
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'akcuda[cuda12]', or 'akcuda[cuda13]' for CUDA 13)"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no driver, no device: CuPy raises its own kinds
        return f"no CUDA device ({exc})"
    return None if count else "no CUDA device"


def device() -> tuple[str, int]:
    """The current CUDA device's name and compute capability (90 for sm_90), where
    `unavailable("cuda")` is None."""
    import cupy

    current = cupy.cuda.Device()
    name = cupy.cuda.runtime.getDeviceProperties(current.id)["name"]
    return name.decode() if isinstance(name, bytes) else str(name), int(current.compute_capability)
