"""akcuda installs like any Python package and carries its kernels: the wheel `make wheel` builds,
installed as `make gpu-install` installs it from the GPU bundle (no index, into an environment that
has NumPy), and used from a folder outside any checkout, as a physicist would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from akcuda import paths, store
from akcuda.toolchain import bundle, cli, upstream
from akcuda.toolchain.pack import pack
from akcuda.toolchain.wheel import build_wheel

pytestmark = [pytest.mark.slow, pytest.mark.gxx, pytest.mark.nvrtc]

OPERATIONS = Path(__file__).with_name("wheel_operations.py")
WHEEL_LIMIT = 30 * 2**20


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def _outside_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment: no project variables, a cache of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AKCUDA_ROOT", "AKCUDA_KERNELS")}
    return env | {"AKCUDA_CACHE": str(tmp_path / "cache")}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, upstream_cpp) -> Path:
    """What `make wheel` does: generate, compile, pack and build."""
    assert cli.main(["generate"]) == 0
    assert cli.main(["compile"]) == 0
    made, packed = build_wheel(tmp_path_factory.mktemp("dist"))
    assert packed.kernels == len(store.CheckoutStore().kernels())
    return made


def test_the_wheel_carries_the_store_and_awkwards_licence(wheel, tmp_path):
    assert wheel.name.endswith("-py3-none-any.whl") and wheel.stat().st_size < WHEEL_LIMIT
    with zipfile.ZipFile(wheel) as zipped:
        inside = {
            name.removeprefix("akcuda/_generated/"): zipped.read(name)
            for name in zipped.namelist()
            if name.startswith("akcuda/_generated/")
        }
    assert inside == _files(paths.STORE)  # the store, byte for byte
    manifest = json.loads(inside["manifest.json"])
    assert manifest["awkward_cpp"] == upstream.PINS[0].version and manifest["kernel_families"] > 100
    for name in manifest["files"]:
        assert name in inside
    assert any(name.endswith(".cubin") and "/sm_80/" in name for name in inside)
    assert any(name.endswith(".ptx") and "/sm_90/" in name for name in inside)
    with tarfile.open(paths.UPSTREAM / upstream.PINS[0].sdist) as sdist:
        licence = sdist.extractfile(f"{upstream.PINS[0].folder}/LICENSE").read()
    assert inside[store.LICENSE] == licence and b"BSD 3-Clause" in licence
    again = pack(tmp_path / "again")  # the same inputs: the same bytes
    assert _files(again.folder) == _files(paths.STORE)


def test_installed_from_the_bundle_it_runs_awkward_from_outside_a_checkout(wheel, tmp_path):
    made = bundle.make_bundle(tmp_path / "bundle", wheel, optional=())
    names = sorted(p.name.split("-")[0].lower() for p in (made / "wheels").glob("*.whl"))
    assert names == ["akcuda", "awkward", "awkward_cpp", "fsspec", "packaging", "pycparser"]
    assert sorted(p.name for p in (made / "upstream").iterdir()) == sorted(p.sdist for p in upstream.PINS)
    assert not (made / "generated").exists() and bundle.size_of(made) <= bundle.LIMIT_BYTES

    # the GPU machine's environment: a Python with NumPy (and what awkward needs on older Pythons)
    _run([sys.executable, "-m", "venv", tmp_path / "venv"])
    python = tmp_path / "venv" / "bin" / "python"
    older = {"importlib-metadata": (3, 12), "typing-extensions": (3, 11)}
    machine = ["numpy", *(name for name, below in older.items() if sys.version_info < below)]
    _run([python, "-m", "pip", "install", "-q", *machine])
    _run(["make", "-s", "gpu-install", f"PYTHON={python}", f"BUNDLE={made}"], cwd=paths.ROOT)

    outside = tmp_path / "outside"
    outside.mkdir()
    env = _outside_env(tmp_path)
    runs = [json.loads(_run([python, OPERATIONS], cwd=outside, env=env).stdout) for _ in ("cold", "warm")]
    for result in runs:
        assert Path(result["akcuda"]).is_relative_to(tmp_path / "venv")  # the installed package, not a checkout
        assert result["akcuda_results"] == result["stock"]
        assert result["fallbacks"] == [] and result["calls"] > 40 and len(result["kernels"]) > 25
        assert result["toolchain_loaded"] == []  # running kernels needs no YAML, Jinja2, rich or pycparser
    assert {"yaml", "jinja2", "rich"}.isdisjoint(runs[0]["toolchain_installed"])  # a base install has none
    assert len(list((tmp_path / "cache" / "host" / "plain").glob("*.so"))) == len(runs[0]["kernels"])
    print(
        "first call on the host target, installed wheel: "
        + ", ".join(
            f"{name} cache: install() {r['install_seconds']:.3f}s, first call {r['first_call_seconds']:.3f}s, "
            f"all {len(r['stock'])} operations {r['all_seconds']:.2f}s"
            for name, r in zip(("cold", "warm"), runs)
        )
    )

    akcuda = tmp_path / "venv" / "bin" / "akcuda"
    info = _run([akcuda, "info"], cwd=outside, env=env).stdout
    assert "from the installed store" in info and "target host: can run" in info and "akcuda info: ready" in info
    refused = subprocess.run([akcuda, "generate"], cwd=outside, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "akcuda[toolchain]" in refused.stderr
