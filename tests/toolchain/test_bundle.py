"""`akcuda bundle`: a folder a GPU machine without network installs akcuda from."""

from __future__ import annotations

import subprocess
import sys

from akcuda.toolchain import bundle


def test_a_bundle_installs_into_a_clean_venv_with_no_index(tmp_path):
    """Built from what is here (akcuda's own wheel and the build products; the downloads for
    another Python need the registry), then installed with no index, as `make gpu-check` does."""
    made = bundle.make_bundle(tmp_path / "bundle", packages=())
    assert bundle.size_of(made) <= bundle.LIMIT_BYTES
    assert list((made / "upstream").glob("*.tar.gz")) and (made / "generated").is_dir()
    wheel = next((made / "wheels").glob("akcuda-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
    subprocess.run([*pip, "--find-links", str(made / "wheels"), str(wheel)], check=True)
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('akcuda'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "0.1.0"
