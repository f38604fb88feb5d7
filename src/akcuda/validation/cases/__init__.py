"""Parity cases: one call of one specialization, with every argument's value.

Sources: upstream kernel test vectors (read as data), generated cases that honour each
spec's preconditions, deliberately invalid inputs, and calls recorded from Awkward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    """One call. ``args`` maps each argument name (as in the spec) to its value.

    Pointer arguments hold a list or 1-D NumPy array (for an output, its initial contents only
    tell the buffer length: the harness pre-fills outputs with a sentinel); ``T**`` arguments
    hold a list of such arrays; scalars hold a Python int, float or bool.
    """

    symbol: str
    name: str
    source: str
    args: dict[str, Any]
    expect_failure: bool | None = None  # what the upstream vector asserts, when it says
    notes: dict[str, Any] = field(default_factory=dict)
