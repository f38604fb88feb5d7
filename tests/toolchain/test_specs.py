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
    # nothing waits: the sort rule reads three of the kernels that sort; the two string sorts
    # defeat it and name their library sort step in a `sort` override
    assert [s["name"] for s in loaded.values() if s["status"] != "translate"] == []
    overridden = {name for name, s in loaded.items() if "sort" in s}
    assert overridden == {"awkward_ListOffsetArray_argsort_strings", "awkward_NumpyArray_sort_asstrings_uint8"}
    assert overridden < specs.SORT_FAMILY
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
    assert any(p.startswith("missing spec for kernel awkward_missing_repeat: run `akcuda specs -k") for p in problems)


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


@pytest.mark.gxx
def test_specs_k_updates_only_the_matching_files(tmp_path, upstream_cpp):
    folder = tmp_path / "kernel-specs"
    shutil.copytree(paths.SPECS, folder)
    stale = {"awkward_ListArray_compact_offsets", "awkward_missing_repeat"}
    for name in stale:  # both out of date with their C
        path = folder / f"{name}.yml"
        path.write_text(path.read_text().replace("sha256: ", "sha256: 0", 1))
    before = {p.name: p.read_bytes() for p in folder.glob("*.yml")}
    specs.write_specs(folder, log=lambda *_: None, pattern="awkward_ListArray_compact_offsets")
    after = {p.name: p.read_bytes() for p in folder.glob("*.yml")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"awkward_ListArray_compact_offsets.yml"}
    assert (
        after["awkward_ListArray_compact_offsets.yml"]
        == (paths.SPECS / "awkward_ListArray_compact_offsets.yml").read_bytes()
    )


@pytest.mark.gxx
def test_a_changed_c_file_is_named_with_the_command_that_fixes_it(tmp_path, upstream_cpp):
    folder = tmp_path / "kernel-specs"
    shutil.copytree(paths.SPECS, folder)
    path = folder / "awkward_missing_repeat.yml"
    path.write_text(path.read_text().replace("sha256: ", "sha256: 0", 1))
    problems = specs.check_specs(folder, pattern="awkward_missing_repeat")
    assert len(problems) == 1 and "its C changed" in problems[0]
    assert "akcuda specs -k awkward_missing_repeat" in problems[0]


@pytest.mark.gxx
def test_specs_k_matching_nothing_is_an_error(tmp_path, upstream_cpp):
    with pytest.raises(specs.SpecError, match="matches no kernel"):
        specs.write_specs(tmp_path, log=lambda *_: None, pattern="no_such_kernel")


@pytest.mark.gxx
def test_the_c_agrees_with_the_installed_library_for_every_upstream_kernel(upstream_cpp):
    assert specs.library_differences(specs.derive_specs()) == []


def test_a_scaffold_recipe_follows_the_argument_types(demo):
    spec = demo.offsets
    spec["specializations"][0]["args"][0]["dir"] = "out"
    recipe = specs.scaffold(spec)
    assert recipe["scaffold"] is True
    assert recipe["args"] == {
        "tolengths": "out(n)",
        "tooffsets": "randint(0, 10, n)",
        "fromstarts": "randint(0, 10, n)",
        "fromstops": "randint(0, 10, n)",
        "length": "n",
    }


def test_a_recursion_depth_must_name_an_integer_argument(tmp_path):
    text = (paths.SPECS / "awkward_ListArray_combinations.yml").read_text()
    assert "recursion: {depth: n}" in text
    bad = tmp_path / "awkward_ListArray_combinations.yml"
    bad.write_text(text.replace("recursion: {depth: n}", "recursion: {depth: starts}"))
    with pytest.raises(specs.SpecError, match=r"awkward_ListArray_combinations.yml:\d+: field 'recursion'"):
        specs.load_spec(bad)
