"""akcuda: Awkward Array's C kernels translated to CUDA, with a parity harness."""

__version__ = "0.1.0"

from akcuda.runtime.awkward_plugin import install, installed, trace, uninstall  # noqa: E402

__all__ = ["install", "installed", "trace", "uninstall"]
