"""Stage: akcuda's wheel, carrying its kernel store. `akcuda pack` writes the store into
build/store, then `python -m build --wheel` builds the wheel, and setup.py's hook checks the store
and copies it in as akcuda/_generated. A pure-Python wheel (py3-none-any): the GPU binaries load on
any platform's driver, and the host target builds its libraries with g++ on first use."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from akcuda import paths
from akcuda.toolchain.pack import Packed, PackError, pack


def build_wheel(out_dir: Path | None = None) -> tuple[Path, Packed]:
    """(the wheel, what its store holds); PackError when the kernels or the build fail."""
    out_dir = out_dir or paths.BUILD / "dist"
    packed = pack()
    shutil.rmtree(paths.BUILD / "wheel", ignore_errors=True)  # setup.py's build folder: nothing of an older build
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out_dir), str(paths.ROOT)],
        capture_output=True,
        text=True,
    )
    made = sorted(out_dir.glob("akcuda-*.whl"), key=lambda p: p.stat().st_mtime)
    if proc.returncode != 0 or not made:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise PackError(f"python -m build --wheel failed: {' | '.join(tail)}")
    return made[-1], packed
