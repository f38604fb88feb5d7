"""Stage 1: fetch the pinned upstream sdists from the package registry into build/upstream/.

Nothing fetched here is ever committed: the C kernels, headers, kernel specification and
upstream test vectors are read from this folder at build time only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from akcuda import paths


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


def cpp_dir(root: Path | None = None) -> Path:
    """The unpacked awkward-cpp sdist."""
    return (root or paths.UPSTREAM) / PINS[0].folder


def awkward_dir(root: Path | None = None) -> Path:
    """The unpacked awkward sdist."""
    return (root or paths.UPSTREAM) / PINS[1].folder


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
        marker = target / ".akcuda-unpacked"
        if not marker.exists():
            shutil.rmtree(target, ignore_errors=True)
            with tarfile.open(archive) as tar:
                tar.extractall(root, filter="data")
            marker.write_text(pin.sha256)
        out.append(target)
        shown = target.relative_to(root.parent.parent) if root.is_relative_to(paths.ROOT) else target
        log(f"{pin.name}=={pin.version}: ok ({shown})")
    return out
