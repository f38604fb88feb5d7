"""Does the translator still write what it wrote before? A check for refactors of generator/.

    .venv/bin/python tools/same_generated.py BASELINE_DIR

translates every kernel (as `akcuda generate` does) into a temporary folder and compares each
`.cu` and `.plan.json` with the one in BASELINE_DIR (a copy of an earlier build/generated/):

- a `.cu` must be byte-identical, but for the checkout its C sources lie in (`/work/main/build/
  upstream/...` and `/work/wt/build/upstream/...` are the same file);
- a plan must be identical but for its `translator` fingerprint (a hash of the translator's own
  sources, which any edit changes) and, as in a `.cu`, the checkout. A baseline written with
  plan schema 4 (before the step's form became a tagged union, schema 5) is compared with the
  schema-4 text of the new plan (`schema4`), which must be byte-identical to it.

Prints one line per differing file (the first differing line) and a summary; exit status 1 on
any difference.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path

from akcuda.plan import expr as E
from akcuda.plan import model as P
from akcuda.toolchain.generate import generate


def _lines(text: str) -> list[str]:
    """The text's lines, each absolute path into a checkout's build/upstream/ (the C sources a .cu
    and a refusal name) made relative to the checkout."""
    return re.sub(r"[^\s'\"]*/build/upstream/", "build/upstream/", text).splitlines()


def _ref4(ref: P.RowRef | None) -> list | None:
    return None if ref is None else [ref.array, ref.shift]


def _segment4(s: P.Segment) -> dict:
    out: dict = {"starts": _ref4(s.starts)}
    for name in ("stops", "counts"):
        if getattr(s, name) is not None:
            out[name] = _ref4(getattr(s, name))
    out["disjoint"] = s.disjoint
    if s.longest is not None:
        out["longest"] = E.to_json(s.longest)
    if s.within is not None:
        out["within"] = _segment4(s.within)
        out["within_rows"] = E.to_json(s.within_rows)
    return out


def _counter4(c: P.Counter) -> dict:
    out = {"kind": c.kind.value, "op": c.op.value, "name": c.name, "row": c.row}
    for name in ("place", "array", "flag_row", "key_row", "actual_row", "width_row", "check_row"):
        if getattr(c, name) not in (None, ""):
            out[name] = getattr(c, name)
    return out


def _sort4(s: P.Sort) -> dict:
    out = {}
    for name in (f.name for f in dataclasses.fields(P.Sort)):
        value = getattr(s, name)
        if name in ("count", "ascending", "stable", "range_count", "local"):
            value = E.to_json(value)
        elif name in ("string_starts", "string_stops"):
            value = _ref4(value)
        elif hasattr(value, "value"):
            value = value.value
        out[name] = value
    return out


def _step4(s: P.Step) -> dict:
    """A schema-5 step in the text schema 4 wrote (its form's payload spread over flat fields)."""
    form = s.form
    counters = getattr(form, "counters", ())
    compaction = None
    if isinstance(form, P.Compaction):
        compaction = {"array": form.array, "counter_row": form.counter_row, "check_row": form.check_row}
    fold = getattr(form, "fold", None)
    return {
        "kind": s.kind.value,
        "line": s.line,
        "reason": s.reason,
        "constant_work": getattr(form, "constant_work", False),
        "count": E.to_json(s.count),
        "first": E.to_json(s.first),
        "guard": E.to_json(s.guard),
        "requires": E.to_json(s.requires),
        "checked": getattr(form, "checked", False),
        "segments": [_segment4(x) for x in s.segments],
        "counters": [_counter4(c) for c in counters],
        "scan_rows": getattr(form, "scan_rows", 0),
        "sort": _sort4(form) if isinstance(form, P.Sort) else None,
        "compaction": compaction,
        "fold": None if fold is None else fold.value,
        "row_loop": s.row_loop,
        "partials": E.to_json(getattr(form, "partials", None)),
        "form_on_device": s.form_on_device,
    }


def schema4(plan: P.Plan) -> dict:
    """The plan as schema 4 wrote it."""
    return {
        "schema_version": 4,
        "kernel": plan.kernel,
        "translator": plan.translator,
        "messages": list(plan.messages),
        "name_expressions": plan.name_expressions,
        "entries": {
            name: {
                "template_params": list(e.template_params),
                "locals": list(e.locals),
                "steps": [_step4(s) for s in e.steps],
            }
            for name, e in plan.entries.items()
        },
        "specializations": {
            symbol: {
                "entry": s.entry,
                "template_args": list(s.template_args),
                "launches": [
                    {role.value: {"expression": x.expression, "host": x.host} for role, x in roles.items()}
                    for roles in s.launches
                ],
            }
            for symbol, s in plan.specializations.items()
        },
    }


def _plan_text(new: Path, old: dict) -> tuple[str, str]:
    """(new, old) plan text to compare: the translator fingerprint masked; a schema-4 baseline
    against the new plan's schema-4 text."""
    data = json.loads(new.read_text())
    if old.get("schema_version") != data.get("schema_version"):
        data = schema4(P.from_json(data))
    data["translator"] = old["translator"] = "-"
    return json.dumps(data, indent=1), json.dumps(old, indent=1)


def _first_difference(a: list[str], b: list[str]) -> str:
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"line {k + 1}: {x.strip()[:100]!r} != {y.strip()[:100]!r}"
    return f"{len(a)} lines != {len(b)} lines"


def main(baseline: Path) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        failed = {k: v for k, v in generate(out=out).items() if v}
        new = sorted(p.name for p in out.iterdir())
        old = sorted(p.name for p in baseline.iterdir())
        differ = [f"{name}: only in one of the two" for name in sorted(set(new) ^ set(old))]
        for name in sorted(set(new) & set(old)):
            if name.endswith(".cu"):
                a, b = (_lines((f / name).read_text()) for f in (out, baseline))
            else:
                texts = _plan_text(out / name, json.loads((baseline / name).read_text()))
                a, b = map(_lines, texts)
            if a != b:
                differ.append(f"{name}: {_first_difference(a, b)}")
    for line in differ + [f"not translated: {k}: {v}" for k, v in failed.items()]:
        print(line)
    print(f"same_generated: {len(new)} files, {len(differ)} differ from {baseline}, {len(failed)} not translated")
    return 1 if differ or failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
