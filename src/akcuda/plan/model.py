"""The typed plan: what the translator writes for a kernel family and the executor runs.

A `Plan` has one `Entry` per C function the specializations share (a template or a plain
function) and one `Specialization` per exported symbol. An entry's `Step`s are its launches in
order, each with its form (`Serial`, `Parallel`, `SplitFold`, `Scan`, `PrivateRows`,
`Compaction`, `Sort`); a specialization names, per step and `Role`, the kernel to launch. Plans
travel as JSON (`to_json` / `from_json`, with `SCHEMA_VERSION`, derived from these declarations
by `codec`) from `build/generated/*.plan.json`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import ClassVar

from akcuda.plan import codec
from akcuda.plan import expr as E
from akcuda.plan.ctype import INTEGERS
from akcuda.plan.expr import Expr

SCHEMA_VERSION = 5  # 5: a step's form is a tagged union; the JSON is derived from the declarations


class PlanError(ValueError):
    """A plan file that is missing fields, has unknown values or another schema version."""


class StepKind(str, enum.Enum):
    """The family of a step's form (reports count steps by it)."""

    SERIAL = "serial"  # one thread runs the statements in C order
    PARALLEL = "parallel"  # one thread per loop iteration (or per piece of a bin)
    SCAN = "scan"  # count, scan, fill (and finish)
    SORT = "sort"  # the array library's sort (NumPy on the host, CuPy on cuda); no kernel launch


class Role(str, enum.Enum):
    """The launches a step may have, in the order they run."""

    SERIAL = "serial"  # a checked step's C-order form, when the data do not allow the parallel one
    NOMINAL = "nominal"  # each iteration's nominal share of a speculated counter
    CHECK = "check"  # a checked parallel step: finds the first failing iteration
    COUNT = "count"  # stores suppressed: how far each counter advances
    COMPACT = "compact"  # an array compacted in place: its compacted values into scratch
    VERIFY = "verify"  # every read of that array saw what the C saw (else C order)
    MAIN = "main"  # a serial or parallel step's launch
    FILL = "fill"  # the iteration again from its scanned start, storing
    COPY = "copy"  # the compacted values back into their array
    FINISH = "finish"  # one thread: the counters' final values


class Fold(str, enum.Enum):
    """Where a constant-work one-thread step's work runs when it has no launch of its own (the
    executor launches it itself whenever that neighbour's launch is not made)."""

    NEXT = "next"  # global thread 0 of the next step's first launch, before its own iteration
    PREVIOUS = "previous"  # the previous scan step's finish, after the counters' final values


class CounterKind(str, enum.Enum):
    LOCAL = "local"  # a top-level local (`k++`)
    MEMORY = "memory"  # a place in memory (`*total += m`)
    RUNNING = "running"  # a running sum stored per iteration (`out[i + 1] = out[i] + m`)
    KEYED = "keyed"  # a counter per key (`current[tag]++`)
    COLUMNS = "columns"  # an array of counters a helper advances in lockstep (`toindex[k]++` for k < width)
    SCRATCH = "scratch"  # an array each iteration writes before it reads it, kept private per iteration


class CounterOp(str, enum.Enum):
    SUM = "sum"  # advances scanned into starting values
    MAX = "max"  # a running maximum, reduced
    MIN = "min"  # a running minimum, reduced
    LAST = "last"  # only assigned: the last assigning iteration's value wins
    SPECULATED = "speculated"  # a sum whose advances are known up front (nominal shares)


@dataclass(frozen=True)
class Counter:
    """One counter of a scan step and the rows of the scan buffer it uses.

    `row` holds its per-iteration advances (or values); `flag_row` (LAST) the assigning
    iteration, `key_row` (KEYED) each iteration's key, `actual_row` (SPECULATED) how far it
    really advanced. COLUMNS: `row` the advance every column shares, `width_row` how many
    columns the iteration touched; SCRATCH: `row` the elements the iteration wrote (a bit mask).
    `check_row` (COLUMNS, SCRATCH): nonzero where the iteration broke what its private form
    relies on (columns not in lockstep, an element read before written, beyond capacity).
    """

    kind: CounterKind
    op: CounterOp
    name: str  # the variable the generated body advances (the local itself, or akc_ctr<row>)
    row: int
    place: str = ""  # the C lvalue a MEMORY/KEYED counter lives at; RUNNING: its array
    array: str | None = None  # the array argument it lives in (MEMORY, RUNNING, KEYED, COLUMNS, SCRATCH)
    flag_row: int | None = None
    key_row: int | None = None
    actual_row: int | None = None
    width_row: int | None = None
    check_row: int | None = None
    # C text each iteration computes it from: a KEYED counter's key and a SPECULATED counter's
    # nominal share (over the iteration's inputs); a RUNNING sum's local counter k where the sum
    # is read back as `place[k - 1]` (empty where it is `place[i]`)
    base: str = ""

    @property
    def target(self) -> str:
        """The C text the kernel updates: the local's name or the place in memory."""
        return self.name if self.kind == CounterKind.LOCAL else self.place


@dataclass(frozen=True)
class RowRef:
    """The rows `array[first + shift + i]` of an array argument, one per iteration."""

    array: str
    shift: int = 0


@dataclass(frozen=True)
class Segment:
    """A row range the parallel form relies on: `[starts, stops)` or `[starts, starts + counts)`
    ordered, not overlapping the next row's when `disjoint`, and no longer than `longest`.

    The rows are the step's iterations, or where `within` is set the rows its iterations' ranges
    hold: `within` (over its rows from the first iteration on, `within_rows` of them, else one
    per iteration) ordered and disjoint, then these ranges over the rows from its first start to
    its last stop."""

    starts: RowRef
    stops: RowRef | None = None
    counts: RowRef | None = None
    disjoint: bool = True
    longest: Expr | None = None
    within: Segment | None = None
    within_rows: Expr | None = None


class SortRanges(str, enum.Enum):
    """Which ranges a sort step sorts, each on its own."""

    WHOLE = "whole"  # one range: all `count` elements
    OFFSETS = "offsets"  # range r is [bounds[r], bounds[r + 1]) clamped to count, sorted in turn
    RUNS = "runs"  # the runs of equal consecutive values of bounds (parents)


class SortWrites(str, enum.Enum):
    VALUES = "values"  # the keys in sorted order, up to `extent`
    PERMUTATION = "permutation"  # each sorted element's index (less its range's start where `local`)
    STRINGS = "strings"  # the sorted strings' bytes, and their offsets


class SortExtent(str, enum.Enum):
    COUNT = "count"  # every element
    LAST_BOUND = "last_bound"  # up to the last bound, clamped to count


class SortTies(str, enum.Enum):
    """Where keys compare equal, in what order a stable sort leaves them when descending."""

    KEPT = "kept"  # a strict comparator (`a > b`): input order
    REVERSED = "reversed"  # descending as `!(a < b)`: std::stable_sort leaves equal keys reversed


@dataclass(frozen=True)
class Sort:
    """A sort over ranges on the array library's stable sort (segmented: keyed by range, then by
    value), and what it writes.

    Keys are `keys[i]` (numbers; NaN before everything in both directions where `nan_first`) or,
    where `string_starts` is set, the byte strings `keys[string_starts[i]:string_stops[i]]`,
    compared as the C does. A permutation starts as `0..count-1` (std::iota): elements in no
    range keep their own index."""

    count: Expr
    keys: str
    ranges: SortRanges
    out: str
    writes: SortWrites
    ascending: Expr
    stable: Expr
    bounds: str | None = None  # OFFSETS: the offsets array; RUNS: the parents array
    range_count: Expr | None = None  # OFFSETS: the number of ranges
    string_starts: RowRef | None = None
    string_stops: RowRef | None = None
    out_offsets: str | None = None  # STRINGS: where the sorted strings' offsets go
    local: Expr = E.Int(0)  # PERMUTATION: subtract each range's start
    extent: SortExtent = SortExtent.COUNT
    nan_first: bool = False
    stops_at_nul: bool = False  # strings compared by strncmp, which stops at a NUL byte
    ties: SortTies = SortTies.KEPT
    rule: str = "override"  # "rule" (the translator recognised the sort) or "override" (the spec names it)

    kind: ClassVar[StepKind] = StepKind.SORT


# ---------------------------------------------------------------- a step's form
# A step's form says how it runs and carries what only that form needs; the executor, the
# emitter and the reports dispatch on it (`match step.form`). `kind` is the coarse family the
# reports count steps by.


@dataclass(frozen=True)
class Serial:
    """One thread runs the statements in C order."""

    kind: ClassVar[StepKind] = StepKind.SERIAL
    constant_work: bool = False  # the statements do no input-sized work
    fold: Fold | None = None  # constant work only: run in a neighbour's launch


@dataclass(frozen=True)
class Parallel:
    """One thread per loop iteration."""

    kind: ClassVar[StepKind] = StepKind.PARALLEL
    checked: bool = False  # the loop has failures: a check launch first finds the first failing iteration


@dataclass(frozen=True)
class SplitFold:
    """One of a split fold's two launches over bins (generator/rewrites/pieces.py): one thread per piece
    of a bin, each leaving its result in the scan buffer, or one per bin combining its pieces."""

    kind: ClassVar[StepKind] = StepKind.PARALLEL
    partials: Expr  # scan-buffer words the pieces' results take


@dataclass(frozen=True)
class Scan:
    """Count, scan, fill (and finish): one thread per iteration of a loop that carries counters."""

    kind: ClassVar[StepKind] = StepKind.SCAN
    counters: tuple[Counter, ...] = ()
    scan_rows: int = 0  # rows of the scan buffer (each n + 1 long)


@dataclass(frozen=True)
class PrivateRows:
    """Count, scan, fill of rows whose helper writes memory only through column counters,
    scratch and outputs, each thread on private copies of the first two (generator/rules/private_rows.py);
    its counters are those copies."""

    kind: ClassVar[StepKind] = StepKind.SCAN
    counters: tuple[Counter, ...] = ()
    scan_rows: int = 0
    chain: tuple[str, ...] = ()  # the helper the loop calls, and those it hands its parameters on to
    roles: tuple[str, ...] = ()  # per parameter of the chain's last helper: columns, scratch, output, input, scalar
    arrays: dict[str, str] = field(default_factory=dict)  # kernel array -> its role
    elements: dict[str, str] = field(default_factory=dict)  # kernel array (columns, scratch) -> its element type


@dataclass(frozen=True)
class Compaction:
    """Count, scan, fill of a loop compacting an array in place at a local counter
    (`A[m++] = A[k]`): count, compact and verify read it unchanged; compact writes the compacted
    values into scratch after the scan rows, verify flags in `check_row` an iteration that read
    an element an earlier store of the C order had changed, and copy puts the scratch back from
    the counter's start."""

    kind: ClassVar[StepKind] = StepKind.SCAN
    counters: tuple[Counter, ...]  # local sums
    scan_rows: int
    array: str
    counter_row: int  # the counter's row: scanned starts, the total last
    check_row: int

    @property
    def counter(self) -> str:
        """The local counter the array is written at."""
        return next(c.name for c in self.counters if c.row == self.counter_row)


Form = Serial | Parallel | SplitFold | Scan | PrivateRows | Compaction | Sort
Scans = Scan | PrivateRows | Compaction  # the forms that count, scan and fill


@dataclass(frozen=True)
class Step:
    form: Form
    line: int | None = None
    reason: str | None = None  # serial: why no rule applied; an overridden sort: why the rule could not read it
    count: Expr | None = None  # iterations of a loop form
    first: Expr | None = None  # its first iteration (where row checks start)
    guard: Expr | None = None  # the step runs only where this holds
    requires: Expr | None = None  # the parallel form holds only where this holds, else C order
    segments: tuple[Segment, ...] = ()
    row_loop: int | None = None  # a loop form: line of an input-sized loop each iteration runs
    form_on_device: bool = False  # the device checks the row ranges and picks the form: no read-back

    @property
    def kind(self) -> StepKind:
        return self.form.kind


@dataclass(frozen=True)
class Entry:
    """One C function's steps, shared by the specializations that instantiate it."""

    template_params: tuple[str, ...] = ()
    locals: tuple[str, ...] = ()  # top-level locals spilled between launches, in slot order
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Launch:
    expression: str  # the kernel's name expression (with template arguments) for NVRTC
    host: str  # its entry point in the host emulation library


@dataclass(frozen=True)
class Specialization:
    symbol: str
    entry: str
    template_args: tuple[str, ...] = ()
    launches: tuple[dict[Role, Launch], ...] = ()  # per step of the entry


@dataclass(frozen=True)
class Plan:
    kernel: str
    messages: tuple[str, ...] = ()  # failure messages, by the index the error record holds
    entries: dict[str, Entry] = field(default_factory=dict)
    specializations: dict[str, Specialization] = field(default_factory=dict)
    translator: str = ""  # fingerprint of the translator that wrote it (akcuda.plan.translator_fingerprint)
    source_sha256: str = ""  # of the C file it was translated from: the runtime refuses it for another spec's C

    @property
    def name_expressions(self) -> list[str]:
        """Every kernel name expression, for NVRTC's lowered names."""
        return [
            launch.expression
            for s in self.specializations.values()
            for roles in s.launches
            for launch in roles.values()
        ]

    def entry_of(self, symbol: str) -> Entry:
        """The entry as `symbol` runs it: guards on its template arguments' types decided
        (`expr.bind_types`); a step whose guard never holds there keeps its place, guard 0."""
        special = self.specializations[symbol]
        entry = self.entries[special.entry]
        integral = {p: a in INTEGERS for p, a in zip(entry.template_params, special.template_args)}
        steps = tuple(replace(s, guard=E.bind_types(s.guard, integral)) for s in entry.steps)
        return entry if steps == entry.steps else replace(entry, steps=steps)


# ---------------------------------------------------------------- JSON


def to_json(plan: Plan) -> dict:
    """The plan as JSON data (the schema `from_json` reads), derived from its declaration
    (akcuda.plan.codec)."""
    return {"schema_version": SCHEMA_VERSION, **codec.to_json(plan)}


def from_json(data: dict) -> Plan:
    """Read a plan written by `to_json`; anything else raises PlanError naming what is wrong."""
    where = data.get("kernel", "?") if isinstance(data, dict) else "?"
    try:
        if data["schema_version"] != SCHEMA_VERSION:
            raise PlanError(
                f"plan {where}: schema version {data['schema_version']}, "
                f"this akcuda reads {SCHEMA_VERSION} (run `akcuda generate`)"
            )
        return codec.from_json(Plan, {k: v for k, v in data.items() if k != "schema_version"})
    except PlanError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PlanError(f"plan {where}: malformed ({type(exc).__name__}: {exc})") from None
