"""The wheel's build hook: akcuda's wheel carries its kernel store as akcuda/_generated.

`akcuda pack` (which `make wheel` runs first) writes the store into build/store from the
generated and compiled kernels. This hook only checks and copies it: the store must be whole
(every file its manifest names, with that sha256), made for this version of akcuda, and written
by the translator the wheel ships (the fingerprint of the wheel's own akcuda/plan and
akcuda/generator). Anything else fails the build, saying what to run. It uses the standard
library alone: an isolated build has none of akcuda's dependencies. An editable install carries
no store: a checkout's runtime reads build/ itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

ROOT = Path(__file__).resolve().parent
STORE = ROOT / "build" / "store"
FIX = "run `make wheel` (it generates, compiles and packs the kernels), or `akcuda pack` in a checkout"


def _fingerprint(package: Path) -> str:
    """The translator fingerprint of the akcuda package in `package`, by akcuda's own function."""
    spec = importlib.util.spec_from_file_location("_akcuda_fingerprint", ROOT / "src/akcuda/plan/fingerprint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fingerprint([package / "plan", package / "generator"])


def copy_store(package: Path, version: str, store: Path = STORE) -> None:
    """Check the store and copy it into `package`/_generated (package: akcuda in the build)."""
    try:
        manifest = json.loads((store / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise FileError(f"akcuda's wheel carries its kernels, and {store} has no store ({exc}): {FIX}") from None
    if manifest.get("akcuda") != version:
        raise FileError(f"{store} was packed by akcuda {manifest.get('akcuda')}, this is {version}: {FIX}")
    if manifest.get("translator") != _fingerprint(package):
        raise FileError(
            f"{store} was written by another translator than the one this wheel ships (its plans are older than "
            "the translator, or a file under generator/ or src/akcuda/plan/ is not packaged: see [tool.setuptools] "
            f"in pyproject.toml): {FIX}"
        )
    files = {"manifest.json": (store / "manifest.json").read_bytes()}
    for name, digest in sorted(manifest["files"].items()):
        files[name] = (store / name).read_bytes() if (store / name).is_file() else b""
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise FileError(f"{store / name}: missing, or not the file the store's manifest names: {FIX}")
    target = package / "_generated"
    shutil.rmtree(target, ignore_errors=True)
    for name, data in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)


class BuildWithStore(build_py):
    """build_py, then the kernel store into the built package (not for an editable install)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            copy_store(Path(self.build_lib) / "akcuda", self.distribution.get_version())


if __name__ == "__main__":  # as setuptools runs it (a test imports the hook without building)
    # A folder of its own under build/, which `akcuda wheel` empties first: no file of an older
    # build (a module since removed) lands in the wheel.
    setup(cmdclass={"build_py": BuildWithStore}, options={"build": {"build_base": "build/wheel"}})
