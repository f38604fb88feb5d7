"""The plan: the typed contract between the translator (which writes it) and the runtime (which
runs it). `model` has the plan's types, `expr` its integer expressions, `errors` the device error
record, `ctype` the argument types."""

from __future__ import annotations

import functools
import importlib.util
import json
import threading
from pathlib import Path

from akcuda.plan.fingerprint import fingerprint
from akcuda.plan.model import Plan, PlanError, from_json, to_json

_cache: dict[Path, tuple[int, Plan]] = {}
_lock = threading.Lock()


@functools.cache
def translator_fingerprint() -> str:
    """What the generated kernels depend on besides their C: the translator's sources and
    templates and the plan's own modules. A plan written by another translator may launch
    kernels with other arguments, so the runtime refuses it rather than run it."""
    generator = importlib.util.find_spec("akcuda.generator").submodule_search_locations
    return fingerprint([Path(__file__).parent, *map(Path, generator)])


def load(path: Path, fix: str = "run `akcuda generate`") -> Plan:
    """The plan in `path`, read once and kept as objects (read again when the file changes);
    PlanError, ending with `fix`, when it is malformed or was written by another translator."""
    stamp = path.stat().st_mtime_ns
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    plan = from_json(json.loads(path.read_text()))
    if plan.translator != translator_fingerprint():
        raise PlanError(f"{path} was written by another version of the translator: {fix}")
    with _lock:
        _cache[path] = (stamp, plan)
    return plan


def save(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(to_json(plan), indent=1))


__all__ = ["Plan", "PlanError", "from_json", "load", "save", "to_json", "translator_fingerprint"]
