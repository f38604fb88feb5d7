"""The `cuda` target: generated kernels on an NVIDIA GPU through CuPy's RawModule.

A kernel family's binary is chosen once per process: a cubin `akcuda compile` built for the
same major architecture and a minor no newer than the device's (an sm_80 cubin runs on sm_86),
else the PTX built for the newest architecture not newer than the device (the driver compiles
it), else NVRTC through CuPy, whose on-disk cache is keyed by the source, the options, the
architecture and the CUDA version: everything that affects the binary. A specialization's
function handles and argument conversions are resolved once (`bind`); the stream buffers are
per thread and stream (`akcuda.runtime.buffers`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from akcuda import plan as plans
from akcuda import store
from akcuda.plan.ctype import DTYPES, base_type, c_value
from akcuda.plan.model import Plan, Role
from akcuda.runtime.counting import Event, note

OPTIONS = ("-std=c++17", "--fmad=false")


def _record(compiled: Path, kernel: str, arch: str, source: str) -> dict | None:
    meta = compiled / arch / f"{kernel}.lowered.json"
    if not meta.exists():
        return None
    record = json.loads(meta.read_text())
    return record if record.get("source_sha256") == hashlib.sha256(source.encode()).hexdigest() else None


def prebuilt_cubin(compiled: Path, kernel: str, arch: str, source: str) -> tuple[Path, dict[str, str]] | None:
    """(cubin, lowered names) built by `akcuda compile` for `arch` from exactly `source`, if any."""
    cubin = compiled / arch / f"{kernel}.cubin"
    record = _record(compiled, kernel, arch, source)
    return (cubin, record["lowered"]) if record is not None and cubin.exists() else None


def _arch_number(arch: str) -> int:
    return int(arch.removeprefix("sm_"))


def binaries(compiled: Path, kernel: str, capability: int, source: str) -> list[tuple[str, Path, dict[str, str]]]:
    """The prebuilt binaries a device of `capability` (86 for sm_86) can load, best first:
    ("cubin", path, lowered) for the same major and a minor no newer, then ("ptx", ...) for
    the newest architecture not newer than the device."""
    built = sorted(
        (_arch_number(d.name), d.name) for d in (compiled.glob("sm_*") if compiled.exists() else []) if d.is_dir()
    )
    usable = [(number, arch) for number, arch in built if number <= capability]
    out = []
    for number, arch in reversed(usable):
        found = prebuilt_cubin(compiled, kernel, arch, source)
        if found is not None and number // 10 == capability // 10:
            out.append(("cubin", *found))
    for _, arch in reversed(usable):
        record, ptx = _record(compiled, kernel, arch, source), compiled / arch / f"{kernel}.ptx"
        if record is not None and ptx.exists():
            out.append(("ptx", ptx, record["lowered"]))
            break
    return out


class CudaTarget:
    """Runs generated kernels on an NVIDIA GPU through CuPy's RawModule."""

    name = "cuda"

    def __init__(self, generated: Path | None = None, compiled: Path | None = None):
        import cupy  # only a GPU machine has it

        self.xp = cupy
        self.generated = generated or store.current().generated
        self.compiled = compiled or store.current().compiled
        self.capability = int(cupy.cuda.Device().compute_capability)
        self.arch = f"sm_{self.capability}"
        self.local = threading.local()
        self.loaded: dict[str, str] = {}  # kernel family -> how its binary came ("cubin sm_80", "ptx", "nvrtc")
        self._modules: dict[str, tuple[Any, dict[str, str] | None]] = {}
        self._frames: dict[str, dict | None] = {}  # kernel family -> ptxas's stack frames, if known
        self.stack_limit = DEFAULT_STACK  # the device's stack per thread, raised as launches need
        self._bound: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def stream(self) -> int:
        return self.xp.cuda.get_current_stream().ptr

    def module(self, kernel: str) -> tuple[Any, dict[str, str] | None]:
        """The kernel family's module and, when it came prebuilt, its lowered names."""
        with self._lock:
            if kernel not in self._modules:
                self._modules[kernel] = self._load(kernel)
            return self._modules[kernel]

    def _load(self, kernel: str) -> tuple[Any, dict[str, str] | None]:
        source = (self.generated / f"{kernel}.cu").read_text()
        for kind, path, lowered in binaries(self.compiled, kernel, self.capability, source):
            try:
                module = self.xp.RawModule(path=str(path))
                module.get_function(next(iter(lowered.values())))  # loads it: a driver too old fails here
            except Exception:  # noqa: BLE001 - a binary this driver cannot load: try the next one
                continue
            self.loaded[kernel] = f"{kind} {path.parent.name}"
            self._frames[kernel] = (_record(self.compiled, kernel, path.parent.name, source) or {}).get("frames")
            return module, lowered
        plan = plans.load(self.generated / f"{kernel}.plan.json")
        module = self.xp.RawModule(code=source, options=OPTIONS, name_expressions=plan.name_expressions)
        self.loaded[kernel] = "nvrtc"
        return module, None

    def pointer_table(self, arrays: list) -> Any:
        return self.xp.array([a.data.ptr for a in arrays], dtype=self.xp.uint64)

    def bind(self, plan: Plan, symbol: str, ctypes_: tuple[str, ...]) -> tuple[dict[Role, Callable], ...]:
        """Per step and role of one specialization, a launcher with its function handle and
        argument conversions resolved once."""
        found = self._bound.get(symbol)
        if found is None:
            module, lowered = self.module(plan.kernel)
            converters = [None if base_type(ctype)[1] else scalar_converter(base_type(ctype)[0]) for ctype in ctypes_]
            name = (lambda launch: lowered[launch.expression]) if lowered else (lambda launch: launch.expression)
            frames, depth_at = self._frames.get(plan.kernel), recursion_depth_argument(symbol)

            def launcher(launch):
                function = name(launch)
                needs = functools.partial(stack_bytes, frames, function)
                return _launcher(module.get_function(function), converters, self, needs, depth_at)

            found = tuple(
                {role: launcher(launch) for role, launch in roles.items()}
                for roles in plan.specializations[symbol].launches
            )
            with self._lock:
                self._bound.setdefault(symbol, found)
        return found

    def ensure_stack(self, needed: int) -> None:
        """Raise the device's stack per thread to `needed` bytes (never lowers it)."""
        if needed > self.stack_limit:
            with self._lock:
                runtime = self.xp.cuda.runtime
                runtime.deviceSetLimit(runtime.cudaLimitStackSize, needed)
                self.stack_limit = max(self.stack_limit, needed)

    def to_host(self, array):
        return self.xp.asnumpy(array)

    def address(self, array) -> int:
        return array.data.ptr

    @staticmethod
    def adopt(array):
        return array

    def to_device(self, array):
        note(Event.H2D)
        return self.xp.asarray(array)


PAD_BYTES = 16  # one element of the widest type (complex128)


class PaddedAllocations:
    """While installed, every CuPy allocation holds PAD_BYTES more than it asks for: a C kernel
    may read one element past an array (awkward_unique_ranges at an empty last row), which on
    the CPU lands in mapped memory and on a GPU may not. (Arrays made before stay as they were;
    an empty array's null pointer is the executor's concern: `buffers.PAD_WORDS`.)"""

    def __init__(self):
        import cupy

        self.cuda = cupy.cuda
        self.original = original = cupy.cuda.get_allocator()
        self.cuda.set_allocator(lambda size: original(size + PAD_BYTES))

    def undo(self) -> None:
        self.cuda.set_allocator(self.original)


def scalar_converter(name: str) -> Callable[[Any], Any]:
    """A scalar launch argument of C type `name`: the value the C parameter receives (modulo
    2^bits; NumPy 2's `np.int32(2**31)` would raise instead), in the parameter's NumPy type."""
    dtype = DTYPES[name]
    return lambda value: dtype(c_value(name, value))


DEFAULT_STACK = 1024  # CUDA's stack per thread until a launch needs more
STACK_MARGIN = 256  # beyond the frames ptxas reports (the driver's own use, a PTX built for an older arch)
UNKNOWN_FRAME = 1024  # per level, where no compile record reports the frames (NVRTC at run time)


def recursion_depth_argument(symbol: str) -> int | None:
    """The position of the scalar argument that bounds the kernel's recursion depth (the spec's
    `recursion: {depth: NAME}`, as the store has it: an installed akcuda reads no YAML), or None
    for a kernel that does not recurse."""
    found = store.current().specialization(symbol)
    depth = None if found is None else (found[0].get("recursion") or {}).get("depth")
    return None if depth is None else [a["name"] for a in found[1]["args"]].index(depth)


def stack_bytes(frames: dict | None, function: str, depth: int) -> int:
    """Stack per thread a launch of `function` needs: its own frame and `depth` + 1 levels of the
    largest frame it calls (a recursive helper's, one per level), from ptxas's report, plus a
    margin. `frames` is the compile record's {"entries": {name: bytes}, "calls": bytes}."""
    if not frames:
        return (depth + 2) * UNKNOWN_FRAME
    entry = frames["entries"].get(function, max(frames["entries"].values(), default=0))
    return entry + (depth + 1) * frames["calls"] + STACK_MARGIN


def _launcher(function, converters: list, target=None, needs=None, depth_at=None) -> Callable[[int, int, list], None]:
    fixed = needs(0) if needs is not None and depth_at is None else None
    if fixed is not None and target is not None:
        target.ensure_stack(fixed)  # once: the launch does not recurse

    def run(grid: int, block: int, values: list) -> None:
        note(Event.LAUNCH)
        if depth_at is not None:
            target.ensure_stack(needs(max(int(values[depth_at]), 0)))
        function((grid,), (block,), tuple(v if c is None else c(v) for c, v in zip(converters, values)))

    return run
