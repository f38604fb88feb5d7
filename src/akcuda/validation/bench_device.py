"""The bench's timed sections, on the cuda target where a GPU exists and on the host target at
small sizes otherwise (the CPU smoke run, which tests the same code): kernel sweeps with GB/s
against a copy's bandwidth, per-call overhead, the first call in a fresh process, allocations
per call, and the physics workloads. Results as JSON rows, Markdown tables and PNG plots.
"""

from __future__ import annotations

from pathlib import Path

from akcuda.runtime import make_target
from akcuda.validation import sweeps, timing, workloads

# Each row workload's long rows: pairs grow with the square of a row's length, and a reduction per
# column walks every row once per column (as the C does), so its longest row is its column count.
LONG_GPU = {"pairs": 3000, "unique": 10**5, "sum_per_list": 10**5, "sum_per_column": 100, "max_per_column": 100}
LONG_SMOKE = {"pairs": 200, "unique": 2000, "sum_per_list": 2000, "sum_per_column": 50, "max_per_column": 50}
# What each run times: kernel sizes, repeats (kernels; workloads), events, the largest event count
# the plain CPU runs at (its 10^7 would crowd out the rest of an 8-minute device check), copy size.
GPU = {
    "sizes": sweeps.GPU_SIZES,
    "repeats": 5,
    "workload_repeats": 3,
    "events": (10**5, 10**6, 10**7),
    "cpu_up_to": 10**6,
    "copy": 1 << 30,
    "rows": {"short_rows": 2 * 10**6, "long_rows": 4, "long_lengths": LONG_GPU},
}
SMOKE = {
    "sizes": sweeps.SMOKE_SIZES,
    "repeats": 3,
    "workload_repeats": 3,
    "events": (1000,),
    "cpu_up_to": None,
    "copy": 1 << 24,
    "rows": {"short_rows": 2000, "long_rows": 2, "long_lengths": LONG_SMOKE},
}


def run(target: str) -> dict:
    """Every timed section on `target` ("cuda" at GPU sizes, "host" at the smoke run's)."""
    plan = GPU if target == "cuda" else SMOKE
    bandwidth = sweeps.copy_bandwidth(target, make_target(target), plan["copy"], plan["repeats"])
    return {
        "target": target,
        "clock": timing.clock(target).name,
        "copy_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "sweeps": sweeps.sweep(target, plan["sizes"], plan["repeats"], bandwidth),
        "overhead": sweeps.overhead(target),
        "first_call": [sweeps.first_call(target, prebuilt) for prebuilt in (True, False)],
        "workloads": workloads.run(target, plan["events"], plan["workload_repeats"], plan["cpu_up_to"]),
        "rows": workloads.run_rows(target, **plan["rows"], repeats=plan["workload_repeats"]),
    }


def _us(figure: dict | None) -> str:
    if not figure:
        return "—"
    if "error" in figure:
        return f"error: {figure['error']}"
    return f"{figure['median_us']:.1f} ({figure['min_us']:.1f}–{figure['max_us']:.1f})"


def _ms(figure: dict) -> str:
    return f"{figure['median_us'] / 1e3:.2f} ({figure['min_us'] / 1e3:.2f}–{figure['max_us'] / 1e3:.2f})"


def markdown(device: dict) -> list[str]:
    """The timed sections' tables."""
    target = device["target"]
    theirs = "Awkward's cuda kernel" if target == "cuda" else "Awkward's CPU kernel (awkward-cpp)"
    lines = [
        f"## Timed sections: target `{target}`, clock {device['clock']}",
        "",
        "Each time is the median of repeated runs (after a warm-up), with min–max in brackets, in µs.",
        f"Copy bandwidth (device-to-device copy, read + write): {device['copy_bandwidth_gb_s']} GB/s.",
        "",
        "### Kernel sweeps",
        "",
        f"| kernel | n | ideal bytes | akcuda µs | GB/s | of copy | {theirs} µs | GB/s | CPU µs | allocs (bytes) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in device["sweeps"]:
        ours, other = r["akcuda"], r["awkward"]
        made = f"{ours['allocations']} ({ours['bytes_allocated']})"
        lines.append(
            f"| `{r['symbol']}` | {r['n']} | {r['ideal_bytes']} | {_us(ours)} | {ours['gb_s']} | {ours['of_copy']} "
            f"| {_us(other)} | {other.get('gb_s', '—')} | {_us(r.get('cpu'))} | {made} |"
        )
    o = device["overhead"]
    lines += [
        "",
        f"### Per-call overhead (host wall time, {o['calls']} calls, `{o['symbol']}` at n = {o['n']})",
        "",
        "| run | µs per call | allocations per call (bytes) |",
        "|---|---|---|",
        *[
            f"| {name} | {_us(o[name])} | {o[name].get('allocations', '—')} ({o[name].get('bytes_allocated', '—')}) |"
            for name in ("akcuda_immediate", "akcuda_deferred", "awkward")
        ],
        "",
        "### First call in a fresh process",
        "",
        "| binaries | import s | set-up s | first call s | total s | loaded from |",
        "|---|---|---|---|---|---|",
    ]
    for f in device["first_call"]:
        kind = "prebuilt" if f["prebuilt"] else "built from source"
        if "error" in f:
            lines.append(f"| {kind} | error: {f['error']} | | | | |")
            continue
        lines.append(
            f"| {kind} | {f['import_s']} | {f['setup_s']} | {f['first_call_s']} | {f['total_s']} | {f['binary']} |"
        )
    lines += [
        "",
        "### Physics workloads (synthetic events)",
        "",
        "| workload | events | configuration | ms | equal to CPU | kernel calls (fallbacks) |",
        "|---|---|---|---|---|---|",
    ]
    for w in device["workloads"]:
        if "error" in w:
            lines.append(f"| {w['workload']} | {w['events']} | {w['config']} | error: {w['error']} | | |")
            continue
        equal = "—" if "equal" not in w else ("yes" if w["equal"] else ("within 1e-9" if w["close"] else "**no**"))
        calls = f"{w['kernel_calls']} ({w['fallbacks']})" if "kernel_calls" in w else "—"
        lines.append(f"| {w['workload']} | {w['events']} | {w['config']} | {_ms(w)} | {equal} | {calls} |")
    lines += [
        "",
        "### Whole-row steps on skewed rows (many short rows and a few long ones, against as many rows of one length)",
        "",
        "| workload | rows | shape | elements | outputs | configuration | ms | equal to CPU | kernels (fallbacks) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in device["rows"]:
        head = f"| {w['workload']} | {w['events']} | {w['shape']} | {w['elements']} | {w['outputs']} | {w['config']}"
        if "error" in w:
            lines.append(f"{head} | error: {w['error']} | | |")
            continue
        calls = f"{', '.join(w['kernels'])} ({w['fallbacks']})" if "kernels" in w else "—"
        lines.append(f"{head} | {_ms(w)} | {'yes' if w['equal'] else '**no**'} | {calls} |")
    return lines


def plots(device: dict, out_dir: Path, plt) -> list[Path]:
    """GB/s against size per sweep kernel, and each workload's time per configuration."""
    written = []
    symbols = list(dict.fromkeys(r["symbol"] for r in device["sweeps"]))
    fig, axes = plt.subplots(1, len(symbols), figsize=(5 * len(symbols), 4), squeeze=False)
    for ax, symbol in zip(axes[0], symbols):
        rows = [r for r in device["sweeps"] if r["symbol"] == symbol]
        for name in ("akcuda", "awkward", "cpu"):
            if all("gb_s" in r.get(name, {}) for r in rows):
                ax.loglog([r["n"] for r in rows], [r[name]["gb_s"] for r in rows], "o-", label=name)
        ax.axhline(device["copy_bandwidth_gb_s"], linestyle=":", color="grey", label="copy bandwidth")
        ax.set_title(symbol.removeprefix("awkward_"), fontsize=8)
        ax.set_xlabel("n")
        ax.set_ylabel("GB/s (ideal bytes)")
        ax.legend(fontsize=7)
    fig.suptitle(f"kernel sweeps, target {device['target']}")
    fig.tight_layout()
    written.append(out_dir / "sweeps.png")
    fig.savefig(written[-1])
    plt.close(fig)
    timed = [w for w in device["workloads"] if "median_us" in w]
    largest = max((w["events"] for w in timed), default=0)
    names = list(dict.fromkeys(w["workload"] for w in timed))
    configs = list(dict.fromkeys(w["config"] for w in timed))
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(configs), 1)
    for k, config in enumerate(configs):
        ms = {w["workload"]: w["median_us"] / 1e3 for w in timed if w["config"] == config and w["events"] == largest}
        ax.bar([i + k * width for i in range(len(names))], [ms.get(n, 0) for n in names], width, label=config)
    ax.set_xticks([i + width * (len(configs) - 1) / 2 for i in range(len(names))], names, rotation=20, fontsize=7)
    ax.set_ylabel("ms (median)")
    ax.set_yscale("log")
    ax.set_title(f"workloads at {largest} events, target {device['target']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(out_dir / "workloads.png")
    fig.savefig(written[-1])
    plt.close(fig)
    return written
