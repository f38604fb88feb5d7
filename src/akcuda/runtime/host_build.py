"""Host emulation target: the generated .cu text, compiled by g++ with a small emulation header,
runs its grid on the CPU in a seeded shuffled order.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from akcuda import store

EMULATION_HEADER = Path(str(resources.files("akcuda") / "data" / "emulation.h"))
FLAGS = ("-std=c++17", "-O2", "-shared", "-fPIC", "-w")
SANITIZE_FLAGS = ("-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer")
COMPILER = "g++"
FLAGS_ASKED = ("--version", "-dumpmachine")  # what names the compiler in a library's cache key
NO_COMPILER = (
    "no g++ on PATH: the host target builds its emulation libraries with g++ on first use "
    "(install it, e.g. `apt-get install g++`, or use the cuda target)"
)


@dataclass
class HostBuild:
    kernel: str
    ok: bool
    library: Path | None
    log: str = ""
    cached: bool = False


@functools.cache
def compiler() -> str | None:
    """g++'s identity (its version line and target machine); None when there is no g++."""
    path = shutil.which(COMPILER)
    if path is None:
        return None
    version, machine = (subprocess.run([path, flag], capture_output=True, text=True).stdout for flag in FLAGS_ASKED)
    return f"{version.splitlines()[0] if version else path} ({machine.strip()})"


def _key(source: str, flags: tuple[str, ...]) -> str:
    """Everything that makes the library what it is: source, emulation header, flags, compiler."""
    digest = hashlib.sha256(source.encode())
    digest.update(EMULATION_HEADER.read_bytes())
    digest.update(" ".join(flags).encode())
    digest.update(str(compiler()).encode())
    return digest.hexdigest()[:16]


def build(cu: Path, out_dir: Path | None = None, extra: tuple[str, ...] = ()) -> HostBuild:
    """Compile one generated .cu into a shared library (cached by source, header, flags and
    compiler; by default in the store's host cache)."""
    if compiler() is None:
        raise RuntimeError(NO_COMPILER)
    out_dir = out_dir or store.current().host_cache / "plain"
    out_dir.mkdir(parents=True, exist_ok=True)
    source = cu.read_text()
    flags = FLAGS + extra
    library = out_dir / f"{cu.stem}.{_key(source, flags)}.so"
    if library.exists():
        return HostBuild(cu.stem, True, library, cached=True)
    for stale in out_dir.glob(f"{cu.stem}.*.so"):
        stale.unlink(missing_ok=True)
    tmp = library.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
    cmd = [COMPILER, *flags, "-include", str(EMULATION_HEADER), "-x", "c++", str(cu), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        return HostBuild(cu.stem, False, None, proc.stderr.strip())
    tmp.rename(library)
    return HostBuild(cu.stem, True, library)


def build_all(
    sources: list[Path], out_dir: Path, extra: tuple[str, ...] = (), jobs: int | None = None
) -> list[HostBuild]:
    """Build kernel families in parallel, `jobs` g++ processes at a time (cached as `build`)."""
    with ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda cu: build(cu, out_dir, extra), sources))


_loaded: dict[Path, ctypes.CDLL] = {}
_loaded_lock = threading.Lock()


def load(library: Path) -> ctypes.CDLL:
    """The library, loaded once per process (thread-safe)."""
    with _loaded_lock:
        if library not in _loaded:
            _loaded[library] = ctypes.CDLL(str(library))
        return _loaded[library]
