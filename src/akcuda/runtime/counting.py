"""What one kernel call costs, counted rather than timed: launches of generated kernels, calls
into the array library (each at least one launch on a GPU), host-to-device copies,
device-to-host reads (each a synchronization) and allocations.

Targets note each event with `note`; `record()` opens a recorder for the current thread (a
context variable, so threads keep their own). The `counting` target (`host.CountingTarget`) is
the host target with a recorder around every kernel call, so the per-call cost of the plan
that runs on the GPU is measured on a machine without one.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


class Event(str, enum.Enum):
    LAUNCH = "launches"  # a generated kernel
    LIBRARY = "library"  # an array-library call (scan, reduction, copy, fill)
    H2D = "h2d_copies"  # host-to-device copy
    D2H = "syncs"  # device-to-host read: the host waits for the device
    ALLOC = "allocations"  # device memory the call allocated


@dataclass
class Figures:
    """One call's counts."""

    launches: int = 0
    library: int = 0
    h2d_copies: int = 0
    syncs: int = 0
    allocations: int = 0
    bytes_allocated: int = 0
    reasons: list[str] = field(default_factory=list)  # why it read back (the first of each kind)

    @property
    def device_launches(self) -> int:
        """Everything the device runs: generated kernels and array-library calls."""
        return self.launches + self.library

    def as_dict(self) -> dict:
        out = asdict(self)
        out["device_launches"] = self.device_launches
        return out


_current: contextvars.ContextVar[Figures | None] = contextvars.ContextVar("akcuda_figures", default=None)


def note(event: Event, count: int = 1, nbytes: int = 0, why: str | None = None) -> None:
    """Add `count` events to the open recorder, if any (a no-op otherwise)."""
    figures = _current.get()
    if figures is None:
        return
    setattr(figures, event.value, getattr(figures, event.value) + count)
    if event == Event.ALLOC:
        figures.bytes_allocated += nbytes
    if why and why not in figures.reasons:
        figures.reasons.append(why)


@contextmanager
def record() -> Iterator[Figures]:
    """Count what happens in this thread inside the block."""
    figures = Figures()
    token = _current.set(figures)
    try:
        yield figures
    finally:
        _current.reset(token)
