"""Upstream import: pinned, verified, idempotent, and clear when something is wrong."""

from __future__ import annotations

import os

import pytest

from akcuda.toolchain import upstream


def test_fetch_is_idempotent_and_verified(upstream_cpp):
    folders = upstream.fetch(log=lambda *_: None)
    assert [f.name for f in folders] == [p.folder for p in upstream.PINS]
    assert (folders[0] / "include" / "awkward" / "kernels.h").is_file()
    assert (folders[1] / "kernel-specification.yml").is_file()
    for pin in upstream.PINS:
        assert upstream.sha256_of(upstream.paths.UPSTREAM / pin.sdist) == pin.sha256


def test_hash_mismatch_is_a_clear_error(tmp_path):
    (tmp_path / upstream.PINS[0].sdist).write_bytes(b"not the real sdist")
    with pytest.raises(upstream.UpstreamError, match="sha256 .* does not match the pinned"):
        upstream.fetch(tmp_path, log=lambda *_: None)


def test_unreachable_registry_is_a_clear_error(tmp_path, monkeypatch):
    # a closed port on this machine stands in for a registry that cannot be reached
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with pytest.raises(upstream.UpstreamError, match="could not download awkward-cpp==57"):
        upstream.fetch(tmp_path, log=lambda *_: None)


def test_a_local_awkward_cpp_tree_is_an_upstream(cpp_tree):
    sources = upstream.select(str(cpp_tree))
    assert sources.cpp == cpp_tree.resolve() and sources.origin == str(cpp_tree)
    assert "awkward_ListArray_compact_offsets.cpp" in sources.kernel_files()
    assert "kernel-utils.cpp" not in sources.kernel_files()  # a helper source, not a kernel


def test_a_git_checkout_names_the_generated_files_it_lacks(tmp_path):
    checkout = tmp_path / "awkward"
    (checkout / "awkward-cpp" / "src" / "cpu-kernels").mkdir(parents=True)
    (checkout / "kernel-specification.yml").write_text("kernels: []\n")
    with pytest.raises(
        upstream.UpstreamError, match=r"lacks awkward-cpp's generated include/awkward/kernels.h.*nox -s prepare"
    ):
        upstream.select(str(checkout))


def test_a_bad_upstream_path_is_a_clear_error(tmp_path):
    with pytest.raises(upstream.UpstreamError, match="no such folder"):
        upstream.select(str(tmp_path / "nowhere"))
    with pytest.raises(upstream.UpstreamError, match="neither an awkward checkout nor an awkward-cpp source tree"):
        upstream.select(str(tmp_path))
    with pytest.raises(upstream.UpstreamError, match="kernel file .*: no such file"):
        upstream.select(kernels=[tmp_path / "missing.cpp"])


def test_a_tree_linked_into_build_upstream_is_refused_not_a_tarfile_traceback(tmp_path, upstream_cpp):
    root = tmp_path / "upstream"
    root.mkdir()
    for pin in upstream.PINS:
        (root / pin.sdist).symlink_to(upstream.paths.UPSTREAM / pin.sdist)
    (root / upstream.PINS[0].folder).symlink_to(upstream_cpp)
    with pytest.raises(upstream.UpstreamError, match=r"is a symbolic link .*--upstream"):
        upstream.fetch(root, log=lambda *_: None)


def test_pyproject_settings_choose_the_upstream(tmp_path, monkeypatch, cpp_tree):
    (tmp_path / "pyproject.toml").write_text(f'[tool.akcuda]\nupstream = "{cpp_tree}"\n')
    monkeypatch.setattr(upstream.paths, "ROOT", tmp_path)
    assert upstream.select().cpp == cpp_tree.resolve()
    (tmp_path / "pyproject.toml").write_text("[tool.akcuda]\nkernels = 'one.cpp'\n")
    with pytest.raises(upstream.UpstreamError, match=r"\[tool.akcuda\] kernels must be a list"):
        upstream.select()
