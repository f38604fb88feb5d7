"""The `akcuda` command: stages print a summary and return a meaningful exit code."""

from __future__ import annotations

import contextlib
import json

import pytest

from akcuda.toolchain import cli
from akcuda.toolchain.exitcodes import Exit

_nothing = contextlib.nullcontext


@pytest.mark.gxx
def test_specs_check_passes(upstream_cpp, spec_counts, capsys):
    assert cli.main(["specs", "--check"]) == 0
    expected = f"{spec_counts.kernels} kernels, {spec_counts.specializations} specializations, 0 difference(s)"
    assert expected in capsys.readouterr().out


@pytest.mark.gxx
def test_generate_and_parity_for_one_kernel(upstream_cpp, tmp_path, capsys):
    assert cli.main(["generate", "-k", "awkward_ListArray_compact_offsets"]) == 0
    report = tmp_path / "parity.json"
    assert cli.main(["parity", "-k", "awkward_ListArray_compact_offsets", "--json", str(report)]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert {k: summary[k] for k in ("kernels", "specializations", "passed", "failed", "pending")} == {
        "kernels": 1,
        "specializations": 3,
        "passed": 3,
        "failed": 0,
        "pending": 0,
    }
    assert all(
        isinstance(summary[k], int)
        for k in ("kernels", "specializations", "translated", "compiled", "passed", "failed", "pending", "cases")
    )
    assert "akcuda parity" in capsys.readouterr().out


def _report_file(tmp_path, name: str, statuses: dict[str, str]) -> str:
    from akcuda.validation.report import SpecResult, build_report

    rows = [SpecResult(symbol, "awkward_K", status) for symbol, status in statuses.items()]
    path = tmp_path / name
    path.write_text(json.dumps(build_report(rows, {}, {})))
    return str(path)


def test_report_compare_fails_on_a_regression_and_passes_on_an_equal_report(tmp_path, capsys):
    base = _report_file(tmp_path, "base.json", {"awkward_K_a": "passed", "awkward_K_b": "passed"})
    same = _report_file(tmp_path, "same.json", {"awkward_K_a": "passed", "awkward_K_b": "passed"})
    worse = _report_file(tmp_path, "worse.json", {"awkward_K_a": "passed", "awkward_K_b": "failed"})
    assert cli.main(["report", same, "--compare", base]) == Exit.PASSED
    assert cli.main(["report", worse, "--compare", base]) == Exit.REGRESSION
    assert "regression awkward_K_b (passed → failed)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, says",
    [
        (["parity", "--sources", "upstrem"], "unknown case source 'upstrem'"),
        (["generate", "-k", "no_such_kernel_anywhere"], "-k no_such_kernel_anywhere: matches no kernel"),
        (["import", "--upstream", "/no/such/tree"], "--upstream /no/such/tree: no such folder"),
        (["port", "/no/such/kernel.cpp"], "kernel file /no/such/kernel.cpp: no such file"),
        (["report", "/no/such/parity.json"], "no parity report there"),
    ],
)
def test_user_errors_are_one_line_with_the_usage_code(argv, says, capsys):
    with pytest.raises(SystemExit) if argv[1] == "--sources" else _nothing() as exit_info:
        code = cli.main(argv)
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert says in text and "Traceback" not in text and len(text.splitlines()) == 1, text
    assert (exit_info.value.code if exit_info else code) == Exit.USAGE


def test_a_malformed_spec_is_one_line_without_a_traceback(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "kernel-specs"
    folder.mkdir()
    (folder / "awkward_x.yml").write_text("name: awkward_x\nsource: [unclosed\n")
    monkeypatch.setattr(cli.paths, "SPECS", folder)
    assert cli.main(["generate"]) == Exit.USAGE
    text = capsys.readouterr().out.strip()
    assert "awkward_x.yml:" in text and "not valid YAML" in text and len(text.splitlines()) == 1


def test_every_option_says_its_default_and_commands_are_in_pipeline_order(capsys):
    parser = cli._parser()
    commands = parser._subparsers._group_actions[0].choices
    order = list(commands)
    assert order.index("import") < order.index("specs") < order.index("generate") < order.index("compile")
    assert order.index("compile") < order.index("parity") < order.index("report") < order.index("pipeline")
    for name, sub in commands.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                text = sub.formatter_class(name)._get_help_string(action) or ""
                assert "default" in text, (name, action.option_strings)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("akcuda ")


@pytest.mark.gxx
def test_case_reruns_one_case_and_an_unknown_case_is_a_usage_error(upstream_cpp, capsys):
    kernel = "awkward_ListArray_compact_offsets"
    assert cli.main(["generate", "-k", kernel]) == 0
    argv = ["parity", "-k", "awkward_ListArray32_compact_offsets_64", "--sources", "generated", "--seed", "1"]
    assert cli.main([*argv, "--case", "generated:generate:n=257"]) == Exit.PASSED
    said = capsys.readouterr().out
    assert "awkward_ListArray32_compact_offsets_64 [generated:generate:n=257]: passed" in said
    assert "cases: 2/2 passed" in said  # the one case, in both error modes (immediate, deferred)
    assert cli.main([*argv, "--case", "generated:generate:n=3"]) == Exit.USAGE
    assert "--case generated:generate:n=3: no case of that name" in capsys.readouterr().out


@pytest.mark.gxx  # translating preprocesses with g++ -E
def test_explain_shows_each_loop_the_rules_tried_and_the_steps(upstream_cpp, capsys):
    assert cli.main(["explain", "awkward_ListOffsetArray_reduce_nonlocal_nextshifts_64"]) == Exit.PASSED
    printed = capsys.readouterr().out
    assert "rule per_iteration: refused: write 'nummissing[k]' is neither per-iteration nor at a counter" in printed
    assert "rule columns: took it" in printed
    assert printed.rstrip().endswith("explain: 2 loop(s), 2 taken by a rule, 0 in C order; 2 step(s)")
    assert cli.main(["explain", "awkward_no_such_kernel"]) == Exit.USAGE
    assert capsys.readouterr().out.strip().splitlines() == [
        f"akcuda explain: awkward_no_such_kernel: no such kernel in {cli.paths.SPECS}"
    ]


def test_outside_a_checkout_a_toolchain_command_says_so_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """An installed akcuda run from a folder in no checkout (was: `akcuda plans` reported 0
    specializations and wrote build/report/ beside site-packages)."""
    from akcuda import paths, store

    monkeypatch.setattr(paths, "package_checkout", lambda: None)  # the package is in no checkout
    monkeypatch.setattr(store, "_current", None)  # the store is found again
    monkeypatch.chdir(tmp_path)
    for argv in (["plans"], ["generate"], ["record"], ["report"]):
        assert cli.main(argv) == Exit.USAGE
        said = capsys.readouterr().out.strip()
        assert len(said.splitlines()) == 1 and "needs a checkout of akcuda's sources" in said, said
    assert list(tmp_path.iterdir()) == []
    assert cli.main(["info"]) == 1  # works anywhere: here it finds no kernels, and says so
    assert "carries no kernels and is not a checkout" in capsys.readouterr().out
