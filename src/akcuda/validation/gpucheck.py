"""`make gpu-check`: on a machine with an NVIDIA GPU (no network needed), run the parity suite on
the `cuda` target and the Awkward corpus with `install(target="cuda")`, and write JSON and
Markdown results into a folder the caller names."""

from __future__ import annotations

import json
import time
from pathlib import Path

from akcuda.runtime import device, unavailable
from akcuda.validation import corpus, report, suite


def gpu_available() -> tuple[bool, str]:
    """(True, device name) when CuPy sees a CUDA device, else (False, why not)."""
    why = unavailable("cuda")
    return (False, why) if why is not None else (True, device()[0])


def summary_markdown(device: str, parity: dict, corpus: dict, seconds: dict[str, float]) -> str:
    """A short Markdown page of the GPU results, to paste into an issue."""
    p, c = parity["summary"], corpus["summary"]
    lines = [
        f"# akcuda GPU check on {device}",
        "",
        "| | total | passed | failed | pending | cases |",
        "|---|---|---|---|---|---|",
        f"| specializations (parity, cuda) | {p['specializations']} | {p['passed']} | {p['failed']} "
        f"| {p['pending']} | {p['cases']} |",
        "",
        "| corpus | operations | identical | different | via akcuda |",
        "|---|---|---|---|---|",
        f'| install(target="cuda") | {c["operations"]} | {c["identical"]} | {c["different"]} | {c["via_akcuda"]} |',
        "",
        "Fallback kernels: " + (", ".join(c["fallback_kernels"]) or "none"),
        "",
        "Wall time: " + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()),
    ]
    failures = [s for s in parity["specializations"] if s["status"] == "failed"]
    if failures:
        lines += ["", "## Parity failures", ""]
        lines += [f"- `{s['symbol']}`: {(s['failure'] or {}).get('reason') or s['reason']}" for s in failures[:50]]
    different = [o for o in corpus["operations"] if not o["identical"]]
    if different:
        lines += ["", "## Corpus differences", ""]
        lines += [f"- `{o['name']}`: {o.get('difference')}" for o in different[:50]]
    return "\n".join(lines) + "\n"


def run(out_dir: Path) -> dict:
    """Run both checks on the GPU and write gpu-parity.json, gpu-corpus.json, gpu-check.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    present, device = gpu_available()
    if not present:
        result = {"gpu": False, "reason": device}
        (out_dir / "gpu-check.json").write_text(json.dumps(result, indent=1))
        return result
    seconds = {}
    start = time.perf_counter()
    parity = report.build_report(suite.parity_results("cuda", seeds=(1,)), {}, {"target": "cuda", "device": device})
    seconds["parity"] = time.perf_counter() - start
    start = time.perf_counter()
    corpus_result = corpus.run_corpus("cuda")
    seconds["corpus"] = time.perf_counter() - start
    (out_dir / "gpu-parity.json").write_text(json.dumps(parity, indent=1, default=str))
    (out_dir / "gpu-corpus.json").write_text(json.dumps(corpus_result, indent=1, default=str))
    (out_dir / "gpu-check.md").write_text(summary_markdown(device, parity, corpus_result, seconds))
    result = {
        "gpu": True,
        "device": device,
        "parity": parity["summary"],
        "corpus": corpus_result["summary"],
        "seconds": seconds,
    }
    (out_dir / "gpu-check.json").write_text(json.dumps(result, indent=1, default=str))
    return result
