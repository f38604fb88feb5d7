"""`make gpu-bundle`: one folder that lets a GPU machine with CuPy and no network run the device
check: the wheels akcuda needs that such a machine lacks, for its Python, akcuda's own wheel,
the pinned upstream sdists and the prebuilt build/generated and build/compiled.

The GPU machine brings CuPy, NumPy, cuda-bindings and NVRTC of its own CUDA version, so akcuda
installs there with `--no-deps` (its pins of cuda-bindings 12.9 and the CUDA 12 NVRTC wheel must
not replace the system's) and only the wheels listed in `MISSING` come from the bundle.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from akcuda import paths

# What a lent GPU machine lacks (it has cupy, numpy, jinja2, pyyaml, rich, pytest, hypothesis,
# matplotlib, cuda-bindings and NVRTC): Awkward, its CPU kernels, the C parser, and CCCL so that
# Awkward's own cuda.compute path runs beside ours.
# awkward needs fsspec and packaging too; cuda-cccl's cuda-core and cuda-pathfinder come with the
# machine's numba-cuda and cuda-bindings.
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
    python: str | None = None,
    packages: tuple[str, ...] = MISSING,
    optional: tuple[str, ...] = OPTIONAL,
    root: Path | None = None,
) -> Path:
    """Write the bundle into `dest` (wheels/ for `python`, e.g. "3.12", upstream/, generated/,
    compiled/) and return it; fails if it exceeds 40 MB. An optional wheel the registry does not
    have for that Python is named in `dest/missing.txt` instead."""
    root = root or Path.cwd()
    wheels = dest / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if packages:
        target = ["--python-version", python, "--only-binary=:all:"]
        for platform in PLATFORMS:
            target += ["--platform", platform]
        _pip("download", "--no-deps", "-q", "-d", str(wheels), *(target if python else []), *packages)
        missing = []
        for package in optional:
            try:
                _pip("download", "--no-deps", "-q", "-d", str(wheels), *(target if python else []), package)
            except BundleError as exc:
                missing.append(f"{package}: {exc}")
        (dest / "missing.txt").write_text("".join(f"{m}\n" for m in missing))
    _pip("wheel", "--no-deps", "-q", "-w", str(wheels), str(root))
    upstream = dest / "upstream"
    upstream.mkdir(exist_ok=True)
    for sdist in paths.UPSTREAM.glob("*.tar.gz"):
        shutil.copy2(sdist, upstream / sdist.name)
    for name, folder in (("generated", paths.GENERATED), ("compiled", paths.COMPILED)):
        if folder.exists():
            shutil.copytree(folder, dest / name, dirs_exist_ok=True)
    total = size_of(dest)
    if total > LIMIT_BYTES:
        raise BundleError(f"bundle {dest} is {total / 2**20:.1f} MB, over the 40 MB a lent machine takes")
    return dest
