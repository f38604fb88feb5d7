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

import numpy as np


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


def reason(why: str) -> None:
    """Say why the open recorder's call reads back (the first of each kind); counts nothing: the
    counting target's array module counts the read-backs themselves."""
    figures = _current.get()
    if figures is not None and why not in figures.reasons:
        figures.reasons.append(why)


# ---------------------------------------------------------------- the counting array module

# Functions whose result's size depends on the data: CuPy reads that size back (a synchronization).
SIZED = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract"})
# Functions that make a device array from host data: a host-to-device copy unless given a device array.
FROM_HOST = frozenset({"asarray", "array", "ascontiguousarray"})

_adopting = contextvars.ContextVar("akcuda_adopting", default=False)


def _boolean_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype == np.bool_ for p in parts)


class DeviceArray(np.ndarray):
    """A NumPy array standing for a device array on the counting target. Whatever code touches
    it, every crossing to the host (`bool()`, `int()`, `float()`, `item()`, `tolist()`, `get()`, an
    element read, a boolean selection's size) is a read-back, every write of host data into it a
    host-to-device copy, and every array holding new memory an allocation, as on CuPy."""

    def __array_finalize__(self, obj) -> None:
        # new memory: a copy that owns its data, or a plain result NumPy wrapped (a view of one
        # is a view)
        if not _adopting.get() and (self.base is None or type(self.base) is np.ndarray):
            note(Event.ALLOC, nbytes=self.nbytes)

    def __getitem__(self, index):
        if _boolean_index(index):
            note(Event.D2H)  # the selection's size
        found = super().__getitem__(index)
        if not isinstance(found, np.ndarray):
            note(Event.D2H)  # an element read on the host
        return found

    def __setitem__(self, index, value) -> None:
        if _boolean_index(index):
            note(Event.D2H)
        if isinstance(value, (np.ndarray, list, tuple)) and not isinstance(value, DeviceArray):
            note(Event.H2D)
        super().__setitem__(index, value)

    def get(self) -> np.ndarray:
        """The contents on the host (CuPy's `get`)."""
        note(Event.D2H)
        return np.array(self, subok=False)


def _reading(name: str):
    """NumPy's method `name`, counted as a read-back: the value crosses to the host."""
    method = getattr(np.ndarray, name)

    def read(self, *args):
        note(Event.D2H)
        return method(self, *args)

    return read


for _name in ("__bool__", "__int__", "__float__", "__index__", "item", "tolist"):
    setattr(DeviceArray, _name, _reading(_name))


def adopt(array: np.ndarray) -> DeviceArray:
    """A caller's array as a device array (a view: no allocation, no copy)."""
    token = _adopting.set(True)
    try:
        return array.view(DeviceArray)
    finally:
        _adopting.reset(token)


def _on_device(value) -> object:
    if isinstance(value, tuple):
        return tuple(_on_device(v) for v in value)
    if isinstance(value, np.ndarray) and not isinstance(value, DeviceArray):
        if isinstance(value.base, DeviceArray):
            return adopt(value)  # a view of a device array (`asarray` of one)
        return value.view(DeviceArray)  # NumPy returned a plain array: new device memory
    return value


class CountingArrays:
    """NumPy as the counting target's array module: every array a function returns is a
    `DeviceArray`; an array made from host data is a host-to-device copy, a result whose size
    depends on the data a read-back (as on CuPy)."""

    def __getattr__(self, name: str):
        found = getattr(np, name)
        if not callable(found) or isinstance(found, (type, np.ufunc)):
            return found

        def call(*args, **kwargs):
            if name in FROM_HOST and args and not isinstance(args[0], DeviceArray):
                note(Event.H2D)
            if name in SIZED:
                note(Event.D2H)
            return _on_device(found(*args, **kwargs))

        return call
