"""The `cuda` target: generated kernels on an NVIDIA GPU through CuPy's RawModule."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from akcuda import paths
from akcuda import plan as plans
from akcuda.plan.ctype import DTYPES, base_type
from akcuda.plan.model import Launch


def prebuilt_cubin(compiled: Path, kernel: str, arch: str, source: str) -> tuple[Path, dict[str, str]] | None:
    """(cubin, lowered names) built by `akcuda compile` for `arch` from exactly `source`, if any."""
    cubin, meta = compiled / arch / f"{kernel}.cubin", compiled / arch / f"{kernel}.lowered.json"
    if not (cubin.exists() and meta.exists()):
        return None
    record = json.loads(meta.read_text())
    if record.get("source_sha256") != hashlib.sha256(source.encode()).hexdigest():
        return None
    return cubin, record["lowered"]


class CudaTarget:
    """Runs generated kernels on an NVIDIA GPU through CuPy's RawModule."""

    name = "cuda"

    def __init__(self, generated: Path | None = None, compiled: Path | None = None):
        import cupy  # only a GPU machine has it

        self.xp = cupy
        self.generated = generated or paths.GENERATED
        self.compiled = compiled or paths.COMPILED
        capability = cupy.cuda.Device().compute_capability
        self.arch = f"sm_{capability}"
        self._modules: dict[str, tuple[Any, dict[str, str] | None]] = {}

    def module(self, kernel: str) -> tuple[Any, dict[str, str] | None]:
        """The kernel family's module and, when it came prebuilt, its lowered names. A cubin from
        `akcuda compile` is used when it was built for this device from the current source (no
        compile at first call); otherwise CuPy compiles the source once and keeps it in its
        on-disk cache, keyed by source, options, architecture and CUDA version."""
        if kernel not in self._modules:
            source = (self.generated / f"{kernel}.cu").read_text()
            prebuilt = prebuilt_cubin(self.compiled, kernel, self.arch, source)
            if prebuilt is not None:
                cubin, lowered = prebuilt
                self._modules[kernel] = (self.xp.RawModule(path=str(cubin)), lowered)
            else:
                plan = plans.load(self.generated / f"{kernel}.plan.json")
                module = self.xp.RawModule(
                    code=source, options=("-std=c++17", "--fmad=false"), name_expressions=plan.name_expressions
                )
                self._modules[kernel] = (module, None)
        return self._modules[kernel]

    def pointer_table(self, arrays: list) -> Any:
        return self.xp.array([a.data.ptr for a in arrays], dtype=self.xp.uint64)

    def launch(self, kernel: str, launch: Launch, grid: int, block: int, values: list, ctypes_: list[str]) -> None:
        args = []
        for value, ctype in zip(values, ctypes_):
            name, stars = base_type(ctype)
            args.append(value if stars else DTYPES[name](value))
        module, lowered = self.module(kernel)
        name = lowered[launch.expression] if lowered else launch.expression
        module.get_function(name)((grid,), (block,), tuple(args))

    def to_host(self, array) -> np.ndarray:
        return self.xp.asnumpy(array)

    def to_device(self, array: np.ndarray):
        return self.xp.asarray(array)
