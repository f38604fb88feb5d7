"""NVRTC compile stage: build/generated/<kernel>.cu -> build/compiled/<arch>/<kernel>.{cubin,ptx,lowered.json}.

No GPU needed. One NVRTC compile per (kernel, arch) yields both the CUBIN and its PTX.
A compile fails on any NVRTC error *or* any text in the log: zero warnings is a requirement.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from cuda.bindings import nvrtc

from akcuda import paths
from akcuda import plan as plans
from akcuda.toolchain import specs

ARCHS = ("sm_80", "sm_90")
# NVRTC has no -Wall/-Werror: front-end warnings (#177 unused, #550 set-but-unused, #940 missing return,
# #2361 narrowing, #1105 #warning, ...) are on by default and land in the program log. Register
# spills (the recursive combinations helper needs a stack) are a performance fact, not a warning.
# --fmad=false: a fused multiply-add rounds once where the C rounds twice; parity is bit-exact.
# -Xptxas -v: ptxas reports every function's stack frame (the runtime sizes the CUDA stack for
# recursive helpers from it); those info lines are not warnings.
OPTIONS = ("-std=c++17", "-default-device", "--display-error-number", "--fmad=false", "-Xptxas", "-v")
_WARNING_LINE = re.compile(r"^(?:\S.*?: warning|ptxas warning)\b", re.M)
_PTXAS_INFO = re.compile(r"^ptxas(?: info\s*:|\s+\.).*$\n?", re.M)
_FRAME = re.compile(r"Function properties for (\S+)\s*\nptxas\s+\.\s+(\d+) bytes stack frame")
_ENTRY = re.compile(r"Compiling entry function '(\S+)'")


def stack_frames(log: str) -> dict:
    """From ptxas's -v report: each entry function's stack frame ("entries", by lowered name) and
    the largest frame of a function they call ("calls": a recursive helper's frame per level).

    ptxas info    : Compiling entry function '_Z3k' for 'sm_90'
    ptxas info    : Function properties for _Z3k
    ptxas         .     312 bytes stack frame, ...          -> {"entries": {"_Z3k": 312}, ...}
    """
    entries = set(_ENTRY.findall(log))
    frames = {name: int(size) for name, size in _FRAME.findall(log)}
    called = [size for name, size in frames.items() if name not in entries]
    return {"entries": {n: b for n, b in frames.items() if n in entries}, "calls": max(called, default=0)}


@dataclass
class CompileResult:
    """Outcome of compiling one kernel family for one architecture."""

    kernel: str
    arch: str
    ok: bool
    seconds: float
    log: str = ""
    cubin: Path | None = None
    ptx: Path | None = None
    lowered: dict[str, str] = field(default_factory=dict)
    cached: bool = False


def nvrtc_version() -> str:
    _, major, minor = nvrtc.nvrtcVersion()
    return f"{major}.{minor}"


def options(arch: str) -> list[str]:
    return [f"--gpu-architecture={arch}", *OPTIONS]


def _check(result: tuple, what: str):
    """Unpack a cuda-bindings (err, value?) tuple, raising on any NVRTC error."""
    if result[0] != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise RuntimeError(f"{what}: {result[0].name}")
    return result[1] if len(result) > 1 else None


def _get(prog, what: str) -> bytes:
    """nvrtcGet<what>Size + nvrtcGet<what> (what: ProgramLog, CUBIN, PTX), trailing NULs dropped."""
    buf = b" " * _check(getattr(nvrtc, f"nvrtcGet{what}Size")(prog), f"nvrtcGet{what}Size")
    _check(getattr(nvrtc, f"nvrtcGet{what}")(prog, buf), f"nvrtcGet{what}")
    return buf.rstrip(b"\0") if what != "CUBIN" else buf


def compile_source(
    source: str, name: str, name_expressions: list[str], arch: str
) -> tuple[bytes | None, bytes | None, dict[str, str], str, dict]:
    """Compile with NVRTC; return (cubin, ptx, lowered names, log, stack frames). Errors go to the
    log, never raised."""
    prog, log = None, ""
    try:
        prog = _check(nvrtc.nvrtcCreateProgram(source.encode(), f"{name}.cu".encode(), 0, [], []), "create")
        for expr in name_expressions:
            _check(nvrtc.nvrtcAddNameExpression(prog, expr.encode()), f"nvrtcAddNameExpression({expr!r})")
        opts = [o.encode() for o in options(arch)]
        (res,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        report = _get(prog, "ProgramLog").decode(errors="replace")
        log = _PTXAS_INFO.sub("", report).strip()  # what is left: errors and warnings
        if res != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            return None, None, {}, log or f"nvrtcCompileProgram: {res.name}", {}
        lowered = {
            e: _check(nvrtc.nvrtcGetLoweredName(prog, e.encode()), f"nvrtcGetLoweredName({e!r})").rstrip(b"\0").decode()
            for e in name_expressions
        }
        # PTX comes free with an sm_XX target
        return _get(prog, "CUBIN"), _get(prog, "PTX"), lowered, log, stack_frames(report)
    except Exception as exc:  # binding-level failures are reported, not raised
        return None, None, {}, f"{log}\n{type(exc).__name__}: {exc}".strip(), {}
    finally:
        if prog is not None:
            nvrtc.nvrtcDestroyProgram(prog)


def _paths(out_dir: Path, kernel: str, arch: str) -> tuple[Path, Path, Path]:
    d = out_dir / arch
    return d / f"{kernel}.cubin", d / f"{kernel}.ptx", d / f"{kernel}.lowered.json"


def _fingerprint(generated_dir: Path, kernel: str, arch: str) -> dict:
    """What a cached output must match: source hash, name expressions, NVRTC version, options."""
    plan = generated_dir / f"{kernel}.plan.json"
    names = plans.load(plan).name_expressions if plan.exists() else []
    digest = hashlib.sha256((generated_dir / f"{kernel}.cu").read_bytes()).hexdigest()
    return {"source_sha256": digest, "name_expressions": names, "nvrtc": nvrtc_version(), "options": options(arch)}


def cached(generated_dir: Path, out_dir: Path, kernel: str, arch: str) -> CompileResult | None:
    """A cache hit: all three outputs exist and the recorded fingerprint matches the current one."""
    cubin, ptx, meta = _paths(out_dir, kernel, arch)
    try:
        rec, fp = json.loads(meta.read_text()), _fingerprint(generated_dir, kernel, arch)
    except (OSError, ValueError):
        return None
    if not (cubin.exists() and ptx.exists() and "lowered" in rec) or any(rec.get(k) != v for k, v in fp.items()):
        return None
    return CompileResult(kernel, arch, True, 0.0, "", cubin, ptx, rec["lowered"], cached=True)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _compile_one(generated_dir: Path, out_dir: Path, kernel: str, arch: str) -> CompileResult:
    """Worker: compile one (kernel, arch) and write its outputs (the .lowered.json last)."""
    t0 = time.perf_counter()
    paths = _paths(out_dir, kernel, arch)
    for p in paths:  # never leave a stale artefact behind a failure
        p.unlink(missing_ok=True)
    try:
        fp = _fingerprint(generated_dir, kernel, arch)
        source = (generated_dir / f"{kernel}.cu").read_text()
        cubin, ptx, lowered, log, frames = compile_source(source, kernel, fp["name_expressions"], arch)
    except Exception:
        return CompileResult(kernel, arch, False, time.perf_counter() - t0, traceback.format_exc())
    seconds = time.perf_counter() - t0
    if cubin is None or log:
        return CompileResult(kernel, arch, False, seconds, log, lowered=lowered)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    _write(paths[0], cubin)
    _write(paths[1], ptx)
    _write(
        paths[2],
        json.dumps(
            {**fp, "kernel": kernel, "arch": arch, "seconds": round(seconds, 4), "lowered": lowered, "frames": frames},
            indent=1,
        ).encode(),
    )
    return CompileResult(kernel, arch, True, seconds, "", paths[0], paths[1], lowered)


def compile_all(
    generated_dir: Path,
    out_dir: Path,
    kernels: list[str] | None = None,
    archs: tuple[str, ...] = ARCHS,
    jobs: int | None = os.cpu_count(),
    progress: bool = True,
) -> list[CompileResult]:
    """Compile every <kernel>.cu (or the named ones) for each arch, in parallel, skipping cache hits."""
    generated_dir, out_dir = Path(generated_dir), Path(out_dir)
    if kernels is None:
        kernels = sorted(p.stem for p in generated_dir.glob("*.cu"))
    kernels = list(dict.fromkeys(kernels))
    results: list[CompileResult] = []
    todo: list[tuple[str, str]] = []
    for kernel in kernels:
        for arch in archs:
            if not (generated_dir / f"{kernel}.cu").exists():
                results.append(CompileResult(kernel, arch, False, 0.0, f"missing {generated_dir}/{kernel}.cu"))
            elif (hit := cached(generated_dir, out_dir, kernel, arch)) is not None:
                results.append(hit)
            else:
                todo.append((kernel, arch))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    jobs = max(1, min(jobs or 1, len(todo)))
    # fork (cheap, and no `if __name__ == "__main__"` demands on callers); every worker is forked at the
    # first submit, before rich starts its refresh thread, so no thread is ever forked.
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) if jobs > 1 else None
    futs = {pool.submit(_compile_one, generated_dir, out_dir, k, a): (k, a) for k, a in todo} if pool else {}
    bar = Progress(
        TextColumn("[bold]nvrtc[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress,
    )
    try:
        with bar:
            task = bar.add_task("compile", total=len(results) + len(todo), completed=len(results))

            def done(r: CompileResult) -> None:
                results.append(r)
                bar.update(task, advance=1, description=f"{r.kernel} {r.arch}" + ("" if r.ok else " [red]FAILED"))

            if pool is None:
                for kernel, arch in todo:
                    done(_compile_one(generated_dir, out_dir, kernel, arch))
            for fut in as_completed(futs):
                try:
                    done(fut.result())
                except Exception:
                    done(CompileResult(*futs[fut], False, 0.0, traceback.format_exc()))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    order = {(k, a): i for i, (k, a) in enumerate((k, a) for k in kernels for a in archs)}
    return sorted(results, key=lambda r: order[(r.kernel, r.arch)])


def summarize(results: list[CompileResult], log_lines: int = 8) -> dict:
    """Counts (kernels, ok, failed, cached, warnings, seconds, per arch) and the failures' first log lines."""
    per_arch = {
        a: {"ok": sum(r.ok for r in results if r.arch == a), "failed": sum(not r.ok for r in results if r.arch == a)}
        for a in dict.fromkeys(r.arch for r in results)
    }
    return {
        "kernels": len({r.kernel for r in results}),
        "compiles": len(results),
        "ok": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "cached": sum(r.cached for r in results),
        "warnings": sum(len(_WARNING_LINE.findall(r.log)) for r in results),
        "seconds": round(sum(r.seconds for r in results), 3),
        "per_arch": per_arch,
        "failures": [
            {"kernel": r.kernel, "arch": r.arch, "log": "\n".join(r.log.splitlines()[:log_lines])}
            for r in results
            if not r.ok
        ],
    }


def compile_kernels(pattern: str | None = None) -> dict[str, str | None]:
    """NVRTC-compile every matching generated kernel for every arch; kernel -> None or the log."""
    names = [p.stem for p in sorted(paths.GENERATED.glob("*.cu")) if specs.matches(pattern, p.stem)]
    out: dict[str, str | None] = {name: None for name in names}
    for result in compile_all(paths.GENERATED, paths.COMPILED, kernels=names, progress=True):
        if not result.ok:
            out[result.kernel] = f"{result.arch}: {result.log.strip()[:500]}"
    return out
