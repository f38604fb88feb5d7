"""A spec-level sort override becomes the plan's library sort step; a bad one is a clear error."""

from __future__ import annotations

import pytest

from akcuda.generator.cuda_generator import TranslationError
from akcuda.generator.override import sort_plan
from akcuda.plan import expr as E
from akcuda.plan.model import SortRanges, StepKind
from akcuda.toolchain import specs


def test_every_sort_family_override_is_one_library_step():
    loaded = specs.load_all()
    for name in specs.SORT_FAMILY:
        plan = sort_plan(loaded[name])
        (entry,) = plan.entries.values()
        assert [s.kind for s in entry.steps] == [StepKind.SORT] and entry.steps[0].sort.rule == "override"
        assert set(plan.specializations) == {s["symbol"] for s in loaded[name]["specializations"]}
    argsort = sort_plan(loaded["awkward_argsort"]).entries["awkward_argsort"].steps[0].sort
    assert argsort.ranges == SortRanges.OFFSETS
    assert argsort.range_count == E.Binary("-", E.Arg("offsetslength"), E.Int(1))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("keys", "nothing", "not an array argument"),
        ("count", "length +", "sort override expression"),
        ("colour", "red", "unknown field"),
    ],
)
def test_a_bad_override_names_kernel_and_field(field, value, message):
    spec = specs.load_all()["awkward_sort"]
    spec = {**spec, "sort": {**spec["sort"], field: value}}
    with pytest.raises(TranslationError, match=message):
        sort_plan(spec)
