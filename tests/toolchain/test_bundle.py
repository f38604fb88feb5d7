"""`akcuda bundle`: a folder a GPU machine without network installs akcuda from (its downloads and
its install into a fresh environment are tests/toolchain/test_wheel.py's)."""

from __future__ import annotations

import pytest

from akcuda.toolchain import bundle


def test_a_bundle_holds_the_wheel_and_the_sdists_and_refuses_to_grow_past_the_limit(tmp_path, upstream_cpp):
    wheel = tmp_path / "akcuda-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"\0" * 1024)
    made = bundle.make_bundle(tmp_path / "small", wheel, packages=())
    assert sorted(p.name for p in made.rglob("*") if p.is_file()) == sorted(
        [wheel.name, "missing.txt", "awkward-2.14.0.tar.gz", "awkward_cpp-57.tar.gz"]
    )
    wheel.write_bytes(b"\0" * bundle.LIMIT_BYTES)  # with the sdists, past the limit
    with pytest.raises(bundle.BundleError, match="over the 40 MB"):
        bundle.make_bundle(tmp_path / "large", wheel, packages=())
