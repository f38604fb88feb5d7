"""The device buffers a plan run needs besides its arguments, kept per stream (and per thread)
so that a kernel call allocates nothing and copies nothing to the device.

- the error record of the immediate mode: pristine between calls (a successful run writes no
  slot), put back from a device-resident template only after a failure;
- the deferred mode's records: one per call since the last synchronization, each with the
  call's spilled locals beside it, in chunks that grow by doubling;
- the spilled locals and the scan scratch of the immediate mode, grown when a call needs more;
- a zeroed pad that every empty array argument points to instead of a null pointer;
- the stream's failure word, which every record names (`ErrorSlot.STREAM`): the first failing
  call sets it to its record's address, and a launch of any other call then does nothing.

Every buffer is made on the device by the array library (`empty`, `full`, a broadcast copy);
none is filled from the host.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from akcuda.plan.errors import NO_ERROR, ErrorSlot
from akcuda.runtime.counting import Event, note

RECORD = 16  # words per error record (the ErrorSlot slots, padded)
# An empty array's pointer on CuPy is 0, yet the C may read (and write back) an element of it, or
# one past its end (awkward_unique_ranges at an empty last row): an empty argument points here.
PAD_WORDS = 32


def _alloc(xp, words: int):
    return xp.empty(words, dtype=np.int64)  # an allocation, as the array module counts it


def _template(xp, stream_word: int):
    """The initial record (no failure anywhere, naming the stream's failure word), made on the
    device: fills, no copy."""
    record = _alloc(xp, RECORD)
    record.fill(0)
    for slot in (ErrorSlot.ITERATION, ErrorSlot.FIRST):
        record[slot] = NO_ERROR
    record[ErrorSlot.STEP : ErrorSlot.MESSAGE + 1] = -1
    record[ErrorSlot.STREAM] = stream_word
    note(Event.LIBRARY, 5)
    return record


@dataclass(frozen=True)
class Pending:
    """A deferred call: only what raising its failure needs (never its arguments)."""

    messages: tuple[str, ...]  # its plan's failure messages
    chunk: int
    row: int
    context: Any = None  # the caller's (Awkward's error context and kernel source)


@dataclass
class StreamBuffers:
    xp: Any
    address: Any  # the target's device address of an array
    failed: Any = None  # the stream's failure word: 0, or the first failing call's record address
    pad: Any = None  # what an empty array argument points to (CuPy's is a null pointer)
    template: Any = None
    err: Any = None
    spill: Any = None
    scan: Any = None
    chunks: list = field(default_factory=list)  # deferred records, RECORD words per row
    used: int = 0  # rows used in the last chunk
    pending: list[Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.failed = _alloc(self.xp, 1)
        self.failed.fill(0)
        self.pad = _alloc(self.xp, PAD_WORDS)
        self.pad.fill(0)
        note(Event.LIBRARY, 2)
        self.template = _template(self.xp, self.address(self.failed))
        self.err = self.fresh_records(1)
        self.spill = _alloc(self.xp, RECORD)
        self.scan = _alloc(self.xp, 1024)

    def fresh_records(self, rows: int):
        """`rows` initial records, made from the template on the device."""
        block = _alloc(self.xp, rows * RECORD)
        block.reshape(rows, RECORD)[:] = self.template
        note(Event.LIBRARY)
        return block

    def reset(self, records) -> None:
        """Put records a failed run wrote back to the initial record (a device copy)."""
        records.reshape(-1, RECORD)[:] = self.template
        note(Event.LIBRARY)

    def clear_failure(self) -> None:
        """Once a failure is reported: the stream's later calls run again (a device fill)."""
        self.failed.fill(0)
        note(Event.LIBRARY)

    def spill_for(self, words: int):
        if len(self.spill) < words:
            self.spill = _alloc(self.xp, max(words, 2 * len(self.spill)))
        return self.spill

    def scan_for(self, words: int, keep: int = 0):
        """The scan scratch, `words` long; grown, it keeps its first `keep` words (a device copy)."""
        if len(self.scan) < words:
            old, self.scan = self.scan, _alloc(self.xp, max(words, 2 * len(self.scan)))
            if keep:
                self.scan[:keep] = old[:keep]
                note(Event.LIBRARY)
        return self.scan[:words]

    def deferred_slot(self, words: int) -> tuple[int, int, Any, Any]:
        """(chunk, row, record, spill) for one deferred call with `words` spilled locals."""
        rows = 1 + -(-max(words, 1) // RECORD)
        if not self.chunks or self.used + rows > len(self.chunks[-1]) // RECORD:
            size = max(rows, 2 * (len(self.chunks[-1]) // RECORD if self.chunks else 64))
            self.chunks.append(self.fresh_records(size))
            self.used = 0
        chunk, row = len(self.chunks) - 1, self.used
        self.used += rows
        words_at = self.chunks[chunk][row * RECORD : (row + rows) * RECORD]
        return chunk, row, words_at[:RECORD], words_at[RECORD:]

    def drain(self) -> None:
        """After a synchronization: keep the last chunk for the next calls, none pending."""
        if self.chunks:
            self.chunks = self.chunks[-1:]
        self.used, self.pending = 0, []


def buffers_of(target) -> StreamBuffers:
    """This thread's buffers for the target's current stream (made on first use)."""
    local: threading.local = target.local
    by_stream = local.__dict__.setdefault("buffers", {})
    key = target.stream()
    if key not in by_stream:
        by_stream[key] = StreamBuffers(target.xp, target.address)
    return by_stream[key]
