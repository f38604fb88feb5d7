"""Where things live: the repository root, the build folder and its parts."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The project root: $AKCUDA_ROOT, else the folder holding kernel-specs/ above the cwd."""
    env = os.environ.get("AKCUDA_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "kernel-specs").is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    return Path(__file__).resolve().parents[2]


ROOT = repo_root()
BUILD = ROOT / "build"
UPSTREAM = BUILD / "upstream"
GENERATED = BUILD / "generated"
COMPILED = BUILD / "compiled"
HOSTLIB = BUILD / "host"
REPORT = BUILD / "report"
SPECS = ROOT / "kernel-specs"
