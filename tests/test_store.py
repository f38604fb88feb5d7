"""The kernel store: where kernels come from, and every refusal of `install()` — no silent
fallback, no stale kernel (each of these ran Awkward's own kernel, or the stale one, before)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from awkward._backends.numpy import NumpyBackend

from akcuda import paths, plan, store
from akcuda.generator.translate import translate
from akcuda.runtime import awkward_plugin
from akcuda.toolchain import specs, upstream
from akcuda.validation import corpus

KERNEL = "awkward_ListArray_compact_offsets"  # the kernel of the `small_store` fixture
KEY = (KERNEL, np.int64, np.int64, np.int64)


@pytest.fixture(autouse=True)
def clean():
    """Every test starts and ends with stock Awkward."""
    awkward_plugin.uninstall()
    yield
    awkward_plugin.uninstall()


@pytest.fixture
def store_copy(small_store, tmp_path, monkeypatch) -> Path:
    """A copy of the small store, which the runtime uses (AKCUDA_KERNELS) during the test."""
    copy = tmp_path / "store"
    shutil.copytree(small_store, copy)
    monkeypatch.setenv("AKCUDA_KERNELS", str(copy))
    return copy


@pytest.fixture(scope="module")
def current_kernels(upstream_cpp) -> Path:
    """The checkout's generated kernels, every one current."""
    corpus.prepare("counting")  # generates what is missing or stale; builds no library
    return paths.GENERATED


@pytest.fixture
def checkout_kernels(current_kernels, tmp_path, monkeypatch) -> Path:
    """A copy of the checkout's generated kernels, which its store reads during the test."""
    copy = tmp_path / "generated"
    shutil.copytree(current_kernels, copy)
    monkeypatch.setattr(paths, "GENERATED", copy)
    return copy


def _offsets(kernel) -> list[int]:
    """compact_offsets of the lists [0, 3), [3, 3), [3, 5), through the installed kernel."""
    out = np.full(4, -1, dtype=np.int64)
    kernel(out, np.array([0, 3, 3]), np.array([3, 3, 5]), 3)
    return out.tolist()


def test_a_plan_translated_from_other_c_than_its_spec_is_refused_with_the_command_that_regenerates_it(
    checkout_kernels, upstream_cpp, tmp_path
):
    """`akcuda port` of a compact_offsets whose C doubles each count, then the committed spec
    restored: the generated kernel is the changed one, and install() refuses it."""
    pinned = specs.load_all()[KERNEL]
    changed = tmp_path / Path(pinned["source"]).name
    text = (upstream_cpp / pinned["source"]).read_text()
    changed.write_text(text.replace("(stop - start)", "2 * (stop - start)"))
    assert changed.read_text() != text
    kernel_dir, include = upstream_cpp / "src" / "cpu-kernels", upstream_cpp / "include"

    def generate(spec: dict) -> None:
        translation = translate(spec, kernel_dir, include)
        (checkout_kernels / f"{KERNEL}.cu").write_text(translation.source)
        plan.save(translation.plan, checkout_kernels / f"{KERNEL}.plan.json")

    generate({**pinned, "source": str(changed)})
    with pytest.raises(store.StoreError) as refused:
        awkward_plugin.install("host")
    said = str(refused.value)
    assert said.startswith(f"{KERNEL}: its plan was translated from C with sha256 {upstream.sha256_of(changed)[:12]}")
    assert f"its spec names {pinned['sha256'][:12]}" in said and f"run `akcuda generate -k {KERNEL}`" in said
    assert not awkward_plugin.is_installed("host")

    generate(pinned)  # what `akcuda generate -k` does: the spec's own C
    awkward_plugin.install("host")
    assert _offsets(NumpyBackend.instance()[KEY]) == [0, 3, 3, 5]


@pytest.mark.parametrize(
    "damage, said",
    [
        (lambda p: p.write_text(p.read_text().replace('"translator": "', '"translator": "0')), "another version"),
        (lambda p: p.unlink(), "no generated kernel in the checkout's"),
    ],
    ids=["another-translator", "missing"],
)
def test_a_stale_or_missing_plan_is_refused_at_install_not_fallen_back(checkout_kernels, damage, said):
    damage(checkout_kernels / f"{KERNEL}.plan.json")
    with pytest.raises(store.StoreError, match=said) as refused:
        awkward_plugin.install("host")
    assert f"`akcuda generate -k {KERNEL}`" in str(refused.value)


def test_a_checkout_with_no_kernels_is_refused_at_install(tmp_path, monkeypatch, upstream_cpp):
    monkeypatch.setattr(paths, "GENERATED", tmp_path / "empty")
    with pytest.raises(store.StoreError, match="no kernels in the checkout's .*: run `make generate-kernels`"):
        awkward_plugin.install("host")
    assert not awkward_plugin.is_installed("host")


def test_a_store_with_no_kernels_is_refused_at_install(store_copy):
    shutil.rmtree(store_copy / "generated")
    with pytest.raises(store.StoreError, match=f"no kernels in AKCUDA_KERNELS={store_copy}"):
        awkward_plugin.install("host")


def test_kernels_made_from_another_awkward_cpp_are_refused_naming_both_versions(store_copy):
    manifest = json.loads((store_copy / store.MANIFEST).read_text())
    (store_copy / store.MANIFEST).write_text(json.dumps({**manifest, "awkward_cpp": "56"}))
    with pytest.raises(store.StoreError) as refused:
        awkward_plugin.install("host")
    said = str(refused.value)
    assert "made from awkward-cpp 56" in said and f"awkward-cpp {store.installed_awkward_cpp()} is installed" in said
    assert not awkward_plugin.is_installed("host")


def test_a_store_of_one_kernel_runs_it_and_a_kernel_gone_at_its_look_up_is_an_error(store_copy):
    awkward_plugin.install("host")
    assert _offsets(NumpyBackend.instance()[KEY]) == [0, 3, 3, 5]
    awkward_plugin.uninstall()
    awkward_plugin.install("host")  # a fresh router: its look-ups are not cached
    (store_copy / "generated" / f"{KERNEL}.plan.json").unlink()
    with pytest.raises(store.StoreError, match=f"{KERNEL}: no generated kernel in AKCUDA_KERNELS"):
        NumpyBackend.instance()[KEY]


def test_akcuda_kernels_must_name_a_store(tmp_path, monkeypatch):
    monkeypatch.setenv("AKCUDA_KERNELS", str(tmp_path))
    with pytest.raises(store.StoreError, match=f"AKCUDA_KERNELS={tmp_path}: not a kernel store"):
        awkward_plugin.install("host")


def test_the_runtime_never_looks_at_the_current_folder(tmp_path):
    """From a folder that looks like a checkout (kernel-specs/, pyproject.toml), the kernels are
    still the ones of the checkout the package is imported from."""
    (tmp_path / "kernel-specs").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    code = "from akcuda.runtime.host import HostTarget; print(HostTarget().generated)"
    env = {"PATH": "/usr/bin:/bin"}  # no AKCUDA_ROOT, no AKCUDA_KERNELS
    shown = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert Path(shown.stdout.strip()) == Path(__file__).resolve().parents[1] / "build" / "generated"


def test_a_store_is_found_in_order_akcuda_kernels_then_the_package_then_the_checkout(store_copy, monkeypatch):
    assert store.current().origin == "AKCUDA_KERNELS" and store.current().generated == store_copy / "generated"
    monkeypatch.delenv("AKCUDA_KERNELS")
    found = store.current()  # an editable install: no store in the package, its checkout's build/
    assert not (store.INSTALLED / store.MANIFEST).exists()
    assert found.origin == "checkout" and found.generated == paths.GENERATED


def test_an_installed_store_builds_host_libraries_in_the_users_cache(store_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("AKCUDA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.current().host_cache == tmp_path / "xdg" / "akcuda" / "host"
    monkeypatch.setenv("AKCUDA_CACHE", str(tmp_path / "mine"))
    assert store.current().host_cache == tmp_path / "mine" / "host"
