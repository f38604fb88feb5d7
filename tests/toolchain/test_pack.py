"""`akcuda pack`: the kernel store a wheel carries, and setup.py's hook that puts it into the wheel."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
from setuptools.errors import FileError

from akcuda import __version__, paths, plan, store
from akcuda.generator.translate import translate
from akcuda.toolchain import cli, specs, upstream
from akcuda.toolchain.compile import compile_all
from akcuda.toolchain.pack import PackError, pack

pytestmark = [pytest.mark.gxx, pytest.mark.nvrtc]

KERNEL = "awkward_ListArray_compact_offsets"  # the kernel of the `small_store` fixture
ROOT = Path(__file__).resolve().parents[2]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_inputs_give_the_same_store_bytes(small_store, tmp_path, upstream_cpp):
    assert _files(pack(tmp_path / "again", KERNEL).folder) == _files(small_store)
    # and what it is packed from, made again from a copy of the C in another folder: the same bytes
    tree = tmp_path / "elsewhere"
    for part in ("src/cpu-kernels", "include"):
        shutil.copytree(upstream_cpp / part, tree / part)
    translation = translate(specs.load_all()[KERNEL], tree / "src" / "cpu-kernels", tree / "include")
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / f"{KERNEL}.cu").write_text(translation.source)

    plan.save(translation.plan, generated / f"{KERNEL}.plan.json")
    for suffix in (".cu", ".plan.json"):
        assert (generated / f"{KERNEL}{suffix}").read_bytes() == (
            small_store / "generated" / f"{KERNEL}{suffix}"
        ).read_bytes()
    assert all(r.ok for r in compile_all(generated, tmp_path / "compiled", kernels=[KERNEL], progress=False))
    for name in ("sm_80/" + KERNEL + ".cubin", "sm_90/" + KERNEL + ".cubin", "sm_90/" + KERNEL + ".ptx"):
        assert (tmp_path / "compiled" / name).read_bytes() == (small_store / "compiled" / name).read_bytes(), name


def test_the_store_holds_what_the_runtime_reads_and_no_place_or_time(small_store):
    manifest = json.loads((small_store / store.MANIFEST).read_text())
    assert set(manifest["files"]) | {store.MANIFEST} == set(_files(small_store))
    assert manifest["awkward_cpp"] == upstream.PINS[0].version and manifest["akcuda"] == __version__
    assert manifest["binaries"] == {"sm_80": ["cubin"], "sm_90": ["cubin", "ptx"]}
    facts = json.loads((small_store / store.SPECS).read_text())["kernels"][KERNEL]
    assert set(facts) <= set(specs.RUNTIME_FACTS) and facts["sha256"] == specs.load_all()[KERNEL]["sha256"]
    for name, data in _files(small_store).items():
        if not name.endswith((".cubin", ".ptx")):
            assert str(ROOT).encode() not in data, name  # nothing names the folder it was made in
    assert "seconds" not in json.loads((small_store / "compiled" / "sm_80" / f"{KERNEL}.lowered.json").read_text())


def test_pack_refuses_what_is_missing_stale_or_not_made_from_the_pinned_c(isolated, upstream_cpp, tmp_path):
    shutil.copy(ROOT / "kernel-specs" / f"{KERNEL}.yml", paths.SPECS)
    out = tmp_path / "store"
    assert cli.main(["generate", "-k", KERNEL]) == 0
    with pytest.raises(
        PackError, match=f"{KERNEL}: no sm_80 binary of its current .cu: run `akcuda compile -k {KERNEL}`"
    ):
        pack(out)
    assert not out.exists()
    assert cli.main(["compile", "-k", KERNEL]) == 0
    assert pack(out).kernels == 1

    plan_file = paths.GENERATED / f"{KERNEL}.plan.json"
    plan_file.write_text(plan_file.read_text().replace('"translator": "', '"translator": "0'))
    with pytest.raises(PackError, match="another version of the translator"):
        pack(out)

    # a contributor's C (as `akcuda port` leaves it): its spec and plan agree, but the store is
    # made from the pinned upstream only
    changed = tmp_path / f"{KERNEL}.cpp"
    changed.write_text((upstream_cpp / "src" / "cpu-kernels" / changed.name).read_text() + "\n// changed\n")
    spec_file = paths.SPECS / f"{KERNEL}.yml"
    spec_file.write_text(spec_file.read_text().replace(specs.load_all()[KERNEL]["sha256"], upstream.sha256_of(changed)))
    assert cli.main(["generate", "-k", KERNEL, "--kernels", str(changed)]) == 0
    with pytest.raises(PackError, match=f"other than the pinned awkward-cpp .*restore kernel-specs/{KERNEL}.yml"):
        pack(out)
    assert pack(out.with_name("k"), "no_such_kernel").kernels == 0  # a pattern matching nothing packs nothing


# ---------------------------------------------------------------- setup.py's hook


@pytest.fixture(scope="module")
def hook():
    """setup.py as a module (its `setup()` runs only as setuptools runs it)."""
    spec = importlib.util.spec_from_file_location("akcuda_setup", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def built(tmp_path) -> Path:
    """akcuda as a build holds it: the translator and the plan modules the fingerprint covers."""
    package = tmp_path / "build" / "akcuda"
    shutil.copytree(ROOT / "src" / "akcuda" / "plan", package / "plan")
    shutil.copytree(ROOT / "generator", package / "generator")
    return package


def test_the_hook_copies_a_whole_current_store_into_the_package(hook, built, small_store):
    hook.copy_store(built, __version__, small_store)
    assert _files(built / "_generated") == _files(small_store)


def test_the_hook_fails_the_build_without_a_whole_current_store(hook, built, small_store, tmp_path):
    with pytest.raises(FileError, match="has no store .*run `make wheel`"):
        hook.copy_store(built, __version__, tmp_path / "nothing")
    with pytest.raises(FileError, match=f"packed by akcuda {__version__}, this is 9.9"):
        hook.copy_store(built, "9.9", small_store)
    damaged = tmp_path / "damaged"
    shutil.copytree(small_store, damaged)
    (damaged / "compiled" / "sm_80" / f"{KERNEL}.cubin").write_bytes(b"\0")
    with pytest.raises(FileError, match=f"{KERNEL}.cubin: missing, or not the file"):
        hook.copy_store(built, __version__, damaged)
    assert not (built / "_generated").exists()  # nothing copied from a damaged store
    (built / "generator" / "stray.txt").write_text("a file the plans' translator did not have")
    with pytest.raises(FileError, match="another translator than the one this wheel ships"):
        hook.copy_store(built, __version__, small_store)


@pytest.mark.gxx
@pytest.mark.nvrtc
def test_an_installed_store_says_how_deep_a_kernel_recurses_without_the_toolchain(upstream_cpp, tmp_path, monkeypatch):
    """The cuda target sizes its stack from the spec's `recursion: {depth: n}`: the store carries
    it, so a base install (no YAML, no checkout's kernel-specs/) finds it too."""
    import akcuda.toolchain
    from akcuda.runtime.cuda import recursion_depth_argument

    kernel, symbol = "awkward_ListArray_combinations", "awkward_ListArray64_combinations_64"
    assert cli.main(["generate", "-k", kernel]) == 0 and cli.main(["compile", "-k", kernel]) == 0
    folder = pack(tmp_path / "store", kernel).folder
    depth = specs.load_all()[kernel]["recursion"]["depth"]
    expected = [a["name"] for a in specs.load_all()[kernel]["specializations"][0]["args"]].index(depth)
    monkeypatch.setenv("AKCUDA_KERNELS", str(folder))
    monkeypatch.delattr(akcuda.toolchain, "specs")  # as a base install: no toolchain to read specs with
    monkeypatch.setitem(sys.modules, "akcuda.toolchain.specs", None)
    assert recursion_depth_argument(symbol) == expected
    assert recursion_depth_argument("awkward_ListArray_compact_offsets_64") is None  # not in this store
