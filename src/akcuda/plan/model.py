"""The typed plan: what the translator writes for a kernel family and the executor runs.

A `Plan` has one `Entry` per C function the specializations share (a template or a plain
function) and one `Specialization` per exported symbol. An entry's `Step`s are its launches in
order; a specialization names, per step and `Role`, the kernel to launch. Plans travel as JSON
(`to_json` / `from_json`, with `SCHEMA_VERSION`) from `build/generated/*.plan.json`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from akcuda.plan import expr as E
from akcuda.plan.ctype import INTEGERS
from akcuda.plan.expr import Expr

SCHEMA_VERSION = 4


class PlanError(ValueError):
    """A plan file that is missing fields, has unknown values or another schema version."""


class StepKind(str, enum.Enum):
    SERIAL = "serial"  # one thread runs the statements in C order
    PARALLEL = "parallel"  # one thread per loop iteration
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
    name: str
    row: int
    place: str = ""  # the C lvalue a MEMORY/RUNNING/KEYED counter lives at (for reports)
    array: str | None = None  # the array argument it lives in (MEMORY, RUNNING, KEYED)
    flag_row: int | None = None
    key_row: int | None = None
    actual_row: int | None = None
    width_row: int | None = None
    check_row: int | None = None


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


@dataclass(frozen=True)
class Compaction:
    """An array a scan step compacts in place at a local counter (`A[m++] = A[k]`): count,
    compact and verify read it unchanged; compact writes the compacted values into scratch after
    the scan rows, verify flags in `check_row` an iteration that read an element an earlier
    store of the C order had changed, and copy puts the scratch back from the counter's start."""

    array: str
    counter_row: int  # the counter's row: scanned starts, the total last
    check_row: int


@dataclass(frozen=True)
class Step:
    kind: StepKind
    line: int | None = None
    reason: str | None = None  # serial: why no rule applied
    constant_work: bool = False  # serial: the statements do no input-sized work
    count: Expr | None = None  # iterations of a parallel or scan step
    first: Expr | None = None  # its first iteration (where row checks start)
    guard: Expr | None = None  # the step runs only where this holds
    requires: Expr | None = None  # the parallel form holds only where this holds, else C order
    checked: bool = False  # a parallel step with failures: a check launch first
    segments: tuple[Segment, ...] = ()
    counters: tuple[Counter, ...] = ()
    scan_rows: int = 0  # rows of the scan buffer (each n + 1 long)
    sort: Sort | None = None  # SORT: the library sort it runs
    compaction: Compaction | None = None  # SCAN: an array compacted in place
    fold: Fold | None = None  # SERIAL with constant work: folded into a neighbour's launch
    row_loop: int | None = None  # PARALLEL/SCAN: line of an input-sized loop each iteration runs
    partials: Expr | None = None  # PARALLEL: scan-buffer words holding a split fold's piece results
    form_on_device: bool = False  # the device checks the row ranges and picks the form: no read-back


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


def _segment_json(s: Segment) -> dict:
    out: dict[str, Any] = {"starts": [s.starts.array, s.starts.shift]}
    for name in ("stops", "counts"):
        ref = getattr(s, name)
        if ref is not None:
            out[name] = [ref.array, ref.shift]
    out["disjoint"] = s.disjoint
    if s.longest is not None:
        out["longest"] = E.to_json(s.longest)
    if s.within is not None:
        out["within"] = _segment_json(s.within)
        out["within_rows"] = E.to_json(s.within_rows)
    return out


def _counter_json(c: Counter) -> dict:
    out = {"kind": c.kind.value, "op": c.op.value, "name": c.name, "row": c.row}
    for name in ("place", "array", "flag_row", "key_row", "actual_row", "width_row", "check_row"):
        if getattr(c, name) not in (None, ""):
            out[name] = getattr(c, name)
    return out


def _ref_json(ref: RowRef | None) -> list | None:
    return None if ref is None else [ref.array, ref.shift]


def _sort_json(s: Sort) -> dict:
    return {
        "count": E.to_json(s.count),
        "keys": s.keys,
        "ranges": s.ranges.value,
        "out": s.out,
        "writes": s.writes.value,
        "ascending": E.to_json(s.ascending),
        "stable": E.to_json(s.stable),
        "bounds": s.bounds,
        "range_count": E.to_json(s.range_count),
        "string_starts": _ref_json(s.string_starts),
        "string_stops": _ref_json(s.string_stops),
        "out_offsets": s.out_offsets,
        "local": E.to_json(s.local),
        "extent": s.extent.value,
        "nan_first": s.nan_first,
        "stops_at_nul": s.stops_at_nul,
        "ties": s.ties.value,
        "rule": s.rule,
    }


def _sort_from_json(d: dict | None) -> Sort | None:
    if d is None:
        return None
    return Sort(
        E.from_json(d["count"]),
        d["keys"],
        SortRanges(d["ranges"]),
        d["out"],
        SortWrites(d["writes"]),
        E.from_json(d["ascending"]),
        E.from_json(d["stable"]),
        d["bounds"],
        E.from_json(d["range_count"]),
        _ref(d["string_starts"]),
        _ref(d["string_stops"]),
        d["out_offsets"],
        E.from_json(d["local"]),
        SortExtent(d["extent"]),
        bool(d["nan_first"]),
        bool(d["stops_at_nul"]),
        SortTies(d["ties"]),
        d["rule"],
    )


def _step_json(s: Step) -> dict:
    return {
        "kind": s.kind.value,
        "line": s.line,
        "reason": s.reason,
        "constant_work": s.constant_work,
        "count": E.to_json(s.count),
        "first": E.to_json(s.first),
        "guard": E.to_json(s.guard),
        "requires": E.to_json(s.requires),
        "checked": s.checked,
        "segments": [_segment_json(x) for x in s.segments],
        "counters": [_counter_json(c) for c in s.counters],
        "scan_rows": s.scan_rows,
        "sort": None if s.sort is None else _sort_json(s.sort),
        "compaction": None if s.compaction is None else vars(s.compaction).copy(),
        "fold": None if s.fold is None else s.fold.value,
        "row_loop": s.row_loop,
        "partials": E.to_json(s.partials),
        "form_on_device": s.form_on_device,
    }


def to_json(plan: Plan) -> dict:
    """The plan as JSON data (the schema `from_json` reads)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kernel": plan.kernel,
        "translator": plan.translator,
        "source_sha256": plan.source_sha256,
        "messages": list(plan.messages),
        "name_expressions": plan.name_expressions,
        "entries": {
            name: {
                "template_params": list(e.template_params),
                "locals": list(e.locals),
                "steps": [_step_json(s) for s in e.steps],
            }
            for name, e in plan.entries.items()
        },
        "specializations": {
            symbol: {
                "entry": s.entry,
                "template_args": list(s.template_args),
                "launches": [
                    {
                        role.value: {"expression": launch.expression, "host": launch.host}
                        for role, launch in roles.items()
                    }
                    for roles in s.launches
                ],
            }
            for symbol, s in plan.specializations.items()
        },
    }


def _ref(data: list | None) -> RowRef | None:
    return None if data is None else RowRef(str(data[0]), int(data[1]))


def _segment_from(data: dict) -> Segment:
    return Segment(
        _ref(data["starts"]),
        _ref(data.get("stops")),
        _ref(data.get("counts")),
        data["disjoint"],
        E.from_json(data.get("longest")),
        _segment_from(data["within"]) if "within" in data else None,
        E.from_json(data.get("within_rows")),
    )


def _counter_from(data: dict) -> Counter:
    rows = {name: data.get(name) for name in ("flag_row", "key_row", "actual_row", "width_row", "check_row")}
    return Counter(
        CounterKind(data["kind"]),
        CounterOp(data["op"]),
        data["name"],
        data["row"],
        data.get("place", ""),
        data.get("array"),
        **rows,
    )


def _step_from(data: dict) -> Step:
    expressions = {name: E.from_json(data.get(name)) for name in ("count", "first", "guard", "requires", "partials")}
    return Step(
        StepKind(data["kind"]),
        data["line"],
        data["reason"],
        data["constant_work"],
        checked=data["checked"],
        segments=tuple(map(_segment_from, data["segments"])),
        counters=tuple(map(_counter_from, data["counters"])),
        scan_rows=data["scan_rows"],
        sort=_sort_from_json(data["sort"]),
        compaction=None if data.get("compaction") is None else Compaction(**data["compaction"]),
        fold=Fold(data["fold"]) if data.get("fold") else None,
        row_loop=data.get("row_loop"),
        form_on_device=bool(data.get("form_on_device")),
        **expressions,
    )


def _entry_from(data: dict) -> Entry:
    return Entry(tuple(data["template_params"]), tuple(data["locals"]), tuple(map(_step_from, data["steps"])))


def _specialization_from(symbol: str, data: dict) -> Specialization:
    launches = tuple(
        {Role(role): Launch(launch["expression"], launch["host"]) for role, launch in roles.items()}
        for roles in data["launches"]
    )
    return Specialization(symbol, data["entry"], tuple(data["template_args"]), launches)


def from_json(data: dict) -> Plan:
    """Read a plan written by `to_json`; anything else raises PlanError naming what is wrong."""
    where = data.get("kernel", "?") if isinstance(data, dict) else "?"
    try:
        if data["schema_version"] != SCHEMA_VERSION:
            raise PlanError(
                f"plan {where}: schema version {data['schema_version']}, "
                f"this akcuda reads {SCHEMA_VERSION} (run `akcuda generate`)"
            )
        entries = {name: _entry_from(e) for name, e in data["entries"].items()}
        specializations = {symbol: _specialization_from(symbol, s) for symbol, s in data["specializations"].items()}
        return Plan(
            data["kernel"],
            tuple(data["messages"]),
            entries,
            specializations,
            data["translator"],
            data.get("source_sha256", ""),
        )
    except PlanError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PlanError(f"plan {where}: malformed ({type(exc).__name__}: {exc})") from None
