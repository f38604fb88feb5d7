"""The runtime: the plan executor, its two targets (`host`: the emulated grid on the CPU;
`cuda`: CuPy on a GPU) and the Awkward plug-in."""

from __future__ import annotations

from akcuda.runtime.cuda import CudaTarget
from akcuda.runtime.host import HostTarget

TARGETS = ("host", "cuda")


def make_target(name: str, seed: int = 1) -> HostTarget | CudaTarget:
    """A fresh target by name: "host" (with its shuffle seed) or "cuda"."""
    if name not in TARGETS:
        raise ValueError(f"unknown akcuda target {name!r}: expected one of {TARGETS}")
    return HostTarget(seed=seed) if name == "host" else CudaTarget()
