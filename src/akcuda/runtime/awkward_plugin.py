"""Route Awkward Array's kernel look-ups to akcuda's generated kernels.

``install(target="host")`` patches the ``cpu`` backend (``NumpyBackend.__getitem__``) so that every
kernel Awkward asks for is the generated CUDA kernel run on the CPU through the emulated grid;
``install(target="cuda")`` does the same for the ``cuda`` backend (``CupyBackend``) with CuPy.
The kernels come from the kernel store (``akcuda.store``); ``install`` refuses kernels that cannot
run (made from another awkward-cpp, none at all, a stale or missing one) and a target that cannot
run here. Only a look-up akcuda has no spec for, or a pending kernel, falls back: on the cpu
backend to Awkward's own kernel, on the cuda backend to awkward_cpp's CPU kernel on copies of the
arguments (which always runs, where Awkward's own may need CCCL); both are recorded as fallbacks.
A kernel akcuda should run and cannot is an error, never a fallback. ``trace()`` shows which
kernels ran and how.

The patch is one class attribute per backend, and ``uninstall()`` puts back the exact original.
An akcuda kernel reports the C kernel's ``struct Error`` (message, identity, attempt and the
upstream source URL with the failing line), so Awkward raises the same exception with the same
text as with its CPU kernels. Errors are *immediate* (the call raises) or *deferred* (the cuda
default, as Awkward's cuda backend: no synchronization per call; the first failing call is
raised as the CPU raises it no later than the first host read of a CuPy array, when Awkward
synchronizes (``awkward._connect.cuda.synchronize_cuda``), or by ``synchronize()``: see
``deferred_errors``).
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from akcuda import store
from akcuda.plan.ctype import base_type
from akcuda.plan.errors import KernelFailure
from akcuda.plan.model import Plan
from akcuda.runtime import deferred_errors, executor, make_target, unavailable
from akcuda.runtime.executor import Mode
from akcuda.runtime.patching import AttributePatch
from akcuda.store import StoreError

TARGETS = ("host", "cuda")
DEFAULT_MODE = {"host": Mode.IMMEDIATE, "cuda": Mode.DEFERRED}
MAX_PENDING = 8192  # as Awkward's MAX_PENDING_INVOCATIONS: synchronize after this many deferred calls

KernelFactory = Callable[[tuple, Callable[[], Any]], Any]


# ---------------------------------------------------------------- tracing


@dataclass(frozen=True)
class KernelCall:
    """One kernel call as Awkward made it."""

    kernel: str  # the look-up's kernel name, e.g. "awkward_ListArray_num"
    symbol: str | None  # the exported specialization, when known
    target: str  # "host" or "cuda" through akcuda; the backend's name for a fallback
    via: str  # "akcuda", "fallback" (Awkward's own kernel) or "cpu-copy" (awkward_cpp on copies)
    reason: str | None = None  # why it fell back
    error: str | None = None  # the kernel's failure message, if it failed


@dataclass
class Trace:
    """Kernel calls recorded while a ``trace()`` block was open."""

    calls: list[KernelCall] = field(default_factory=list)

    @property
    def kernels(self) -> list[str]:
        """Distinct kernel names, in first-call order."""
        return list(dict.fromkeys(c.kernel for c in self.calls))

    @property
    def fallbacks(self) -> list[KernelCall]:
        return [c for c in self.calls if c.via != "akcuda"]

    @property
    def all_akcuda(self) -> bool:
        """At least one call, and every call went through akcuda."""
        return bool(self.calls) and not self.fallbacks


_traces: list[Trace] = []
_lock = threading.Lock()


def _record(call: KernelCall) -> None:
    with _lock:
        for recorder in _traces:
            recorder.calls.append(call)


@contextmanager
def trace() -> Iterator[Trace]:
    """Record every kernel call routed by akcuda (or fallen back) inside the block."""
    recorder = Trace()
    with _lock:
        _traces.append(recorder)
    try:
        yield recorder
    finally:
        with _lock:
            _traces.remove(recorder)


# ---------------------------------------------------------------- kernel objects


class _Address:
    """A raw pointer (Awkward passes T** tables as ctypes pointers) in the form the executor
    reads: ``.ctypes.data``."""

    def __init__(self, address: int):
        self.ctypes = SimpleNamespace(data=address)


def _first_failure(target: Any) -> tuple[KernelFailure, deferred_errors.Call] | None:
    """The first failing deferred call on the target's current stream (synchronizing it)."""
    with deferred_errors.quiet():  # akcuda's own read-back, not a result reaching the host
        return executor.synchronize(target)


def _settle(target: Any, call: deferred_errors.Call) -> KernelFailure | None:
    """A deferred call's outcome, now: the stream is synchronized; its own failure is returned (its
    caller reads it as the C's return value), an earlier call's failure raised."""
    found = _first_failure(target)
    if found is None:
        return None
    if found[1] is call:
        return found[0]
    raise deferred_errors.exception(*found)


def synchronize(target: str = "cuda") -> None:
    """Check the deferred calls of this thread's current stream; raise the first failure as the
    CPU raises it."""
    synchronize_target(shared_target(target))


def synchronize_target(target: Any) -> None:
    """`synchronize` for a target instance."""
    found = _first_failure(target)
    if found is not None:
        raise deferred_errors.exception(*found)


def synchronize_cuda_backend(stream: Any = None, awkwards: Callable | None = None) -> None:
    """Raise the first failure kernels on Awkward's cuda backend deferred on `stream` (this
    thread's current one by default): akcuda's calls first, in call order, then Awkward's own
    kernels' through `awkwards` (its `synchronize_cuda`), only where one of them ran on the stream:
    Awkward keeps no record of a stream before, and its own look-up would fail."""
    import awkward._connect.cuda as ak_cuda

    cupy = ak_cuda.import_cupy("Awkward Arrays with CUDA")
    stream = cupy.cuda.get_current_stream() if stream is None else stream
    with stream:
        synchronize("cuda")
    if stream.ptr in ak_cuda.cuda_streamptr_to_contexts:
        (awkwards or ak_cuda.synchronize_cuda)(stream)
    else:
        stream.synchronize()


class AkcudaKernel:
    """Called like Awkward's NumpyKernel / CupyKernel, runs the generated kernel instead."""

    def __init__(self, key: tuple, spec: dict, special: dict, target: Any, mode: Mode = Mode.IMMEDIATE):
        self._key = key
        self._spec = spec
        self._special = special
        self._target = target
        self._mode = mode

    @property
    def key(self) -> tuple:
        return self._key

    @property
    def symbol(self) -> str:
        return self._special["symbol"]

    def __repr__(self) -> str:
        return f"<AkcudaKernel {self.symbol} on {self._target.name}>"

    def _value(self, x: Any, arg: dict) -> Any:
        if not base_type(arg["ctype"])[1]:
            return x
        if hasattr(x, "_b_base_"):  # a ctypes pointer, as NumpyKernel also accepts
            return _Address(ctypes.cast(x, ctypes.c_void_p).value or 0)
        # The same precondition NumpyKernel and CupyKernel assert.
        assert x.flags.c_contiguous, "kernel expects contiguous array"
        return x

    def __call__(self, *args: Any) -> Any:
        from awkward._nplikes.array_like import maybe_materialize

        assert len(args) == len(self._special["args"])
        args = maybe_materialize(*args)
        values = [self._value(x, arg) for x, arg in zip(args, self._special["args"])]
        call = None
        if self._mode == Mode.DEFERRED:
            import awkward._errors

            call = deferred_errors.Call(self._spec["source"], awkward._errors.ErrorContext.primary())
        with deferred_errors.quiet():
            failure = executor.run(
                _plan(self._spec["name"]), self._special, values, self._target, mode=self._mode, context=call
            )
        _record(
            KernelCall(
                self._key[0], self.symbol, self._target.name, "akcuda", error=failure.message if failure else None
            )
        )
        if call is None:
            return deferred_errors.kernel_error(failure, self._spec["source"])
        if executor.pending(self._target) >= MAX_PENDING:
            synchronize_target(self._target)
        return deferred_errors.PendingError(call, functools.partial(_settle, self._target))


class FallbackKernel:
    """Awkward's own kernel, called unchanged; the call is recorded as a fallback."""

    def __init__(self, original: Any, symbol: str | None, backend: str, reason: str):
        self._original = original
        self._symbol = symbol
        self._backend = backend
        self.reason = reason

    @property
    def key(self) -> tuple:
        return self._original.key

    def __repr__(self) -> str:
        return f"<FallbackKernel {self._original!r}: {self.reason}>"

    def __call__(self, *args: Any) -> Any:
        result = self._original(*args)
        text = getattr(result, "str", None)
        _record(
            KernelCall(
                self.key[0],
                self._symbol,
                self._backend,
                "fallback",
                self.reason,
                text.decode(errors="surrogateescape") if text else None,
            )
        )
        return result


class CpuCopyKernel:
    """On the cuda backend, a kernel akcuda does not have yet: awkward_cpp's CPU kernel runs on
    host copies of the arguments, and the arrays it may write are copied back."""

    def __init__(self, index: tuple, symbol: str, reason: str):
        import awkward_cpp.cpu_kernels
        from awkward._kernels import NumpyKernel

        self._key = index
        self._symbol = symbol
        self._kernel = NumpyKernel(awkward_cpp.cpu_kernels.kernel[index], index)
        found = specialization(symbol)
        self._written = None if found is None else [a["dir"] != "in" for a in found[1]["args"]]
        self.reason = reason

    @property
    def key(self) -> tuple:
        return self._key

    def __repr__(self) -> str:
        return f"<CpuCopyKernel {self._symbol}: {self.reason}>"

    def __call__(self, *args: Any) -> Any:
        import cupy
        from awkward._nplikes.array_like import maybe_materialize

        args = maybe_materialize(*args)
        copies = [cupy.asnumpy(x) if isinstance(x, cupy.ndarray) else x for x in args]
        result = self._kernel(*copies)
        for k, (x, copy) in enumerate(zip(args, copies)):
            if isinstance(x, cupy.ndarray) and (self._written is None or self._written[k]):
                x.set(copy)
        text = getattr(result, "str", None)
        _record(
            KernelCall(
                self._key[0],
                self._symbol,
                "cpu",
                "cpu-copy",
                self.reason,
                text.decode(errors="surrogateescape") if text else None,
            )
        )
        return result


# ---------------------------------------------------------------- routing look-ups


def specialization(symbol: str) -> tuple[dict, dict] | None:
    """(kernel spec, specialization) of an exported symbol, or None if akcuda has no spec."""
    return store.current().specialization(symbol)


def _plan(kernel: str) -> Plan:
    return store.current().plan(kernel)  # kept as objects by akcuda.plan.load, read again when regenerated


def symbol_of(index: tuple) -> str | None:
    """Awkward's look-up key -> the exported C symbol (None when awkward_cpp has no such key)."""
    import awkward_cpp.cpu_kernels

    func = awkward_cpp.cpu_kernels.kernel.get(index)
    return None if func is None else func.__name__


def fallback_reason(symbol: str | None) -> str | None:
    """Why Awkward's own kernel runs for this symbol (None: akcuda's does): akcuda has no spec
    of it, or its spec is pending. A kernel akcuda should run and cannot (no plan, a stale one)
    is a StoreError, never a fallback."""
    found = None if symbol is None else specialization(symbol)
    if found is None:
        return "no akcuda specialization for this look-up"
    spec, _ = found
    if spec["status"] == "pending":
        return spec.get("pending_reason") or "pending"
    if symbol not in _plan(spec["name"]).specializations:
        raise StoreError(f"{symbol} is not in the plan of {spec['name']}: {store.current().fix(spec['name'])}")
    return None


class _Router:
    """Maps look-ups of one backend to akcuda kernels (or fallbacks), cached by key."""

    def __init__(self, target: Any, backend: str, mode: Mode = Mode.IMMEDIATE):
        self.target = target
        self.backend = backend
        self.mode = mode
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, index: tuple, original: Callable[[], Any]) -> Any:
        found = self._cache.get(index)
        if found is None:
            found = self._kernel(index, original)
            with self._lock:
                found = self._cache.setdefault(index, found)
        return found

    def _kernel(self, index: tuple, original: Callable[[], Any]) -> Any:
        symbol = symbol_of(index)
        reason = fallback_reason(symbol)
        if reason is None:
            spec, special = specialization(symbol)
            return AkcudaKernel(index, spec, special, self.target, self.mode)
        if self.backend == "cuda" and symbol is not None:
            return CpuCopyKernel(index, symbol, reason)
        # The original look-up may raise (an unknown key): let it, as Awkward would.
        return FallbackKernel(original(), symbol, self.backend, reason)


# ---------------------------------------------------------------- patching


def _backend_class(backend: str) -> type:
    if backend == "cpu":
        from awkward._backends.numpy import NumpyBackend

        return NumpyBackend
    from awkward._backends.cupy import CupyBackend

    return CupyBackend


def _lookup_patch(backend: str, factory: KernelFactory) -> AttributePatch:
    """One backend class's ``__getitem__`` answers ``factory(index, original_lookup)``."""
    cls = _backend_class(backend)
    original = cls.__dict__["__getitem__"]

    def __getitem__(backend_self, index):
        return factory(index, lambda: original(backend_self, index))

    return AttributePatch({(cls, "__getitem__"): __getitem__})


_patches: dict[str, AttributePatch] = {}  # backend name ("cpu" or "cuda") -> its patch
_targets: dict[str, Any] = {}  # target name -> the one shared target instance


def shared_target(name: str) -> Any:
    """The one target instance all akcuda kernels of this target use."""
    with _lock:
        if name not in _targets:
            _targets[name] = make_target(name)
        return _targets[name]


def _sync_patch() -> AttributePatch:
    """Awkward's ``synchronize_cuda`` checks akcuda's deferred calls first
    (`synchronize_cuda_backend`), then runs as it did."""
    import awkward._connect.cuda as ak_cuda

    original = ak_cuda.synchronize_cuda

    def synchronize_cuda(stream=None):
        synchronize_cuda_backend(stream, original)

    return AttributePatch({(ak_cuda, "synchronize_cuda"): synchronize_cuda})


def _before_host_read(target: Any) -> None:
    """A device array's contents are about to reach the host: raise any pending failure first."""
    if executor.pending(target):
        synchronize_target(target)


_extra_patches: dict[str, list] = {}  # backend -> what else its routing patched (deferred errors, allocator)


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"unknown akcuda target {target!r}: expected one of {TARGETS}")
    return target


def _backend_for(target: str) -> str:
    return "cpu" if _check_target(target) == "host" else "cuda"


def intercept(backend: str, factory: KernelFactory) -> None:
    """Low-level hook: every look-up on ``backend`` ("cpu"/"cuda") returns
    ``factory(index, original_lookup)``. Undone by ``release(backend)`` or ``uninstall()``."""
    if backend in _patches:
        raise RuntimeError(f"Awkward's {backend} backend is already routed by akcuda")
    _patches[backend] = _lookup_patch(backend, factory)


def release(backend: str) -> None:
    """Undo ``intercept(backend, ...)`` (no-op if not patched)."""
    patch = _patches.pop(backend, None)
    if patch is not None:
        patch.undo()
    for patch in reversed(_extra_patches.pop(backend, [])):
        patch.undo()


def install(target: str = "host", errors: str | None = None) -> None:
    """Route Awkward's kernel look-ups to akcuda: "host" for the cpu backend (generated kernels
    on the emulated grid), "cuda" for the cuda backend (generated kernels through CuPy).
    `errors`: "immediate" (the call raises; the host default, the only mode Awkward's cpu
    backend has) or "deferred" (the cuda default: raised when Awkward synchronizes).

    StoreError when the kernels cannot run (made from another awkward-cpp than the installed
    one, none at all, a stale or missing one: `akcuda.store`), RuntimeError when the target
    cannot run here (no g++ for "host", no CuPy or GPU for "cuda"): nothing is installed then."""
    mode = Mode(errors) if errors else DEFAULT_MODE[_check_target(target)]
    if mode == Mode.DEFERRED and target != "cuda":
        raise ValueError("deferred errors need Awkward's cuda backend (it has the synchronize points)")
    if _backend_for(target) in _patches:
        return  # already installed: installing twice must not stack patches
    why = unavailable(target)
    if why is not None:
        raise RuntimeError(f"akcuda target {target!r} cannot run here: {why}")
    store.current().check()
    if mode == Mode.DEFERRED:
        import cupy

        route(target, mode, cupy.ndarray)
    else:
        route(target, mode)


def route(target: str, mode: Mode, array_class: type | None = None) -> None:
    """Route one backend's look-ups to `target` in `mode`; deferred errors are raised as the CPU
    raises them, at Awkward's synchronize points and the first host read of an `array_class`
    array (the cuda backend's: CuPy's ndarray)."""
    backend = _backend_for(target)
    shared = shared_target(target)
    intercept(backend, _Router(shared, backend, mode))
    patches = _extra_patches.setdefault(backend, [])
    if target == "cuda":
        from akcuda.runtime.cuda import PaddedAllocations

        patches.append(PaddedAllocations())
    if mode == Mode.DEFERRED:
        patches.append(deferred_errors.HandlerPatch())
        if array_class is not None:
            patches.append(deferred_errors.HostReadPatch(array_class, functools.partial(_before_host_read, shared)))
        if target == "cuda":
            patches.append(_sync_patch())


def uninstall(target: str | None = None) -> None:
    """Undo ``install`` (for one target, or all), restoring the original attributes."""
    for backend in [_backend_for(target)] if target else list(_patches):
        release(backend)


def is_installed(target: str = "host") -> bool:
    return _backend_for(target) in _patches


@contextmanager
def installed(target: str = "host", errors: str | None = None) -> Iterator[None]:
    """``install(target, errors)`` for the block; leaves things as they were afterwards."""
    already = is_installed(target)
    install(target, errors)
    try:
        yield
    finally:
        if not already:
            uninstall(target)
