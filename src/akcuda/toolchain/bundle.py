"""`make gpu-bundle`: one folder that lets a GPU machine with CuPy and no network run the device
check: akcuda's wheel (its kernel store inside: the generated .cu, plans, cubins and PTX), the
wheels it needs that such a machine lacks, for its Python, and the pinned upstream sdists (the
parity cases read them).

The GPU machine brings CuPy, NumPy, cuda-bindings and NVRTC of its own CUDA version. akcuda's base
install needs none of them but NumPy, so `make gpu-install` puts the wheels of `MISSING` and
akcuda's own into that machine's Python environment as they are, from the bundle alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from akcuda import paths

# What a lent GPU machine lacks (it has cupy, numpy, jinja2, pyyaml, rich, pytest, hypothesis,
# matplotlib, cuda-bindings and NVRTC): Awkward and its CPU kernels (fsspec and packaging are
# awkward's), the C parser (the toolchain's commands load the translator's error types), and
# CCCL so that Awkward's own cuda.compute path runs beside ours (its cuda-core and
# cuda-pathfinder come with the machine's numba-cuda and cuda-bindings).
MISSING = ("awkward==2.14.0", "awkward-cpp==57", "pycparser==3.12", "fsspec==2026.9.0", "packaging==26.4")
OPTIONAL = ("cuda-cccl==1.1.1",)  # only for Awkward's own cuda.compute path beside ours
LIMIT_BYTES = 40 * 1024 * 1024
# Every glibc level a lent machine's Linux accepts: pip matches `--platform` tags literally, and
# wheels are tagged at the level they were built for (cuda-cccl 1.1.1: manylinux_2_26).
PLATFORMS = ("manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 29)), "linux_x86_64")


class BundleError(RuntimeError):
    """A bundle that cannot be made (a download failed, or it is too large)."""


def _pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"pip {' '.join(args[:2])} failed: {proc.stderr.strip().splitlines()[-1:]}")


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def make_bundle(
    dest: Path,
    wheel: Path,
    python: str | None = None,
    packages: tuple[str, ...] = MISSING,
    optional: tuple[str, ...] = OPTIONAL,
) -> Path:
    """Write the bundle into `dest` (wheels/: akcuda's `wheel` and `packages` for `python`, e.g.
    "3.12", or for this one; upstream/: the pinned sdists) and return it; fails if it exceeds
    40 MB. An optional wheel the registry does not have for that Python is named in
    `dest/missing.txt` instead."""
    wheels = dest / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = []
    if packages:
        target = ["--python-version", python, "--only-binary=:all:"] if python else []
        for platform in PLATFORMS if python else ():
            target += ["--platform", platform]
        _pip("download", "--no-deps", "-q", "-d", str(wheels), *target, *packages)
        for package in optional:
            try:
                _pip("download", "--no-deps", "-q", "-d", str(wheels), *target, package)
            except BundleError as exc:
                missing.append(f"{package}: {exc}")
    (dest / "missing.txt").write_text("".join(f"{m}\n" for m in missing))
    shutil.copy2(wheel, wheels / wheel.name)
    upstream = dest / "upstream"
    upstream.mkdir(exist_ok=True)
    for sdist in paths.UPSTREAM.glob("*.tar.gz"):
        shutil.copy2(sdist, upstream / sdist.name)
    total = size_of(dest)
    if total > LIMIT_BYTES:
        raise BundleError(f"bundle {dest} is {total / 2**20:.1f} MB, over the 40 MB a lent machine takes")
    return dest
