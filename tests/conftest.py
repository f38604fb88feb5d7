"""Shared fixtures and helpers for every test folder.

- `upstream_cpp`: the upstream sdist (fetched by `make test` through `akcuda import`);
- `spec_counts`: the kernel, specialization, translated and pending counts, read from the specs;
- `small_store`: a kernel store of one family, as `akcuda pack -k` writes it;
- `demo` and `demo_generated`: the small kernels of tests/kernels/, written for the translator tests;
- `translate_upstream`: one real upstream kernel translated into a folder (optionally mutated);
- the `gpu` marker's skip: a test marked `gpu` skips, with the reason, only where no GPU is usable.

Test modules never import each other: what they share lives here or in a folder's conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from akcuda import paths
from akcuda.toolchain import specs, upstream

KERNELS = Path(__file__).with_name("kernels")


# ------------------------------------------------------------------ upstream and the specs


@pytest.fixture(scope="session")
def upstream_cpp():
    """The unpacked awkward-cpp sdist; `make test` imports it before pytest starts."""
    folder = upstream.cpp_dir()
    if not (folder / "src" / "cpu-kernels").is_dir():
        pytest.fail(f"{folder} is missing: run `akcuda import` (make test does) before the tests")
    return folder


@dataclass(frozen=True)
class SpecCounts:
    """What the committed kernel specs say the pipeline must cover."""

    kernels: int
    specializations: int
    translated: int  # specializations of kernels whose status is "translate"
    pending: int  # specializations of kernels whose status is "pending"
    pending_kernels: frozenset[str]
    yml_files: int  # spec files in the specs folder (every one is a kernel)


@pytest.fixture(scope="session")
def spec_counts() -> SpecCounts:
    loaded = specs.load_all()
    pairs = specs.specializations(loaded)
    counts = SpecCounts(
        kernels=len(loaded),
        specializations=len(pairs),
        translated=sum(1 for spec, _ in pairs if spec["status"] == "translate"),
        pending=sum(1 for spec, _ in pairs if spec["status"] == "pending"),
        pending_kernels=frozenset(name for name, spec in loaded.items() if spec["status"] == "pending"),
        yml_files=len(list(paths.SPECS.glob("*.yml"))),
    )
    # the counts are only a yardstick if they measure something: no empty or half-read spec set
    assert counts.kernels > 100 and counts.translated > 400, counts
    assert counts.translated + counts.pending == counts.specializations, counts
    return counts


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, upstream_cpp) -> Path:
    """A kernel store of one family, awkward_ListArray_compact_offsets, as `akcuda pack -k` writes
    it (its .cu and plan, cubins for sm_80 and sm_90, the sm_90 PTX, its spec's facts)."""
    from akcuda.toolchain import cli
    from akcuda.toolchain.pack import pack

    kernel = "awkward_ListArray_compact_offsets"
    assert cli.main(["generate", "-k", kernel]) == 0 and cli.main(["compile", "-k", kernel]) == 0
    return pack(tmp_path_factory.mktemp("store") / "store", kernel).folder


# ------------------------------------------------------------------ the demo kernels (tests/kernels/)


class DemoKernels:
    """The small kernels written for the translator tests, and what the tests do with them."""

    folder = KERNELS
    include = KERNELS  # the demo kernels include only awkward/kernels.h, which the stubs supply

    # (name, [(symbol, template args, arg ctypes)], arg names): the two kernels many tests share
    OFFSETS = (
        "akc_demo_offsets",
        [
            (
                "akc_demo32_offsets_64",
                ["int32_t", "int64_t"],
                ["int64_t*", "int64_t*", "const int32_t*", "const int32_t*", "int64_t"],
            ),
            (
                "akc_demoU32_offsets_64",
                ["uint32_t", "int64_t"],
                ["int64_t*", "int64_t*", "const uint32_t*", "const uint32_t*", "int64_t"],
            ),
        ],
        ["tolengths", "tooffsets", "fromstarts", "fromstops", "length"],
    )
    REGULAR = (
        "akc_demo_regular",
        [("akc_demo_regular", [], ["int64_t*", "int64_t", "int64_t", "int64_t"])],
        ["tocarry", "size", "length", "limit"],
    )

    @staticmethod
    def spec(name: str, specializations: list[tuple[str, list[str], list[str]]], names: list[str]) -> dict:
        """A kernel-spec mapping for a demo kernel: (symbol, template args, arg ctypes) per symbol."""
        return {
            "name": name,
            "source": f"tests/kernels/{name}.cpp",
            "sha256": "0" * 64,
            "specializations": [
                {
                    "symbol": symbol,
                    "template_args": targs,
                    "args": [{"name": n, "ctype": c, "dir": "in"} for n, c in zip(names, ctypes, strict=True)],
                }
                for symbol, targs, ctypes in specializations
            ],
        }

    @classmethod
    def int64_and_float64(cls, name: str, element: str, tail: list[str], names: list[str]) -> dict:
        """A spec for a demo kernel templated on its first argument's element type, with an
        int64 and a float64 symbol (`element` picks the first): `T*`, then the `tail` ctypes."""
        ctypes = {"int64": "int64_t*", "float64": "double*"}
        order = [element] + [e for e in ctypes if e != element]
        return cls.spec(name, [(f"{name}_{e}", [ctypes[e][:-1]], [ctypes[e], *tail]) for e in order], names)

    @property
    def offsets(self) -> dict:
        return self.spec(*self.OFFSETS)

    @property
    def regular(self) -> dict:
        return self.spec(*self.REGULAR)

    def translate(self, spec: dict):
        from akcuda.generator.translate import translate

        return translate(spec, self.folder, self.include)

    def write(self, spec: dict, folder: Path):
        """Translate a demo kernel into `folder` (its .cu text and plan); the translation."""
        from akcuda import plan

        translation = self.translate(spec)
        (folder / f"{spec['name']}.cu").write_text(translation.source)
        plan.save(translation.plan, folder / f"{spec['name']}.plan.json")
        return translation

    def translated(self, spec: dict, folder: Path):
        """Translate a demo kernel into `folder`; its plan entry's steps, the plan and a runner
        on the host emulation (under the race check)."""
        from akcuda.runtime import executor
        from akcuda.runtime.host import HostTarget

        translation = self.write(spec, folder)
        special = spec["specializations"][0]

        def run(values: list, seed: int = 1, block: int = 3):
            target = HostTarget(seed=seed, generated=folder)
            return executor.run(translation.plan, special, values, target, block)

        return list(translation.plan.entries[spec["name"]].steps), translation.plan, run


@pytest.fixture(scope="session")
def demo() -> DemoKernels:
    return DemoKernels()


@pytest.fixture(scope="session")
def demo_generated(tmp_path_factory, demo) -> Path:
    """akc_demo_offsets and akc_demo_regular translated once: their .cu text and plans."""
    out = tmp_path_factory.mktemp("generated")
    for spec in (demo.offsets, demo.regular):
        demo.write(spec, out)
    return out


# ------------------------------------------------------------------ real upstream kernels


@pytest.fixture
def translate_upstream(upstream_cpp) -> Callable[..., dict]:
    """translate_upstream(folder, kernel, mutate=...): translate one real kernel into folder (the
    .cu text optionally mutated); its spec."""
    from akcuda import plan
    from akcuda.generator.translate import translate

    def generate(folder: Path, kernel: str, mutate: Callable[[str], str] = lambda text: text) -> dict:
        spec = specs.load_all()[kernel]
        translation = translate(spec, upstream_cpp / "src" / "cpu-kernels", upstream_cpp / "include")
        (folder / f"{kernel}.cu").write_text(mutate(translation.source))
        plan.save(translation.plan, folder / f"{kernel}.plan.json")
        return spec

    return generate


@pytest.fixture
def in_c_order(monkeypatch) -> list[int]:
    """The steps the executor runs in C order (their serial form) during the test, in call order."""
    from akcuda.runtime import executor

    ran: list[int] = []
    serial = executor._Run.serial
    monkeypatch.setattr(executor._Run, "serial", lambda self, k: (ran.append(k), serial(self, k)))
    return ran


# ------------------------------------------------------------------ markers


@cache
def _no_gpu() -> str | None:
    """None when a CUDA GPU is usable, else why not."""
    try:
        import cupy
    except ImportError:
        return "no GPU: CuPy is not installed"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no GPU: CUDA reports no device"
    except Exception as exc:  # no driver, no device
        return f"no GPU: {exc}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A `gpu` test skips only where no GPU exists, saying why; `gxx` and `nvrtc` tests always
    run (g++ and NVRTC are required), the markers only let `-m` select or leave them out."""
    if item.get_closest_marker("gpu") is not None and (why := _no_gpu()) is not None:
        pytest.skip(why)


# ------------------------------------------------------------------ a dask cluster on localhost


@pytest.fixture(scope="session")
def gpu_present() -> bool:
    """Whether a CUDA GPU is usable here (for tests whose expectation depends on it)."""
    return _no_gpu() is None


@pytest.fixture(scope="session")
def host_kernels(upstream_cpp) -> None:
    """Generated kernels and their host libraries, built once before any worker process needs them."""
    from akcuda.validation import corpus

    corpus.prepare("host")


@pytest.fixture(scope="module")
def dask_client(host_kernels):
    """A client on a LocalCluster of 2 worker processes (one thread each) on localhost, shut down
    after the test module (idle workers would otherwise sit through the rest of the suite). The
    workers find the kernels as this process does (they inherit its folder and environment). A
    test that registers the akcuda plug-in removes it."""
    from akcuda.validation.cluster import local_cluster

    with local_cluster("host", 2) as client:
        yield client
