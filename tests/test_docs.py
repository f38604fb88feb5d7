"""Every example in the README and docs/ works: each YAML block loads (a recipe makes the cases
its words promise on the real C kernel; a sort override is the spec's own), each command is one
the Makefile or the `akcuda` command takes (`akcuda explain` is run), each Python block runs,
each JSON block is what the translator writes, and docs/ci-example.yml loads with commands that
parse. The README stays under 300 lines."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from akcuda.toolchain import cli, specs
from akcuda.toolchain.exitcodes import Exit

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def _blocks(language: str) -> list[tuple[str, str]]:
    """(page, text) of every fenced block in `language` on the pages."""
    return [
        (page.relative_to(ROOT).as_posix(), text)
        for page in PAGES
        for lang, text in FENCE.findall(page.read_text())
        if lang == language
    ]


def _commands() -> list[tuple[str, list[str]]]:
    """(page, argv) of every command line of the bash blocks (comments dropped)."""
    return [
        (page, shlex.split(line.split(" #")[0]))
        for page, text in _blocks("bash")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_readme_is_short_and_its_pages_are_found():
    assert len((ROOT / "README.md").read_text().splitlines()) < 300
    links = re.findall(r"\]\(((?:docs|generator)/[^)#]+)\)", (ROOT / "README.md").read_text())
    assert links and all((ROOT / link.replace("\\_", "_")).exists() for link in links), links
    assert _blocks("yaml") and _blocks("bash") and _blocks("python") and _blocks("json")


def test_untagged_blocks_hold_no_commands_or_yaml():
    """A block that is not tagged is a diagram or a tree: a command or YAML there would escape
    these tests."""
    for page in PAGES:
        for lang, text in FENCE.findall(page.read_text()):
            if lang == "":
                first = text.lstrip().split("\n")[0]
                assert not first.startswith(("make ", "akcuda ", "- ", "generate:")), (page, first)


@pytest.mark.parametrize(("page", "argv"), _commands(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_each_command_is_one_the_makefile_or_akcuda_takes(page, argv, upstream_cpp, capsys):
    if argv[0] == "make":  # a dry run: the targets exist (and make reads the variables given)
        dry = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, (page, dry.stderr)
        return
    assert argv[0] == "akcuda", (page, argv)
    if argv[1] == "explain":  # quick: run it
        assert cli.main(argv[1:]) == Exit.PASSED
        assert "explain: " in capsys.readouterr().out
        return
    try:  # the others take minutes or a contributor's file: they must parse as written
        cli._parser().parse_args(argv[1:])
    except SystemExit as exc:
        pytest.fail(f"{page}: `{' '.join(argv)}` does not parse (exit {exc.code})")


def test_the_recipe_example_makes_the_cases_it_promises_on_the_c_kernel(upstream_cpp):
    """docs/recipes.md's annotation example is a recipe for awkward_ListArray_compact_offsets:
    every generated case runs on the real C kernel, every invalid one makes it fail."""
    from akcuda.validation import reference
    from akcuda.validation.cases.generated import generated_cases
    from akcuda.validation.parity import materialize

    (recipe,) = [yaml.safe_load(text) for _, text in _blocks("yaml") if "generate" in yaml.safe_load(text)]
    spec = {**specs.load_all()["awkward_ListArray_compact_offsets"], **recipe}
    special = spec["specializations"][0]
    cases = generated_cases(spec, special, sizes=(0, 1, 257))
    invalid = [case for case in cases if case.expect_failure]
    assert invalid and len(cases) > len(invalid)
    for case in cases:
        failure = reference.call(special, materialize(special, case))
        if case.expect_failure:
            assert failure is not None and failure.message == "stops[i] < starts[i]", case.name
        else:
            assert failure is None, case.name


def test_the_sort_override_example_is_the_specs_own():
    from akcuda.generator.sorting.override import sort_step

    (example,) = [yaml.safe_load(text)["sort"] for _, text in _blocks("yaml") if "sort" in yaml.safe_load(text)]
    spec = specs.load_all()["awkward_ListOffsetArray_argsort_strings"]
    assert {k: v for k, v in example.items() if k != "reason"} == {
        k: v for k, v in spec["sort"].items() if k != "reason"
    }
    assert sort_step({**spec, "sort": example}).keys == example["keys"]


@pytest.mark.gxx  # the host target builds the kernels it runs with g++
def test_each_python_block_runs():
    for page, text in _blocks("python"):
        exec(compile(text, page, "exec"), {})


@pytest.mark.gxx  # translating preprocesses with g++ -E
def test_each_json_block_is_a_step_the_translator_writes(upstream_cpp):
    """docs/plans.md's scan step is awkward_ListArray_compact_offsets' own."""
    from akcuda.generator.translate import translate
    from akcuda.plan import codec
    from akcuda.plan.model import Step

    spec = specs.load_all()["awkward_ListArray_compact_offsets"]
    plan = translate(spec, upstream_cpp / "src" / "cpu-kernels", upstream_cpp / "include").plan
    (step,) = [codec.from_json(Step, json.loads(text)) for _, text in _blocks("json")]
    assert step in plan.entries[spec["name"]].steps


def test_the_ci_example_loads_and_its_commands_parse():
    workflow = yaml.safe_load((ROOT / "docs" / "ci-example.yml").read_text())
    runs = [s["run"] for s in workflow["jobs"]["parity"]["steps"] if "run" in s]
    assert "make generate-kernels" in runs
    for run in runs:
        argv = shlex.split(run)
        if argv[0].endswith("akcuda"):
            cli._parser().parse_args(argv[1:])
