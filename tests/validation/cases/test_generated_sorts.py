"""The sorting kernels' generated cases at n = 100 000: over 100 000 elements in many short and a
few very long ranges (the shape that makes a segmented sort's cost uneven)."""

from __future__ import annotations

import numpy as np
import pytest

from akcuda.toolchain import specs
from akcuda.validation.cases.generated import generated_cases


def _ranges(args: dict) -> np.ndarray:
    if "fromparents" in args:  # runs of equal parents
        return np.unique(np.asarray(args["fromparents"]), return_counts=True)[1]
    return np.diff(np.asarray(args["offsets"]))


def _shaped(args: dict) -> bool:
    sizes = _ranges(args)
    enough = args["length"] >= 100_000 and sizes.sum() >= 100_000
    return bool(enough and (sizes <= 5).sum() >= 10_000 and 2 <= (sizes >= 10_000).sum() <= 10)


@pytest.mark.parametrize("kernel", ["awkward_sort", "awkward_argsort", "awkward_ListOffsetArray_argsort_strings"])
def test_the_largest_generated_cases_have_many_short_and_a_few_long_ranges(kernel):
    spec = specs.load_all()[kernel]
    cases = [c for c in generated_cases(spec, spec["specializations"][-1]) if c.name.endswith(":n=100000")]
    shaped = [c.name for c in cases if _shaped(c.args)]
    # the recipe itself and its direction / stability variants (some variants change the ranges on purpose)
    assert "generated:generate:n=100000" in shaped and len(shaped) >= 4, [c.name for c in cases]
