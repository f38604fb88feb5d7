"""The parity cases of one specialization, from every source asked for."""

from __future__ import annotations

from akcuda.toolchain import upstream
from akcuda.validation.cases import Case
from akcuda.validation.cases.generated import generated_cases
from akcuda.validation.cases.recorded import load_recorded_cases
from akcuda.validation.cases.upstream import cases_for

SOURCES = ("upstream", "generated", "invalid", "recorded")


def collect_cases(spec: dict, special: dict, sources: tuple[str, ...] = SOURCES) -> list[Case]:
    """Upstream vectors, generated and invalid cases (from the spec's recipes), recorded calls."""
    cases = cases_for(upstream.cpp_dir(), special["symbol"]) if "upstream" in sources else []
    made = generated_cases(spec, special)
    cases += [c for c in made if c.source in sources]
    if "recorded" in sources:  # calls saved by `akcuda record` (none until it has run)
        cases += load_recorded_cases(special["symbol"])
    return cases
