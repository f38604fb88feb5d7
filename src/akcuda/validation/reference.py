"""The CPU reference of a kernel, called through ctypes.

For a kernel whose C is the one the installed awkward_cpp was built from (the pinned sdist's
file, compared by sha256), the reference is the real awkward_cpp library. For a kernel that is
new, or whose C differs, it is that very C compiled with g++ (`reference_build`), called the
same way; the report says, per kernel, which one it used. A kernel built from source is
the contributor's own C, run on recipes that may not yet honour its preconditions, so each call
runs in a forked child: a fault kills the child, not the run (`ReferenceCrashed`).
"""

from __future__ import annotations

import ctypes
import faulthandler
import functools
import os
import pickle
import select
import signal
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from akcuda.plan.ctype import CTYPES, base_type
from akcuda.plan.errors import KernelFailure
from akcuda.toolchain import upstream
from akcuda.validation import reference_build

INSTALLED = "installed"
CALL_TIMEOUT = 60.0  # seconds a built-from-source call may take (a parity case takes milliseconds)
SOURCE = "source"


class _Error(ctypes.Structure):
    """awkward-cpp's `struct Error` (include/awkward/common.h)."""

    _fields_ = [
        ("str", ctypes.c_char_p),
        ("filename", ctypes.c_char_p),
        ("id", ctypes.c_int64),
        ("attempt", ctypes.c_int64),
    ]


@functools.cache
def cpu_functions() -> dict[str, object]:
    """Exported symbol -> ctypes function with awkward_cpp's own argtypes and restype."""
    from awkward_cpp._kernel_signatures import by_signature
    from awkward_cpp.cpu_kernels import lib

    return {func.__name__: func for func in by_signature(lib).values()}


def _argtype(ctype: str):
    name, stars = base_type(ctype)
    out = CTYPES[name]
    for _ in range(stars):
        out = ctypes.POINTER(out)
    return out


def _call(func, special: dict, values: list) -> KernelFailure | None:
    """Call a CPU kernel on NumPy values; pointer-of-pointer arguments are lists of arrays."""
    args, keep = [], []
    for value, argtype, arg in zip(values, func.argtypes, special["args"]):
        stars = base_type(arg["ctype"])[1]
        if stars == 2:
            table = np.array([a.ctypes.data for a in value], dtype=np.uint64)
            keep.append(table)
            args.append(ctypes.cast(table.ctypes.data, argtype))
        elif stars == 1:
            args.append(value.ctypes.data_as(argtype))
        else:
            args.append(value)
    result = func(*args)
    if not result.str:
        return None
    return KernelFailure(result.str.decode(), int(result.id), int(result.attempt))


class ReferenceCrashed(RuntimeError):
    """The C reference died on a case (a fault: inputs outside the kernel's preconditions)."""


def _arrays(values: list) -> list:
    return [v for v in values if isinstance(v, np.ndarray)] + [a for v in values if isinstance(v, list) for a in v]


def _isolated(func, special: dict, values: list) -> KernelFailure | None:
    """`_call` in a forked child that sends back the failure and every buffer's contents (the
    C writes its outputs in place); ReferenceCrashed if the child dies instead."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python warns that a multi-threaded process forks (the progress bar's thread); the
        # child only calls the C function, writes to the pipe and exits, taking no lock.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            os.close(read)
            faulthandler.disable()  # the fault is reported by the parent, in one line
            failure = _call(func, special, values)
            with os.fdopen(write, "wb") as pipe:
                pickle.dump((failure, [a.tobytes() for a in _arrays(values)]), pipe)
        finally:
            os._exit(0)
    os.close(write)
    data = _drain(read, pid)
    _, status = os.waitpid(pid, 0)
    if not data:
        how = (
            f"ran over {CALL_TIMEOUT:.0f} s"
            if data is None
            else f"crashed (signal {signal.Signals(os.WTERMSIG(status)).name})"
            if os.WIFSIGNALED(status)
            else f"crashed (exit status {os.waitstatus_to_exitcode(status)})"
        )
        raise ReferenceCrashed(f"the CPU kernel {how}: the inputs break its preconditions")
    failure, contents = pickle.loads(data)
    for array, content in zip(_arrays(values), contents):
        array.view(np.uint8)[:] = np.frombuffer(content, dtype=np.uint8)
    return failure


def _drain(read: int, pid: int) -> bytes | None:
    """All the child writes to the pipe; None, and the child killed, once it has run
    CALL_TIMEOUT seconds (a C loop that never ends on bad inputs)."""
    deadline, chunks = time.monotonic() + CALL_TIMEOUT, []
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = pipe.read(1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    os.kill(pid, signal.SIGKILL)
    return None


@dataclass(frozen=True)
class Reference:
    """Which CPU reference a kernel uses, and why; `call` runs one of its symbols."""

    kernel: str
    kind: str  # INSTALLED or SOURCE
    why: str
    library: Path | None = None
    functions: dict = field(default_factory=dict, compare=False, repr=False)

    def call(self, special: dict, values: list) -> KernelFailure | None:
        if self.kind == SOURCE:
            return _isolated(self.functions[special["symbol"]], special, values)
        return _call(cpu_functions()[special["symbol"]], special, values)

    def describe(self) -> dict:
        if self.kind == INSTALLED:
            return {"kind": self.kind, "why": self.why, "version": upstream.PINS[0].version}
        return {"kind": self.kind, "why": self.why, "library": str(self.library)}


def call(special: dict, values: list) -> KernelFailure | None:
    """Call the installed awkward_cpp kernel (what Awkward itself calls)."""
    return _call(cpu_functions()[special["symbol"]], special, values)


def _installed_version() -> str | None:
    try:
        return metadata.version("awkward-cpp")
    except metadata.PackageNotFoundError:
        return None


def why_from_source(spec: dict, sources: upstream.Sources) -> str | None:
    """Why the installed awkward_cpp cannot be this kernel's reference (None: it can)."""
    pin = upstream.PINS[0]
    if _installed_version() != pin.version:
        return f"the installed awkward_cpp is {_installed_version()}, not the pinned {pin.version}"
    built_from = upstream.pinned_cpp_dir() / spec["source"]
    if not built_from.is_file():
        return f"new kernel: awkward-cpp {pin.version} has no {spec['source']}"
    mine = upstream.sha256_of(sources.file(spec["source"]))
    theirs = upstream.sha256_of(built_from)
    if mine != theirs:
        return f"its C differs from awkward-cpp {pin.version}'s (sha256 {mine[:12]}, not {theirs[:12]})"
    missing = [s["symbol"] for s in spec["specializations"] if s["symbol"] not in cpu_functions()]
    if missing:
        return f"the installed awkward_cpp does not export {missing[0]}"
    return None


def for_kernel(spec: dict, sources: upstream.Sources | None = None) -> Reference:
    """The reference of one kernel: the installed awkward_cpp, or its C built from source."""
    sources = sources or upstream.active()
    why = why_from_source(spec, sources)
    if why is None:
        return Reference(spec["name"], INSTALLED, f"installed awkward_cpp {upstream.PINS[0].version}")
    source = sources.file(spec["source"])
    built = reference_build.build(spec, source, sources)
    lib = ctypes.CDLL(str(built.library))
    functions = {}
    for special in spec["specializations"]:
        func = getattr(lib, special["symbol"])
        func.argtypes = [_argtype(a["ctype"]) for a in special["args"]]
        func.restype = _Error
        functions[special["symbol"]] = func
    return Reference(spec["name"], SOURCE, f"built from {source} ({why})", built.library, functions)
