"""The error record a plan run keeps on the device, and the failure it reports.

The record is one int64 array; `ErrorSlot` names its slots once. The CUDA prelude's
`AKC_ERR_*` macros are generated from it, so kernels, executor and emitter agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

NO_ERROR = (1 << 63) - 1  # INT64_MAX: no iteration has failed


class ErrorSlot(enum.IntEnum):
    ITERATION = 0  # the failing iteration (atomicMin: the first in sequential order)
    STEP = 1  # the step it failed in
    MESSAGE = 2  # index into the plan's messages; -1 until the failing iteration reports
    IDENTITY = 3
    ATTEMPT = 4
    LINE = 5  # the C source line of the failure
    FIRST = 6  # a count or check launch's first failing iteration; fill stops there
    FORM = 7  # bit k: step k's row ranges, checked on the device, refuse its parallel form
    STREAM = 8  # the address of the stream's failure word: a call after a failed one does nothing

    @property
    def macro(self) -> str:
        return f"AKC_ERR_{self.name}"


def initial_record() -> list[int]:
    """The record before a run: no failure anywhere."""
    values = {ErrorSlot.ITERATION: NO_ERROR, ErrorSlot.STEP: -1, ErrorSlot.MESSAGE: -1, ErrorSlot.FIRST: NO_ERROR}
    return [values.get(slot, 0) for slot in ErrorSlot]


@dataclass(frozen=True)
class KernelFailure:
    """A kernel's failure(message, identity, attempt), and the C line that raised it."""

    message: str
    identity: int
    attempt: int
    line: int | None = None
