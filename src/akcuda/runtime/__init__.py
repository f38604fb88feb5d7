"""The runtime: the plan executor, its targets (`host`: the emulated grid on the CPU;
`counting`: the host target with a per-call recorder; `cuda`: CuPy on a GPU) and the Awkward
plug-in."""

from __future__ import annotations

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
