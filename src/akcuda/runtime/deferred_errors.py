"""Deferred kernel errors inside Awkward: raised as the CPU raises them, and never later than the
first time a result reaches the host.

A deferred call returns a `PendingError` where the C returns its `struct Error`. Awkward reads a
kernel's error in one of three ways, and each gets what the CPU would give:

- its two raising handlers, `Backend.maybe_kernel_error` (a `ValueError`) and
  `Content._maybe_index_error` (an `IndexError` naming the sliced content and the slicer), are
  patched (`HandlerPatch`) to note, for a pending error, which exception the failure becomes,
  without reading anything back;
- any other reader of `.str` (the validity checks, which return the failure as text) settles the
  call at once: the stream is synchronized and the call's own failure, or an earlier call's
  raised, exactly as the CPU returns or raises it;
- the failure itself is raised at the first host read of a device array (`HostReadPatch` on the
  array class: `get`, `item`, `tolist`, `int()`, `float()`, `bool()`...), at Awkward's
  `synchronize_cuda`, or at `akcuda.runtime.awkward_plugin.synchronize()`.

What a pending call keeps is `Call`: the kernel's source, Awkward's error context and, once a
handler has seen it, the kind of exception; never the call's arguments.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from akcuda.plan.errors import KernelFailure
from akcuda.runtime.patching import AttributePatch

K_SLICE_NONE = 9223372036854775807  # kSliceNone: what a successful C kernel reports as id/attempt
SOURCE_URL = "https://github.com/scikit-hep/awkward/blob/awkward-cpp-{version}/awkward-cpp/{source}#L{line}"
# The methods through which a CuPy array's contents reach the host.
HOST_READS = ("get", "item", "tolist", "__int__", "__float__", "__complex__", "__bool__", "__index__")


@functools.cache
def _error_type() -> type:
    from awkward_cpp._kernel_signatures import ERROR

    return ERROR


@functools.cache
def _cpp_version() -> str:
    return importlib.metadata.version("awkward_cpp")


def kernel_error(failure: KernelFailure | None, source: str) -> Any:
    """The ``struct Error`` the C kernel returns: same str, filename, id and attempt, so that
    Awkward's ``maybe_kernel_error`` raises the same exception with the same text."""
    if failure is None:
        return _error_type()(None, None, K_SLICE_NONE, K_SLICE_NONE)
    filename = None
    if failure.line and failure.line > 0:
        url = SOURCE_URL.format(version=_cpp_version(), source=source, line=failure.line)
        filename = f"\n\n({url})".encode()
    return _error_type()(failure.message.encode(errors="surrogateescape"), filename, failure.identity, failure.attempt)


@dataclass
class Call:
    """What raising one deferred call's failure needs."""

    source: str  # the kernel's C file, for the message's link
    error_context: Any  # Awkward's error context when the call was made
    sliced: tuple[str, int, Any] | None = None  # (content class, its length, the slicer): an IndexError


def exception(failure: KernelFailure, call: Call) -> Exception:
    """The exception the CPU raises for this failure: `maybe_kernel_error`'s ValueError, or
    `_maybe_index_error`'s IndexError, with Awkward's own text, decorated with the call's context."""
    import awkward as ak
    from awkward._backends.backend import Backend

    message = Backend.format_kernel_error(None, kernel_error(failure, call.source))
    if call.sliced is None:
        kind, error = ValueError, ValueError(message)
    else:
        name, length, slicer = call.sliced
        content = type(name, (), {"length": length})()  # what index_error reads of the content
        kind, error = IndexError, ak._errors.index_error(content, slicer, message)
    if call.error_context is None:
        return error
    return call.error_context.decorate_exception(kind, error)


# ---------------------------------------------------------------- reads that are ours


_quiet = threading.local()


@contextmanager
def quiet() -> Iterator[None]:
    """akcuda's own read-backs (records, sizes) on this thread: not a result reaching the host."""
    _quiet.depth = getattr(_quiet, "depth", 0) + 1
    try:
        yield
    finally:
        _quiet.depth -= 1


def is_quiet() -> bool:
    return getattr(_quiet, "depth", 0) > 0


class PendingError:
    """What a deferred call returns in place of the C's `struct Error`. Awkward's raising handlers
    (patched) only note how to raise it; reading `.str` (or the rest) settles the call now."""

    def __init__(self, call: Call, settle: Callable[[Call], KernelFailure | None]):
        self.call = call
        self._settle = settle
        self._error = None

    def _settled(self) -> Any:
        if self._error is None:
            self._error = kernel_error(self._settle(self.call), self.call.source)
        return self._error

    @property
    def str(self) -> bytes | None:
        return self._settled().str

    @property
    def filename(self) -> bytes | None:
        return self._settled().filename

    @property
    def id(self) -> int:
        return self._settled().id

    @property
    def attempt(self) -> int:
        return self._settled().attempt


# ---------------------------------------------------------------- patches


class HandlerPatch(AttributePatch):
    """Awkward's two raising handlers note, for a pending error, which exception it becomes."""

    def __init__(self):
        from awkward._backends.backend import Backend
        from awkward.contents.content import Content

        maybe_kernel_error, maybe_index_error = Backend.maybe_kernel_error, Content._maybe_index_error

        def _maybe_kernel_error(backend, error):
            if not isinstance(error, PendingError):
                return maybe_kernel_error(backend, error)

        def _maybe_index_error(content, error, slicer):
            if not isinstance(error, PendingError):
                return maybe_index_error(content, error, slicer)
            error.call.sliced = (type(content).__name__, content.length, slicer)

        super().__init__(
            {(Backend, "maybe_kernel_error"): _maybe_kernel_error, (Content, "_maybe_index_error"): _maybe_index_error}
        )


class HostReadPatch(AttributePatch):
    """Every way an array of `cls` reaches the host first calls `before` (outside akcuda's own reads)."""

    def __init__(self, cls: type, before: Callable[[], None]):
        def hooked(original: Callable) -> Callable:
            @functools.wraps(original)
            def read(self, *args, **kwargs):
                if not is_quiet():
                    before()
                return original(self, *args, **kwargs)

            return read

        super().__init__({(cls, name): hooked(getattr(cls, name)) for name in HOST_READS if hasattr(cls, name)})
