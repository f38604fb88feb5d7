"""akcuda: Awkward Array's C kernels translated to CUDA, with a parity harness."""

__version__ = "0.1.0"
