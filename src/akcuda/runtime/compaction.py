"""What the executor does for a scan step that compacts an array in place
(akcuda.generator.rules.compaction): count, scan, compact into scratch after the scan rows, verify the
reads, then fill, copy back and finish; C order where a read would have seen another value."""

from __future__ import annotations

import math
from typing import Any

from akcuda.plan.model import Role, Step
from akcuda.runtime.counting import Event, note, reason


def run(run: Any, k: int, step: Step, n: int, grid: int) -> None:
    """The step on the executor's run state `run` (launch, serial, buffers, target), n > 0."""
    xp, compaction = run.target.xp, step.form
    rows = compaction.scan_rows * (n + 1)
    scan = run.buffers.scan_for(rows)
    run.launch(k, Role.COUNT, grid, run.block, n, -1, scan)
    view = scan.reshape(compaction.scan_rows, n + 1)
    for counter in compaction.counters:  # local sums only: an inclusive scan in place each
        xp.cumsum(view[counter.row, :n], out=view[counter.row, :n])
        note(Event.LIBRARY)
    if run.failed_before():
        return  # count did nothing: no length to size the scratch from
    reason("the compacted length, for its scratch")
    total = int(run.target.to_host(view[compaction.counter_row, n - 1 : n])[0])
    scratch = -(-total * run.array(compaction.array).itemsize // 8)
    scan = run.buffers.scan_for(rows + scratch, keep=rows)  # the counts and the check row stay
    view = scan[:rows].reshape(compaction.scan_rows, n + 1)
    run.launch(k, Role.COMPACT, grid, run.block, n, -1, scan)
    run.launch(k, Role.VERIFY, grid, run.block, n, -1, scan)
    note(Event.LIBRARY)
    if run.read_bool(xp.any(view[compaction.check_row, :n]), "compacted reads checked against the C order"):
        run.serial(k)  # a read the C made after a store changed it: C order
        return
    run.launch(k, Role.FILL, grid, run.block, n, -1, scan)
    if total > 0:
        run.launch(k, Role.COPY, math.ceil(total / run.block), run.block, total, -1, scan[rows:])
    run.launch(k, Role.FINISH, 1, 1, n, -1, scan)
