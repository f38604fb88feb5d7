"""The bench's kernel-level figures, the same code on every target (host at small sizes in the
CPU smoke run, cuda from 10^3 to 10^8 elements on a GPU):

- `sweep`: a few kernels over sizes, each size's ideal bytes (every input element read once,
  every output element written once), GB/s and the fraction of a measured copy bandwidth,
  akcuda beside Awkward's own kernel for the same key (its cuda kernel on a GPU; on the host its
  CPU kernel, awkward-cpp) and awkward-cpp on the CPU;
- `overhead`: host wall time per call over at least 200 calls on a tiny input, both error modes;
- `first_call`: the first call in a fresh process, with the prebuilt binaries and without
  (a build from source: NVRTC on cuda, g++ on the host);
- allocations and bytes allocated per call (`timing.allocations`).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from akcuda.plan.ctype import DTYPES, base_type, c_value
from akcuda.runtime import executor, make_target
from akcuda.runtime.cuda import CudaTarget
from akcuda.runtime.executor import Mode
from akcuda.runtime.host import HostTarget
from akcuda.toolchain import specs
from akcuda.validation import reference, timing
from akcuda.validation.cases.generated import build_case

# A parallel step, a count-scan-fill step (its first step folded into count) and a checked
# parallel step (a check launch, then main).
SWEEP_SYMBOLS = (
    "awkward_ListOffsetArray64_flatten_offsets_64",
    "awkward_ListArray64_compact_offsets_64",
    "awkward_IndexedArray64_simplify64_to64",
)
OVERHEAD_SYMBOL = "awkward_ListArray64_compact_offsets_64"
GPU_SIZES = tuple(10**k for k in range(3, 9))
SMOKE_SIZES = (10**3, 10**4)


@functools.cache
def _spec_of(symbol: str) -> tuple[dict, dict]:
    for spec, special in specs.specializations(specs.load_all()):
        if special["symbol"] == symbol:
            return spec, special
    raise KeyError(symbol)


def inputs(symbol: str, n: int) -> tuple[dict, list]:
    """The specialization and NumPy values for its `generate` recipe at size n (no guard bands)."""
    spec, special = _spec_of(symbol)
    where = f"kernel-specs/{spec['name']}.yml: generate"
    case = build_case(spec, special, spec["generate"], n, "generate", "generated", where, lists=False)
    values = []
    for arg in special["args"]:
        name, stars = base_type(arg["ctype"])
        value = case.args[arg["name"]]
        if stars:
            length = value["out"] if isinstance(value, dict) else None
            values.append(np.zeros(length, DTYPES[name]) if length is not None else np.asarray(value, DTYPES[name]))
        else:
            values.append(c_value(name, value))
    return special, values


def ideal_bytes(special: dict, values: list) -> int:
    """What the kernel must move at least: each input array read once, each output written once
    (an in-out array both)."""
    total = 0
    for arg, value in zip(special["args"], values):
        if isinstance(value, np.ndarray):
            total += value.nbytes * (2 if arg["dir"] == "inout" else 1)
    return total


def _device(target, values: list) -> list:
    return [target.to_device(v) if isinstance(v, np.ndarray) else v for v in values]


@functools.cache
def _awkward_key(symbol: str) -> tuple:
    """Awkward's kernel key for an exported symbol (its name and dtypes)."""
    import awkward_cpp.cpu_kernels

    for key, func in awkward_cpp.cpu_kernels.kernel.items():
        if func.__name__ == symbol:
            return key
    raise KeyError(symbol)


def awkward_kernel(target: str, symbol: str):
    """Awkward's own kernel for the symbol on the target's backend: its cuda kernel on cuda (an
    error check at Awkward's synchronize point), its CPU kernel (awkward-cpp) elsewhere."""
    if target == "cuda":
        from awkward._backends.cupy import CupyBackend

        return CupyBackend.instance()[_awkward_key(symbol)]
    from awkward._backends.numpy import NumpyBackend

    return NumpyBackend.instance()[_awkward_key(symbol)]


def _synchronize(target_name: str, target) -> None:
    """Wait for the device and check the deferred records (akcuda's and Awkward's)."""
    found = executor.synchronize(target)
    if found is not None:
        raise RuntimeError(f"bench input failed: {found[0]}")
    if target_name == "cuda":
        import awkward._connect.cuda as ak_cuda

        ak_cuda.synchronize_cuda()


def copy_bandwidth(target_name: str, target, nbytes: int, repeats: int) -> float:
    """Bytes per second of a device-to-device copy of `nbytes` (read and write both counted, as
    the kernels' ideal bytes are)."""
    xp = target.xp
    source = xp.ones(nbytes // 8, dtype=np.int64)
    destination = xp.empty_like(source)
    spread = timing.repeat(lambda: xp.copyto(destination, source), repeats, timing.clock(target_name))
    return 2 * source.nbytes / spread.median


def sweep(target_name: str, sizes: tuple[int, ...], repeats: int, bandwidth: float) -> list[dict]:
    """Each sweep kernel at each size: akcuda, Awkward's own kernel on the target's backend, and
    awkward-cpp on the CPU; times, GB/s, the fraction of the copy bandwidth, allocations."""
    target = make_target(target_name)
    rows = []
    for symbol in SWEEP_SYMBOLS:
        plan = executor.load_plan(_spec_of(symbol)[0]["name"])
        rows += [_sweep_one(target_name, target, plan, symbol, n, repeats, bandwidth) for n in sizes]
    return rows


def _sweep_one(target_name: str, target, plan, symbol: str, n: int, repeats: int, bandwidth: float) -> dict:
    special, values = inputs(symbol, n)
    moved = ideal_bytes(special, values)
    device = _device(target, values)
    timer = timing.clock(target_name)
    row = {"symbol": symbol, "n": n, "ideal_bytes": moved}
    runs = {
        "akcuda": lambda: executor.run(plan, special, device, target, mode=Mode.DEFERRED),
        "awkward": lambda: awkward_kernel(target_name, symbol)(*device),
    }
    for name, work in runs.items():
        try:
            spread = timing.repeat(work, repeats, timer, after=lambda: _synchronize(target_name, target))
        except Exception as exc:  # noqa: BLE001 - Awkward's own kernel may not exist here (cuda.compute)
            if name == "akcuda":
                raise
            row[name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
            continue
        row[name] = _rate(spread, moved, bandwidth)
    with timing.allocations(target_name) as made:
        runs["akcuda"]()
    _synchronize(target_name, target)
    row["akcuda"]["allocations"], row["akcuda"]["bytes_allocated"] = made.count, made.nbytes
    if target_name == "cuda":  # on the host, Awkward's own kernel is the CPU's already
        cpu = timing.repeat(lambda: reference.call(special, values), repeats, timing.HostClock())
        row["cpu"] = _rate(cpu, moved)
    return row


def _rate(spread: timing.Spread, moved: int, bandwidth: float | None = None) -> dict:
    out = spread.as_dict()
    out["gb_s"] = round(moved / spread.median / 1e9, 3)
    if bandwidth:
        out["of_copy"] = round(moved / spread.median / bandwidth, 4)
    return out


def overhead(target_name: str, calls: int = 200) -> dict:
    """Host wall time per call on a tiny input (n = 4) over `calls` calls, akcuda in both error
    modes and Awkward's own kernel; allocations per call after the first."""
    target = make_target(target_name)
    spec, _ = _spec_of(OVERHEAD_SYMBOL)
    plan = executor.load_plan(spec["name"])
    special, values = inputs(OVERHEAD_SYMBOL, 4)
    device = _device(target, values)
    out = {"symbol": OVERHEAD_SYMBOL, "n": 4, "calls": calls}
    runs = {
        "akcuda_immediate": lambda: executor.run(plan, special, device, target, mode=Mode.IMMEDIATE),
        "akcuda_deferred": lambda: executor.run(plan, special, device, target, mode=Mode.DEFERRED),
        "awkward": lambda: awkward_kernel(target_name, OVERHEAD_SYMBOL)(*device),
    }
    for name, work in runs.items():
        try:
            out[name] = timing.repeat(work, calls, timing.HostClock()).as_dict()
        except Exception as exc:  # noqa: BLE001 - Awkward's own kernel may not exist here (cuda.compute)
            if not name.startswith("awkward"):
                raise
            out[name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
            continue
        _synchronize(target_name, target)
        with timing.allocations(target_name) as made:
            work()
        _synchronize(target_name, target)
        out[name]["allocations"], out[name]["bytes_allocated"] = made.count, made.nbytes
    return out


def first_call(target_name: str, prebuilt: bool, symbol: str = OVERHEAD_SYMBOL) -> dict:
    """The first call in a fresh Python process: import, load (prebuilt binaries, or a build from
    source into an empty folder: NVRTC on cuda, g++ on the host) and one call, in seconds."""
    with tempfile.TemporaryDirectory() as fresh:
        env = dict(os.environ, CUPY_CACHE_DIR=str(Path(fresh) / "cupy"))
        code = (
            "import time; start = time.perf_counter(); from akcuda.validation import sweeps; "
            f"sweeps.first_call_child({target_name!r}, {symbol!r}, {None if prebuilt else fresh!r}, start)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"prebuilt": prebuilt, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"prebuilt": prebuilt, **json.loads(done.stdout.strip().splitlines()[-1])}


def first_call_child(target_name: str, symbol: str, fresh: str | None, start: float) -> None:
    """In the fresh process (started at `start`, before akcuda's import): time the import, the
    target's load of the kernel and one call (`fresh`: an empty folder to build into instead of
    the prebuilt binaries)."""
    imported = time.perf_counter()
    if target_name == "cuda":
        target = CudaTarget(compiled=Path(fresh)) if fresh else CudaTarget()
    else:
        target = HostTarget()
        if fresh:
            target.out_dir = Path(fresh)
    spec, _ = _spec_of(symbol)
    plan = executor.load_plan(spec["name"])
    special, values = inputs(symbol, 4)
    device = _device(target, values)
    before_call = time.perf_counter()
    executor.run(plan, special, device, target, mode=Mode.IMMEDIATE)
    done = time.perf_counter()
    figures = {
        "import_s": round(imported - start, 4),
        "setup_s": round(before_call - imported, 4),
        "first_call_s": round(done - before_call, 4),
        "total_s": round(done - start, 4),
        "binary": getattr(target, "loaded", {}).get(plan.kernel, "host library (g++)"),
    }
    print(json.dumps(figures))
