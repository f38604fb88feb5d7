"""Kernel specs: consistent with upstream, and malformed ones fail naming file, line and field."""

from __future__ import annotations

import shutil

import pytest

from akcuda import paths
from akcuda.toolchain import specs


@pytest.mark.gxx  # the check preprocesses every upstream source
def test_committed_specs_match_upstream_signatures_and_roles(upstream_cpp, spec_counts):
    assert specs.check_specs() == []
    loaded = specs.load_all()
    assert len(loaded) == spec_counts.kernels == spec_counts.yml_files
    assert sum(len(s["specializations"]) for s in loaded.values()) == spec_counts.specializations
    # nothing waits: the kernels that sort name their library sort step in a `sort` override
    assert [s["name"] for s in loaded.values() if s["status"] != "translate"] == []
    assert {name for name, s in loaded.items() if "sort" in s} == specs.SORT_FAMILY
    assert spec_counts.pending == 0 and spec_counts.translated == spec_counts.specializations


@pytest.mark.gxx
def test_check_reports_every_difference(tmp_path, upstream_cpp):
    folder = tmp_path / "kernel-specs"
    shutil.copytree(paths.SPECS, folder)
    target = folder / "awkward_ListArray_compact_offsets.yml"
    text = target.read_text().replace("dir: in, role: ListArray-starts", "dir: out, role: ListArray-starts", 1)
    target.write_text(text.replace("template_args: [int32_t, int64_t]", "template_args: [int64_t, int64_t]"))
    (folder / "awkward_missing_repeat.yml").unlink()
    problems = specs.check_specs(folder)
    assert any("fromstarts: dir is 'out'" in p for p in problems)
    assert any("template_args" in p and "awkward_ListArray32_compact_offsets_64" in p for p in problems)
    assert "missing spec for kernel awkward_missing_repeat" in problems


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("status: translate\n", "", "status"),
        ("dir: out, role: null}", "dir: sideways, role: null}", "specializations[0].args[0].dir"),
        ("  template_args: [int32_t, int64_t]\n", "  template_args: int32_t\n", "specializations[0].template_args"),
    ],
)
def test_malformed_spec_names_file_line_and_field(tmp_path, old, new, field):
    source = (paths.SPECS / "awkward_ListArray_compact_offsets.yml").read_text()
    bad = tmp_path / "awkward_ListArray_compact_offsets.yml"
    edited = source.replace(old, new, 1)
    bad.write_text(edited)
    line = next((k + 1 for k, text in enumerate(edited.splitlines()) if new and new.strip() in text), None)
    with pytest.raises(specs.SpecError) as info:
        specs.load_spec(bad)
    message = str(info.value)
    assert str(bad) in message and f"'{field}'" in message
    if line:  # a missing key has no line of its own: the mapping's line is given instead
        assert f":{line}:" in message


def test_invalid_yaml_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "awkward_x.yml"
    bad.write_text("name: awkward_x\nsource: [unclosed\n")
    with pytest.raises(specs.SpecError, match=r"awkward_x.yml:\d+: not valid YAML"):
        specs.load_spec(bad)


@pytest.mark.gxx
def test_regenerating_specs_keeps_hand_annotations(tmp_path, upstream_cpp, spec_counts):
    folder = tmp_path / "kernel-specs"
    folder.mkdir()
    shutil.copy(paths.SPECS / "awkward_ListArray_compact_offsets.yml", folder)
    specs.write_specs(folder, log=lambda *_: None)
    rewritten = specs.load_spec(folder / "awkward_ListArray_compact_offsets.yml")
    original = specs.load_spec(paths.SPECS / "awkward_ListArray_compact_offsets.yml")
    assert rewritten["generate"] == original["generate"] and rewritten["invalid"] == original["invalid"]
    assert len(list(folder.glob("*.yml"))) == spec_counts.kernels  # one per upstream kernel
