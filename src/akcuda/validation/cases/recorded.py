"""Recorded cases: every kernel call Awkward makes while it runs the corpus, saved as data.

``record()`` runs the corpus (akcuda.validation.corpus) on Awkward's stock cpu backend with every kernel
look-up wrapped, and saves each distinct call — its symbol, every argument before the call and
the output buffers after it — into ``build/recorded/<symbol>.npz``. ``load_recorded_cases``
turns them back into parity cases (source "recorded").

An output buffer is saved as ``{"out": length}`` unless the C kernel's results depend on what it
held before the call (checked by calling the C kernel again with it zeroed); Awkward allocates
most outputs uninitialised, and those garbage bytes are not part of the case. The outputs after
the call (``notes["expected"]``) come from rerunning the C kernel with such buffers zeroed, so a
recording is byte-for-byte reproducible; the rerun must agree with what Awkward saw wherever the
kernel wrote (``RecordSummary.unfaithful`` counts calls where it did not).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from akcuda import paths
from akcuda.plan.ctype import base_type
from akcuda.plan.errors import KernelFailure
from akcuda.runtime import awkward_plugin
from akcuda.validation import corpus, reference
from akcuda.validation.cases import Case


def recorded_dir() -> Path:
    return paths.BUILD / "recorded"


class Unrecordable(ValueError):
    """A call whose pointer table points at memory the recorder did not see allocated."""


# ---------------------------------------------------------------- capturing calls


@dataclass
class Call:
    """One kernel call: arguments before it (by name), outputs after it, its failure if any."""

    symbol: str
    op: str
    before: dict[str, Any]
    after: dict[str, Any]  # as Awkward saw them, uninitialised bytes included
    failure: KernelFailure | None
    outputs: dict[str, Any] = field(default_factory=dict)  # what the case gives each output
    expected: dict[str, Any] = field(default_factory=dict)  # after, unwritten elements as zero


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [a.copy() for a in value]
    return value.copy() if isinstance(value, np.ndarray) else value


def _scalar(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


class _Capture:
    """Reads a call's arguments as NumPy copies; resolves T** tables through the pointers that
    Awkward asked the Numpy nplike for (``memory_ptr``) while recording."""

    def __init__(self) -> None:
        self.pointers: dict[int, np.ndarray] = {}

    def array(self, x: Any) -> np.ndarray:
        if hasattr(x, "_b_base_"):  # ndarray.ctypes.data_as(...) keeps its array as ._arr
            x = getattr(x, "_arr", None)
            if x is None:
                raise Unrecordable("a ctypes pointer without its array")
        return np.array(x, copy=True)

    def table(self, x: Any) -> list[np.ndarray]:
        addresses = self.array(x).view(np.uint64)
        missing = [int(a) for a in addresses if int(a) not in self.pointers]
        if missing:
            raise Unrecordable(f"pointer {missing[0]:#x} in a T** table was not seen allocated")
        return [self.pointers[int(a)].copy() for a in addresses]

    def value(self, x: Any, arg: dict) -> Any:
        stars = base_type(arg["ctype"])[1]
        if stars == 2:
            return self.table(x)
        return self.array(x) if stars == 1 else _scalar(x)


@contextmanager
def _pointer_registry(capture: _Capture) -> Iterator[None]:
    """Remember every array whose address Awkward takes (how it fills T** tables)."""
    from awkward._nplikes.array_like import maybe_materialize
    from awkward._nplikes.numpy import Numpy

    original = Numpy.__dict__["memory_ptr"]

    def memory_ptr(self, x):
        address = original(self, x)
        (capture.pointers[address],) = maybe_materialize(x)
        return address

    Numpy.memory_ptr = memory_ptr
    try:
        yield
    finally:
        Numpy.memory_ptr = original


class _RecordingKernel:
    """Awkward's own kernel; each call's arguments and outputs go to the recorder."""

    def __init__(self, original: Any, special: dict, recorder: Recorder):
        self._original = original
        self._special = special
        self._recorder = recorder

    @property
    def key(self) -> tuple:
        return self._original.key

    def __call__(self, *args: Any) -> Any:
        spec_args = self._special["args"]
        try:
            before = {a["name"]: self._recorder.capture.value(x, a) for x, a in zip(args, spec_args)}
        except Unrecordable:
            before = None
        result = self._original(*args)
        if before is None:
            self._recorder.skipped += 1
            return result
        after = {a["name"]: self._recorder.capture.value(x, a) for x, a in zip(args, spec_args) if a["dir"] != "in"}
        failure = None
        if result.str:
            failure = KernelFailure(result.str.decode(errors="surrogateescape"), int(result.id), int(result.attempt))
        self._recorder.add(Call(self._special["symbol"], self._recorder.op, before, after, failure), self._special)
        return result


class Recorder:
    """Collects distinct calls, by symbol."""

    def __init__(self) -> None:
        self.capture = _Capture()
        self.op = ""
        self.calls: dict[str, list[Call]] = {}
        self.seen: set[str] = set()
        self.total = 0
        self.skipped = 0
        self.unfaithful = 0  # calls whose rerun disagreed with Awkward's outputs (expected: none)

    def kernel(self, index: tuple, original: Any) -> Any:
        kernel = original()  # an unknown key raises here, as it does in Awkward
        symbol = awkward_plugin.symbol_of(index)
        found = awkward_plugin.specialization(symbol) if symbol else None
        return kernel if found is None else _RecordingKernel(kernel, found[1], self)

    def add(self, call: Call, special: dict) -> None:
        self.total += 1
        if not settle(call, special):
            self.unfaithful += 1
        key = _fingerprint(call)
        if key in self.seen:
            return
        self.seen.add(key)
        self.calls.setdefault(call.symbol, []).append(call)


def _fingerprint(call: Call) -> str:
    """What the saved case will hold: outputs as given, not the garbage Awkward left in them."""
    digest = hashlib.sha256(call.symbol.encode())
    for name, value in call.before.items():
        digest.update(name.encode())
        if name in call.outputs:
            digest.update(json.dumps(call.outputs[name]).encode())
            continue
        for part in _parts(value):
            digest.update(
                part.tobytes() + str(part.dtype).encode() if isinstance(part, np.ndarray) else repr(part).encode()
            )
    return digest.hexdigest()


# ---------------------------------------------------------------- which outputs the kernel reads


def _rows(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint8).reshape(len(a), a.itemsize)


def _parts(value: Any) -> list:
    """The arrays of one argument: itself, or each array of a T** table."""
    return value if isinstance(value, list) else [value]


def _zeroed(value: Any) -> Any:
    parts = [np.zeros_like(a) for a in _parts(value)]
    return parts if isinstance(value, list) else parts[0]


def _all_zero(value: Any) -> bool:
    return not any(a.view(np.uint8).any() for a in _parts(value))


def _call(special: dict, values: dict[str, Any]) -> KernelFailure | None:
    return reference.call(special, [values[a["name"]] for a in special["args"]])


def reads_output(special: dict, before: dict[str, Any], name: str) -> bool:
    """Whether the C kernel's results depend on the pre-call contents of output ``name``.

    The kernel runs on the recorded contents (exactly Awkward's call) and on zeros: zeros, not
    sentinel bytes, because a kernel that reads the buffer may use it as indices. Contents that
    are all zero already cannot be told apart, so they count as read (the safe answer).
    """
    if _all_zero(before[name]):
        return True
    first = {k: _copy(v) for k, v in before.items()}
    second = {k: _copy(v) for k, v in before.items()}
    second[name] = _zeroed(before[name])
    f1, f2 = _call(special, first), _call(special, second)
    if f1 != f2:
        return True
    for arg in special["args"]:
        other = arg["name"]
        if arg["dir"] == "in":
            continue
        pairs = zip(_parts(first[other]), _parts(second[other]), _parts(before[other]))
        for one, two, old in pairs:
            if other != name:
                if one.tobytes() != two.tobytes():
                    return True
                continue
            # Its own contents: only the elements the kernel wrote must not depend on the fill.
            written = (_rows(one) != _rows(old)).any(axis=1)
            if (_rows(one)[written] != _rows(two)[written]).any():
                return True
    return False


def settle(call: Call, special: dict) -> bool:
    """Decide what the case gives each output and compute its expected outputs: the kernel rerun
    with unread outputs zeroed, so that elements it never writes are 0, not Awkward's garbage.
    Returns whether the rerun agrees with what Awkward saw wherever the kernel wrote."""
    values = {k: _copy(v) for k, v in call.before.items()}
    unread = set()
    for arg in special["args"]:
        name, value = arg["name"], call.before[arg["name"]]
        if arg["dir"] != "out":
            continue
        if reads_output(special, call.before, name):
            call.outputs[name] = [v.tolist() for v in value] if isinstance(value, list) else value.tolist()
        else:
            call.outputs[name] = [{"out": len(v)} for v in value] if isinstance(value, list) else {"out": len(value)}
            values[name] = _zeroed(value)
            unread.add(name)
    _call(special, values)
    call.expected = {name: values[name] for name in call.after}
    for name, seen in call.after.items():
        for mine, theirs in zip(_parts(values[name]), _parts(seen)):
            written = (_rows(mine) != 0).any(axis=1) if name in unread else slice(None)
            if (_rows(mine)[written] != _rows(theirs)[written]).any():
                return False
    return True


# ---------------------------------------------------------------- saving and loading


def _store(arrays: dict[str, np.ndarray], key: str, value: Any) -> Any:
    """Put arrays into the .npz dictionary; return the JSON-able description of value."""
    if isinstance(value, list):
        return {"table": [_store(arrays, f"{key}.{k}", v) for k, v in enumerate(value)]}
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"array": key}
    return {"scalar": value}


def save(calls: list[Call], special: dict, folder: Path) -> Path:
    """Write one symbol's calls into ``<folder>/<symbol>.npz``."""
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, call in enumerate(calls):
        args = {}
        for arg in special["args"]:
            name = arg["name"]
            if name in call.outputs:
                args[name] = {"given": call.outputs[name]}
            else:
                args[name] = _store(arrays, f"{i}.{name}", call.before[name])
        after = {name: _store(arrays, f"{i}.{name}@after", value) for name, value in call.expected.items()}
        failure = (
            None
            if call.failure is None
            else {"message": call.failure.message, "identity": call.failure.identity, "attempt": call.failure.attempt}
        )
        meta.append({"name": f"{call.op}#{i}", "op": call.op, "args": args, "after": after, "failure": failure})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{special['symbol']}.npz"
    np.savez_compressed(path, __meta__=np.array(json.dumps({"symbol": special["symbol"], "calls": meta})), **arrays)
    return path


def _load(described: dict, arrays: Any) -> Any:
    if "table" in described:
        return [_load(d, arrays) for d in described["table"]]
    if "array" in described:
        return arrays[described["array"]]
    return described["given"] if "given" in described else described["scalar"]


def load_recorded_cases(symbol: str, folder: Path | None = None) -> list[Case]:
    """The recorded calls of one symbol as parity cases (empty if none were recorded)."""
    path = (folder or recorded_dir()) / f"{symbol}.npz"
    if not path.exists():
        return []
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("__meta__")))
    cases = []
    for call in meta["calls"]:
        notes = {"op": call["op"], "expected": {k: _load(v, arrays) for k, v in call["after"].items()}}
        if call["failure"]:
            notes["message"] = call["failure"]["message"]
        cases.append(
            Case(
                symbol=symbol,
                name=f"recorded:{call['name']}",
                source="recorded",
                args={k: _load(v, arrays) for k, v in call["args"].items()},
                expect_failure=call["failure"] is not None,
                notes=notes,
            )
        )
    return cases


def recorded_symbols(folder: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (folder or recorded_dir()).glob("*.npz"))


# ---------------------------------------------------------------- recording the corpus


@dataclass
class RecordSummary:
    operations: int
    calls: int  # kernel calls seen
    distinct: int  # calls saved (duplicates dropped)
    skipped: int  # calls that could not be recorded
    symbols: int
    folder: Path
    errors: int  # saved calls in which the C kernel failed
    unfaithful: int  # calls whose rerun disagreed with what Awkward saw (expected: 0)


def record(folder: Path | None = None, names: list[str] | None = None, seed: int | None = None) -> RecordSummary:
    """Run the corpus on stock Awkward and save every distinct kernel call into ``folder``."""
    folder = folder or recorded_dir()
    arrays = corpus.make_arrays(corpus.DEFAULT_SEED if seed is None else seed)
    operations = corpus.select(names)
    recorder = Recorder()
    awkward_plugin.intercept("cpu", recorder.kernel)
    try:
        with _pointer_registry(recorder.capture):
            for op in operations:
                recorder.op = op.name
                corpus.evaluate(op, arrays)
    finally:
        awkward_plugin.release("cpu")
    for stale in folder.glob("*.npz"):  # a fresh set: no calls left from an older corpus
        stale.unlink()
    for symbol, calls in sorted(recorder.calls.items()):
        save(calls, awkward_plugin.specialization(symbol)[1], folder)
    saved = [c for calls in recorder.calls.values() for c in calls]
    return RecordSummary(
        len(operations),
        recorder.total,
        len(saved),
        recorder.skipped,
        len(recorder.calls),
        folder,
        sum(c.failure is not None for c in saved),
        recorder.unfaithful,
    )
