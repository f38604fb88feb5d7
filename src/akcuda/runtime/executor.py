"""Plan executor: runs one specialization's plan (launches, read-backs) over an array module.

The same code drives the `host` target (NumPy arrays, the g++ emulation library) and the `cuda`
target (CuPy arrays, RawModule kernels), so the host run tests the plan that runs on the GPU.
"""

from __future__ import annotations

import ctypes
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from akcuda.runtime import host
from akcuda import paths

NO_ERROR = np.iinfo(np.int64).max
DTYPES = {
    "bool": np.bool_, "int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16,
    "uint16_t": np.uint16, "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64,
    "uint64_t": np.uint64, "float": np.float32, "double": np.float64,
}
CTYPES = {
    "bool": ctypes.c_bool, "int8_t": ctypes.c_int8, "uint8_t": ctypes.c_uint8,
    "int16_t": ctypes.c_int16, "uint16_t": ctypes.c_uint16, "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64,
    "float": ctypes.c_float, "double": ctypes.c_double,
}


def base_type(ctype: str) -> tuple[str, int]:
    """'const int32_t*' -> ('int32_t', 1)."""
    bare = ctype.replace("const ", "").strip()
    return bare.rstrip("*").strip(), bare.count("*")


@dataclass(frozen=True)
class KernelFailure:
    """A kernel's failure(message, identity, attempt)."""

    message: str
    identity: int
    attempt: int
    line: int | None = None


COMPARISONS = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__,
               "==": int.__eq__, "!=": int.__ne__}


def evaluate(expr: list, scalars: dict[str, Any], arrays: dict[str, Any] | None = None) -> int:
    """Evaluate a plan's integer expression with C semantics (division truncates toward zero);
    ["memory", name] reads the first element of an array argument (one read-back)."""
    op = expr[0]
    if op == "arg":
        return int(scalars[expr[1]])
    if op == "memory":
        return int(arrays[expr[1]][0])
    if op == "int":
        return expr[1]
    if op == "neg":
        return -evaluate(expr[1], scalars, arrays)
    if op == "!":
        return int(not evaluate(expr[1], scalars, arrays))
    if op == "?:":
        return evaluate(expr[2] if evaluate(expr[1], scalars, arrays) else expr[3], scalars, arrays)
    if op in ("&&", "||"):
        first = evaluate(expr[1], scalars, arrays)
        return int(bool(first) and bool(evaluate(expr[2], scalars, arrays))) if op == "&&" else \
            int(bool(first) or bool(evaluate(expr[2], scalars, arrays)))
    a, b = evaluate(expr[1], scalars, arrays), evaluate(expr[2], scalars, arrays)
    if op in COMPARISONS:
        return int(COMPARISONS[op](a, b))
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    return quotient if op == "/" else a - b * quotient


def load_plan(kernel: str, generated: Path | None = None) -> dict:
    return json.loads(((generated or paths.GENERATED) / f"{kernel}.plan.json").read_text())


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
        self.extra = host.SANITIZE_FLAGS if sanitize else ()
        self.out_dir = paths.HOSTLIB / ("asan" if sanitize else "plain")
        self._libs: dict[str, ctypes.CDLL] = {}

    def library(self, kernel: str) -> ctypes.CDLL:
        if kernel not in self._libs:
            built = host.build(self.generated / f"{kernel}.cu", self.out_dir, self.extra)
            if not built.ok:
                raise RuntimeError(f"host build of {kernel} failed:\n{built.log}")
            self._libs[kernel] = host.load(built.library)
        return self._libs[kernel]

    def pointer_table(self, arrays: list[np.ndarray]) -> np.ndarray:
        return np.array([a.ctypes.data for a in arrays], dtype=np.uint64)

    def launch(self, kernel: str, step: dict, grid: int, block: int, values: list, ctypes_: list[str]) -> None:
        holders = []
        for value, ctype in zip(values, ctypes_):
            _, stars = base_type(ctype)
            if stars:
                holders.append(ctypes.c_void_p(value.ctypes.data))
            else:
                holders.append(CTYPES[base_type(ctype)[0]](value))
        argv = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
        library = self.library(kernel)
        entry = getattr(library, step["host"])
        entry.restype = None
        entry(ctypes.c_int64(grid), ctypes.c_int64(block), ctypes.c_uint64(self.seed), argv)
        report = np.zeros(4, dtype=np.int64)
        library.akc_race_report(ctypes.c_void_p(report.ctypes.data))
        if report[0]:
            raise RaceDetected(
                f"race in {step['expression']}: threads {report[2]} and {report[3]} both wrote "
                f"{_locate(int(report[1]), values)} ({report[0]} racing store(s))")

    def to_host(self, array) -> np.ndarray:
        return array

    def to_device(self, array: np.ndarray):
        return array


def prebuilt_cubin(compiled: Path, kernel: str, arch: str, source: str) -> tuple[Path, dict[str, str]] | None:
    """(cubin, lowered names) built by `akcuda compile` for `arch` from exactly `source`, if any."""
    import hashlib

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
        import cupy

        self.xp = cupy
        self.generated = generated or paths.GENERATED
        self.compiled = compiled or paths.COMPILED
        major, minor = cupy.cuda.Device().compute_capability[:-1], cupy.cuda.Device().compute_capability[-1]
        self.arch = f"sm_{major}{minor}"
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
                plan = load_plan(kernel, self.generated)
                module = self.xp.RawModule(code=source, options=("-std=c++17", "--fmad=false"),
                                           name_expressions=plan["name_expressions"])
                self._modules[kernel] = (module, None)
        return self._modules[kernel]

    def pointer_table(self, arrays: list) -> Any:
        return self.xp.array([a.data.ptr for a in arrays], dtype=self.xp.uint64)

    def launch(self, kernel: str, step: dict, grid: int, block: int, values: list, ctypes_: list[str]) -> None:
        args = []
        for value, ctype in zip(values, ctypes_):
            name, stars = base_type(ctype)
            args.append(value if stars else DTYPES[name](value))
        module, lowered = self.module(kernel)
        name = lowered[step["expression"]] if lowered else step["expression"]
        module.get_function(name)((grid,), (block,), tuple(args))

    def to_host(self, array) -> np.ndarray:
        return self.xp.asnumpy(array)

    def to_device(self, array: np.ndarray):
        return self.xp.asarray(array)


INITIAL_ERROR = [NO_ERROR, -1, -1, 0, 0, 0, NO_ERROR]  # no failure; [6]: first failing iteration
PLAN_CTYPES = ["int64_t*", "int64_t*", "int64_t*", "int64_t", "int64_t"]  # err, locals, scan, n, report


def _as_nominal(target, scan, speculated: list[int], n: int, err) -> bool:
    """Did every iteration before the first failing one advance each speculated counter by
    exactly its nominal share (so the positions count and fill started from were the C's)?"""
    first = min(n, int(target.to_host(err)[6]))
    view = scan.reshape(-1, n + 1)
    return all(bool(target.xp.all(view[c, 1:first + 1] - view[c, :first] == view[c + 1, :first]))
               for c in speculated)


def combine(xp, scan, counters: list[dict], n: int, only: list[int] | None = None) -> list[tuple[str, Any, Any]]:
    """Per counter (or the `only` ones), in place: a sum counter's (or a speculated counter's
    nominal) advances at [c, 0:n] become starting values at [c, 0:n+1] (exclusive scan, total
    last); a max/min counter's values reduce into [c, n]; a last-value counter's flag row (the
    next) gets the last assigning iteration (or -1) at n and the counter's row that iteration's
    value; a keyed counter's advances are scanned within each key (its key row is the next).
    Returns (array, keys, totals) per keyed counter."""
    view = scan.reshape(len(counters), n + 1)
    keyed = []
    for c, counter in enumerate(counters):
        op = counter.get("op", "sum")
        if only is not None and c not in only or op == "speculated" and only is None:
            continue
        if op in ("sum", "speculated") and counter.get("kind") != "keyed":
            view[c, 1:] = xp.cumsum(view[c, :n])
            view[c, 0] = 0
        elif op in ("max", "min"):
            view[c, n] = view[c, :n].max() if op == "max" else view[c, :n].min()
        elif op == "seen":
            last = view[c, :n].max()
            view[c, n] = last
            view[c - 1, n] = view[c - 1][xp.maximum(last, 0)]
        elif op == "key":
            keys, totals = _scan_by_key(xp, view[c - 1], view[c, :n], n)
            keyed.append((counters[c - 1]["place"].split("[")[0], keys, totals))
    return keyed


def _scan_by_key(xp, advances, keys, n: int):
    """Exclusive scan of advances[:n] within each key, in place, in iteration order; returns the
    distinct keys and each one's total."""
    order = xp.lexsort(xp.stack([xp.arange(n), keys]))
    sorted_keys, steps = keys[order], advances[:n][order]
    inclusive = xp.cumsum(steps)
    first = xp.ones(n, dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    before = (inclusive - steps)[first]  # what the keys before this one added up to
    advances[order] = inclusive - steps - before[xp.cumsum(first) - 1]
    last = xp.ones(n, dtype=bool)
    last[:-1] = first[1:]
    return sorted_keys[last], inclusive[last] - before


def _disjoint(target, step: dict, special: dict, values: list, scalars: dict, n: int) -> bool:
    """Are the rows' ranges [A[i], B[i]) (or [A[i], A[i] + C[i])) that the step's parallel form
    relies on ordered, and where it says so non-overlapping or no longer than a bound? (One
    read-back; the C reads exactly these elements.)"""
    if not step.get("segments"):
        return True
    first = evaluate(step["first"], scalars)
    names = [a["name"] for a in special["args"]]

    def rows(array: str, shift: int):
        return values[names.index(array)][first + shift:first + shift + n]

    for segment in step["segments"]:
        starts = rows(*segment["starts"])
        stops = rows(*segment["stops"]) if "stops" in segment else starts + rows(*segment["counts"])
        if not bool(target.xp.all(starts <= stops)) or (
                segment.get("disjoint", True) and not bool(target.xp.all(stops[:-1] <= starts[1:]))):
            return False
        if "longest" in segment and not bool(target.xp.all(stops - starts <= evaluate(segment["longest"], scalars))):
            return False
    return True


def run(plan: dict, special: dict, values: list, target, block: int = 256) -> KernelFailure | None:
    """Run one specialization's plan on device values (arrays already on the target)."""
    kernel, symbol = plan["kernel"], special["symbol"]
    entry = plan["specializations"][symbol]
    shape = plan["entries"][entry["target"]]
    ctypes_ = [a["ctype"] for a in special["args"]] + PLAN_CTYPES
    scalars = {a["name"]: v for a, v in zip(special["args"], values) if base_type(a["ctype"])[1] == 0}
    err = target.to_device(np.array(INITIAL_ERROR, dtype=np.int64))
    spill = target.to_device(np.zeros(max(1, len(shape["locals"])), dtype=np.int64))
    empty = target.to_device(np.zeros(1, dtype=np.int64))
    counts = {}
    names = [a["name"] for a in special["args"]]

    def launch(k: int, role: str, grid: int, threads: int, n: int, report: int, scan=empty) -> None:
        target.launch(kernel, entry["steps"][k][role], grid, threads,
                      [*values, err, spill, scan, n, report], ctypes_)

    for k, step in enumerate(shape["steps"]):
        if step.get("guard") is not None and not evaluate(step["guard"], scalars):
            continue
        if step["kind"] == "serial":
            launch(k, "main", 1, 1, 1, 0)
            continue
        n = counts[k] = evaluate(step["count"], scalars)
        if n <= 0:
            continue
        requires = step.get("requires")
        if (requires is not None and not evaluate(requires, scalars, dict(zip(names, values)))) or \
                not _disjoint(target, step, special, values, scalars, n):
            launch(k, "serial", 1, 1, 1, 0)  # the parallel form may not hold: keep the C order
            continue
        grid = math.ceil(n / block)
        if step["kind"] == "parallel":
            if step.get("checked"):  # finds the first failing iteration; main stops there
                launch(k, "check", grid, block, n, -1)
            launch(k, "main", grid, block, n, -1)
            continue
        scan = target.to_device(np.zeros(len(step["counters"]) * (n + 1), dtype=np.int64))
        speculated = [c for c, counter in enumerate(step["counters"]) if counter["op"] == "speculated"]
        if speculated:  # starting positions from the nominal shares, before count reads there
            launch(k, "nominal", grid, block, n, -1, scan)
            combine(target.xp, scan, step["counters"], n, speculated)
        launch(k, "count", grid, block, n, -1, scan)
        if speculated and not _as_nominal(target, scan, speculated, n, err):
            err[:] = target.to_device(np.array(INITIAL_ERROR, dtype=np.int64))
            launch(k, "serial", 1, 1, 1, 0)  # an iteration consumed other than its share: C order
            continue
        keyed = [(values[names.index(array)], keys, totals)
                 for array, keys, totals in combine(target.xp, scan, step["counters"], n)]
        if any(len(keys) and not (0 <= int(keys.min()) and int(keys.max()) < len(array))
               for array, keys, _ in keyed):
            launch(k, "serial", 1, 1, 1, 0)  # a key outside its array: the C order, as it is
            continue
        if "fill" in entry["steps"][k]:
            launch(k, "fill", grid, block, n, -1, scan)
        launch(k, "finish", 1, 1, n, -1, scan)
        if keyed and target.to_host(err)[0] == NO_ERROR:  # each key's count moves on by its total
            for array, keys, totals in keyed:
                array[keys] = (array[keys].astype(np.int64) + totals).astype(array.dtype)
    record = target.to_host(err)
    if record[0] == NO_ERROR:
        return None
    if record[2] < 0:  # a parallel step failed: re-run its first failing iteration to report it
        failed = int(record[1])
        launch(failed, "main", 1, 1, counts[failed], int(record[0]))
        record = target.to_host(err)
    return KernelFailure(plan["messages"][int(record[2])], int(record[3]), int(record[4]), int(record[5]))
