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
