"""Stage: pack the kernel store an installed akcuda carries (build/store; `make wheel` puts it
into the wheel as akcuda/_generated, see setup.py; its layout is in `akcuda.store`).

From the checkout's generated and compiled kernels, all made from the pinned awkward-cpp: each
family's .cu and plan, its cubins for sm_80 and sm_90 and the sm_90 PTX (a newer GPU's driver
compiles it), what the runtime reads of each spec (JSON), Awkward's BSD-3 licence from the pinned
sdist, and a manifest of what it was made from and of every file's sha256. Nothing is translated
or compiled here: a missing or stale kernel fails the stage, naming the command that makes it.
Same inputs, same bytes: files are copied, JSON is written sorted, and nothing records a time or
a place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from akcuda import __version__, paths, store
from akcuda.plan import translator_fingerprint
from akcuda.toolchain import specs, upstream
from akcuda.toolchain.compile import ARCHS, cached

PTX_ARCHS = ("sm_90",)  # the newest only: an older GPU loads a cubin, a newer one compiles this PTX
DROPPED = ("seconds",)  # what a compile record holds that is not a fact of the binary


class PackError(RuntimeError):
    """Kernels that cannot be packed (missing, stale, or not made from the pinned upstream)."""


@dataclass(frozen=True)
class Packed:
    folder: Path
    kernels: int
    specializations: int
    files: int
    bytes: int


def _problems(wanted: list[dict], checkout: store.Store) -> list[str]:
    """Why each kernel cannot go into the store, with the command that mends it."""
    pinned = upstream.pinned_cpp_dir()
    found = []
    for spec in wanted:
        kernel = spec["name"]
        c = pinned / spec["source"]
        if not c.is_file() or upstream.sha256_of(c) != spec["sha256"]:
            found.append(
                f"{kernel}: its spec names C other than the pinned awkward-cpp {upstream.PINS[0].version}'s "
                f"(a store is made from the pinned upstream only): restore kernel-specs/{kernel}.yml"
            )
            continue
        try:
            checkout.plan(kernel)
        except store.StoreError as exc:
            found.append(str(exc))
            continue
        for arch in ARCHS:
            if cached(paths.GENERATED, paths.COMPILED, kernel, arch) is None:
                found.append(f"{kernel}: no {arch} binary of its current .cu: run `akcuda compile -k {kernel}`")
    return found


def _json(data: dict) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _contents(wanted: list[dict], loaded: dict[str, dict]) -> dict[str, bytes]:
    """Every file of the store but the manifest, by its path in the store."""
    out: dict[str, bytes] = {}
    for spec in wanted:
        kernel = spec["name"]
        for suffix in (".cu", ".plan.json"):
            out[f"generated/{kernel}{suffix}"] = (paths.GENERATED / f"{kernel}{suffix}").read_bytes()
        for arch in ARCHS:
            folder = paths.COMPILED / arch
            for kind in ("cubin", "ptx") if arch in PTX_ARCHS else ("cubin",):
                out[f"compiled/{arch}/{kernel}.{kind}"] = (folder / f"{kernel}.{kind}").read_bytes()
            record = json.loads((folder / f"{kernel}.lowered.json").read_text())
            out[f"compiled/{arch}/{kernel}.lowered.json"] = _json({k: v for k, v in record.items() if k not in DROPPED})
    facts = {name: {k: spec[k] for k in specs.RUNTIME_FACTS if k in spec} for name, spec in loaded.items()}
    out[store.SPECS] = _json({"schema": store.SCHEMA, "kernels": facts})
    out[store.LICENSE] = (upstream.pinned_cpp_dir() / "LICENSE").read_bytes()
    return out


def _manifest(wanted: list[dict], files: dict[str, bytes]) -> bytes:
    pin = upstream.PINS[0]
    return _json(
        {
            "schema": store.SCHEMA,
            "akcuda": __version__,
            "awkward_cpp": pin.version,
            "awkward_cpp_sdist_sha256": pin.sha256,
            "translator": translator_fingerprint(),
            "kernel_families": len(wanted),
            "specializations": sum(len(s["specializations"]) for s in wanted),
            "binaries": {arch: ["cubin", "ptx"] if arch in PTX_ARCHS else ["cubin"] for arch in ARCHS},
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        }
    )


def pack(out: Path | None = None, pattern: str | None = None) -> Packed:
    """Write the store into `out` (default build/store), replacing what was there; PackError,
    changing nothing, when a kernel is missing or stale. `pattern` (-k): only the kernels it
    matches, a store for tests and experiments (a wheel carries them all)."""
    out = out or paths.STORE
    checkout = store.CheckoutStore()
    loaded = {name: spec for name, spec in specs.load_all().items() if specs.matches(pattern, name)}
    wanted = [spec for spec in loaded.values() if spec["status"] == "translate"]
    problems = _problems(wanted, checkout)
    if problems:
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PackError(f"{problems[0]}{more}; `make wheel` generates and compiles every kernel first")
    files = _contents(wanted, loaded)
    files[store.MANIFEST] = _manifest(wanted, files)
    staging = out.with_name(f".{out.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return Packed(
        out, len(wanted), sum(len(s["specializations"]) for s in wanted), len(files), sum(map(len, files.values()))
    )
