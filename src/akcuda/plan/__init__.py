"""The plan: the typed contract between the translator (which writes it) and the runtime (which
runs it). `model` has the plan's types, `expr` its integer expressions, `errors` the device error
record, `ctype` the argument types."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from akcuda.plan.model import Plan, PlanError, from_json, to_json

_cache: dict[Path, tuple[int, Plan]] = {}
_lock = threading.Lock()


def load(path: Path) -> Plan:
    """The plan in `path`, read once and kept as objects (read again when the file changes)."""
    stamp = path.stat().st_mtime_ns
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    plan = from_json(json.loads(path.read_text()))
    with _lock:
        _cache[path] = (stamp, plan)
    return plan


def save(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(to_json(plan), indent=1))


__all__ = ["Plan", "PlanError", "from_json", "load", "save", "to_json"]
