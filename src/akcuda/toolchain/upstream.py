"""Stage 1: where kernel C comes from. By default the pinned upstream sdists, fetched from the
package registry into build/upstream/; or a local awkward checkout or awkward-cpp source tree
(`--upstream PATH`, or `upstream = "PATH"` under [tool.akcuda] in pyproject.toml); plus a
contributor's own kernel files from anywhere (`akcuda port FILE.cpp`, or `kernels = [...]`).

Nothing fetched here is ever committed, and nothing under build/upstream/ is ever edited: the C
kernels, headers, kernel specification and upstream test vectors are read at build time only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from akcuda import paths
from akcuda.generator.frontend.preprocess import HELPER_SOURCES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sdist: str
    sha256: str

    @property
    def folder(self) -> str:
        return self.sdist.removesuffix(".tar.gz")


# The one place where upstream versions and hashes are pinned.
PINS = (
    Pin(
        "awkward-cpp", "57", "awkward_cpp-57.tar.gz", "df2fff584d72b9942db6eb700fa24fe898bc65e369eecbcd35bcf81269aa41d2"
    ),
    Pin(
        "awkward", "2.14.0", "awkward-2.14.0.tar.gz", "f5bce2ddfd4b5ad5277462b01adf94fd6ca90c33a56949fb8c00490c30725737"
    ),
)


class UpstreamError(RuntimeError):
    """Raised with a readable message when the registry or a hash lets us down."""


# awkward-cpp files that a git checkout of awkward lacks: its build generates them from the
# repository's sources (kernel-specification.yml), as `nox -s prepare` does.
GENERATED_IN_CHECKOUT = ("include/awkward/kernels.h",)


def pinned_cpp_dir(root: Path | None = None) -> Path:
    """The unpacked pinned awkward-cpp sdist: the C the installed awkward_cpp was built from."""
    return (root or paths.UPSTREAM) / PINS[0].folder


def pinned_awkward_dir(root: Path | None = None) -> Path:
    """The unpacked pinned awkward sdist (kernel-specification.yml)."""
    return (root or paths.UPSTREAM) / PINS[1].folder


@dataclass(frozen=True)
class Sources:
    """Where this run's kernel C comes from: an awkward-cpp tree (src/cpu-kernels/, include/,
    test vectors), the awkward tree holding kernel-specification.yml, and a contributor's own
    kernel files, which take the place of a same-named file of the tree or add a kernel."""

    cpp: Path
    awkward: Path
    kernels: tuple[Path, ...] = ()
    origin: str = "pinned"  # "pinned", or the --upstream path as given

    @property
    def kernel_dir(self) -> Path:
        return self.cpp / "src" / "cpu-kernels"

    @property
    def include(self) -> Path:
        return self.cpp / "include"

    def kernel_files(self) -> dict[str, Path]:
        """File name -> path of every kernel source (helpers excluded), contributor files last."""
        found = {p.name: p for p in sorted(self.kernel_dir.glob("*.cpp")) if p.name not in HELPER_SOURCES}
        found.update({p.name: p for p in self.kernels})
        return found

    def file(self, source: str) -> Path:
        """The C file of a spec's `source` (src/cpu-kernels/NAME.cpp): a contributor's, else the tree's."""
        name = Path(source).name
        return next((p for p in self.kernels if p.name == name), self.kernel_dir / name)

    def describe(self) -> dict:
        """For a report's metadata: where the C came from and the hashes that pin it."""
        return {
            "origin": self.origin,
            "awkward_cpp": str(self.cpp),
            "awkward": str(self.awkward),
            "pins": {p.sdist: p.sha256 for p in PINS} if self.origin == "pinned" else {},
            "contributor_kernels": {str(p): sha256_of(p) for p in self.kernels},
        }


def _tree(path: Path, given: str) -> tuple[Path, Path]:
    """(awkward-cpp tree, awkward tree) of a local awkward checkout or awkward-cpp source tree."""
    if not path.is_dir():
        raise UpstreamError(f"--upstream {given}: no such folder")
    if (path / "awkward-cpp" / "src" / "cpu-kernels").is_dir():  # an awkward checkout
        cpp, awkward = path / "awkward-cpp", path
    elif (path / "src" / "cpu-kernels").is_dir():  # an awkward-cpp tree (an unpacked sdist, say)
        cpp = path
        awkward = path.parent if (path.parent / "kernel-specification.yml").is_file() else pinned_awkward_dir()
    else:
        raise UpstreamError(
            f"--upstream {given}: neither an awkward checkout nor an awkward-cpp source tree "
            "(no src/cpu-kernels/ in it or in its awkward-cpp/)"
        )
    missing = [name for name in GENERATED_IN_CHECKOUT if not (cpp / name).is_file()]
    if missing:
        raise UpstreamError(
            f"--upstream {given}: {cpp} lacks awkward-cpp's generated {', '.join(missing)} (a git checkout "
            "does not have them): run `nox -s prepare` in the awkward checkout, or pass an unpacked awkward-cpp sdist"
        )
    if not (awkward / "kernel-specification.yml").is_file():
        raise UpstreamError(
            f"--upstream {given}: no kernel-specification.yml next to it, and the pinned awkward sdist is not "
            "imported: run `akcuda import`"
        )
    return cpp, awkward


def kernel_paths(items: Iterable[str | Path]) -> tuple[Path, ...]:
    """Contributor kernel files: each FILE.cpp as given, each folder's *.cpp."""
    out: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            out += sorted(p.resolve() for p in path.glob("*.cpp"))
        elif path.is_file() and path.suffix == ".cpp":
            out.append(path.resolve())
        else:
            raise UpstreamError(f"kernel file {item}: {'not a .cpp file' if path.exists() else 'no such file'}")
    return tuple(out)


def settings(root: Path | None = None) -> dict:
    """The [tool.akcuda] table of the project's pyproject.toml (empty when there is none)."""
    path = (root or paths.ROOT) / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text()) if path.is_file() else {}
    except tomllib.TOMLDecodeError as exc:
        raise UpstreamError(f"{path}: not valid TOML: {exc}") from exc
    table = data.get("tool", {}).get("akcuda", {})
    for key, kind in (("upstream", str), ("kernels", list)):
        if key in table and not isinstance(table[key], kind):
            raise UpstreamError(f"{path}: [tool.akcuda] {key} must be a {kind.__name__}")
    return table


def select(upstream: str | Path | None = None, kernels: Iterable[str | Path] = ()) -> Sources:
    """The sources of this run: --upstream PATH (else [tool.akcuda] upstream, else the pinned
    sdists), plus the contributor kernel files given and those of [tool.akcuda] kernels."""
    table = settings()
    here = paths.ROOT
    extra = list(kernels) + [here / k for k in table.get("kernels", [])]
    given = upstream if upstream is not None else table.get("upstream")
    if given is None:
        return Sources(pinned_cpp_dir(), pinned_awkward_dir(), kernel_paths(extra))
    path = Path(os.path.expanduser(str(given)))
    cpp, awkward = _tree((path if path.is_absolute() or upstream is not None else here / path).resolve(), str(given))
    return Sources(cpp, awkward, kernel_paths(extra), str(given))


_active: Sources | None = None


def use(sources: Sources | None) -> None:
    """Make `sources` this process's kernel C (None: back to the default selection)."""
    global _active
    _active = sources


def active() -> Sources:
    """The kernel C of this run: what `use` set, else the default selection."""
    return _active or select()


def cpp_dir(root: Path | None = None) -> Path:
    """The awkward-cpp tree of this run (in `root`: the pinned sdist unpacked there)."""
    return pinned_cpp_dir(root) if root else active().cpp


def awkward_dir(root: Path | None = None) -> Path:
    """The awkward tree of this run (kernel-specification.yml)."""
    return pinned_awkward_dir(root) if root else active().awkward


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(pin: Pin, dest: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-d",
            tmp,
            f"{pin.name}=={pin.version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / pin.sdist
        if proc.returncode != 0 or not got.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise UpstreamError(
                f"could not download {pin.name}=={pin.version} from the package registry "
                f"(is the registry reachable?): {' | '.join(tail)}"
            )
        shutil.move(str(got), dest)
    return dest


def fetch(root: Path | None = None, log=print) -> list[Path]:
    """Download (if missing), verify and unpack every pinned sdist. Idempotent."""
    root = root or paths.UPSTREAM
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for pin in PINS:
        archive = root / pin.sdist
        if not archive.exists():
            log(f"downloading {pin.name}=={pin.version}")
            _download(pin, archive)
        actual = sha256_of(archive)
        if actual != pin.sha256:
            raise UpstreamError(
                f"{archive.name}: sha256 {actual} does not match the pinned {pin.sha256}; "
                f"delete it to download again, or update the pin in akcuda/upstream.py"
            )
        target = root / pin.folder
        if target.is_symlink():
            raise UpstreamError(
                f"{target} is a symbolic link (to {os.readlink(target)}): akcuda does not read or edit trees "
                f"linked into build/; remove the link and pass the tree as `--upstream {os.readlink(target)}`"
            )
        marker = target / ".akcuda-unpacked"
        if not marker.exists():
            shutil.rmtree(target, ignore_errors=True)
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(root, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise UpstreamError(f"{archive}: cannot unpack ({exc}); delete it to download again") from exc
            marker.write_text(pin.sha256)
        out.append(target)
        shown = target.relative_to(root.parent.parent) if root.is_relative_to(paths.ROOT) else target
        log(f"{pin.name}=={pin.version}: ok ({shown})")
    return out
