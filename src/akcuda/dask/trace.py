"""The cluster-wide trace: per worker, the kernel calls by how they ran, and the kernel failures.

On a worker, the plug-in keeps a `Tally` in place of a `Trace`'s list of calls: a worker runs
for hours, so it counts calls by (kernel, how it ran, why it fell back, its failure) instead of
keeping each one. On the client, `cluster_trace(client)` asks every worker for its counts (one
`client.run`) and returns a `ClusterTrace`, so "no fallback anywhere" is one assertion:

    trace = cluster_trace(client)
    assert trace.all_akcuda, trace.markdown()
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from akcuda.runtime.awkward_plugin import KernelCall

VIA = ("akcuda", "fallback", "cpu-copy")  # how a call ran (KernelCall.via)
PLUGIN = "akcuda"  # the name AkcudaPlugin registers under


class Tally:
    """Counts kernel calls; stands in for a `Trace`'s `calls` list (it takes `append`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str | None, str | None]] = Counter()

    def append(self, call: KernelCall) -> None:
        with self._lock:
            self._counts[(call.kernel, call.via, call.reason, call.error)] += 1

    def take(self, reset: bool = False) -> Counter:
        """The counts so far, by (kernel, via, reason, error); zeroed afterwards with `reset`."""
        with self._lock:
            counts = Counter(self._counts)
            if reset:
                self._counts.clear()
        return counts


@dataclass(frozen=True)
class WorkerTrace:
    """One worker: whether akcuda is installed there (or why not), what it loaded at set-up, and
    its kernel calls since set-up (or the last reset)."""

    address: str
    installed: bool
    target: str | None = None
    setup_error: str | None = None
    preloaded: dict[str, Any] | None = None  # what set-up loaded (runtime.preload.Preloaded; skipped: a count)
    calls: dict[str, int] = field(default_factory=dict)  # via -> calls
    kernels: dict[str, dict[str, int]] = field(default_factory=dict)  # kernel -> via -> calls
    fallbacks: list[dict] = field(default_factory=list)  # kernel, via, reason, calls
    failures: list[dict] = field(default_factory=list)  # kernel, via, error, calls

    @classmethod
    def from_counts(cls, address: str, counts: Counter, **state: Any) -> WorkerTrace:
        calls: Counter[str] = Counter()
        kernels: dict[str, Counter[str]] = {}
        fallbacks: Counter[tuple] = Counter()
        failures: Counter[tuple] = Counter()
        for (kernel, via, reason, error), n in sorted(counts.items(), key=lambda item: str(item[0])):
            calls[via] += n
            kernels.setdefault(kernel, Counter())[via] += n
            if via != "akcuda":
                fallbacks[(kernel, via, reason)] += n
            if error is not None:
                failures[(kernel, via, error)] += n
        return cls(
            address,
            calls=dict(calls),
            kernels={k: dict(v) for k, v in kernels.items()},
            fallbacks=[{"kernel": k, "via": v, "reason": r, "calls": n} for (k, v, r), n in fallbacks.items()],
            failures=[{"kernel": k, "via": v, "error": e, "calls": n} for (k, v, e), n in failures.items()],
            **state,
        )

    @property
    def akcuda_calls(self) -> int:
        return self.calls.get("akcuda", 0)

    @property
    def fallback_calls(self) -> int:
        """Calls that did not run on akcuda's kernels (Awkward's own, or awkward_cpp on copies)."""
        return sum(n for via, n in self.calls.items() if via != "akcuda")


@dataclass(frozen=True)
class ClusterTrace:
    """Every worker's trace, by address."""

    workers: dict[str, WorkerTrace]

    @property
    def calls(self) -> dict[str, int]:
        """Calls on the whole cluster by how they ran (every `VIA` present, zero or not)."""
        total = Counter({via: 0 for via in VIA})
        for worker in self.workers.values():
            total.update(worker.calls)
        return dict(total)

    @property
    def fallback_calls(self) -> int:
        return sum(w.fallback_calls for w in self.workers.values())

    @property
    def kernels(self) -> dict[str, dict[str, int]]:
        """Calls on the whole cluster by kernel, then by how they ran."""
        total: dict[str, Counter[str]] = {}
        for worker in self.workers.values():
            for kernel, calls in worker.kernels.items():
                total.setdefault(kernel, Counter()).update(calls)
        return {kernel: dict(calls) for kernel, calls in sorted(total.items())}

    @property
    def failures(self) -> list[dict]:
        """Every worker's kernel failures, each with its worker's address."""
        return [{"worker": a, **f} for a, w in self.workers.items() for f in w.failures]

    @property
    def all_akcuda(self) -> bool:
        """At least one worker; akcuda installed on every one, every one ran akcuda kernels,
        and no call on the cluster fell back."""
        workers = self.workers.values()
        return bool(self.workers) and all(w.installed and w.akcuda_calls and not w.fallback_calls for w in workers)

    def as_dict(self) -> dict:
        return {
            "all_akcuda": self.all_akcuda,
            "calls": self.calls,
            "kernels": self.kernels,
            "workers": {a: asdict(w) for a, w in self.workers.items()},
        }

    def markdown(self) -> str:
        """A table, one row per worker, then any fallbacks and failures, then the calls by kernel."""
        lines = [
            "| worker | akcuda | target | akcuda calls | fallback | cpu-copy | kernels | failures |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for address, w in sorted(self.workers.items()):
            state = "installed" if w.installed else f"not installed: {w.setup_error}"
            lines.append(
                f"| {address} | {state} | {w.target or ''} | {w.akcuda_calls} | {w.calls.get('fallback', 0)} "
                f"| {w.calls.get('cpu-copy', 0)} | {len(w.kernels)} | {sum(f['calls'] for f in w.failures)} |"
            )
        for address, w in sorted(self.workers.items()):
            lines += [f"- {address}: {f['kernel']} via {f['via']} ({f['reason']}): {f['calls']}" for f in w.fallbacks]
            lines += [f"- {address}: {f['kernel']} failed: {f['error']} ({f['calls']}x)" for f in w.failures]
        lines += ["", "| kernel | akcuda | fallback | cpu-copy |", "|---|---|---|---|"]
        lines += [
            f"| {k} | " + " | ".join(str(calls.get(via, 0)) for via in VIA) + " |" for k, calls in self.kernels.items()
        ]
        return "\n".join(lines) + "\n"


def worker_trace(dask_worker: Any, name: str = PLUGIN, reset: bool = False) -> WorkerTrace:
    """Run on a worker (by `client.run`): its akcuda plug-in's report, or why there is none."""
    plugin = dask_worker.plugins.get(name)
    if plugin is None:
        return WorkerTrace(dask_worker.address, False, setup_error=f"no worker plug-in named {name!r}")
    return plugin.report(dask_worker.address, reset)


def cluster_trace(client: Any, reset: bool = False, name: str = PLUGIN) -> ClusterTrace:
    """Every worker's kernel calls since the plug-in's set-up (or the last `reset=True` call,
    which zeroes the counts after reading them)."""
    return ClusterTrace(client.run(worker_trace, name=name, reset=reset))
