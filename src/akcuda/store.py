"""Where kernels come from: the kernel store, the one place the runtime asks.

In this order:
- `AKCUDA_KERNELS=DIR`: a store folder, as `akcuda pack` writes one (build/store);
- an installed akcuda: the store its wheel carries, `akcuda/_generated/`;
- a checkout (an editable install, or `AKCUDA_ROOT`): its build/generated, build/compiled and
  kernel-specs/, as the toolchain writes them.
The current folder plays no part. A store folder holds:

    manifest.json      what the kernels were made from (awkward-cpp, the translator), the
                       counts, and every file's sha256
    specs.json         what the runtime needs of each kernel spec (symbols, argument types and
                       directions, status): JSON, so that running kernels needs no YAML reader
    generated/         K.cu and K.plan.json per kernel family
    compiled/          sm_80/K.{cubin,lowered.json}, sm_90/K.{cubin,ptx,lowered.json}
    LICENSE.awkward-cpp  Awkward's BSD-3 licence: the kernels are derived from its C

Nothing is run that does not match: a plan translated from other C than its spec names (their
sha256 differ), a plan another translator wrote and a kernel the store lacks are refused with the
command that mends them, never replaced by Awkward's own kernel; so are kernels made from another
awkward-cpp than the installed one, and a store with no kernels (`Store.check`).
"""

from __future__ import annotations

import abc
import importlib.metadata
import json
import os
import threading
from pathlib import Path

from akcuda import paths
from akcuda import plan as plans
from akcuda.plan.model import Plan, PlanError

MANIFEST = "manifest.json"
SPECS = "specs.json"
LICENSE = "LICENSE.awkward-cpp"
SCHEMA = 1  # of manifest.json and specs.json
INSTALLED = Path(__file__).parent / "_generated"  # filled by the wheel's build hook (setup.py)


class StoreError(RuntimeError):
    """Kernels that cannot run: missing, stale, made from another awkward-cpp, or none at all."""


def user_cache() -> Path:
    """Where an installed akcuda builds things on first use: $AKCUDA_CACHE, else
    $XDG_CACHE_HOME/akcuda, else ~/.cache/akcuda."""
    given = os.environ.get("AKCUDA_CACHE")
    if given:
        return Path(given).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "akcuda"


def installed_awkward_cpp() -> str | None:
    try:
        return importlib.metadata.version("awkward_cpp")
    except importlib.metadata.PackageNotFoundError:
        return None


class Store(abc.ABC):
    """Kernels of one origin: "AKCUDA_KERNELS", "installed" or "checkout" (see the subclasses)."""

    origin: str
    _index: tuple | None = None  # (the specs it was built from, symbol -> (spec, specialization))

    @property
    @abc.abstractmethod
    def generated(self) -> Path:
        """The .cu and plan of each kernel family."""

    @property
    @abc.abstractmethod
    def compiled(self) -> Path:
        """The cubins and PTX, one folder per architecture."""

    @property
    @abc.abstractmethod
    def host_cache(self) -> Path:
        """Where the host target builds its emulation libraries."""

    @property
    @abc.abstractmethod
    def made_from(self) -> str:
        """The awkward-cpp version the kernels were made from."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the kernels are, for a message."""

    @abc.abstractmethod
    def fix(self, kernel: str | None = None) -> str:
        """What mends a missing or stale kernel (or the whole store)."""

    @abc.abstractmethod
    def specs(self) -> dict[str, dict]:
        """Every kernel spec by name (its facts: name, source, sha256, status, specializations)."""

    # ------------------------------------------------------------ what it holds

    def specialization(self, symbol: str) -> tuple[dict, dict] | None:
        """(kernel spec, specialization) of an exported symbol; None when no spec has it."""
        specs = self.specs()
        index = self._index
        if index is None or index[0] is not specs:  # built again for other specs (a checkout's folder changed)
            pairs = {s["symbol"]: (spec, s) for spec in specs.values() for s in spec["specializations"]}
            index = self._index = (specs, pairs)
        return index[1].get(symbol)

    def kernels(self) -> list[str]:
        """The kernels that run generated code (the others are pending)."""
        return [name for name, spec in self.specs().items() if spec["status"] == "translate"]

    def plan(self, kernel: str) -> Plan:
        """The kernel's plan, if it is the one to run: written by this translator from the C its
        spec names. StoreError, with the fix, otherwise."""
        path = self.generated / f"{kernel}.plan.json"
        if not path.is_file() or not path.with_suffix("").with_suffix(".cu").is_file():
            raise StoreError(f"{kernel}: no generated kernel in {self.describe()}: {self.fix(kernel)}")
        try:
            plan = plans.load(path, self.fix(kernel))
        except PlanError as exc:
            raise StoreError(f"{kernel}: {exc}") from None
        wanted = self.specs()[kernel]["sha256"]
        if plan.source_sha256 != wanted:
            raise StoreError(
                f"{kernel}: its plan was translated from C with sha256 {plan.source_sha256[:12] or '(none)'}, "
                f"but its spec names {wanted[:12]}: {self.fix(kernel)}"
            )
        return plan

    # ------------------------------------------------------------ whether it can run

    def problems(self) -> list[str]:
        """Why these kernels cannot run with the installed awkward-cpp, each with its fix
        (empty: they can)."""
        found = []
        have = installed_awkward_cpp()
        if have != self.made_from:
            found.append(
                f"akcuda's kernels were made from awkward-cpp {self.made_from}, but "
                + (f"awkward-cpp {have} is installed" if have else "awkward-cpp is not installed")
                + f": install awkward-cpp=={self.made_from}, or an akcuda whose kernels were made from "
                + (have or "the one you install")
            )
        kernels = self.kernels()
        if not any((self.generated / f"{k}.plan.json").is_file() for k in kernels):
            return [*found, f"no kernels in {self.describe()}: {self.fix()}"]
        for kernel in kernels:
            try:
                self.plan(kernel)
            except StoreError as exc:
                found.append(str(exc))
        return found

    def check(self) -> None:
        """StoreError naming the first problem (and how many more) unless every kernel can run."""
        found = self.problems()
        if found:
            more = f"; {len(found) - 1} more, listed by `akcuda info`: {self.fix()}" if len(found) > 1 else ""
            raise StoreError(found[0] + more)


class FolderStore(Store):
    """A store folder: the installed package's own, or AKCUDA_KERNELS."""

    def __init__(self, origin: str, root: Path):
        self.origin = origin
        self.root = root
        try:
            self.manifest = json.loads((root / MANIFEST).read_text())
            specs = json.loads((root / SPECS).read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.describe()}: not a kernel store ({exc}): {self.fix()}") from None
        if self.manifest.get("schema") != SCHEMA or specs.get("schema") != SCHEMA:
            raise StoreError(f"{self.describe()}: a store of another schema than {SCHEMA}: {self.fix()}")
        self._spec_data = specs["kernels"]

    @property
    def generated(self) -> Path:
        return self.root / "generated"

    @property
    def compiled(self) -> Path:
        return self.root / "compiled"

    @property
    def host_cache(self) -> Path:
        return user_cache() / "host"

    @property
    def made_from(self) -> str:
        return self.manifest["awkward_cpp"]

    def describe(self) -> str:
        return f"the installed store {self.root}" if self.origin == "installed" else f"AKCUDA_KERNELS={self.root}"

    def fix(self, kernel: str | None = None) -> str:
        if self.origin == "installed":
            return "reinstall akcuda from a wheel `make wheel` built"
        return f"write it again with `akcuda pack --out {self.root}` in a checkout"

    def specs(self) -> dict[str, dict]:
        return self._spec_data


class CheckoutStore(Store):
    """A checkout's build/generated, build/compiled and kernel-specs/ (the toolchain's folders, as
    `akcuda.paths` names them at each use)."""

    origin = "checkout"

    def __init__(self):
        self._loaded: dict[Path, dict[str, dict]] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return paths.ROOT

    @property
    def generated(self) -> Path:
        return paths.GENERATED

    @property
    def compiled(self) -> Path:
        return paths.COMPILED

    @property
    def host_cache(self) -> Path:
        return user_cache() / "host" if os.environ.get("AKCUDA_CACHE") else paths.HOSTLIB

    @property
    def made_from(self) -> str:
        from akcuda.toolchain import upstream  # a checkout has the toolchain

        return upstream.PINS[0].version

    def describe(self) -> str:
        return f"the checkout's {self.generated}"

    def fix(self, kernel: str | None = None) -> str:
        return f"run `akcuda generate -k {kernel}`" if kernel else "run `make generate-kernels` (or `akcuda generate`)"

    def specs(self) -> dict[str, dict]:
        from akcuda.toolchain import specs  # YAML: a checkout has the toolchain

        folder = paths.SPECS
        with self._lock:
            if folder not in self._loaded:
                self._loaded[folder] = specs.load_all(folder)
            return self._loaded[folder]


_current: tuple[tuple, Store] | None = None
_current_lock = threading.Lock()


def _find() -> Store:
    given = os.environ.get("AKCUDA_KERNELS")
    if given:
        return FolderStore("AKCUDA_KERNELS", Path(given).expanduser().resolve())
    if (INSTALLED / MANIFEST).is_file():
        return FolderStore("installed", INSTALLED)
    if paths.package_checkout() is not None:
        return CheckoutStore()
    raise StoreError(
        f"this akcuda ({Path(__file__).parent}) carries no kernels and is not a checkout: install a wheel "
        "`make wheel` built, or set AKCUDA_KERNELS=DIR to a store `akcuda pack` wrote"
    )


def current() -> Store:
    """The store the runtime uses (found again when AKCUDA_KERNELS or AKCUDA_ROOT change)."""
    global _current
    key = (os.environ.get("AKCUDA_KERNELS"), os.environ.get("AKCUDA_ROOT"))
    with _current_lock:
        if _current is None or _current[0] != key:
            _current = (key, _find())
        return _current[1]
