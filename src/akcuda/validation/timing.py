"""How the bench times and counts, with one interface per target: on `cuda` CUDA events around
the work and CuPy's memory hook for allocations; on the host `time.perf_counter` and the counting
recorder (`akcuda.runtime.counting`). Everything else in the bench is the same code on both.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from akcuda.runtime import counting


@dataclass(frozen=True)
class Spread:
    """Repeated timings of one figure, in seconds: the median and the range around it."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        return cls(statistics.median(seconds), min(seconds), max(seconds), len(seconds))

    def as_dict(self) -> dict:
        """Microseconds, as the reports show them."""
        return {
            "median_us": round(self.median * 1e6, 2),
            "min_us": round(self.low * 1e6, 2),
            "max_us": round(self.high * 1e6, 2),
            "runs": self.runs,
        }


class HostClock:
    """Wall time on the host (the host target runs every launch before it returns)."""

    name = "time.perf_counter"

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self) -> float:
        return time.perf_counter() - self._start


class CudaClock:
    """CUDA events on the current stream: the device time between `start` and `stop`."""

    name = "CUDA events"

    def __init__(self):
        import cupy  # only a GPU machine has it

        self._cupy = cupy

    def start(self) -> None:
        self._begin, self._end = self._cupy.cuda.Event(), self._cupy.cuda.Event()
        self._begin.record()

    def stop(self) -> float:
        self._end.record()
        self._end.synchronize()
        return self._cupy.cuda.get_elapsed_time(self._begin, self._end) / 1e3


def clock(target: str) -> HostClock | CudaClock:
    """The clock for a target's device work ("cuda": CUDA events; else the host's wall time)."""
    return CudaClock() if target == "cuda" else HostClock()


def repeat(work: Callable[[], object], repeats: int, timer, after: Callable[[], object] | None = None) -> Spread:
    """Time `work` `repeats` times (after one untimed warm-up); `after` runs untimed after each."""
    work()
    if after:
        after()
    seconds = []
    for _ in range(repeats):
        timer.start()
        work()
        seconds.append(timer.stop())
        if after:
            after()
    return Spread.of(seconds)


@dataclass
class Allocations:
    count: int = 0
    nbytes: int = 0


@contextmanager
def allocations(target: str) -> Iterator[Allocations]:
    """Device allocations inside the block: CuPy's memory hook on cuda (every allocation, the
    array library's included); the counting recorder's on the host (akcuda's device buffers)."""
    found = Allocations()
    if target == "cuda":
        with _cupy_hook(found):
            yield found
        return
    with counting.record() as figures:
        yield found
    found.count, found.nbytes = figures.allocations, figures.bytes_allocated


@contextmanager
def _cupy_hook(found: Allocations) -> Iterator[None]:
    from cupy.cuda import memory_hook  # only a GPU machine has it

    class Hook(memory_hook.MemoryHook):
        name = "akcuda-bench"

        def malloc_preprocess(self, device_id, size, mem_size):
            found.count += 1
            found.nbytes += mem_size

    with Hook():
        yield
