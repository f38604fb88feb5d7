"""Attributes of other libraries' classes and modules replaced while akcuda routes Awkward's
kernels, and the exact originals put back: Awkward's kernel look-up, its raising handlers and
`synchronize_cuda`, CuPy's host reads. Each replacement is marked (`akcuda_patch`) so that a test
can tell it apart from the original."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class AttributePatch:
    """`replacements` ({(owner, name): function}) set on their owners now; `undo` puts back what
    each owner itself held (and removes what it did not hold, an inherited attribute)."""

    def __init__(self, replacements: dict[tuple[Any, str], Callable]):
        self.originals = {key: vars(key[0]).get(key[1]) for key in replacements}
        for (owner, name), function in replacements.items():
            function.akcuda_patch = True
            setattr(owner, name, function)

    def undo(self) -> None:
        for (owner, name), original in self.originals.items():
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
