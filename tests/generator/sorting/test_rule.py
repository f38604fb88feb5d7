"""The sort rule (sorting/rule.py): the upstream sorting kernels it reads give the very Sort their spec
overrides named before (parity proved those), the demo kernel's sort runs on the host against
NumPy, and a sort it cannot read is refused with kernel, file:line and construct (or left to
the spec's override where one exists)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from akcuda.generator.frontend.errors import TranslationError
from akcuda.generator.sorting import rule as sorts
from akcuda.generator.sorting.override import sort_step
from akcuda.plan import expr as E
from akcuda.plan.model import SortRanges, SortWrites, StepKind
from akcuda.toolchain import specs

pytestmark = pytest.mark.gxx  # g++ -E to read the kernels, a g++ host build to run

# The spec overrides these kernels had before the rule read them (each passed host parity).
FORMER_OVERRIDES = {
    "awkward_sort": {
        "count": "length",
        "keys": "fromptr",
        "ranges": "offsets",
        "bounds": "offsets",
        "range_count": "offsetslength - 1",
        "out": "toptr",
        "writes": "values",
        "extent": "last_bound",
        "ascending": "ascending",
        "stable": "stable",
        "nan_first": True,
    },
    "awkward_argsort": {
        "count": "length",
        "keys": "fromptr",
        "ranges": "offsets",
        "bounds": "offsets",
        "range_count": "offsetslength - 1",
        "out": "toptr",
        "writes": "permutation",
        "local": True,
        "ascending": "ascending",
        "stable": "stable",
        "nan_first": True,
    },
    "awkward_ListOffsetArray_local_preparenext_64": {
        "count": "length",
        "keys": "fromindex",
        "ranges": "whole",
        "out": "tocarry",
        "writes": "permutation",
        "ascending": 1,
        "stable": 0,
    },
}


def _recognise(upstream_cpp, kernel: str, spec: dict | None = None):
    spec = spec or specs.load_all()[kernel]
    folder = upstream_cpp / "src" / "cpu-kernels"
    return sorts.recognise(spec, folder / f"{kernel}.cpp", [upstream_cpp / "include"])


@pytest.mark.parametrize("kernel", sorted(FORMER_OVERRIDES))
def test_the_rule_builds_the_sort_the_override_named(upstream_cpp, kernel):
    spec = specs.load_all()[kernel]
    assert "sort" not in spec  # the rule alone names it now
    found, line = _recognise(upstream_cpp, kernel)
    former = sort_step({**spec, "sort": FORMER_OVERRIDES[kernel]})
    assert found == dataclasses.replace(former, rule="rule")
    source = (upstream_cpp / "src" / "cpu-kernels" / f"{kernel}.cpp").read_text().splitlines()
    assert "sort(" in source[line - 1]  # the step points at the C's sort call


@pytest.mark.parametrize(
    "kernel, construct",
    [
        ("awkward_ListOffsetArray_argsort_strings", r"argsort_strings.cpp:\d+: .*template value parameter bool"),
        ("awkward_NumpyArray_sort_asstrings_uint8", r"sort_asstrings_uint8.cpp:\d+: .*range-based for"),
    ],
)
def test_the_string_sorts_defeat_the_rule_and_keep_their_override(
    upstream_cpp, translate_upstream, tmp_path, kernel, construct
):
    with pytest.raises(sorts.Refused, match=f"^{kernel}: .*{construct}"):
        _recognise(upstream_cpp, kernel)
    translate_upstream(tmp_path, kernel)
    from akcuda import plan

    (step,) = plan.load(tmp_path / f"{kernel}.plan.json").entries[kernel].steps
    assert step.form.rule == "override" and "the sort rule" in step.reason


RANK = (
    "akc_demo_rank",
    [("akc_demo_rank", [], ["int64_t*", "const int32_t*", "int64_t"])],
    ["toorder", "scores", "length"],
)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_demo_ranking_is_a_stable_descending_whole_sort_on_the_host(tmp_path, demo, seed):
    steps, _, run = demo.translated(demo.spec(*RANK), tmp_path)
    ((step,),) = [steps]
    assert step.kind == StepKind.SORT and step.form.rule == "rule" and step.line == 16
    sort = step.form
    assert (sort.ranges, sort.writes, sort.keys, sort.out) == (
        SortRanges.WHOLE,
        SortWrites.PERMUTATION,
        "scores",
        "toorder",
    )
    assert (sort.ascending, sort.stable, sort.count, sort.nan_first) == (E.Int(0), E.Int(1), E.Arg("length"), False)
    rng = np.random.default_rng(seed)
    n = 5000
    scores = rng.integers(-20, 20, n).astype(np.int32)  # many ties: their input order must stay
    toorder = np.full(n, -1, np.int64)
    assert run([toorder, scores, n], seed) is None
    np.testing.assert_array_equal(toorder, np.argsort(-scores.astype(np.int64), kind="stable"))


def _demo_variant(tmp_path, demo, old: str, new: str) -> dict:
    """The demo kernel with one piece of its text replaced, as a spec of a kernel in tmp_path."""
    text = (demo.folder / "akc_demo_rank.cpp").read_text()
    assert old in text
    (tmp_path / "akc_demo_rank.cpp").write_text(text.replace(old, new))
    return {**demo.spec(*RANK), "source": str(tmp_path / "akc_demo_rank.cpp")}


@pytest.mark.parametrize(
    "old, new, construct",
    [
        (
            "scores[a] > scores[b]",
            "scores[a] % 7 > scores[b] % 7",
            r":18: cannot translate comparator '\(scores\[a\] % 7\)",
        ),
        ("stable_sort(order.begin(),", "stable_sort(order.begin() + 1,", r":16: cannot translate sort of part of"),
        ("toorder[i] = order[i];", "toorder[i] = order[length - 1 - i];", r":20: cannot translate copy"),
    ],
)
def test_a_sort_the_rule_cannot_read_is_one_clear_line(tmp_path, demo, old, new, construct):
    spec = _demo_variant(tmp_path, demo, old, new)
    with pytest.raises(
        TranslationError, match=f"^akc_demo_rank: .*akc_demo_rank.cpp{construct}.*the sort rule"
    ) as caught:
        demo.translate(spec)
    assert "\n" not in str(caught.value)


def test_where_the_rule_refuses_the_spec_override_serves(tmp_path, demo):
    spec = _demo_variant(tmp_path, demo, "scores[a] > scores[b]", "scores[a] % 7 > scores[b] % 7")
    override = {"count": "length", "keys": "scores", "ranges": "whole", "out": "toorder", "writes": "permutation"}
    override |= {"ascending": 0, "stable": 1, "reason": "a comparator over scores modulo 7"}
    (step,) = demo.translate({**spec, "sort": override}).plan.entries["akc_demo_rank"].steps
    assert step.form.rule == "override"
    assert step.reason.startswith("a comparator over scores modulo 7; akc_demo_rank: ") and "comparator" in step.reason


def test_offset_ranges_not_clamped_to_the_count_are_refused(upstream_cpp, tmp_path):
    source = (upstream_cpp / "src" / "cpu-kernels" / "awkward_argsort.cpp").read_text()
    clamp = "    if (stop_off > length) stop_off = length;\n"
    assert clamp in source
    (tmp_path / "awkward_argsort.cpp").write_text(source.replace(clamp, "\n"))
    spec = specs.load_all()["awkward_argsort"]
    with pytest.raises(sorts.Refused, match=r"awkward_argsort.cpp:\d+: cannot translate sort of a range .* clamped"):
        sorts.recognise(spec, tmp_path / "awkward_argsort.cpp", [upstream_cpp / "include"])
