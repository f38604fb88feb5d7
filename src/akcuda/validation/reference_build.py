"""A CPU reference built from source: a kernel's own C compiled by g++ into a shared library,
with the compile flags awkward-cpp's build uses (read from the tree's CMakeLists.txt).

awkward-cpp builds `src/cpu-kernels/*.cpp` as one shared library (target awkward-cpu-kernels)
under scikit-build-core's default Release build type; the flags below are what its CMakeLists
asks of that target, so a kernel built here behaves as it would in an awkward-cpp wheel.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from akcuda import paths
from akcuda.generator.frontend.preprocess import HELPER_SOURCES
from akcuda.toolchain.upstream import Sources

RELEASE = ("-O3", "-DNDEBUG")  # CMake's Release flags for GCC (scikit-build-core's default build type)
# -Bsymbolic: the library's own calls bind inside it, never to a same-named symbol of the
# installed awkward_cpp loaded in the same process (a changed kernel has the same name).
LINK = ("-shared", "-fPIC", "-Wl,-Bsymbolic")


class ReferenceBuildError(RuntimeError):
    """The reference could not be built: names the kernel and g++'s first error line."""


def cmake_flags(cpp: Path) -> tuple[str, ...]:
    """The compile flags of awkward-cpp's awkward-cpu-kernels target, from its CMakeLists.txt:
    C++ standard, extensions, visibility, the VERSION_INFO definition and include folders."""
    path = cpp / "CMakeLists.txt"
    if not path.is_file():
        raise ReferenceBuildError(f"{cpp}: no CMakeLists.txt to read awkward-cpp's compile flags from")
    text = path.read_text()
    standard = re.search(r"cxx_std_(\d+)", text)
    if standard is None:
        raise ReferenceBuildError(f"{path}: no cxx_std_NN compile feature found")
    extensions = re.search(r"CXX_EXTENSIONS\s+(\w+)", text)
    dialect = "c++" if extensions and extensions.group(1).upper() in ("NO", "OFF", "FALSE") else "gnu++"
    flags = [f"-std={dialect}{standard.group(1)}", *RELEASE]
    visibility = re.search(r"CXX_VISIBILITY_PRESET\s+(\w+)", text)
    if visibility:
        flags.append(f"-fvisibility={visibility.group(1)}")
    if re.search(r"VISIBILITY_INLINES_HIDDEN\s+(ON|YES|TRUE)", text):
        flags.append("-fvisibility-inlines-hidden")
    if "VERSION_INFO=" in text:
        flags.append(f'-DVERSION_INFO="{_version(cpp)}"')
    includes = re.search(r"target_include_directories\(\s*awkward-parent\s+INTERFACE\s+([^)]*)\)", text)
    for folder in includes.group(1).split() if includes else ["include"]:
        flags += ["-I", str(cpp / folder)]
    return tuple(flags)


def _version(cpp: Path) -> str:
    """The tree's version (an sdist's PKG-INFO), as scikit-build-core passes it to CMake."""
    info = cpp / "PKG-INFO"
    found = re.search(r"^Version:\s*(\S+)", info.read_text(), flags=re.M) if info.is_file() else None
    return found.group(1) if found else "0"


@dataclass(frozen=True)
class ReferenceLibrary:
    kernel: str
    library: Path
    flags: tuple[str, ...]
    cached: bool


def build(spec: dict, source: Path, sources: Sources, out_dir: Path | None = None) -> ReferenceLibrary:
    """Compile one kernel's C (plus awkward-cpp's helper sources) into a reference library,
    exporting every symbol of its spec; cached by the C text, the declarations and the flags."""
    out_dir = out_dir or paths.BUILD / "reference"
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = cmake_flags(sources.cpp) + LINK
    template = resources.files("akcuda").joinpath("data", "reference_decls.h.j2").read_text(encoding="utf-8")
    decls = jinja2.Template(template, trim_blocks=True, lstrip_blocks=True).render(
        specializations=spec["specializations"]
    )
    units = [source] + [sources.kernel_dir / h for h in HELPER_SOURCES if (sources.kernel_dir / h).is_file()]
    digest = hashlib.sha256(decls.encode() + " ".join(flags).encode())
    for unit in units:
        digest.update(unit.read_bytes())
    key = digest.hexdigest()[:16]
    library = out_dir / f"{spec['name']}.{key}.so"
    if library.exists():
        return ReferenceLibrary(spec["name"], library, flags, True)
    header = out_dir / f"{spec['name']}.{key}.h"
    header.write_text(decls)
    tmp = library.with_suffix(f".tmp{os.getpid()}")
    cmd = ["g++", *flags, "-include", str(header), *map(str, units), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[:300])
        raise ReferenceBuildError(f"{spec['name']}: g++ could not build the reference from {source}: {first}")
    tmp.rename(library)
    return ReferenceLibrary(spec["name"], library, flags, False)
