"""`AkcudaPlugin`: akcuda installed in every worker of a dask.distributed cluster.

    client.register_plugin(AkcudaPlugin(target="host"))   # every worker, and those that join later
    ...                                                     # dask-awkward runs on akcuda's kernels
    client.unregister_worker_plugin("akcuda")               # every worker back to stock Awkward

At set-up a worker installs akcuda with the plug-in's target and error mode, loads every kernel
it runs (`akcuda.runtime.preload`: no task pays a first-call cost) and starts counting its
kernel calls for `cluster_trace`. A worker that cannot run the target (no GPU, no kernels: what
`install` refuses) fails its set-up with `AkcudaUnavailable`, whose message is one line naming
the worker and the reason: `register_plugin` raises it on the client, and the worker logs that
line, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from dataclasses import asdict
from typing import Any

from distributed import WorkerPlugin

from akcuda.dask.trace import PLUGIN, Tally, WorkerTrace
from akcuda.runtime import awkward_plugin, preload
from akcuda.runtime.executor import Mode


class AkcudaUnavailable(RuntimeError):
    """A worker cannot run akcuda's target; the message is one line."""


class _OneLine(logging.Filter):
    """distributed logs a plug-in's failed set-up with its traceback: akcuda's reason is one line.

    Before: ``Worker plugin akcuda failed to setup`` and a traceback ending in AkcudaUnavailable.
    After: ``Worker plugin akcuda failed to setup: akcuda on tcp://...: no usable GPU: ...``."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, AkcudaUnavailable):
            record.msg, record.args = f"{record.getMessage()}: %s", (str(error),)
            record.exc_info = record.exc_text = None
        return True


def _quiet_setup_failures() -> None:
    """Put the one-line filter on distributed's worker logger (once per process)."""
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _OneLine) for f in logger.filters):
        logger.addFilter(_OneLine())


class AkcudaPlugin(WorkerPlugin):
    """Installs akcuda (`target` "host" or "cuda", `errors` "immediate" or "deferred", as
    `akcuda.install`) in every worker; removing the plug-in uninstalls it."""

    name = PLUGIN

    def __init__(self, target: str = "host", errors: str | None = None):
        if target not in awkward_plugin.TARGETS:
            raise ValueError(f"unknown akcuda target {target!r}: expected one of {awkward_plugin.TARGETS}")
        if errors is not None:
            Mode(errors)  # a misspelt mode fails here, on the client
        self.target = target
        self.errors = errors
        self._reset_worker_state()

    def _reset_worker_state(self) -> None:
        self.setup_error: str | None = None
        self.preloaded: preload.Preloaded | None = None
        self._installed_here = False  # this plug-in installed akcuda (and so uninstalls it)
        self._tally: Tally | None = None
        self._stack = ExitStack()

    async def setup(self, worker: Any) -> None:
        self._reset_worker_state()
        already = awkward_plugin.is_installed(self.target)
        try:
            # install's refusals (no g++ or GPU, a store whose kernels cannot run) are one line each
            awkward_plugin.install(self.target, self.errors)
            self._installed_here = not already
            # in a thread: building missing host libraries can take minutes, and the worker's
            # event loop must keep answering the scheduler's heartbeats meanwhile
            self.preloaded = await asyncio.to_thread(preload.preload, self.target)
        except (RuntimeError, ValueError) as exc:  # StoreError and NotReady are RuntimeErrors
            self.teardown(worker)
            self.setup_error = str(exc).splitlines()[0]
            _quiet_setup_failures()
            raise AkcudaUnavailable(f"akcuda on {worker.address}: {self.setup_error}") from None
        self._tally = Tally()
        recorder = self._stack.enter_context(awkward_plugin.trace())
        recorder.calls = self._tally  # a Trace appends every call to `calls`: the tally counts them

    def teardown(self, worker: Any) -> None:
        self._stack.close()
        if self._installed_here:
            awkward_plugin.uninstall(self.target)
        self._reset_worker_state()

    def report(self, address: str, reset: bool = False) -> WorkerTrace:
        """This worker's trace (for `cluster_trace`)."""
        state = {
            "installed": self._tally is not None and awkward_plugin.is_installed(self.target),
            "target": self.target,
            "setup_error": self.setup_error,
            "preloaded": None
            if self.preloaded is None
            else {**asdict(self.preloaded), "skipped": len(self.preloaded.skipped)},
        }
        counts = self._tally.take(reset) if self._tally is not None else {}
        return WorkerTrace.from_counts(address, counts, **state)
