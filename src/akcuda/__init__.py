"""akcuda: Awkward Array's C kernels translated to CUDA, with a parity harness.

Importing `akcuda` (or any of its modules, such as `akcuda.plan`) loads nothing else: the public
names below are resolved on first use, so the plan and the translator import without the
runtime, Awkward or NVRTC.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module that defines it
_LAZY = {
    "install": "akcuda.runtime.awkward_plugin",
    "installed": "akcuda.runtime.awkward_plugin",
    "trace": "akcuda.runtime.awkward_plugin",
    "uninstall": "akcuda.runtime.awkward_plugin",
}

__all__ = ["__version__", "install", "installed", "trace", "uninstall"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("akcuda")
        except PackageNotFoundError:  # a source tree on the path, not installed
            return "0+unknown"
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'akcuda' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
