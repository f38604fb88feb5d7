"""The `host` target: generated kernels on the CPU, through the g++ emulation library.

`host_build` compiles the very same `.cu` text that NVRTC compiles, with the emulation header;
this module loads those libraries and launches their grids in a seeded shuffled order, with the
race recorder on.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from akcuda import paths
from akcuda.plan.ctype import CTYPES, base_type
from akcuda.plan.model import Launch
from akcuda.runtime import host_build


class RaceDetected(RuntimeError):
    """Two emulated threads of one launch wrote the same address without an atomic."""


def _locate(address: int, values: list) -> str:
    for k, value in enumerate(values):
        if isinstance(value, np.ndarray) and value.ctypes.data <= address < value.ctypes.data + value.nbytes:
            return f"argument {k} element {(address - value.ctypes.data) // value.itemsize}"
    return f"address {address:#x}"


class HostTarget:
    """Runs generated kernels on the CPU through the g++ emulation library."""

    name = "host"
    xp = np

    def __init__(self, seed: int = 1, generated: Path | None = None, sanitize: bool = False):
        self.seed = seed
        self.generated = generated or paths.GENERATED
        self.extra = host_build.SANITIZE_FLAGS if sanitize else ()
        self.out_dir = paths.HOSTLIB / ("asan" if sanitize else "plain")
        self._libs: dict[str, ctypes.CDLL] = {}

    def library(self, kernel: str) -> ctypes.CDLL:
        if kernel not in self._libs:
            built = host_build.build(self.generated / f"{kernel}.cu", self.out_dir, self.extra)
            if not built.ok:
                raise RuntimeError(f"host build of {kernel} failed:\n{built.log}")
            self._libs[kernel] = host_build.load(built.library)
        return self._libs[kernel]

    def pointer_table(self, arrays: list[np.ndarray]) -> np.ndarray:
        return np.array([a.ctypes.data for a in arrays], dtype=np.uint64)

    def launch(self, kernel: str, launch: Launch, grid: int, block: int, values: list, ctypes_: list[str]) -> None:
        holders = []
        for value, ctype in zip(values, ctypes_):
            name, stars = base_type(ctype)
            holders.append(ctypes.c_void_p(value.ctypes.data) if stars else CTYPES[name](value))
        argv = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
        library = self.library(kernel)
        entry = getattr(library, launch.host)
        entry.restype = None
        entry(ctypes.c_int64(grid), ctypes.c_int64(block), ctypes.c_uint64(self.seed), argv)
        report = np.zeros(4, dtype=np.int64)
        library.akc_race_report(ctypes.c_void_p(report.ctypes.data))
        if report[0]:
            raise RaceDetected(
                f"race in {launch.expression}: threads {report[2]} and {report[3]} both wrote "
                f"{_locate(int(report[1]), values)} ({report[0]} racing store(s))"
            )

    def to_host(self, array) -> np.ndarray:
        return array

    def to_device(self, array: np.ndarray):
        return array
