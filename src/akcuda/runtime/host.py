"""The `host` target: generated kernels on the CPU, through the g++ emulation library.

`host_build` compiles the very same `.cu` text that NVRTC compiles, with the emulation header;
this module loads those libraries and launches their grids in a seeded shuffled order, with the
race recorder on. The recorder's state is per thread (the emulation header keeps it
`thread_local`), and ctypes releases the GIL during a launch, so threads run kernels at once.

The `counting` target is the host target with a recorder of launches, copies, read-backs and
allocations around every kernel call (`akcuda.runtime.counting`).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from akcuda import store
from akcuda.plan.ctype import CTYPES, base_type
from akcuda.plan.model import Launch, Plan, Role
from akcuda.runtime import counting, host_build
from akcuda.runtime.counting import Event, Figures, note, record


class RaceDetected(RuntimeError):
    """Two emulated threads of one launch wrote the same address without an atomic."""


def _locate(address: int, values: list) -> str:
    for k, value in enumerate(values):
        if isinstance(value, np.ndarray) and value.ctypes.data <= address < value.ctypes.data + value.nbytes:
            return f"argument {k} element {(address - value.ctypes.data) // value.itemsize}"
    return f"address {address:#x}"


def _converter(ctype: str) -> Callable:
    """How one argument becomes a ctypes value: a pointer for an array, the C type for a scalar."""
    name, stars = base_type(ctype)
    if stars:  # an empty array is a null pointer, as CuPy passes it
        return lambda value: ctypes.c_void_p(value.ctypes.data if getattr(value, "size", 1) else None)
    return CTYPES[name]


Bound = tuple[dict[Role, Callable[[int, int, list], None]], ...]


class HostTarget:
    """Runs generated kernels on the CPU through the g++ emulation library."""

    name = "host"
    xp = np

    def __init__(self, seed: int = 1, generated: Path | None = None, sanitize: bool = False):
        self.seed = seed
        self.generated = generated or store.current().generated
        self.extra = host_build.SANITIZE_FLAGS if sanitize else ()
        self.out_dir = store.current().host_cache / ("asan" if sanitize else "plain")
        self.local = threading.local()  # per-thread state: the stream buffers
        self._libs: dict[str, ctypes.CDLL] = {}
        self._bound: dict[str, Bound] = {}
        self._lock = threading.Lock()

    def stream(self) -> int:
        return 0  # the host runs every launch at once: one stream

    def library(self, kernel: str) -> ctypes.CDLL:
        with self._lock:
            if kernel not in self._libs:
                built = host_build.build(self.generated / f"{kernel}.cu", self.out_dir, self.extra)
                if not built.ok:
                    raise RuntimeError(f"host build of {kernel} failed:\n{built.log}")
                self._libs[kernel] = host_build.load(built.library)
            return self._libs[kernel]

    def pointer_table(self, arrays: list[np.ndarray]) -> np.ndarray:
        return np.array([a.ctypes.data for a in arrays], dtype=np.uint64)

    def bind(self, plan: Plan, symbol: str, ctypes_: tuple[str, ...]) -> Bound:
        """Per step and role of one specialization, a launcher with its entry point and argument
        conversions resolved once."""
        found = self._bound.get(symbol)
        if found is None:
            library = self.library(plan.kernel)
            converters = [_converter(c) for c in ctypes_]
            found = tuple(
                {role: self._launcher(library, launch, converters) for role, launch in roles.items()}
                for roles in plan.specializations[symbol].launches
            )
            with self._lock:
                self._bound.setdefault(symbol, found)
        return found

    def _launcher(self, library: ctypes.CDLL, launch: Launch, converters: list[Callable]):
        entry = getattr(library, launch.host)
        entry.restype = None
        report_race = library.akc_race_report
        seed = ctypes.c_uint64(self.seed)

        def run(grid: int, block: int, values: list) -> None:
            note(Event.LAUNCH)
            holders = [convert(v) for convert, v in zip(converters, values)]
            argv = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
            entry(ctypes.c_int64(grid), ctypes.c_int64(block), seed, argv)
            report = np.zeros(4, dtype=np.int64)
            report_race(ctypes.c_void_p(report.ctypes.data))
            if report[0]:
                raise RaceDetected(
                    f"race in {launch.expression}: threads {report[2]} and {report[3]} both wrote "
                    f"{_locate(int(report[1]), values)} ({report[0]} racing store(s))"
                )

        return run

    def to_host(self, array) -> np.ndarray:
        return array

    def address(self, array) -> int:
        return array.ctypes.data

    def to_device(self, array: np.ndarray):
        return array

    @staticmethod
    def adopt(array):
        """A caller's array as this target's device array (here: as it is)."""
        return array


class CountingTarget(HostTarget):
    """The host target, keeping every kernel call's figures in `calls`, in call order. Its array
    module (`counting.CountingArrays`) and arrays (`counting.DeviceArray`) count every crossing
    between host and device, and every allocation, themselves."""

    name = "counting"
    xp = counting.CountingArrays()
    adopt = staticmethod(counting.adopt)

    def __init__(self, seed: int = 1, generated: Path | None = None):
        super().__init__(seed=seed, generated=generated)
        self.calls: list[Figures] = []

    def to_host(self, array) -> np.ndarray:
        note(Event.D2H)
        return np.array(array, subok=False)

    def to_device(self, array: np.ndarray):
        note(Event.H2D)
        return counting.adopt(array.copy())

    @contextmanager
    def call_scope(self) -> Iterator[None]:
        with record() as figures:
            yield
        self.calls.append(figures)
