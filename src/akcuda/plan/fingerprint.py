"""The translator's fingerprint: one hash of every file the generated kernels depend on besides
their C (the translator's sources and templates, the plan's own modules).

Standard library only: the wheel's build hook (setup.py) loads this file by its path, before any
of akcuda's dependencies exist, to check that the kernel store it ships was written by the
translator it ships.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def fingerprint(folders: Iterable[Path]) -> str:
    """16 hex digits over each folder's files (relative path and bytes, sorted; __pycache__ left out)."""
    digest = hashlib.sha256()
    for folder in folders:
        for source in sorted(folder.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                digest.update(source.relative_to(folder).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]
