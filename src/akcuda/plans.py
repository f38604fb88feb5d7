"""The plan report: for every specialization, its steps, each step's parallel width, the number of
kernel launches and of passes over the input, and why any input-sized step runs in one thread."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from akcuda import executor, paths, specs

LAUNCHES = {"serial": 1, "parallel": 1, "scan": 3}   # scan: count, fill, finish
PASSES = {"serial": 1, "parallel": 1, "scan": 2}     # finish is one thread, constant work


def width_text(expr: list | None) -> str:
    """A plan expression as C-like text: ['-', ['arg', 'length'], ['int', 0]] -> 'length'."""
    if expr is None:
        return "1"
    op = expr[0]
    if op == "arg":
        return expr[1]
    if op == "int":
        return str(expr[1])
    if op == "neg":
        return f"-{width_text(expr[1])}"
    left, right = width_text(expr[1]), width_text(expr[2])
    if op in "+-" and right == "0":
        return left
    return f"({left} {op} {right})" if op in "+-" else f"{left} {op} {right}"


def _input_sized(step: dict) -> bool:
    """A one-thread step whose work grows with the input (the translator marks constant work)."""
    from generator.analyze import CONSTANT_WORK

    return step["kind"] == "serial" and step["reason"] != CONSTANT_WORK


def describe(plan: dict, symbol: str) -> dict:
    """One specialization's plan, as the report shows it."""
    entry = plan["specializations"][symbol]
    steps = []
    for step in plan["entries"][entry["target"]]["steps"]:
        steps.append({
            "kind": step["kind"], "line": step["line"],
            "width": "1" if step["kind"] == "serial" else width_text(step["count"]),
            "launches": LAUNCHES[step["kind"]], "counters": [c["name"] for c in step.get("counters", [])],
            "reason": step["reason"], "width1_input_sized": _input_sized(step),
        })
    return {"symbol": symbol, "kernel": plan["kernel"], "steps": steps,
            "launches": sum(s["launches"] for s in steps),
            "passes": sum(PASSES[s["kind"]] for s in steps if s["kind"] != "serial" or s["width1_input_sized"]),
            "width1_input_sized": any(s["width1_input_sized"] for s in steps)}


def build(pattern: str | None = None, generated: Path | None = None) -> dict:
    """The plans report over every translated specialization matching `pattern`."""
    from akcuda.pipeline import matches

    rows = []
    for spec, special in specs.specializations(specs.load_all()):
        if spec["status"] != "translate" or not matches(pattern, spec["name"], special["symbol"]):
            continue
        rows.append(describe(executor.load_plan(spec["name"], generated), special["symbol"]))
    launches = [r["launches"] for r in rows] or [0]
    summary = {
        "specializations": len(rows),
        "width1_input_sized": sum(r["width1_input_sized"] for r in rows),
        "launches_median": statistics.median(launches),
        "launches_max": max(launches),
        "passes_median": statistics.median([r["passes"] for r in rows] or [0]),
        "passes_max": max([r["passes"] for r in rows] or [0]),
        "steps": {kind: sum(s["kind"] == kind for r in rows for s in r["steps"]) for kind in LAUNCHES},
    }
    return {"summary": summary, "specializations": rows}


def write(report: dict, out_dir: Path | None = None) -> Path:
    out_dir = out_dir or paths.REPORT
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "plans.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path
