"""The host emulation build: the generated .cu text compiled by g++."""

from __future__ import annotations

import pytest

from akcuda.runtime import host_build


@pytest.mark.gxx
def test_host_build_reports_compiler_errors(tmp_path):
    broken = tmp_path / "akc_broken.cu"
    broken.write_text("__global__ void k( { }\n")
    result = host_build.build(broken, tmp_path / "out")
    assert not result.ok and "akc_broken.cu" in result.log


def test_a_librarys_cache_key_covers_source_header_flags_and_compiler(monkeypatch):
    key = host_build._key("source", host_build.FLAGS)
    assert host_build._key("source", host_build.FLAGS) == key
    assert host_build._key("other source", host_build.FLAGS) != key
    assert host_build._key("source", host_build.FLAGS + ("-g",)) != key
    monkeypatch.setattr(host_build, "compiler", lambda: "g++ (another) 99.1 (x86_64-linux-gnu)")
    assert host_build._key("source", host_build.FLAGS) != key


def test_without_gxx_the_host_target_is_one_clear_error_at_install(monkeypatch, tmp_path):
    from akcuda.runtime import awkward_plugin

    monkeypatch.setenv("PATH", str(tmp_path))  # no g++ there
    host_build.compiler.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="akcuda target 'host' cannot run here: no g.. on PATH"):
            awkward_plugin.install("host")
        assert not awkward_plugin.is_installed("host")
        with pytest.raises(RuntimeError, match="no g.. on PATH"):
            host_build.build(tmp_path / "any.cu", tmp_path)
    finally:
        host_build.compiler.cache_clear()
