"""What the executor does between count and fill of a step with private copies
(akcuda.generator.rules.private_rows): check what count recorded, and prepare the rows fill reads."""

from __future__ import annotations

from typing import Any

from akcuda.plan.model import CounterKind, Step
from akcuda.runtime.counting import reason


def prepare(xp, step: Step, scan: Any, n: int) -> bool:
    """In place: a columns counter's common width goes to its width row's total; a scratch
    array's row of written-element masks becomes, per iteration, the union of the masks of the
    iterations after it (so each element is written back by its last writer). False, changing
    nothing that matters, when an iteration broke its private form (the step then runs in C
    order) or iterations touched different numbers of columns."""
    view = scan.reshape(step.form.scan_rows, n + 1)
    private = [c for c in step.form.counters if c.kind in (CounterKind.COLUMNS, CounterKind.SCRATCH)]
    if private:
        reason("private copies checked after count")
    if any(bool(xp.any(view[c.check_row, :n])) for c in private):
        return False
    for c in private:
        if c.kind == CounterKind.COLUMNS:
            widths = view[c.width_row, :n]
            used = widths[widths > 0]
            if len(used) and int(used.min()) != int(used.max()):
                return False
            view[c.width_row, n] = int(used.max()) if len(used) else 0
        else:
            masks = view[c.row, :n].copy()
            later = xp.zeros(n, dtype=masks.dtype)
            iterations = xp.arange(n)
            for bit in range(int(masks.max()).bit_length()):
                writers = xp.flatnonzero((masks >> bit) & 1)
                if len(writers):
                    later |= (iterations < writers[-1]).astype(masks.dtype) << bit
            view[c.row, :n] = later
    return True
