"""Awkward operations as a user of an installed akcuda runs them: tests/toolchain/test_wheel.py runs
this file with the Python of a fresh venv holding akcuda's wheel, from a folder outside any
checkout. It prints JSON: every operation's result on stock Awkward and under
`akcuda.install("host")`, the trace of the installed run, where akcuda was imported from, which
toolchain modules the run loaded, and the time of the first call after `install`.

Only the standard library, NumPy, Awkward and akcuda: the venv has nothing else.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time

import awkward as ak
import numpy as np

import akcuda

TOOLCHAIN = ("yaml", "jinja2", "rich", "pycparser", "matplotlib")

rng = np.random.default_rng(24)
counts = rng.integers(0, 6, 400)
jagged = ak.unflatten(np.round(rng.normal(0, 3, counts.sum()), 2), counts)
ints = ak.unflatten(rng.integers(-4, 5, counts.sum()), counts)
words = ak.Array([["muon", "electron", "", "tau", "muon"], [], ["jet", "électron", "jet"], ["tau"]] * 25)

OPERATIONS = {
    "sum_axis1": lambda: ak.sum(jagged, axis=1),  # the first call: its time is reported
    "slice_range": lambda: jagged[:, 1:3],
    "slice_mask": lambda: jagged[jagged > 0],
    "slice_index": lambda: ints[ak.num(ints) > 2][:, 2],
    "slice_negative": lambda: ints[ak.num(ints) > 0][:, -1],
    "max_axis1": lambda: ak.max(ints, axis=1),
    "argmin_axis1": lambda: ak.argmin(jagged, axis=1),
    "count_axis1": lambda: ak.count(jagged, axis=1),
    "prod_axis1": lambda: ak.prod(ints, axis=1),
    "sum_axis0": lambda: ak.sum(ints, axis=0),
    "combinations": lambda: ak.combinations(ints, 2),
    "argcombinations": lambda: ak.argcombinations(jagged, 3),
    "sort": lambda: ak.sort(jagged, axis=1, ascending=False),
    "argsort": lambda: ak.argsort(ints, stable=True),
    "unique": lambda: ak.Array(ak._do.unique(ints.layout, axis=-1)),
    "strings_sort": lambda: ak.sort(words),
    "strings_equal": lambda: words == "muon",
    "strings_num": lambda: ak.num(words, axis=2),
    "strings_unique": lambda: ak.Array(ak._do.unique(words.layout, axis=-1)),
    "flatten": lambda: ak.flatten(ints),
    "firsts": lambda: ak.firsts(jagged),
}


def _result(op) -> dict:
    try:
        out = op()
    except Exception as exc:  # noqa: BLE001 - an error is a result to compare, as Awkward raises it
        return {"error": f"{type(exc).__name__}: {exc}"}
    if isinstance(out, ak.Array):
        return {"list": out.to_list(), "type": str(out.type)}
    return {"value": repr(out)}


def main() -> None:
    stock = {name: _result(op) for name, op in OPERATIONS.items()}
    start = time.perf_counter()
    akcuda.install("host")
    installing = time.perf_counter() - start
    with akcuda.trace() as calls:
        start = time.perf_counter()
        ours = {"sum_axis1": _result(OPERATIONS["sum_axis1"])}
        first = time.perf_counter() - start
        ours |= {name: _result(op) for name, op in OPERATIONS.items() if name != "sum_axis1"}
        every = time.perf_counter() - start
    akcuda.uninstall()
    json.dump(
        {
            "akcuda": akcuda.__file__,
            "stock": stock,
            "akcuda_results": ours,
            "calls": len(calls.calls),
            "kernels": calls.kernels,
            "fallbacks": [f"{c.kernel}: {c.reason}" for c in calls.fallbacks],
            "install_seconds": installing,
            "first_call_seconds": first,
            "all_seconds": every,
            "toolchain_loaded": [name for name in TOOLCHAIN if name in sys.modules],
            "toolchain_installed": [name for name in TOOLCHAIN if importlib.util.find_spec(name) is not None],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
