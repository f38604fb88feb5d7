"""Where the toolchain's things live: the akcuda checkout (its kernel-specs/ and build/) and the
build folder's parts.

The checkout is $AKCUDA_ROOT, else the one this package is imported from (an editable install),
else the one holding the current folder. Outside any (an installed akcuda used elsewhere) the
toolchain's folders do not exist: reading one, `paths.BUILD` say, raises NotInCheckout, which
every command prints as one line. The runtime never reads them: its kernels come from
`akcuda.store`, which never looks at the current folder.
"""

from __future__ import annotations

import os
from pathlib import Path

# The toolchain's folders, each relative to the checkout.
FOLDERS = {
    "BUILD": "build",
    "UPSTREAM": "build/upstream",
    "GENERATED": "build/generated",
    "COMPILED": "build/compiled",
    "HOSTLIB": "build/host",
    "REPORT": "build/report",
    "STORE": "build/store",
    "SPECS": "kernel-specs",
}


class NotInCheckout(RuntimeError):
    """A toolchain command outside a checkout of akcuda's sources."""


def is_checkout(folder: Path) -> bool:
    return (folder / "kernel-specs").is_dir() and (folder / "pyproject.toml").is_file()


def package_checkout() -> Path | None:
    """$AKCUDA_ROOT, else the checkout this package is imported from (an editable install): never
    the current folder, so the runtime may ask."""
    env = os.environ.get("AKCUDA_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]  # src/akcuda/paths.py in a checkout
    return here if is_checkout(here) else None


def checkout() -> Path | None:
    """The checkout the toolchain works in: the package's own, else the one holding the current
    folder (an installed akcuda run inside a clone); None outside any."""
    found = package_checkout()
    if found is not None:
        return found
    here = Path.cwd().resolve()
    return next((c for c in (here, *here.parents) if is_checkout(c)), None)


def repo_root() -> Path:
    """The checkout; NotInCheckout, saying what to do, outside one."""
    found = checkout()
    if found is None:
        raise NotInCheckout(
            f"this needs a checkout of akcuda's sources (kernel-specs/, build/), and neither the current folder "
            f"nor the installed package ({Path(__file__).parent}) is in one: run it inside a clone, or set "
            "AKCUDA_ROOT=DIR (`akcuda info` works anywhere)"
        )
    return found


def __getattr__(name: str) -> Path:
    """`paths.ROOT`, `paths.BUILD`, ...: looked up on each use, so that outside a checkout only the
    code that needs one fails."""
    if name == "ROOT":
        return repo_root()
    if name in FOLDERS:
        return repo_root() / FOLDERS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
