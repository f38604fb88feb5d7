"""A spec-level sort override becomes the plan's library sort step; a bad one is a clear error."""

from __future__ import annotations

import pytest

from akcuda.generator.frontend.errors import TranslationError
from akcuda.generator.sorting.override import sort_plan
from akcuda.plan import expr as E
from akcuda.plan.model import SortRanges, StepKind
from akcuda.toolchain import specs


def test_every_sort_override_is_one_library_step():
    loaded = specs.load_all()
    overridden = [name for name in specs.SORT_FAMILY if "sort" in loaded[name]]
    assert overridden  # the string sorts, which defeat the sort rule
    for name in overridden:
        plan = sort_plan(loaded[name])
        (entry,) = plan.entries.values()
        assert [s.kind for s in entry.steps] == [StepKind.SORT] and entry.steps[0].form.rule == "override"
        assert set(plan.specializations) == {s["symbol"] for s in loaded[name]["specializations"]}
    strings = loaded["awkward_ListOffsetArray_argsort_strings"]
    found = sort_plan(strings).entries[strings["name"]].steps[0].form
    assert (found.ranges, found.bounds, found.local) == (SortRanges.RUNS, "fromparents", E.Arg("is_local"))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("keys", "nothing", "not an array argument"),
        ("count", "length +", "sort override expression"),
        ("colour", "red", "unknown field"),
    ],
)
def test_a_bad_override_names_kernel_and_field(field, value, message):
    spec = specs.load_all()["awkward_NumpyArray_sort_asstrings_uint8"]
    spec = {**spec, "sort": {**spec["sort"], field: value}}
    with pytest.raises(TranslationError, match=message):
        sort_plan(spec)
